"""Metrics and speaker-level statistics on hand-made predictions: known values, intervals, paired tests."""

import itertools

import numpy as np
import pandas as pd
import pytest

from mmlib import metrics, stats
from tests.predictions import CLASSES, make_pred


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


def test_summary_point_is_the_mean_of_runs_and_inside_its_interval():
    pred = make_pred("a", lambda k: 0.4 + 0.05 * k, seeds=(42, 43, 44))
    pf = metrics.per_fold(pred)
    assert len(pf) == 15
    s = metrics.summarize(pred, n_boot=500).iloc[0]
    assert s["runs"] == 15 and s["speakers"] == 10
    for m in ("WA", "UA", "macro_f1"):
        assert s[f"{m}_mean"] == pytest.approx(pf[m].mean())
        assert s[f"{m}_sd"] == pytest.approx(pf[m].std(ddof=1))
        assert s[f"{m}_lo"] <= s[f"{m}_mean"] <= s[f"{m}_hi"]


def test_speaker_interval_is_wider_than_utterance_interval_when_speakers_differ():
    differ = make_pred("a", lambda k: [0.25, 0.9, 0.3, 0.85, 0.35, 0.95, 0.3, 0.8, 0.25, 0.9][k])
    same = make_pred("a", lambda k: 0.6, folds=10)  # 20 speakers: the bootstrap's own noise is ~ +-15 %
    for pred, lo_ratio, hi_ratio in ((differ, 2.0, np.inf), (same, 0.7, 1.3)):
        e = stats.estimate(pred, "UA", n_boot=1000)
        u_lo, u_hi = stats.utterance_interval(pred, "UA", n_boot=1000)
        ratio = (e["hi"] - e["lo"]) / (u_hi - u_lo)
        assert lo_ratio < ratio < hi_ratio, ratio
        assert e["lo"] <= e["mean"] <= e["hi"] and u_lo <= e["mean"] <= u_hi


def test_seeds_stay_together_in_the_speaker_bootstrap():
    one = make_pred("a", lambda k: 0.3 + 0.06 * k, seeds=(42,))
    three = pd.concat([one.assign(seed=s) for s in (42, 43, 44)], ignore_index=True)  # identical seeds
    e1, e3 = stats.estimate(one, "UA", n_boot=800), stats.estimate(three, "UA", n_boot=800)
    assert e3["mean"] == pytest.approx(e1["mean"])
    assert (e3["lo"], e3["hi"]) == pytest.approx((e1["lo"], e1["hi"]))  # no extra certainty from repeated seeds


def test_paired_test_on_folds_and_seeds():
    a = make_pred("a", lambda k: 0.85, seeds=(42, 43), rs=1)
    b = make_pred("b", lambda k: 0.45, seeds=(42, 43), rs=2)
    pred = pd.concat([a, b])
    r = metrics.paired_test(pred, "a", "b", "UA", n_boot=500)
    pf = metrics.per_fold(pred).pivot_table(index=["fold", "seed"], columns="model", values="UA")
    assert r["runs"] == 10 and r["speakers"] == 10
    assert r["diff"] == pytest.approx((pf["a"] - pf["b"]).mean())
    assert r["diff_lo"] > 0.2 and r["a_better_runs"] == 10
    assert r["p_signflip"] == pytest.approx(2 / 2 ** 10)  # exact: only the all-positive and all-negative patterns
    same = metrics.paired_test(pd.concat([a, a.assign(model="c")]), "a", "c")
    assert same["diff"] == 0 and same["p_signflip"] == 1.0 and same["diff_lo"] == same["diff_hi"] == 0
    with pytest.raises(ValueError, match="share no utterances"):
        metrics.paired_test(pd.concat([a, b.assign(id="x" + b.id)]), "a", "b")
    # one seed: 5 runs, the exact sign-flip test cannot go below 2 / 2^5 (the verdicts: test_claims_verdict.py)
    five = metrics.paired_test(pred[pred["seed"] == 42], "a", "b", "UA", n_boot=500)
    assert five["runs"] == 5 and five["p_signflip"] == pytest.approx(0.0625) and five["diff_lo"] > 0.2


def test_sign_flip_matches_enumeration():
    d = np.array([0.05, 0.02, -0.01, 0.04, 0.03, -0.02, 0.06])
    signs = np.array(list(itertools.product([-1, 1], repeat=len(d))))
    expected = np.mean(np.abs((signs * d).mean(1)) >= abs(d.mean()) - 1e-12)
    assert stats.sign_flip_p(d) == pytest.approx(expected)
    assert np.isnan(stats.sign_flip_p(np.array([0.1])))


def test_vectorized_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    rng = np.random.default_rng(5)
    for _ in range(20):
        t = rng.integers(0, 4, 50)
        p = np.where(rng.random(50) < 0.5, t, rng.integers(0, 4, 50))  # half right, half random
        cm = np.zeros((4, 4))
        np.add.at(cm, (t, p), 1)
        assert stats.metric_of(cm, "WA") == pytest.approx(accuracy_score(t, p))
        assert stats.metric_of(cm, "UA") == pytest.approx(balanced_accuracy_score(t, p))
        assert stats.metric_of(cm, "macro_f1") == pytest.approx(f1_score(t, p, average="macro"))


def test_results_table_formats_point_and_interval():
    pred = make_pred("a", lambda k: 0.7)
    table = metrics.results_table(metrics.summarize(pred, n_boot=200))
    s = metrics.summarize(pred, n_boot=200).iloc[0]
    assert table.loc[0, "UA"] == f"{100 * s['UA_mean']:.1f} [{100 * s['UA_lo']:.1f}, {100 * s['UA_hi']:.1f}]"
