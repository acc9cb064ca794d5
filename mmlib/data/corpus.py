"""The utterance table: the contract between every corpus loader and everything after it.

    from mmlib.data.corpus import load_table
    table = load_table(cfg.data, synth_root)   # whichever corpus the config names

A loader returns a pandas DataFrame with exactly COLUMNS (one row per utterance, sorted by id).
`label` is the study label under the chosen label set, or None for rows outside it (they stay in
the table so exploration can count them); `labelled()` keeps the rows that have one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# column -> meaning (dtype)
COLUMNS: dict[str, str] = {
    "id": "utterance id, unique in the corpus (str)",
    "dataset": "iemocap | synthetic | ravdess | cremad (str)",
    "session": "recording session, 1-based (int); corpora without sessions use 1",
    "speaker": "speaker id, unique in the corpus, e.g. Ses01_F (str)",
    "gender": "F | M | U (unknown) (str)",
    "dialog": "dialog or clip the utterance belongs to (str)",
    "mode": "impro | script | acted[-song]-<intensity or level> (RAVDESS, CREMA-D) (str)",
    "emotion": "raw emotion code of the corpus, e.g. neu, exc, xxx (str)",
    "label": "study label under the label set, or None (str)",
    "valence": "annotated valence, corpus scale (float, NaN if absent)",
    "arousal": "annotated arousal (float, NaN if absent)",
    "dominance": "annotated dominance (float, NaN if absent)",
    "start": "segment start in the video, seconds (float)",
    "end": "segment end in the video, seconds (float)",
    "audio_path": "the utterance's own audio file (str)",
    "video_path": "the video holding the segment, or None when missing (str)",
    "video_side": "left | right | full: which part of the frame shows the speaker (str)",
}

# label set -> {raw code: study label}; the order of first appearance of each label is its class index
LABEL_SETS: dict[str, dict[str, str]] = {
    "4class": {"neu": "neu", "hap": "hap", "exc": "hap", "sad": "sad", "ang": "ang",
               "neutral": "neu", "happy": "hap", "angry": "ang",  # RAVDESS ("sad" as above)
               "NEU": "neu", "HAP": "hap", "SAD": "sad", "ANG": "ang"},  # CREMA-D
    "6class": {"neu": "neu", "hap": "hap", "exc": "exc", "sad": "sad", "ang": "ang", "fru": "fru"},
    "ravdess8": {"neutral": "neu", "calm": "cal", "happy": "hap", "sad": "sad", "angry": "ang",
                 "fearful": "fea", "disgust": "dis", "surprised": "sur"},
    "ravdess7": {"neutral": "neu", "calm": "neu", "happy": "hap", "sad": "sad", "angry": "ang",
                 "fearful": "fea", "disgust": "dis", "surprised": "sur"},  # calm merged into neutral
    "cremad6": {"NEU": "neu", "HAP": "hap", "SAD": "sad", "ANG": "ang", "FEA": "fea", "DIS": "dis"},
}


def class_names(label_set: str) -> list[str]:
    """Class names in class-index order for a label set."""
    if label_set not in LABEL_SETS:
        raise KeyError(f"unknown label set {label_set!r}; choose one of {sorted(LABEL_SETS)}")
    return list(dict.fromkeys(LABEL_SETS[label_set].values()))


def apply_label_set(table: pd.DataFrame, label_set: str) -> pd.DataFrame:
    """Set `label` from the raw `emotion` codes; codes outside the set get None."""
    class_names(label_set)  # validates the name
    mapping = LABEL_SETS[label_set]
    out = table.copy()
    out["label"] = pd.Series([mapping.get(code) for code in out["emotion"]], index=out.index, dtype=object)
    return out


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    """Rows with a study label, index reset."""
    return table[table["label"].notna()].reset_index(drop=True)


def require_labelled(table: pd.DataFrame, data_cfg) -> pd.DataFrame:
    """`labelled(table)`, or a ValueError naming the corpus root and the label set when no row has a label."""
    rows = labelled(table)
    if len(rows) == 0:
        where = data_cfg.root or f"the synthetic corpus under {data_cfg.data_dir}"
        codes = sorted(table["emotion"].astype(str).unique())[:20] if len(table) else []
        raise ValueError(
            f"no utterance of {data_cfg.dataset} corpus {where} falls in label set {data_cfg.label_set!r} "
            f"({', '.join(sorted(LABEL_SETS[data_cfg.label_set]))}): the corpus has {len(table)} utterance(s)"
            + (f" with emotion codes {codes}; choose a label set that matches them (data.label_set)" if codes
               else "; check data.root")
        )
    return rows


def validate_table(table: pd.DataFrame) -> pd.DataFrame:
    """Check the contract: exact columns, unique ids, sane segments. Returns the table, sorted by id."""
    missing = [c for c in COLUMNS if c not in table.columns]
    extra = [c for c in table.columns if c not in COLUMNS]
    if missing or extra:
        raise ValueError(f"utterance table columns differ from the contract: missing {missing}, extra {extra}")
    dup = table["id"][table["id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"duplicate utterance ids: {dup[:5]}")
    bad = table[~(table["end"] > table["start"])]
    if len(bad):
        raise ValueError(f"segments with end <= start: {bad['id'].tolist()[:5]}")
    return table[list(COLUMNS)].sort_values("id").reset_index(drop=True)


def load_table(data_cfg, synth_root: str | Path | None = None) -> pd.DataFrame:
    """The utterance table of the corpus `data_cfg` names (a DataConfig)."""
    name = data_cfg.dataset
    root = data_cfg.root
    if name in ("synthetic", "iemocap"):
        from mmlib.data import iemocap

        if root is None:
            if name == "iemocap":
                raise ValueError("data.dataset='iemocap' needs data.root: the path of IEMOCAP_full_release")
            root = synth_root
        table = iemocap.load_corpus(root, label_set=data_cfg.label_set)
        if name == "synthetic":
            table["dataset"] = "synthetic"
        return table
    if name in ("ravdess", "cremad"):
        import importlib

        if root is None:
            raise ValueError(f"data.dataset={name!r} needs data.root: the folder of the downloaded corpus")
        loader = importlib.import_module(f"mmlib.data.{name}")
        return loader.load_corpus(root, label_set=data_cfg.label_set)
    raise ValueError(f"unknown dataset {name!r}; choose synthetic, iemocap, ravdess or cremad")


def synthetic_dir(cfg) -> Path:
    """Where the synthetic corpus of a StudyConfig lives: keyed by its synth section and the generator's
    source, so editing the generator regenerates the corpus."""
    from mmlib.config import stable_hash
    from mmlib.provenance import source_hash

    return Path(cfg.data.data_dir) / f"synthetic-{stable_hash([cfg.hash('synth'), source_hash('data/synthetic')])}"


def prepare_corpus(cfg, progress: bool = True) -> pd.DataFrame:
    """The utterance table of the config's corpus, generating the synthetic one first if missing."""
    synth_root = None
    if cfg.data.dataset == "synthetic" and cfg.data.root is None:
        from mmlib.data.synthetic import generate_corpus

        out = synthetic_dir(cfg)
        synth_root = out / "IEMOCAP_full_release"
        if not synth_root.is_dir():
            synth_root = generate_corpus(out, cfg.synth, progress=progress)
    return load_table(cfg.data, synth_root)
