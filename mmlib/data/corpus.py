"""The utterance table: the contract between every corpus loader and everything after it.

    from mmlib.data.corpus import COLUMNS, class_names, labelled
    class_names("4class")          # ['neu', 'hap', 'sad', 'ang']: class-index order
    rows = labelled(table)         # the rows with a study label

A loader returns a pandas DataFrame with exactly COLUMNS (one row per utterance, sorted by id).
`label` is the study label under the chosen label set, or None for rows outside it (they stay in
the table so exploration can count them); `labelled()` keeps the rows that have one. The loaders
themselves, and `load_table` / `prepare_corpus` that pick one, live in mmlib.data.loaders.
"""

from __future__ import annotations

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


# label set -> {axis: {class: side}}: the two emotion dimensions a label set's classes split along (the 4
# classes are a 2 x 2 design: arousal high for ang and hap, low for sad and neu; valence negative for ang and sad,
# not negative for hap and neu). The synthetic voice carries arousal and its face valence, so the audio model
# should separate arousal, the video model valence, and fusion both (metrics.collapse).
AXES: dict[str, dict[str, dict[str, str]]] = {
    "4class": {"arousal": {"ang": "high", "hap": "high", "sad": "low", "neu": "low"},
               "valence": {"ang": "negative", "sad": "negative", "hap": "not negative", "neu": "not negative"}},
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
