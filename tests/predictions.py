"""Hand-made prediction tables for the metrics, statistics and claims tests.

    from tests.predictions import CLASSES, make_pred
    pred = make_pred("matchmap", lambda k: 0.8, seeds=(42, 43))   # 5 folds x 2 test speakers, 60 utterances each
"""

import numpy as np
import pandas as pd

CLASSES = ["neu", "hap", "sad", "ang"]


def make_pred(model, acc_of_speaker, n_per_speaker=60, folds=5, seeds=(42,), rs=0):
    """Predictions of `model` for 2 test speakers per fold; speaker k is right with probability
    acc_of_speaker(k) (the same utterances and truths for every model and seed)."""
    rows = []
    for fold in range(1, folds + 1):
        for k in (2 * fold - 2, 2 * fold - 1):
            truth_rng = np.random.default_rng(1000 + k)
            true = truth_rng.choice(CLASSES, n_per_speaker)
            for seed in seeds:
                rng = np.random.default_rng([rs, k, seed])
                right = rng.random(n_per_speaker) < acc_of_speaker(k)
                pred = np.where(right, true, [CLASSES[(CLASSES.index(x) + 1) % 4] for x in true])
                rows.append(pd.DataFrame({"id": [f"s{k}_u{i:03d}" for i in range(n_per_speaker)], "fold": fold,
                                          "seed": seed, "model": model, "speaker": f"spk{k}", "true": true,
                                          "pred": pred}))
    df = pd.concat(rows, ignore_index=True)
    for c in CLASSES:
        df[f"p_{c}"] = (df["pred"] == c).astype(float)
    return df
