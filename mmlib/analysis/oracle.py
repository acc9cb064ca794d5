"""The known answers of the synthetic corpus: what a classifier given the expressed emotion can reach.

    from mmlib.analysis import oracle
    pred = oracle.predictions(session)       # the oracle's test predictions on the session's folds
    ceilings = metrics.summarize(pred)       # its UA per cue set: the ceilings the models are measured against
    oracle.gaps(metrics.summarize(models), ceilings)   # per model: UA, its ceiling, the gap, the seed range
    oracle.ceiling_of("audio")               # "oracle: arousal only", the ceiling of the audio model

The generator knows what every utterance expresses (truth.csv): its valence and arousal before any
rendering, and which labels it flipped. The oracle is declared here once: gradient boosting
(scikit-learn's HistGradientBoostingClassifier, fixed seed, default settings) trained on the fold's
training and validation utterances and scored on its test utterances, the same folds as the models,
given one of three cue sets:

    arousal only   the arousal the voice shows (at synth.voice_expressiveness): the audio model's ceiling
    valence only   the valence the face shows (at synth.face_expressiveness): the video model's ceiling
    both           the two: the fusion models' ceiling

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
    expressiveness knobs (each pulled toward neutral as the generator does)."""
    from mmlib.data.synthetic.plan import modality_expression

    rows = truth[["expr_valence", "expr_arousal"]].to_dict("records")
    face = [modality_expression(u, synth.face_expressiveness)[0] for u in rows]
    voice = [modality_expression(u, synth.voice_expressiveness)[1] for u in rows]
    # rounded: the generator's pull toward neutral leaves ~1e-16 differences at expressiveness 0 that gradient
    # boosting would split on (a voice that shows no arousal must give the oracle nothing to learn)
    return pd.DataFrame({"valence": np.round(face, 9), "arousal": np.round(voice, 9)}, index=truth["id"].to_numpy())


def predictions(session, seed: int = 0) -> pd.DataFrame:
    """The oracle's test predictions for each cue set on the session's folds, as a prediction table
    (model = the cue set's name, seed = the oracle's own seed); no rows on a real corpus."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    path = truth_file(session.cfg)
    if path is None:
        return pd.DataFrame(columns=list(COLUMNS))
    x = cues(pd.read_csv(path), session.cfg.synth)
    label = session.table.set_index("id")["label"]
    speaker = session.table.set_index("id")["speaker"]
    out = []
    for name, cols in CUES.items():
        for fold in session.folds:
            train, test = list(fold.train + fold.val), list(fold.test)
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
