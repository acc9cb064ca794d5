"""Metrics on hand-made predictions: known values, aggregation, paired tests."""

import numpy as np
import pandas as pd
import pytest

from mmlib import metrics

CLASSES = ["neu", "hap", "sad", "ang"]


def test_scores_known_values():
    t = ["neu", "neu", "neu", "neu", "hap", "hap", "sad", "ang"]
    p = ["neu", "neu", "neu", "hap", "hap", "neu", "sad", "sad"]
    s = metrics.scores(t, p, CLASSES)
    assert s["WA"] == pytest.approx(5 / 8)
    assert s["UA"] == pytest.approx((3 / 4 + 1 / 2 + 1 + 0) / 4)
    assert s["recall_ang"] == 0.0 and s["recall_sad"] == 1.0
    cm = metrics.confusion(t, p, CLASSES)
    assert cm.loc["neu", "hap"] == 1 and cm.loc["ang", "sad"] == 1 and cm.to_numpy().sum() == 8
    assert metrics.confusion(t, p, CLASSES, normalize="true").loc["hap"].tolist() == [0.5, 0.5, 0.0, 0.0]


def make_pred(model, acc, n=200, fold=1, seed=42, rs=0):
    rng = np.random.default_rng(rs)
    true = rng.choice(CLASSES, n)
    right = rng.random(n) < acc
    pred = np.where(right, true, [CLASSES[(CLASSES.index(x) + 1) % 4] for x in true])
    df = pd.DataFrame({"id": [f"u{i:04d}" for i in range(n)], "fold": fold, "seed": seed, "model": model,
                       "true": true, "pred": pred})
    for c in CLASSES:
        df[f"p_{c}"] = (df["pred"] == c).astype(float)
    return df


def test_per_fold_and_summary():
    pred = pd.concat([make_pred("a", 0.8, fold=1), make_pred("a", 0.6, fold=2, rs=1)])
    pred.loc[pred.fold == 2, "id"] = pred.loc[pred.fold == 2, "id"] + "b"
    pf = metrics.per_fold(pred)
    assert len(pf) == 2 and pf["n"].tolist() == [200.0, 200.0]
    s = metrics.summarize(pred, n_boot=200).iloc[0]
    assert s["WA_mean"] == pytest.approx(pf["WA"].mean())
    assert s["WA_std"] == pytest.approx(pf["WA"].std(ddof=1))
    assert s["WA_lo"] < (pred.true == pred.pred).mean() < s["WA_hi"]
    assert 0.03 < s["WA_hi"] - s["WA_lo"] < 0.15  # ~ 2 * 1.96 * sqrt(.7 * .3 / 400)


def test_paired_test_detects_better_model():
    a, b = make_pred("a", 0.9, rs=3), make_pred("b", 0.5, rs=3)
    r = metrics.paired_test(pd.concat([a, b]), "a", "b", metric="WA")
    assert r["diff"] == pytest.approx((a.true == a.pred).mean() - (b.true == b.pred).mean())
    assert r["diff_lo"] > 0 and r["p_mcnemar"] < 1e-6 and r["p_bootstrap"] == 0.0
    same = metrics.paired_test(pd.concat([a, a.assign(model="c")]), "a", "c")
    assert same["diff"] == 0 and same["p_mcnemar"] == 1.0
    with pytest.raises(ValueError, match="share no utterances"):
        metrics.paired_test(pd.concat([a, b.assign(id="x" + b.id)]), "a", "b")


def test_fast_metric_matches_sklearn():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    rng = np.random.default_rng(5)
    for _ in range(20):
        t = rng.integers(0, 4, 50)
        p = np.where(rng.random(50) < 0.5, t, rng.integers(0, 4, 50))  # half right, half random
        assert metrics._metric(t, p, "WA") == pytest.approx(accuracy_score(t, p))
        assert metrics._metric(t, p, "UA") == pytest.approx(balanced_accuracy_score(t, p))
        assert metrics._metric(t, p, "macro_f1") == pytest.approx(f1_score(t, p, average="macro"))
