"""Metrics and statistics on hand-made predictions: known values, two-stage intervals, fold-level paired tests."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from mmlib.analysis import metrics, stats
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
    r = stats.paired(pred, "a", "b", "UA", n_boot=500)
    pf = metrics.per_fold(pred).pivot_table(index=["fold", "seed"], columns="model", values="UA")
    assert r["runs"] == 10 and r["folds"] == 5 and r["speakers"] == 10
    assert r["diff"] == pytest.approx((pf["a"] - pf["b"]).mean())
    assert r["diff_lo"] > 0.2 and r["a_better_folds"] == 5 and r["b_better_folds"] == 0
    # the tests see 5 folds (the seeds of a fold share its test speakers), not 10 runs
    folds = (pf["a"] - pf["b"]).groupby(level="fold").mean().to_numpy()
    assert r["p_signflip"] == pytest.approx(2 / 2 ** 5) == r["p_signflip_min"]
    assert r["p_t"] == pytest.approx(scipy_stats.ttest_1samp(folds, 0.0).pvalue) and r["p_t"] < 0.001
    same = stats.paired(pd.concat([a, a.assign(model="c")]), "a", "c")
    assert same["diff"] == 0 and same["p_signflip"] == 1.0 and same["p_t"] == 1.0
    assert same["diff_lo"] == same["diff_hi"] == 0
    with pytest.raises(ValueError, match="share no utterances"):
        stats.paired(pd.concat([a, b.assign(id="x" + b.id)]), "a", "b")
    five = stats.paired(pred[pred["seed"] == 42], "a", "b", "UA", n_boot=500)
    assert five["runs"] == 5 and five["folds"] == 5 and five["p_signflip"] == pytest.approx(0.0625)


def with_seed_effects(sd: float, rs: int = 7) -> pd.DataFrame:
    """Predictions of 5 folds x 3 seeds whose speakers are fixed (the same utterances, the same speaker
    accuracies) while each training (fold, seed) adds its own effect ~ N(0, sd) to every speaker's accuracy."""
    effect = np.random.default_rng(rs).normal(0.0, 1.0, (5, 3)) * sd
    base = [0.55, 0.65, 0.6, 0.6, 0.5, 0.6, 0.55, 0.65, 0.6, 0.6]
    return pd.concat([make_pred("a", lambda k, j=j: float(np.clip(base[k] + effect[k // 2, j], 0, 1)), seeds=(s,), rs=1)
                      for j, s in enumerate((42, 43, 44))], ignore_index=True)


def test_the_interval_widens_with_seed_variance_at_fixed_speaker_variance():
    widths = []
    for sd in (0.0, 0.1, 0.25):
        e = stats.estimate(with_seed_effects(sd), "UA", n_boot=1000)
        assert e["lo"] <= e["mean"] <= e["hi"]
        widths.append(e["hi"] - e["lo"])
    assert widths[0] < widths[1] < widths[2] and widths[2] > 1.5 * widths[0], widths


def test_every_bootstrap_replicate_keeps_every_fold():
    pred = make_pred("a", lambda k: 0.5 + 0.04 * k, seeds=(42, 43, 44))
    C, speakers, runs = stats.counts(pred)
    w, u = stats.two_stage_weights(C, runs, 300, seed=0)
    fold_of = {s: int(s[3:]) // 2 + 1 for s in speakers}  # spk0, spk1 -> fold 1, ...
    for f in range(1, 6):
        spk = [i for i, s in enumerate(speakers) if fold_of[s] == f]
        rr = [i for i, r in enumerate(runs) if r[0] == f]
        assert np.allclose(w[:, spk].sum(1), 2)  # the fold's 2 speakers: 1 drawn, weighing 2 (rescaled)
        assert set(np.unique(w[:, spk])) == {0.0, 2.0}
        assert np.allclose(u[:, rr].sum(1), 1 / 5)  # each fold weighs one fifth in every replicate
        assert set(np.round(np.unique(u[:, rr]) * 15, 6)) <= {0.0, 1.5, 3.0}  # 2 of 3 seeds drawn, x 3/2


def test_seed_range_and_fold_means():
    runs = [(1, 42), (1, 43), (2, 42), (2, 43), (3, 42), (3, 43)]
    per_run = np.array([0.5, 0.6, 0.4, 0.7, 0.5, 0.5])
    assert stats.fold_means(per_run, runs) == pytest.approx([0.55, 0.55, 0.5])
    assert stats.seed_range(per_run, runs) == pytest.approx(0.1)  # median of 0.1, 0.3, 0.0
    assert stats.run_weights(runs) == pytest.approx(np.full(6, 1 / 6))
    assert stats.run_weights([(1, 42), (2, 42), (2, 43)]) == pytest.approx([0.5, 0.25, 0.25])


def test_holm_adjustment():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = stats.holm([0.01, float("nan"), 0.2])
    assert adjusted[0] == pytest.approx(0.02) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.2)
    assert stats.min_sign_flip_p(5) == 0.0625 and stats.min_sign_flip_p(10) == pytest.approx(2 / 1024)


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


def test_collapsed_axes_score_the_two_sides():
    from mmlib.data.corpus import AXES

    pred = pd.DataFrame({"id": list("abcdefgh"), "fold": 1, "seed": 42, "model": "m", "speaker": list("xxxxyyyy"),
                         "true": ["ang", "hap", "sad", "neu"] * 2,
                         "pred": ["hap", "ang", "neu", "sad", "ang", "sad", "sad", "hap"]})
    arousal = metrics.collapse(pred, AXES["4class"]["arousal"])
    assert arousal["true"].tolist()[:4] == ["high", "high", "low", "low"] and not any(c.startswith("p_") for c in arousal)
    # arousal: every one of the first four is on the right side; valence: none of them
    assert metrics.scores(arousal["true"][:4], arousal["pred"][:4], [])["UA"] == 1.0
    valence = metrics.collapse(pred, AXES["4class"]["valence"])
    assert metrics.scores(valence["true"][:4], valence["pred"][:4], [])["UA"] == 0.0
    table = metrics.collapsed(pred, AXES["4class"], n_boot=50).set_index("axis")
    assert table.loc["arousal", "UA_mean"] == pytest.approx(metrics.scores(arousal["true"], arousal["pred"], [])["UA"])
    wide = metrics.by_axis(metrics.collapsed(pred, AXES["4class"], n_boot=50))
    assert list(wide.columns) == ["arousal", "valence"] and list(wide.index) == ["m"]
    assert wide.loc["m", "arousal"] == pytest.approx(table.loc["arousal", "UA_mean"])
    assert metrics.collapsed(pred, {}).empty and metrics.by_axis(metrics.collapsed(pred, {})).empty
    with pytest.raises(ValueError, match=r"classes \['fea'\] have no side"):
        metrics.collapse(pred.assign(pred="fea"), AXES["4class"]["arousal"])
