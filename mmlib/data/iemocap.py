"""IEMOCAP loader: the IEMOCAP_full_release folder (or the synthetic corpus) -> the utterance table.

    from mmlib.data.iemocap import load_corpus
    table = load_corpus("/data/IEMOCAP_full_release", label_set="4class")
    table.label.value_counts()    # neu 1708, hap 1636, ang 1103, sad 1084 on the real corpus

Reads only `Session*/dialog/EmoEvaluation/*.txt` (not its Categorical/, Attribute/ and
Self-evaluation/ subfolders, not hidden `._*` files). One row per evaluation block; annotator lines
are skipped. A block header that does not parse raises a ValueError naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from mmlib.data.corpus import COLUMNS, apply_label_set, validate_table

# "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]"
_HEADER = re.compile(
    r"^\[(?P<start>\d+(?:\.\d+)?) - (?P<end>\d+(?:\.\d+)?)\]\t(?P<id>Ses\d\d[FM]_\S+_[FM]\d{3})\t"
    r"(?P<emo>[a-z]{3})\t\[(?P<v>-?\d+(?:\.\d+)?), (?P<a>-?\d+(?:\.\d+)?), (?P<d>-?\d+(?:\.\d+)?)\]$"
)
_SESSION_DIR = re.compile(r"^Session(\d+)$")


def find_root(root: str | Path) -> Path:
    """`root` itself, or its IEMOCAP_full_release child; error if neither holds Session folders."""
    root = Path(root).expanduser()
    for cand in (root, root / "IEMOCAP_full_release"):
        if cand.is_dir() and any(_SESSION_DIR.match(p.name) for p in cand.iterdir()):
            return cand
    raise FileNotFoundError(
        f"{root} is not an IEMOCAP_full_release folder: expected Session1..Session5 inside it"
    )


def parse_evaluation(path: str | Path) -> list[dict]:
    """The evaluation blocks of one EmoEvaluation file as dicts (start, end, id, emotion, v, a, d)."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8", errors="replace", newline=None) as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.startswith("["):
                continue  # first-line legend (%), blank separators, annotator lines (C-E2:, A-E3:, ...)
            m = _HEADER.match(line.strip(" "))
            if m is None:
                raise ValueError(
                    f"{path}:{lineno}: malformed evaluation line {line!r}; expected "
                    "'[START - END]<TAB>SesNN?_..._?NNN<TAB>emo<TAB>[V, A, D]'"
                )
            rows.append(
                {
                    "start": float(m["start"]),
                    "end": float(m["end"]),
                    "id": m["id"],
                    "emotion": m["emo"],
                    "valence": float(m["v"]),
                    "arousal": float(m["a"]),
                    "dominance": float(m["d"]),
                }
            )
    return rows


def load_corpus(root: str | Path, label_set: str = "4class") -> pd.DataFrame:
    """The utterance table (mmlib.data.corpus.COLUMNS) of an IEMOCAP-layout tree."""
    root = find_root(root)
    records = []
    sessions = sorted(
        (int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _SESSION_DIR.match(p.name))
    )
    for session, sdir in sessions:
        eval_dir = sdir / "dialog" / "EmoEvaluation"
        if not eval_dir.is_dir():
            raise FileNotFoundError(f"{eval_dir} is missing: every IEMOCAP session has dialog/EmoEvaluation/")
        for txt in sorted(eval_dir.glob("*.txt")):
            if txt.name.startswith("._") or not txt.is_file():
                continue  # macOS resource forks shipped with the corpus
            dialog = txt.stem
            avi = sdir / "dialog" / "avi" / "DivX" / f"{dialog}.avi"
            left_gender = dialog[5]  # Ses01F_...: the actor wearing markers, on the left half
            for r in parse_evaluation(txt):
                utt = r["id"]
                if utt.rsplit("_", 1)[0] != dialog:
                    raise ValueError(f"{txt}: utterance {utt} does not belong to dialog {dialog}")
                gender = utt.rsplit("_", 1)[1][0]
                records.append(
                    {
                        **r,
                        "dataset": "iemocap",
                        "session": session,
                        "speaker": f"Ses{session:02d}_{gender}",
                        "gender": gender,
                        "dialog": dialog,
                        "mode": "impro" if "_impro" in dialog else "script",
                        "label": None,
                        "audio_path": str(sdir / "sentences" / "wav" / dialog / f"{utt}.wav"),
                        "video_path": str(avi) if avi.is_file() else None,
                        "video_side": "left" if gender == left_gender else "right",
                    }
                )
    if not records:
        raise ValueError(f"no evaluation blocks found under {root}/Session*/dialog/EmoEvaluation/")
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    table["session"] = table["session"].astype(int)
    return validate_table(apply_label_set(table, label_set))
