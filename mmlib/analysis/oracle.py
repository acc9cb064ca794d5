"""The known answers of the synthetic corpus: what a classifier given what each modality shows can reach.

    from mmlib.analysis import oracle
    pred = oracle.predictions(session)       # the oracle's test predictions on the session's folds
    ceilings = metrics.summarize(pred)       # its UA per cue set: the ceilings the models are measured against
    plan = oracle.plan_predictions(load_config("default", {"synth.face_reliability": 0.5}))  # no corpus needed
    oracle.gaps(metrics.summarize(models), ceilings)   # per model: UA, its ceiling, the gap, the seed range
    oracle.ceiling_of("audio")               # "oracle: arousal only", the ceiling of the audio model

The generator knows what every utterance expresses (truth.csv): its valence and arousal before any
rendering, which labels it flipped, and what each modality shows (the expressed emotion, or at a
reliability below 1 another utterance's: mmlib.data.synthetic.plan). The oracle is declared here
once: gradient boosting (scikit-learn's HistGradientBoostingClassifier, fixed seed, default settings)
trained on the fold's training and validation utterances and scored on its test utterances, the same
folds as the models, given one of three cue sets:

    arousal only   the arousal the voice shows (at synth.voice_reliability and voice_expressiveness):
                   the audio model's ceiling
    valence only   the valence the face shows (at synth.face_reliability and face_expressiveness):
                   the video model's ceiling
    both           the two: the fusion models' ceiling

A reliability r leaves the cue true for a share r of the utterances, so the ceilings fall smoothly
with it and the oracle's own fusion gain (both minus the better single cue) is graded; an
expressiveness above 0 only shrinks the cue toward neutral without noise, so it leaves every
ceiling where it was. At reliability 1 the cues are the planned expression pulled by the
expressiveness knobs, as before the reliability knobs existed.

The cues are the latents the generator renders, not what survives rendering, feature extraction and
a 3 s crop; a model below its ceiling loses information somewhere on that path or does not learn what
reaches it. On a real corpus there is no truth and no oracle (`predictions` returns no rows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CUES = {"oracle: both": ("valence", "arousal"), "oracle: arousal only": ("arousal",),
        "oracle: valence only": ("valence",)}
CEILING_OF = {"audio": "oracle: arousal only", "video": "oracle: valence only"}  # every other model: both
COLUMNS = ("id", "fold", "seed", "model", "speaker", "true", "pred")


def is_oracle(model: str) -> bool:
    return model in CUES


def ceiling_values(models, ceilings: pd.DataFrame, metric: str = "UA") -> dict[str, float]:
    """model -> its oracle's mean score (for plots.estimates' reference bars); {} without ceilings."""
    if ceilings.empty:
        return {}
    value = ceilings.set_index("model")[f"{metric}_mean"]
    return {m: float(value[ceiling_of(m)]) for m in models if ceiling_of(m) in value}


def ceiling_of(model: str) -> str:
    """The oracle a model is measured against: its head's cue set (a model name may carry [overrides])."""
    return CEILING_OF.get(model.split("[")[0].split(" ")[0], "oracle: both")


def truth_file(cfg) -> Path | None:
    """truth.csv of the config's synthetic corpus, or None for a real corpus."""
    if cfg.data.dataset != "synthetic" or cfg.data.root is not None:
        return None
    from mmlib.data.loaders import synthetic_dir

    return synthetic_dir(cfg) / "truth.csv"


def cues(truth: pd.DataFrame, synth) -> pd.DataFrame:
    """Per utterance id: the valence the face shows and the arousal the voice shows, at the corpus's
    reliability knobs (truth's face_valence / voice_arousal, ...: what each modality shows) and
    expressiveness knobs (each pulled toward neutral as the generator does).

    A truth table without the shown columns (a corpus at reliability 1 writes none) shows the planned
    expression in both modalities; one that lacks them while the config's reliability is below 1 is
    an error (it is not this config's corpus).

        >>> from mmlib.config import SynthConfig
        >>> truth = pd.DataFrame({"id": ["a"], "expr_valence": [0.8], "expr_arousal": [0.5],
        ...                       "face_valence": [-0.6], "face_arousal": [0.9],
        ...                       "voice_valence": [0.1], "voice_arousal": [-0.7]})
        >>> cues(truth, SynthConfig(face_reliability=0.5, voice_reliability=0.5)).loc["a"].tolist()
        [-0.6, -0.7]
    """
    from mmlib.data.synthetic.plan import MODALITIES, modality_expression

    shown = {m: all(f"{m}_{c}" in truth for c in ("valence", "arousal")) for m in MODALITIES}
    for m in MODALITIES:
        if not shown[m] and getattr(synth, f"{m}_reliability") != 1.0:
            raise ValueError(f"synth.{m}_reliability is {getattr(synth, f'{m}_reliability')} but the truth table "
                             f"has no {m}_valence / {m}_arousal: it was not written by this config's generator")
    cols = ["expr_valence", "expr_arousal"] + [f"{m}_{c}" for m in MODALITIES if shown[m] for c in ("valence",
                                                                                                   "arousal")]
    rows = truth[cols].to_dict("records")
    face = [modality_expression(u, synth.face_expressiveness, "face" if shown["face"] else None)[0] for u in rows]
    voice = [modality_expression(u, synth.voice_expressiveness, "voice" if shown["voice"] else None)[1] for u in rows]
    # rounded: the generator's pull toward neutral leaves ~1e-16 differences at expressiveness 0 that gradient
    # boosting would split on (a voice that shows no arousal must give the oracle nothing to learn)
    return pd.DataFrame({"valence": np.round(face, 9), "arousal": np.round(voice, 9)}, index=truth["id"].to_numpy())


def predictions(session, seed: int = 0) -> pd.DataFrame:
    """The oracle's test predictions for each cue set on the session's folds, as a prediction table
    (model = the cue set's name, seed = the oracle's own seed); no rows on a real corpus."""
    path = truth_file(session.cfg)
    if path is None:
        return pd.DataFrame(columns=list(COLUMNS))
    return fit_predict(cues(pd.read_csv(path), session.cfg.synth), session.table, session.folds, seed)


def plan_table(cfg) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the labelled utterance table, the truth) of the config's synthetic corpus from its plan alone: no media
    is rendered. The table holds what the oracle reads of a session's (id, speaker, session, gender, label
    from the annotated code under data.label_set); the truth is the plan, what each modality shows included."""
    from mmlib.data.corpus import apply_label_set, labelled
    from mmlib.data.synthetic.plan import plan_corpus

    if cfg.data.dataset != "synthetic" or cfg.data.root is not None:
        raise ValueError("the oracle can be trained from the plan of the synthetic corpus only")
    plan = plan_corpus(cfg.synth)
    table = labelled(apply_label_set(plan[["id", "speaker", "session", "gender", "code"]].rename(
        columns={"code": "emotion"}), cfg.data.label_set))
    return table, plan


def plan_predictions(cfg, seed: int = 0) -> pd.DataFrame:
    """`predictions` without a corpus: the same oracle on the folds of the config's protocol (cfg.folds
    selected), trained from the generator's plan. Equal to predictions(session) of a session opened with
    this config, since the corpus's labels, speakers and truth are the plan's; seconds on the default profile.

        from mmlib.config import load_config
        pred = plan_predictions(load_config("default", {"synth.voice_reliability": 0.5}))
        metrics.summarize(pred)[["model", "UA_mean"]]      # the ceilings at that level
    """
    from mmlib.data.splits import make_folds, select_folds

    table, plan = plan_table(cfg)
    folds = select_folds(make_folds(table, cfg.data.protocol), cfg.folds)
    return fit_predict(cues(plan, cfg.synth), table, folds, seed)


def fit_predict(x: pd.DataFrame, table: pd.DataFrame, folds, seed: int = 0,
                cue_sets: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """The oracle itself: per cue set of `cue_sets` (default CUES) and fold, gradient boosting fitted on the
    fold's training and validation utterances' cues (`x`, from `cues`) and labels (`table`: id, label,
    speaker), its predictions on the test utterances as a prediction table.

    The fits run on one OpenMP thread: on one or two features they are far too small to gain from more, and
    on a machine whose cores are busy (the study's parallel trainings) spinning OpenMP threads made them
    up to ~50 times slower; the predictions are the same on any number of threads.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    label = table.set_index("id")["label"]
    speaker = table.set_index("id")["speaker"]
    out = []
    for name, cols in (cue_sets or CUES).items():
        for fold in folds:
            train, test = list(fold.train + fold.val), list(fold.test)
            with threadpool_limits(1, user_api="openmp"):
                clf = HistGradientBoostingClassifier(random_state=seed).fit(x.loc[train, list(cols)].to_numpy(),
                                                                             label.loc[train].to_numpy())
            pred = clf.predict(x.loc[test, list(cols)].to_numpy())
            out.append(pd.DataFrame({"id": test, "fold": fold.number, "seed": seed, "model": name,
                                     "speaker": speaker.loc[test].to_numpy(), "true": label.loc[test].to_numpy(),
                                     "pred": np.asarray(pred)}))
    return pd.concat(out, ignore_index=True)


def gaps(summary: pd.DataFrame, ceilings: pd.DataFrame, metric: str = "UA") -> pd.DataFrame:
    """Per model of `summary` (metrics.summarize): its score, the oracle it is measured against (ceiling_of)
    and that oracle's score, the gap (ceiling - model, in points of the metric's fraction) and the model's
    median seed range within a fold: how far each model is from what its inputs carry, and how stable it is.
    Empty when there are no ceilings (a real corpus)."""
    cols = ["model", f"{metric}_mean", f"{metric}_lo", f"{metric}_hi", f"{metric}_seed_range", "ceiling",
            f"{metric}_ceiling", "gap"]
    if ceilings.empty:
        return pd.DataFrame(columns=cols)
    ceiling = ceilings.set_index("model")[f"{metric}_mean"]
    out = summary.assign(ceiling=summary["model"].map(ceiling_of))
    out[f"{metric}_ceiling"] = out["ceiling"].map(ceiling)
    out["gap"] = out[f"{metric}_ceiling"] - out[f"{metric}_mean"]
    return out[cols]
