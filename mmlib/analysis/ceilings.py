"""Human reference scores: how well people recognise the intended (or agreed) emotion of the clips a run scores.

    from mmlib.config import load_config
    from mmlib.analysis import ceilings
    cfg = load_config("cremad", {"data.root": "/data/CREMA-D"})
    table = ceilings.ceilings(cfg)               # fold ("all", 1, ...), modality, rule, WA, UA, clips
    table[table["fold"] == "all"]                # overall: voice, face and audio-visual raters, strict and lenient
    ceilings.ceilings(load_config("default"))    # the synthetic corpus (IEMOCAP's layout): evaluator agreement

    # the parts, on files and tables of one's own
    ratings = ceilings.read_summary_table("/data/CREMA-D/processedResults/summaryTable.csv")
    ceilings.cremad_ceilings(ratings, utterance_table, folds)
    votes = ceilings.evaluator_votes("/data/IEMOCAP_full_release")
    ceilings.iemocap_agreement(votes, utterance_table, folds)

CREMA-D (`processedResults/summaryTable.csv` under the corpus root; columns FileName, VoiceVote, VoiceLevel,
FaceVote, FaceLevel, MultiModalVote, MultiModalLevel, and in the released file an unnamed leading index; only
FileName and the three *Vote columns are read). Each vote is the plurality of the crowd raters who heard the voice
alone, saw the face alone, or both, as emotion letters A D F H N S (anger, disgust, fear, happy, neutral, sad),
ties joined by ':' (`N:S`). A clip is recognised when the plurality is its intended emotion (the code in its name):
- strict: a tie counts as wrong;
- lenient: a tie that contains the intended emotion counts as right.
WA is the share of clips recognised, UA the mean over the intended emotions of each one's share (mmlib.analysis.
metrics.scores: accuracy and balanced accuracy), over exactly the clips of the run's utterance table (the loader's:
known-bad clips left out as the loader leaves them out) that the rating table rates; a clip of the table that it
does not rate is left out with a warning that counts them. The voice, face and audio-visual raters stand beside
the audio, video and fusion models.

IEMOCAP (and the synthetic corpus, which writes the same EmoEvaluation files): each block of
`Session*/dialog/EmoEvaluation/*.txt` lists the categorical answers of the external evaluators (`C-E2:\\tNeutral;
\\t()`, several categories allowed, the first taken). Every evaluator's answer, mapped to the 4-class set
(Neutral -> neu, Happiness and Excited -> hap, Sadness -> sad, Anger -> ang; anything else is outside the set), is
compared with the plurality of the *other* evaluators' mapped answers (outside the set is one answer there),
over the utterances whose corpus label is in the 4-class set: strict, a tie among the others counts as wrong;
lenient, a tie containing the evaluator's answer counts as right; an answer outside the set is never right. WA is
the share of answers that match, UA the mean over the four corpus labels of each one's share: the human
reference for the study's 4-class UA. The actors' self-evaluations (`C-F1:`, `C-M1:`) and the dimensional lines
(`A-E3:`) are not read; an utterance with a single evaluator has no others and is left out with a warning.

A missing or malformed rating file raises RatingsError, naming the file and what was expected; a study run
calls `study_ceilings`, which warns and goes on without ceilings.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mmlib.analysis import metrics
from mmlib.data import cremad, iemocap
from mmlib.data.corpus import apply_label_set, class_names, labelled
from mmlib.data.corpus_files import is_hidden
from mmlib.data.splits import Fold, make_folds, select_folds

COLUMNS = ["fold", "modality", "rule", "WA", "UA", "clips"]  # iemocap_agreement adds `ratings`
RULES = ("strict", "lenient")

# ------------------------------------------------------------------ CREMA-D: the crowd's plurality votes

SUMMARY_TABLE = Path("processedResults") / "summaryTable.csv"
VOTE_LABELS = {"A": "ang", "D": "dis", "F": "fea", "H": "hap", "N": "neu", "S": "sad"}  # letter -> cremad6 class
VOTE_COLUMNS = {"VoiceVote": "voice", "FaceVote": "face", "MultiModalVote": "audio-visual"}  # column -> modality
_VOTE = re.compile(r"^[ADFHNS](?::[ADFHNS])*$")
_MISS = "(none)"  # the prediction of an IEMOCAP answer that does not match the others


class RatingsError(ValueError):
    """A human rating file that is missing or does not have the expected format (the message names the file)."""


def summary_table_path(root: str | Path) -> Path:
    """The CREMA-D download's processedResults/summaryTable.csv: directly under `root`, else the first one below it."""
    root = Path(root).expanduser()
    direct = root / SUMMARY_TABLE
    if direct.is_file():
        return direct
    found = [p for p in sorted(root.rglob(SUMMARY_TABLE.name)) if p.parent.name == SUMMARY_TABLE.parent.name
             and not is_hidden(p, root)] if root.is_dir() else []
    if not found:
        raise RatingsError(f"{direct} is missing: expected the CREMA-D rating summary (processedResults/summaryTable.csv "
                           "of the corpus's GitHub release) under the corpus root, or give its path (--csv)")
    return found[0]


def read_summary_table(path: str | Path) -> pd.DataFrame:
    """CREMA-D's summaryTable.csv as one row per rated clip: index = clip id (as the loader spells it, e.g.
    1040_ITH_SAD_X -> 1040_ITH_SAD_XX), columns voice, face, audio-visual holding the vote strings ('A', 'N:S')."""
    path = Path(path)
    if not path.is_file():
        raise RatingsError(f"{path} is missing: expected CREMA-D's processedResults/summaryTable.csv")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise RatingsError(f"{path}: not a readable CSV ({err}); expected CREMA-D's summaryTable.csv") from None
    raw = raw.loc[:, [c for c in raw.columns if c.strip() and not c.startswith("Unnamed:")]]  # the unnamed index
    missing = [c for c in ("FileName", *VOTE_COLUMNS) if c not in raw.columns]
    if missing:
        raise RatingsError(f"{path}: columns {missing} are missing (found {list(raw.columns)}); expected FileName, "
                           "VoiceVote, VoiceLevel, FaceVote, FaceLevel, MultiModalVote, MultiModalLevel")
    ids = []
    for i, name in enumerate(raw["FileName"].str.strip()):
        try:
            ids.append(cremad.parse_id(name)[0])
        except ValueError as err:
            raise RatingsError(f"{path}, line {i + 2}: FileName {name!r} is not a CREMA-D clip id ({err})") from None
    out = raw[list(VOTE_COLUMNS)].apply(lambda c: c.str.strip().str.upper()).rename(columns=VOTE_COLUMNS)
    out.index = pd.Index(ids, name="id")
    dup = out.index[out.index.duplicated()].unique().tolist()
    if dup:
        raise RatingsError(f"{path}: clips rated on more than one line: {dup[:5]}; expected one line per clip")
    for column, modality in VOTE_COLUMNS.items():
        bad = out.index[~out[modality].str.match(_VOTE)]
        if len(bad):
            shown = ", ".join(f"{c}: {out.loc[c, modality]!r}" for c in bad[:3])
            raise RatingsError(f"{path}: {len(bad)} {column} value(s) are not votes ({shown}); expected emotion "
                               "letters A, D, F, H, N, S, ties joined by ':' (e.g. N:S)")
    return out


def cremad_ceilings(ratings: pd.DataFrame, table: pd.DataFrame, folds: list[Fold] = (), source: str = "the ratings"
                    ) -> pd.DataFrame:
    """WA and UA of the voice, face and audio-visual raters (read_summary_table's `ratings`) on the labelled clips of
    `table` they rate, strict and lenient, overall (fold "all") and on each fold's test clips. `source` names the
    ratings in the warning about clips they do not rate. Columns: COLUMNS."""
    rows = labelled(table)
    unrated = rows.loc[~rows["id"].isin(ratings.index), "id"]
    if len(unrated):
        warnings.warn(f"{len(unrated)} clip(s) of the utterance table are not rated in {source} and are left out of "
                      f"the human ceilings (e.g. {', '.join(unrated[:3])})", stacklevel=2)
    rows = rows[rows["id"].isin(ratings.index)]
    if rows.empty:
        raise RatingsError(f"{source} rates none of the {len(labelled(table))} labelled clips of the utterance table: "
                           "expected the summary table of this CREMA-D download")
    truth = rows["label"].to_numpy()
    frames = []
    for modality in VOTE_COLUMNS.values():
        votes = ratings.loc[rows["id"], modality].to_numpy()
        said = [[VOTE_LABELS[v] for v in vote.split(":")] for vote in votes]
        # a prediction per clip: the single vote; a tie is the tied classes joined (never a class), or under the
        # lenient rule the intended class when the tie holds it
        strict = [s[0] if len(s) == 1 else ":".join(s) for s in said]
        lenient = [t if t in s else p for t, s, p in zip(truth, said, strict)]
        for rule, pred in (("strict", strict), ("lenient", lenient)):
            frames.append(pd.DataFrame({"id": rows["id"].to_numpy(), "true": truth, "pred": pred,
                                        "modality": modality, "rule": rule}))
    return _score(pd.concat(frames, ignore_index=True), folds, _classes(rows["label"]))


# ------------------------------------------------------------------ IEMOCAP: agreement between evaluators

CATEGORIES_4 = {"neutral": "neu", "neutral state": "neu", "happiness": "hap", "excited": "hap", "sadness": "sad",
                "anger": "ang"}  # evaluator category (lower case) -> 4-class label; anything else: outside
OUTSIDE = "outside"
_EVALUATOR = re.compile(r"^C-(E\d+):(.*)$")  # external evaluators; C-F1 / C-M1 are the actors themselves


def read_evaluations(path: str | Path) -> pd.DataFrame:
    """The categorical answers of the external evaluators in one EmoEvaluation file: columns id, code (the block's
    corpus code), evaluator (E1, E2, ...), category (the first listed, as written)."""
    path = Path(path)
    rows, current = [], None
    with open(path, encoding="utf-8", errors="replace", newline=None) as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n").strip(" ")
            if line.startswith("["):
                fields = line.split("\t")
                if len(fields) < 3:
                    raise RatingsError(f"{path}:{lineno}: malformed block header {line!r}; expected "
                                       "'[START - END]<TAB>utterance<TAB>code<TAB>[V, A, D]'")
                current = (fields[1].strip(), fields[2].strip())
                continue
            m = _EVALUATOR.match(line)
            if m is None:
                continue  # legend, blank separators, self-evaluations (C-F1), dimensional lines (A-E3)
            text = m[2].split("(", 1)[0]  # the comment in parentheses is free text
            categories = [c.strip() for c in text.replace("\t", " ").split(";") if c.strip()]
            if current is None or not categories:
                what = "comes before any block header" if current is None else "names no category"
                raise RatingsError(f"{path}:{lineno}: evaluator line {line!r} {what}; expected e.g. "
                                   "'C-E2:<TAB>Neutral;<TAB>()' after a block's '[START - END] ...' line")
            rows.append({"id": current[0], "code": current[1], "evaluator": m[1], "category": categories[0]})
    return pd.DataFrame(rows, columns=["id", "code", "evaluator", "category"])


def evaluator_votes(root: str | Path) -> pd.DataFrame:
    """read_evaluations over every Session*/dialog/EmoEvaluation/*.txt of an IEMOCAP-layout tree (the files the
    loader reads); RatingsError when none holds an evaluator line."""
    base = iemocap.find_root(root)
    files = [p for p in sorted(base.glob("Session*/dialog/EmoEvaluation/*.txt"))
             if p.is_file() and not p.name.startswith("._")]
    votes = pd.concat([read_evaluations(p) for p in files], ignore_index=True) if files else pd.DataFrame()
    if votes.empty:
        raise RatingsError(f"no categorical evaluator line (e.g. 'C-E2:<TAB>Neutral;<TAB>()') in the {len(files)} "
                           f"EmoEvaluation file(s) under {base}/Session*/dialog/EmoEvaluation/")
    return votes


def iemocap_agreement(votes: pd.DataFrame, table: pd.DataFrame, folds: list[Fold] = ()) -> pd.DataFrame:
    """How often an evaluator's answer (`votes`: evaluator_votes) matches the plurality of the other evaluators, on
    the utterances of `table` whose corpus label is in the 4-class set, strict and lenient, as WA and UA by the
    corpus label; overall (fold "all") and on each fold's test utterances. Columns: COLUMNS + ratings (answers
    scored); modality is "audio-visual" (the evaluators watched the recordings)."""
    labels = labelled(apply_label_set(table, "4class")).set_index("id")["label"]
    v = votes[votes["id"].isin(labels.index)].copy()
    v["answer"] = v["category"].str.strip().str.lower().map(CATEGORIES_4).fillna(OUTSIDE)
    counts = pd.crosstab(v["id"], v["answer"])  # utterance x answer: how many evaluators gave it
    n_others = v.groupby("id")["answer"].transform("size").to_numpy() - 1
    alone = sorted(set(v.loc[n_others == 0, "id"]))
    if alone:
        warnings.warn(f"{len(alone)} utterance(s) have a single evaluator, so no others to agree with, and are left "
                      f"out of the evaluator agreement (e.g. {', '.join(alone[:3])})", stacklevel=2)
    v = v[n_others > 0].reset_index(drop=True)
    if v.empty:
        raise RatingsError("no utterance with a 4-class corpus label has two or more evaluators: expected the "
                           "EmoEvaluation files of this corpus")
    # the others' counts of every answer: the utterance's counts less the evaluator's own answer
    others = counts.loc[v["id"]].to_numpy() - (counts.columns.to_numpy()[None, :] == v["answer"].to_numpy()[:, None])
    top = others == others.max(axis=1, keepdims=True)  # the others' plurality (several on a tie)
    own = top[np.arange(len(v)), counts.columns.get_indexer(v["answer"])]
    in_set = (v["answer"] != OUTSIDE).to_numpy()
    hits = {"strict": in_set & own & (top.sum(axis=1) == 1), "lenient": in_set & own}
    truth = labels.loc[v["id"]].to_numpy()
    frames = [pd.DataFrame({"id": v["id"], "true": truth, "pred": np.where(hit, truth, _MISS),
                            "modality": "audio-visual", "rule": rule}) for rule, hit in hits.items()]
    return _score(pd.concat(frames, ignore_index=True), folds, class_names("4class"), ratings=True)


# ------------------------------------------------------------------ scoring, and the corpus of a config

def _classes(labels: pd.Series) -> list[str]:
    present = set(labels)
    return [c for c in class_names("cremad6") if c in present] + sorted(present - set(class_names("cremad6")))


def _score(scored: pd.DataFrame, folds, classes: list[str], ratings: bool = False) -> pd.DataFrame:
    """WA / UA (metrics.scores) of `scored` (id, true, pred, modality, rule) per modality and rule, overall (fold
    "all") and on each fold's test ids (NaN, 0 clips, for a fold none of whose test clips is scored)."""
    parts = [("all", scored)] + [(f.number, scored[scored["id"].isin(set(f.test))]) for f in folds]
    rows = []
    for fold, part in parts:
        for modality, rule in scored[["modality", "rule"]].drop_duplicates().itertuples(index=False):
            g = part[(part["modality"] == modality) & (part["rule"] == rule)]
            s = metrics.scores(g["true"], g["pred"], classes) if len(g) else {"WA": np.nan, "UA": np.nan}
            rows.append({"fold": fold, "modality": modality, "rule": rule, "WA": s["WA"], "UA": s["UA"],
                         "clips": int(g["id"].nunique()), **({"ratings": len(g)} if ratings else {})})
    return pd.DataFrame(rows, columns=COLUMNS + (["ratings"] if ratings else []))


def profile_folds(cfg, table: pd.DataFrame) -> list[Fold]:
    """The folds a run of `cfg` scores on (data.protocol over the labelled table, the `folds` it selects)."""
    return select_folds(make_folds(labelled(table), cfg.data.protocol), cfg.folds)


def ceilings(cfg, table: pd.DataFrame | None = None, csv: str | Path | None = None, progress: bool = False
             ) -> pd.DataFrame:
    """The human reference of the corpus `cfg` names, per fold of its protocol and overall (fold "all"):
    CREMA-D's rater recognition (`csv`: the summary table, default the one under data.root), or the IEMOCAP /
    synthetic evaluator agreement. `table`: the run's utterance table (default: loaded, or generated, from cfg)."""
    from mmlib.data.loaders import prepare_corpus, synthetic_dir

    dataset = cfg.data.dataset
    if dataset not in ("cremad", "iemocap", "synthetic"):
        raise RatingsError(f"no human ratings are read for data.dataset={dataset!r}; expected cremad (its "
                           "summaryTable.csv), iemocap or synthetic (the EmoEvaluation files)")
    if dataset == "cremad" and csv is None and cfg.data.root is None:
        raise RatingsError("data.dataset='cremad' needs data.root (the CREMA-D download) or the summary table's path")
    path = Path(csv).expanduser() if csv is not None else None
    if dataset == "cremad" and path is None:
        path = summary_table_path(cfg.data.root)
    ratings = read_summary_table(path) if dataset == "cremad" else None  # a broken file fails before the media scan
    table = prepare_corpus(cfg, progress=progress) if table is None else table
    folds = profile_folds(cfg, table)
    if dataset == "cremad":
        return cremad_ceilings(ratings, table, folds, source=str(path))
    root = cfg.data.root if cfg.data.root is not None else synthetic_dir(cfg) / "IEMOCAP_full_release"
    return iemocap_agreement(evaluator_votes(root), table, folds)


def study_ceilings(cfg, table: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """`ceilings(cfg, table)` for a study run: None, with a warning saying why, when the ratings are missing or
    malformed or the corpus has none (the run goes on without ceilings)."""
    try:
        return ceilings(cfg, table)
    except RatingsError as err:
        warnings.warn(f"no human ceilings: {err}", stacklevel=2)
        return None
