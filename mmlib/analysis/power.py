"""What a comparison of two models could have detected, and what its data rule out: the minimum detectable
effect of the fold-level t-test, a one-sided test against the paper's effect, an equivalence test (TOST), and
the declared primary test that combines them into one row.

    from mmlib.analysis import power
    d = [0.02, -0.05, 0.01, -0.03, -0.04]          # one value per fold: matchmap - concat, mean over seeds
    power.mde(d)                                    # smallest true mean a 5-fold t-test finds with 80 % power
    power.mde_holm(d, m=6)                          # the same when the test is the first step of a Holm family
    power.test_against(d, 0.07)                     # {"estimate", "p"}: one-sided, H1: the mean is below +0.07
    power.tost(d, 0.04)                             # {"p", "lo", "hi", "equivalent"}: within -/+ 0.04?
    power.primary_test(pred, "matchmap", "concat")  # the declared primary test of claim 1 (PRIMARY), one row
    .venv/bin/python -m pytest -q tests/test_power.py

The unit of every test here is the fold, as in mmlib.analysis.stats: the seeds of a fold share its test
speakers, so each fold contributes the mean over its seeds of the per-run difference and the folds are
the independent values (df = folds - 1). The metrics are fractions in [0, 1], so the paper's "+7 UA
points" is 0.07 and a margin of 4 points is 0.04.

Declared before the run (issue 23), `PRIMARY`: claim 1's primary contrast is matchmap - concat on UA, tested
on its own (a family of one, no Holm adjustment), with an equivalence margin of 4 UA points; the paper
reports +7 UA points for it. `primary_test` reports, for that contrast: the estimate (mean over folds of
the fold means) with the test's own interval (the t interval over fold means at 1 - alpha, so the interval
excludes 0 exactly when p < alpha; the verdict, the minimum detectable effect and the rerun forecast all
describe this one test), the repository's contrast interval beside it (`boot_lo`, `boot_hi`: stats.contrast's
two-stage bootstrap over speakers and seeds), the two-sided fold-level t-test p, the minimum
detectable effect at 80 % power and alpha 0.05, the one-sided p of "the true difference is below the
paper's +7", and the TOST p at the declared margin; its verdict says in words which of "A > B shown",
"+7 rejected" and "equivalent within the margin" the data support.

Minimum detectable effect: for a one-sample t-test of k fold values with standard deviation s, the
smallest true mean detected with probability `power` at level `alpha` is s times the standardized effect
statsmodels' TTestPower solves for (noncentral t, df = k - 1). It uses the observed s, so it is itself an
estimate. Within a family of m tests under Holm, the first step tests at alpha / m and the last at alpha:
`mde_holm` uses alpha / m, the worst case (an upper bound on what any step needs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from mmlib.analysis import stats

PRIMARY = {"claim": "1", "contrast": "matchmap - concat", "model_a": "matchmap", "model_b": "concat",
           "metric": "UA", "margin": 0.04, "paper_effect": 0.07, "alpha": 0.05, "power": 0.8,
           "declared": "issue 23, before the run: claim 1's primary contrast, tested alone (no Holm); "
                       "equivalence margin 4 UA points; the paper's effect +7 UA points (metrics are fractions)"}
COLUMNS = ("claim", "contrast", "metric", "estimate", "lo", "hi", "p", "mde", "p_vs_paper", "tost_margin", "p_tost",
           "folds", "seeds", "verdict")


def _values(fold_values) -> np.ndarray:
    d = np.asarray(fold_values, dtype=float)
    if d.ndim != 1 or np.isnan(d).any():
        raise ValueError("fold values must be one finite value per fold")
    return d


def mde(fold_values, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided") -> float:
    """The minimum detectable effect of the fold-level one-sample t-test: sd(fold values, ddof 1) x the
    standardized effect statsmodels' TTestPower solves for with nobs = folds; `alternative` "two-sided" or
    "larger" (a one-sided test; the same size as "smaller"). NaN below 2 folds; 0 when the folds agree exactly."""
    from statsmodels.stats.power import TTestPower

    d = _values(fold_values)
    if len(d) < 2:
        return float("nan")
    sd = float(d.std(ddof=1))
    if sd == 0:
        return 0.0
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(f"alternative must be 'two-sided', 'larger' or 'smaller', got {alternative!r}")
    es = TTestPower().solve_power(effect_size=None, nobs=len(d), alpha=alpha, power=power,
                                  alternative="larger" if alternative == "smaller" else alternative)
    return float(np.squeeze(es)) * sd


def mde_holm(fold_values, m: int, alpha: float = 0.05, power: float = 0.8, alternative: str = "two-sided") -> float:
    """`mde` for a test in a Holm family of m tests, at its worst case: the first step's level alpha / m."""
    if m < 1:
        raise ValueError(f"a family has at least one test, got m = {m}")
    return mde(fold_values, alpha / m, power, alternative)


def test_against(fold_values, value: float = PRIMARY["paper_effect"]) -> dict:
    """One-sided fold-level t-test of H0: mean >= value against H1: mean < value (is an effect as large as
    `value`, e.g. the paper's +0.07, ruled out?): {"estimate": the mean, "p"}. NaN p below 2 folds; with no
    spread among the folds the answer is certain (p = 0 below `value`, 1 otherwise)."""
    d = _values(fold_values)
    est = float(d.mean()) if len(d) else float("nan")
    if len(d) < 2:
        return {"estimate": est, "p": float("nan")}
    if np.ptp(d) == 0:
        return {"estimate": est, "p": 0.0 if est < value else 1.0}
    return {"estimate": est, "p": float(sps.ttest_1samp(d, value, alternative="less").pvalue)}


def tost(fold_values, margin: float, alpha: float = 0.05) -> dict:
    """Equivalence within -/+ margin by two one-sided fold-level t-tests (statsmodels DescrStatsW.ttost_mean:
    H0 mean <= -margin and H0 mean >= +margin): {"p" (the larger of the two), "lo", "hi" (the (1 - 2 alpha)
    t interval, 90 % at alpha 0.05: equivalence is shown exactly when it lies inside -/+ margin),
    "equivalent" (p < alpha)}. NaN below 2 folds."""
    from statsmodels.stats.weightstats import DescrStatsW

    d = _values(fold_values)
    if margin <= 0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    if len(d) < 2:
        return {"p": float("nan"), "lo": float("nan"), "hi": float("nan"), "equivalent": False}
    if np.ptp(d) == 0:
        p = 0.0 if abs(d[0]) < margin else 1.0
        return {"p": p, "lo": float(d[0]), "hi": float(d[0]), "equivalent": p < alpha}
    ds = DescrStatsW(d)
    p = float(ds.ttost_mean(-margin, margin)[0])
    lo, hi = (float(x) for x in ds.tconfint_mean(alpha=2 * alpha))
    return {"p": p, "lo": lo, "hi": hi, "equivalent": p < alpha}


def paired_terms(pred: pd.DataFrame, model_a: str, model_b: str) -> list[tuple[pd.DataFrame, float]]:
    """The contrast terms of model_a - model_b on the utterances (id, fold, seed) both have, as stats.paired
    aligns them: [(a, +1), (b, -1)]."""
    a, b = pred[pred["model"] == model_a], pred[pred["model"] == model_b]
    if a.empty or b.empty:
        raise ValueError(f"no predictions of {model_a if a.empty else model_b!r}")
    key = ["id", "fold", "seed"]
    common = a.set_index(key).index.intersection(b.set_index(key).index)
    if len(common) == 0:
        raise ValueError(f"models {model_a!r} and {model_b!r} share no utterances")
    return [(a.set_index(key).loc[common].reset_index(), 1.0), (b.set_index(key).loc[common].reset_index(), -1.0)]


def contrast_folds(terms: list[tuple[pd.DataFrame, float]], metric: str = "UA", n_boot: int = 2000,
                   level: float = 0.95, seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    """stats.contrast of `terms`, with its fold values: (the contrast's result without `per_run`, the fold
    means over seeds (F,) in sorted fold order, the number of seeds of each fold (F,)). Any linear contrast:
    a paired difference (paired_terms) or a slope over sweep levels (reliability.trend's terms)."""
    r = stats.contrast(terms, metric, n_boot, level, seed)
    per_run = r.pop("per_run")
    runs = sorted(set.intersection(*(set(zip(t["fold"], t["seed"])) for t, _ in terms)))  # as stats.contrast
    seeds = np.bincount(stats._run_folds(runs))
    r["within_var"] = within_fold_variance(per_run, runs)
    return r, stats.fold_means(per_run, runs), seeds


def within_fold_variance(per_run, runs: list) -> float:
    """The training variance of one run's value on fixed test speakers: the pooled variance of the per-run
    values around their fold's mean (sum of squares over sum of (seeds - 1)); NaN when no fold has two seeds."""
    x, run_fold = np.asarray(per_run, dtype=float), stats._run_folds(runs)
    ss = sum(float(((x[run_fold == f] - x[run_fold == f].mean()) ** 2).sum()) for f in np.unique(run_fold))
    dof = int(sum(max((run_fold == f).sum() - 1, 0) for f in np.unique(run_fold)))
    return ss / dof if dof else float("nan")


def shown(model_a: str, model_b: str, lo: float, hi: float, p: float, alpha: float = 0.05,
          weakened: str | None = None) -> str:
    """The decision on one difference: "shown: a > b" / "shown: a < b" when its interval excludes 0 and p < alpha,
    else "not shown". For a trend over a sweep (`weakened`: the modality whose level falls) the difference is a
    slope, so the words say how a - b moves: "shown: a - b grows as the face weakens" (or "falls")."""
    if not (p < alpha) or lo <= 0 <= hi:
        return "not shown"
    if weakened:
        return f"shown: {model_a} - {model_b} {'grows' if lo > 0 else 'falls'} as the {weakened} weakens"
    return f"shown: {model_a} {'>' if lo > 0 else '<'} {model_b}"


def verdict(model_a: str, model_b: str, lo: float, hi: float, p: float, p_vs_paper: float, p_tost: float,
            paper_effect: float | None, margin: float, folds: int, alpha: float = 0.05, points: float = 100.0,
            weakened: str | None = None) -> str:
    """The primary test in words: the difference (shown only when the interval excludes 0 and the fold-level
    p < alpha, as claims.verdict), then whether the paper's effect is rejected (one-sided p < alpha) and whether
    equivalence within -/+ margin is shown (TOST p < alpha). Effects are printed in metric points
    (x `points`), p-values in parentheses; e.g. "not shown; a +7-point gain is rejected (p = 0.004);
    equivalence within ±4 points not shown (p = 0.11)"."""
    if folds < 2 or pd.isna(p):
        return f"not testable: {folds} fold(s)"
    head = shown(model_a, model_b, lo, hi, p, alpha, weakened)
    equiv = f"equivalence within ±{margin * points:g} points {'shown' if p_tost < alpha else 'not shown'}"
    if paper_effect is None:  # no published size to test against (claim 2)
        return f"{head}; {equiv} (p = {_p(p_tost)})"
    gain = f"a {paper_effect * points:+g}-point gain"
    paper = f"{gain} is rejected" if p_vs_paper < alpha else f"{gain} is not rejected"
    return f"{head}; {paper} (p = {_p(p_vs_paper)}); {equiv} (p = {_p(p_tost)})"


# A rerun "moved" an estimate when it changed by more than this share of the reference interval's width (issue 23:
# a rerun on another machine must keep every primary verdict and move no estimate by more than a quarter of it).
RERUN_SHIFT = 0.25


def fold_decisions(d: np.ndarray, margin: float, paper_effect: float | None, alpha: float = 0.05) -> np.ndarray:
    """The primary test's three decisions from fold values, vectorized over rows of `d` (n, folds): the
    difference (+1 shown > 0, -1 shown < 0, 0 not shown; the fold-level t-test), the paper's effect rejected
    (one-sided t-test), equivalence within -/+ margin (TOST). Returns (n, 3) integers."""
    d = np.atleast_2d(np.asarray(d, dtype=float))
    k = d.shape[1]
    m, se = d.mean(1), d.std(1, ddof=1) / np.sqrt(k)
    with np.errstate(divide="ignore", invalid="ignore"):
        t0 = m / se
        p = 2 * sps.t.sf(np.abs(t0), k - 1)
        p_paper = sps.t.cdf((m - paper_effect) / se, k - 1) if paper_effect is not None else np.ones(len(d))
        p_tost = np.maximum(sps.t.sf((m + margin) / se, k - 1), sps.t.cdf((m - margin) / se, k - 1))
    shown = np.where(p < alpha, np.sign(m), 0)
    return np.stack([shown, p_paper < alpha, p_tost < alpha], axis=1).astype(int)


def rerun_forecast(fold_values, seeds, within_var: float, width: float, margin: float,
                   paper_effect: float | None, alpha: float = 0.05, target: float = 0.95, n_sim: int = 20000,
                   seed: int = 0, max_seeds: int = 100) -> dict:
    """What a rerun of the same folds with other training seeds should do, from this run's own variances (a rerun
    on another CPU acts like one: the trained weights change; the features and the test speakers do not).

    Model: fold f's true value mu_f (its test speakers, infinitely many seeds) is seen through the mean m_f of
    S_f seeds, m_f = mu_f + noise of variance s2 / S_f (s2: within_fold_variance); the mu_f spread with variance
    tau2 = max(var(m_f) - s2 x mean(1 / S_f), 0) (the test speakers' part of the fold means' variance). A rerun's
    fold mean is mu_f plus fresh noise of variance s2 / S_f; mu_f is drawn from its empirical-Bayes posterior (m_f
    shrunk toward the mean of the folds by B_f = tau2 / (tau2 + s2 / S_f), with the posterior variance of the mean
    of the mu_f kept at s2 sum_f (1 / S_f) / folds^2). Returns
    - `rerun_sd`: the sd of the change of the estimate (the mean over folds), sqrt(2 s2 sum_f 1 / S_f) / folds;
    - `p_rerun_within`: the chance that change stays within RERUN_SHIFT x `width` (the interval's width);
    - `p_rerun_same`: the share of n_sim simulated reruns whose three fold-level decisions (fold_decisions) equal
      this run's;
    - `p_rerun_same_each`: the same share for each decision alone, "difference / paper's effect / equivalence"
      (e.g. "0.95 / 1.00 / 0.76"): which one a rerun is likely to flip. A test whose true effect sits at its null
      keeps its decision in at most about 1 - 2 alpha (1 - alpha) of pairs of runs, however many seeds;
    - `speaker_share`: tau2 over the fold means' variance: how much of the interval the test speakers make (the
      rest is training noise, which a rerun redraws);
    - `seeds_for_rerun`: the fewest seeds per fold (up to max_seeds, else NaN: more seeds shrink the interval as
      fast as the change, which happens when the interval is all training noise) at which p_rerun_within
      reaches `target`, the interval's width scaled as the fold means' variance tau2 + s2 / seeds.
    NaN everywhere without a within-fold variance (one seed per fold)."""
    d, S = _values(fold_values), np.asarray(seeds, dtype=float)
    out = dict.fromkeys(("rerun_sd", "p_rerun_within", "p_rerun_same", "p_rerun_same_each", "speaker_share",
                         "seeds_for_rerun"), float("nan"))
    if len(d) < 2 or not np.isfinite(within_var) or len(S) != len(d):
        return out
    k, seed_part = len(d), within_var * float((1 / S).mean())
    tau2 = max(float(d.var(ddof=1)) - seed_part, 0.0)
    sd = float(np.sqrt(2 * within_var * (1 / S).sum()) / k)
    out["rerun_sd"] = sd
    out["p_rerun_within"] = 1.0 if sd == 0 else float(2 * sps.norm.cdf(RERUN_SHIFT * width / sd) - 1)
    out["speaker_share"] = tau2 / (tau2 + seed_part) if tau2 + seed_part > 0 else float("nan")
    rng = np.random.default_rng(seed)
    B = tau2 / (tau2 + within_var / S) if tau2 > 0 else np.zeros(k)
    centre = d.mean() + B * (d - d.mean())
    mean_sd = np.sqrt(max(within_var * (1 / S).sum() / k ** 2 - (B * within_var / S).sum() / k ** 2, 0.0))
    mu = centre + rng.normal(0.0, 1.0, (n_sim, k)) * np.sqrt(B * within_var / S) \
        + rng.normal(0.0, mean_sd, (n_sim, 1))
    sims = mu + rng.normal(0.0, 1.0, (n_sim, k)) * np.sqrt(within_var / S)
    same = fold_decisions(sims, margin, paper_effect, alpha) == fold_decisions(d, margin, paper_effect, alpha)
    out["p_rerun_same"] = float(same.all(1).mean())
    out["p_rerun_same_each"] = " / ".join(f"{x:.2f}" for x in same.mean(0))
    for n in range(1, max_seeds + 1):
        w_n = width * np.sqrt((tau2 + within_var / n) / (tau2 + seed_part))
        sd_n = np.sqrt(2 * within_var / n / k)
        if sd_n == 0 or 2 * sps.norm.cdf(RERUN_SHIFT * w_n / sd_n) - 1 >= target:
            out["seeds_for_rerun"] = float(n)
            break
    return out


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def primary_row(result: dict, fold_values, seeds, contrast: str, model_a: str, model_b: str,
                margin: float = PRIMARY["margin"], paper_effect: float | None = PRIMARY["paper_effect"],
                alpha: float = PRIMARY["alpha"], power: float = PRIMARY["power"], claim: str = "",
                weakened: str | None = None) -> dict:
    """One primary-test row (COLUMNS) from a stats.contrast result and its fold values (contrast_folds): the
    estimate and interval of the contrast, the two-sided fold-level t-test (a family of one: no Holm), the
    minimum detectable effect, the one-sided test against `paper_effect`, TOST at `margin`, the verdict."""
    d = _values(fold_values)
    seeds = np.asarray(seeds)
    against = test_against(d, paper_effect) if paper_effect is not None else {"p": float("nan")}
    equiv = tost(d, margin, alpha)
    p = stats.t_p(d)
    lo, hi = stats.t_interval(d, 1 - alpha)  # the test's own interval: it excludes 0 exactly when p < alpha
    return {"claim": claim, "contrast": contrast, "metric": result["metric"], "estimate": result["diff"],
            "lo": lo, "hi": hi, "p": p, "mde": mde(d, alpha, power),
            "p_vs_paper": against["p"], "tost_margin": margin, "p_tost": equiv["p"], "folds": len(d),
            "seeds": int(seeds.min()) if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}",
            "verdict": verdict(model_a, model_b, lo, hi, p, against["p"], equiv["p"], paper_effect, margin, len(d),
                               alpha, weakened=weakened),
            "interval": "t over fold means", "boot_lo": result["diff_lo"], "boot_hi": result["diff_hi"],
            "boot_interval": result["interval"], "paper_effect": paper_effect, "tost_lo": equiv["lo"],
            "tost_hi": equiv["hi"], "runs": result["runs"],
            **rerun_forecast(d, seeds, result.get("within_var", float("nan")), hi - lo, margin, paper_effect, alpha)}


def primary_test(pred: pd.DataFrame, model_a: str = PRIMARY["model_a"], model_b: str = PRIMARY["model_b"],
                 metric: str = PRIMARY["metric"], margin: float = PRIMARY["margin"],
                 paper_effect: float = PRIMARY["paper_effect"], alpha: float = PRIMARY["alpha"],
                 power: float = PRIMARY["power"], claim: str = PRIMARY["claim"], n_boot: int = 2000,
                 seed: int = 0) -> dict:
    """The primary test of model_a - model_b on a predictions table (the runs and utterances both models
    have, as stats.paired): one row (COLUMNS, then `interval`, `paper_effect`, the TOST interval `tost_lo` /
    `tost_hi` and `runs`). Defaults: the declared PRIMARY (claim 1, matchmap - concat on UA)."""
    r, d, seeds = contrast_folds(paired_terms(pred, model_a, model_b), metric, n_boot, seed=seed)
    return primary_row(r, d, seeds, f"{model_a} - {model_b}", model_a, model_b, margin, paper_effect, alpha, power,
                       claim)
