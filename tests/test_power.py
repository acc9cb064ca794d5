"""mmlib.analysis.power on hand-made fold values: the minimum detectable effect, the one-sided test against the
paper's effect, TOST, the verdict in words, and the declared primary test on hand-made predictions.

    .venv/bin/python -m pytest -q tests/test_power.py
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.power import TTestPower

from mmlib.analysis import claims, power, stats
from tests.predictions import make_pred

D = np.array([0.02, -0.05, 0.01, -0.03, -0.04])  # 5 folds: mean -0.018, sd 0.031144823


def test_mde_is_statsmodels_effect_size_times_the_fold_sd():
    sd = D.std(ddof=1)
    assert sd == pytest.approx(0.03114482300479487, rel=1e-12)
    es = TTestPower().solve_power(effect_size=None, nobs=5, alpha=0.05, power=0.8)
    assert power.mde(D) == pytest.approx(es * sd, rel=1e-12)
    assert power.mde(D) == pytest.approx(0.052385501454684374, rel=1e-6)
    # a t-test of 5 values with this sd finds a true mean of mde with probability 0.8 (noncentral t, df 4)
    nc, crit = power.mde(D) / sd * np.sqrt(5), sps.t.ppf(0.975, 4)
    assert 1 - sps.nct.cdf(crit, 4, nc) + sps.nct.cdf(-crit, 4, nc) == pytest.approx(0.8, abs=1e-6)
    assert power.mde(D, alternative="larger") == pytest.approx(0.04233881169554045, rel=1e-6)
    assert power.mde(D, alternative="smaller") == power.mde(D, alternative="larger")


def test_mde_of_a_holm_family_uses_the_first_steps_level():
    assert power.mde_holm(D, m=6) == power.mde(D, alpha=0.05 / 6) == pytest.approx(0.08593674624473273, rel=1e-6)
    assert power.mde_holm(D, m=1) == power.mde(D)
    with pytest.raises(ValueError):
        power.mde_holm(D, m=0)


def test_mde_without_spread_or_folds():
    assert np.isnan(power.mde([0.03]))
    assert power.mde([0.03, 0.03, 0.03]) == 0.0
    with pytest.raises(ValueError):
        power.mde([0.01, np.nan, 0.02])


def test_one_sided_test_against_the_papers_effect_is_scipys():
    got = power.test_against(D, 0.07)
    assert got["estimate"] == pytest.approx(-0.018)
    assert got["p"] == sps.ttest_1samp(D, 0.07, alternative="less").pvalue
    assert got["p"] == pytest.approx(0.001605211208581454, rel=1e-9)
    assert power.test_against(D)["p"] == got["p"]  # the default is the paper's +7 points
    assert power.test_against(D + 0.1, 0.07)["p"] == pytest.approx(
        sps.ttest_1samp(D + 0.1, 0.07, alternative="less").pvalue)  # mean 0.082 > 0.07: p above one half
    assert power.test_against(D + 0.1, 0.07)["p"] > 0.5
    assert power.test_against([0.01, 0.01], 0.07)["p"] == 0.0 and power.test_against([0.09, 0.09], 0.07)["p"] == 1.0
    assert np.isnan(power.test_against([0.01], 0.07)["p"])


def test_tost_is_the_larger_one_sided_p_with_the_90_percent_interval():
    got = power.tost(D, 0.04)
    lower = sps.ttest_1samp(D, -0.04, alternative="greater").pvalue  # H0: mean <= -0.04
    upper = sps.ttest_1samp(D, 0.04, alternative="less").pvalue  # H0: mean >= +0.04
    assert got["p"] == pytest.approx(max(lower, upper), rel=1e-12) == pytest.approx(0.09468369498099079, rel=1e-9)
    lo, hi = sps.t.interval(0.9, 4, loc=D.mean(), scale=sps.sem(D))
    assert (got["lo"], got["hi"]) == (pytest.approx(lo), pytest.approx(hi))
    assert (got["lo"], got["hi"]) == (pytest.approx(-0.04769318978742474), pytest.approx(0.011693189787424743))
    assert not got["equivalent"]  # the 90 % interval reaches below -0.04
    wide = power.tost(D, 0.1)
    assert wide["equivalent"] and wide["p"] == pytest.approx(0.0020808110451240275, rel=1e-9)
    assert power.tost([0.01, 0.01], 0.04)["equivalent"] and not power.tost([0.05, 0.05], 0.04)["equivalent"]
    with pytest.raises(ValueError):
        power.tost(D, 0.0)


def test_verdict_in_plain_words():
    v = {"paper_effect": 0.07, "margin": 0.04, "folds": 5}
    assert power.verdict("matchmap", "concat", -0.08, 0.05, 0.35, 0.0038, 0.151, **v) == (
        "not shown; a +7-point gain is rejected (p = 0.004); equivalence within ±4 points not shown (p = 0.151)")
    assert power.verdict("matchmap", "concat", 0.02, 0.12, 0.01, 0.6, 0.9, **v) == (
        "shown: matchmap > concat; a +7-point gain is not rejected (p = 0.600); "
        "equivalence within ±4 points not shown (p = 0.900)")
    assert power.verdict("matchmap", "concat", -0.02, 0.02, 0.9, 0.0004, 0.01, **v) == (
        "not shown; a +7-point gain is rejected (p = <0.001); equivalence within ±4 points shown (p = 0.010)")
    assert power.verdict("a", "b", -0.12, -0.02, 0.01, 0.001, 0.9, **v).startswith("shown: a < b; ")
    assert power.verdict("a", "b", -0.12, -0.02, 0.01, 0.001, 0.9, **v, weakened="voice").startswith(
        "shown: a - b falls as the voice weakens; ")  # claim 2's slope over the sweep
    # the interval must exclude 0 as well as p < alpha, as in claims.verdict
    assert power.verdict("a", "b", -0.01, 0.12, 0.01, 0.6, 0.9, **v).startswith("not shown; ")
    assert power.verdict("a", "b", 0.0, 0.0, float("nan"), float("nan"), float("nan"), 0.07, 0.04, 1) == (
        "not testable: 1 fold(s)")


def test_primary_test_is_the_paired_contrast_with_its_fold_level_tests():
    pred = pd.concat([make_pred("matchmap", lambda k: 0.62 + 0.02 * (k % 3), seeds=(42, 43, 44), rs=1),
                      make_pred("concat", lambda k: 0.6, seeds=(42, 43, 44), rs=2)], ignore_index=True)
    row = power.primary_test(pred, n_boot=500)
    ref = stats.paired(pred, "matchmap", "concat", "UA", n_boot=500)
    assert (row["estimate"], row["p"]) == (ref["diff"], ref["p_t"])
    assert (row["boot_lo"], row["boot_hi"], row["boot_interval"]) == (ref["diff_lo"], ref["diff_hi"],
                                                                      "two-stage bootstrap")
    assert row["interval"] == "t over fold means" and (row["folds"], row["seeds"], row["runs"]) == (5, 3, 15)
    # the fold values: each fold's mean over its seeds of the per-run UA difference
    ua = {m: pred[pred["model"] == m].groupby(["fold", "seed"]).apply(
        lambda g: np.mean([(g["pred"][g["true"] == c] == c).mean() for c in sorted(set(g["true"]))]))
        for m in ("matchmap", "concat")}
    d = (ua["matchmap"] - ua["concat"]).groupby("fold").mean().to_numpy()
    assert row["estimate"] == pytest.approx(d.mean(), rel=1e-12)
    # the row's interval is the t-test's own (scipy's t interval of the fold values at 95 %): one test, one rule
    lo, hi = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    assert (row["lo"], row["hi"]) == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    assert (row["lo"] > 0) == (row["p"] < 0.05)
    assert row["mde"] == pytest.approx(power.mde(d), rel=1e-12)
    assert row["p_vs_paper"] == pytest.approx(sps.ttest_1samp(d, 0.07, alternative="less").pvalue, rel=1e-12)
    assert row["p_tost"] == pytest.approx(power.tost(d, 0.04)["p"], rel=1e-12) and row["tost_margin"] == 0.04
    assert row["verdict"] == power.verdict("matchmap", "concat", row["lo"], row["hi"], row["p"], row["p_vs_paper"],
                                           row["p_tost"], 0.07, 0.04, 5)


def test_primary_tests_table_has_the_declared_columns_and_takes_a_second_claim():
    pred = pd.concat([make_pred("matchmap", lambda k: 0.9, seeds=(42, 43), rs=1),
                      make_pred("concat", lambda k: 0.5, seeds=(42, 43), rs=2)], ignore_index=True)
    table = claims.primary_tests(pred, n_boot=300)
    assert tuple(table.columns[:len(power.COLUMNS)]) == power.COLUMNS
    assert table.loc[0, "claim"] == "1" and table.loc[0, "contrast"] == "matchmap - concat"
    assert table.loc[0, "verdict"].startswith("shown: matchmap > concat; a +7-point gain is not rejected")
    assert power.PRIMARY["margin"] == 0.04 and power.PRIMARY["paper_effect"] == 0.07
    # claim 2's row, from any linear contrast's fold values (here the same pair, as a stand-in), appends
    r, d, seeds = power.contrast_folds(power.paired_terms(pred, "matchmap", "concat"), "UA", n_boot=300)
    second = power.primary_row(r, d, seeds, "slope of matchmap - concat", "matchmap", "concat", claim="2 (face)")
    both = pd.concat([table, pd.DataFrame([second])], ignore_index=True)
    assert both["claim"].tolist() == ["1", "2 (face)"] and list(both.columns) == list(table.columns)
    assert both.loc[1, "estimate"] == table.loc[0, "estimate"] and both.loc[1, "seeds"] == 2


def test_within_fold_variance_pools_each_folds_seeds():
    runs = [(1, 42), (1, 43), (2, 42), (2, 43), (2, 44)]
    x = np.array([0.0, 0.2, 0.1, 0.1, 0.4])  # fold 1: ss 0.02 on 1 dof; fold 2 (mean 0.2): ss 0.06 on 2 dof
    assert power.within_fold_variance(x, runs) == pytest.approx(0.08 / 3, rel=1e-12)
    assert np.isnan(power.within_fold_variance(np.array([0.1, 0.3]), [(1, 42), (2, 42)]))  # one seed per fold


def test_fold_decisions_agree_with_the_slow_tests_row_by_row():
    rng = np.random.default_rng(3)
    rows = rng.normal(0.0, 0.03, (200, 5)) + rng.choice([-0.06, -0.01, 0.0, 0.02, 0.08], (200, 1))
    fast = power.fold_decisions(rows, margin=0.04, paper_effect=0.07)
    for d, (diff, paper, equiv) in zip(rows, fast):
        p = stats.t_p(d)
        assert diff == (np.sign(d.mean()) if p < 0.05 else 0)
        assert paper == (power.test_against(d, 0.07)["p"] < 0.05)
        assert equiv == power.tost(d, 0.04)["equivalent"]
    assert (power.fold_decisions(rows, 0.04, None)[:, 1] == 0).all()  # no paper effect: never rejected


def test_rerun_forecast_on_hand_made_variances():
    d, seeds, s2, width = np.array([0.30, 0.32, 0.28, 0.31, 0.29]), np.array([3] * 5), 0.01 ** 2, 0.04
    f = power.rerun_forecast(d, seeds, s2, width, margin=0.04, paper_effect=0.07)
    sd = np.sqrt(2 * s2 * 5 / 3) / 5  # the change of the mean over folds: two draws of seed noise
    assert f["rerun_sd"] == pytest.approx(sd, rel=1e-12)
    assert f["p_rerun_within"] == pytest.approx(2 * sps.norm.cdf(0.25 * width / sd) - 1, rel=1e-12)
    # an effect far from every decision's boundary: every rerun reaches this run's decisions
    assert f["p_rerun_same"] == 1.0 and f["p_rerun_same_each"] == "1.00 / 1.00 / 1.00"
    tau2 = d.var(ddof=1) - s2 / 3
    assert f["speaker_share"] == pytest.approx(tau2 / d.var(ddof=1), rel=1e-12)
    # seeds_for_rerun: the fewest seeds whose change stays within a quarter of the (rescaled) width 95 % of the time
    n = int(f["seeds_for_rerun"])
    ok = lambda k: 2 * sps.norm.cdf(0.25 * width * np.sqrt((tau2 + s2 / k) / d.var(ddof=1))  # noqa: E731
                                    / np.sqrt(2 * s2 / k / 5)) - 1 >= 0.95
    assert ok(n) and not ok(n - 1)


def test_rerun_forecast_when_the_interval_is_all_training_noise():
    # fold means that agree better than their seed noise: no speaker part, so more seeds never reach the target
    d, seeds = np.array([0.010, 0.012, 0.008, 0.011, 0.009]), np.array([3] * 5)
    f = power.rerun_forecast(d, seeds, 0.02 ** 2, 0.03, margin=0.04, paper_effect=0.07)
    assert f["speaker_share"] == 0.0 and np.isnan(f["seeds_for_rerun"])
    assert 0.0 < f["p_rerun_same"] < 1.0
    # one seed per fold: no training variance to forecast from
    g = power.rerun_forecast(d, np.ones(5), float("nan"), 0.03, margin=0.04, paper_effect=0.07)
    assert all(np.isnan(v) for k, v in g.items() if k != "p_rerun_same_each")
