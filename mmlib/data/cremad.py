"""CREMA-D loader: the CREMA-D folder (VideoFlash/, AudioWAV/, VideoDemographics.csv) -> the utterance table.

    from mmlib.data.cremad import load_corpus, KNOWN_BAD
    table = load_corpus("/data/CREMA-D")                        # 7,438 clips, 91 actors, 6 classes (4 known-bad dropped)
    table = load_corpus("/data/CREMA-D", label_set="4class")    # neu/hap/sad/ang labelled, fea/dis None
    table = load_corpus("/data/CREMA-D", on_known_bad="keep")   # keep them: features then report them per utterance

A clip id is `AAAA_SSS_EEE_LL`: actor (1001-1091), sentence (SENTENCES), emotion (ANG, DIS, FEA,
HAP, NEU, SAD), level (LO, MD, HI, XX = unspecified). The root is searched recursively for
*.flv and *.wav with such names (hidden files and __MACOSX/ ignored), so VideoFlash/ and AudioWAV/
may sit anywhere below it. Columns (mmlib.data.corpus.COLUMNS):
- id, dialog: the clip id; session 1 (no sessions); speaker: the actor id ("1001");
- gender: F/M from VideoDemographics.csv (Sex column) when the root holds it, else "U" (unknown);
- emotion: the CREMA-D code (ANG, ...); label: its class under the label set (LABEL_SETS);
- mode: "acted-LO" | "acted-MD" | "acted-HI" | "acted-XX", the level (the contract has no such column);
- valence, arousal, dominance: NaN; start 0.0, end: the .flv's video duration (the .wav's without a video);
- audio_path: the 16 kHz AudioWAV/*.wav, else the .flv (read_audio decodes its MP3 track);
  video_path: the VideoFlash/*.flv (480x360 FLV1), or None when only the audio was downloaded.

The corpus's README lists four bad clips (KNOWN_BAD); they are dropped with a warning by default.
A clip with neither a video nor an audio duration is an error naming it, unless it is known-bad and
kept: then it gets a one-frame segment, and feature extraction reports its media per utterance.
The GitHub release stores media with git-lfs: pointer files instead of media are an error saying so.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from mmlib.data import corpus
from mmlib.data.corpus import COLUMNS, validate_table
from mmlib.data.corpus_files import find_media, is_hidden, resolve_label_set, video_durations

EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before", "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
ACTORS = range(1001, 1092)

# the CREMA-D README's known issues: clip id -> why it is left out by default
KNOWN_BAD: dict[str, str] = {
    "1076_MTI_SAD_XX": "no audio",
    "1076_MTI_NEU_XX": "very short (a few video frames)",
    "1064_TIE_SAD_XX": "no duration",
    "1064_IEO_DIS_MD": "about one minute long: the sentence in every emotion, not one clip",
}

# label sets live in mmlib.data.corpus.LABEL_SETS (global names: "4class" means neu/hap/sad/ang everywhere)
LABEL_SETS = {name: corpus.LABEL_SETS[name] for name in ("cremad6", "4class")}  # the sets this corpus uses
ALIASES = {"native": "cremad6"}

# 1040_ITH_SAD_X.wav: the release once had one level code cut short; it is read as XX
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
_ONE_FRAME = 0.04  # segment of a kept known-bad clip without any duration: one frame at 25 fps


def parse_id(path: str | Path) -> tuple[str, int, str, str, str]:
    """(clip id, actor, sentence, emotion, level) of a CREMA-D file; ValueError naming it if a code is wrong."""
    path = Path(path)
    m = _NAME.match(path.stem)
    if m is None:
        raise ValueError(f"{path}: not a CREMA-D clip name (expected e.g. 1001_DFA_ANG_XX)")
    actor, sentence, emotion, level = int(m[1]), m[2], m[3], {"X": "XX"}.get(m[4], m[4])
    for what, code, valid in (("actor", actor, ACTORS), ("sentence", sentence, SENTENCES),
                              ("emotion", emotion, EMOTIONS), ("level", level, LEVELS)):
        if code not in valid:
            shown = f"{valid.start}-{valid.stop - 1}" if isinstance(valid, range) else ", ".join(valid)
            raise ValueError(f"{path}: {what} {code!r} is not a CREMA-D code (expected {shown})")
    return f"{actor}_{sentence}_{emotion}_{level}", actor, sentence, emotion, level


def read_demographics(root: Path) -> dict[int, str]:
    """actor -> F/M from the first VideoDemographics.csv under root ({} when there is none)."""
    files = [p for p in sorted(root.rglob("VideoDemographics.csv")) if not is_hidden(p, root)]
    if not files:
        return {}
    sexes = {"female": "F", "male": "M"}
    with open(files[0], newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not {"ActorID", "Sex"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{files[0]}: expected the columns ActorID,Age,Sex,Race,Ethnicity, got {reader.fieldnames}")
        return {int(r["ActorID"]): sexes.get(r["Sex"].strip().lower(), "U") for r in reader}


def _lfs_pointers(paths) -> list[str]:
    """Files that are git-lfs pointer stubs (a clone without `git lfs pull`), not media."""
    out = []
    for p in paths:
        if p.stat().st_size < 1024 and p.read_bytes()[:24] == b"version https://git-lfs.":
            out.append(str(p))
    return out


def _wav_duration(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        info = sf.info(str(path))
    except Exception:  # unreadable: the features report it per utterance
        return None
    return info.frames / info.samplerate if info.frames > 0 else None


def load_corpus(root: str | Path, label_set: str = "cremad6", on_known_bad: str = "drop") -> pd.DataFrame:
    """The utterance table (mmlib.data.corpus.COLUMNS) of a CREMA-D download."""
    if on_known_bad not in ("drop", "keep"):
        raise ValueError(f"on_known_bad must be 'drop' or 'keep', got {on_known_bad!r}")
    mapping = LABEL_SETS[resolve_label_set(label_set, LABEL_SETS, ALIASES, "CREMA-D")]
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: expected the CREMA-D download (VideoFlash/, AudioWAV/)")
    videos = find_media(root, (".flv",), _NAME)
    audios = find_media(root, (".wav",), _NAME)
    stubs = _lfs_pointers([*videos.values(), *audios.values()])
    if stubs:
        raise ValueError(f"{len(stubs)} CREMA-D file(s) are git-lfs pointers, not media (run `git lfs pull` in the "
                         f"clone): {stubs[:3]}")
    clips: dict[str, dict[str, Path]] = {}
    for kind, found in (("video", videos), ("audio", audios)):
        for path in found.values():
            clips.setdefault(parse_id(path)[0], {})[kind] = path
    if not clips:
        raise ValueError(f"no CREMA-D clips (VideoFlash/*.flv or AudioWAV/*.wav named like 1001_DFA_ANG_XX) under {root}")
    bad = sorted(c for c in clips if c in KNOWN_BAD)
    if bad and on_known_bad == "drop":
        warnings.warn("CREMA-D: dropped the known-bad clip(s) " + "; ".join(f"{c} ({KNOWN_BAD[c]})" for c in bad)
                      + " (load_corpus(..., on_known_bad='keep') keeps them)", stacklevel=2)
        clips = {c: f for c, f in clips.items() if c not in KNOWN_BAD}
    gender = read_demographics(root)
    if not gender:
        warnings.warn(f"CREMA-D: no VideoDemographics.csv under {root}; gender is 'U' (unknown) for every actor",
                      stacklevel=2)
    ids = sorted(clips)
    records, no_duration = [], []
    for cid, video_end in zip(ids, video_durations([clips[c].get("video") for c in ids])):
        _, actor, _, emotion, level = parse_id(cid)
        video, audio = clips[cid].get("video"), clips[cid].get("audio")
        end = video_end or _wav_duration(audio)
        if end is None:
            if cid not in KNOWN_BAD:
                no_duration.append(str(video or audio))
                continue
            end = _ONE_FRAME
        records.append({
            "id": cid, "dataset": "cremad", "session": 1, "speaker": str(actor), "gender": gender.get(actor, "U"),
            "dialog": cid, "mode": f"acted-{level}", "emotion": emotion, "label": mapping.get(emotion),
            "valence": np.nan, "arousal": np.nan, "dominance": np.nan, "start": 0.0, "end": end,
            "audio_path": str(audio or video), "video_path": str(video) if video else None, "video_side": "full",
        })
    if no_duration:
        raise ValueError(f"{len(no_duration)} CREMA-D clip(s) have neither a video nor an audio duration:\n  "
                         + "\n  ".join(no_duration))
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return validate_table(table)
