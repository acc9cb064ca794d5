"""Statistics in which test speakers and training seeds both vary: two-stage bootstrap intervals, paired
tests at the fold level, and Holm's control of a family of claims.

    from mmlib.analysis import stats
    stats.estimate(pred, "UA")                     # {"mean", "lo", "hi", "sd", "seed_range", "runs", "folds", ...}
    stats.paired(pred, "matchmap", "concat", "UA") # mean difference, two-stage interval, fold-level p-values
    stats.holm([0.01, 0.04, 0.2])                  # Holm-adjusted p-values of a family
    stats.utterance_interval(pred, "UA")           # the naive interval (utterances as independent), for contrast

`pred` is a predictions table (id, fold, seed, speaker, model, true, pred, ...). A *run* is one
(fold, seed): its score is WA / UA / macro-F1 over that run's whole test set. The point estimate is the
mean over folds of each fold's mean over its seeds (the mean over runs when every fold has the same
seeds). Its interval comes from a two-stage bootstrap that keeps every fold in every replicate: within
each fold its test speakers are resampled with replacement (a drawn speaker brings all its utterances,
under every seed of that fold), and, independently, the fold's seeds are resampled with replacement;
the run scores are recomputed from the resampled utterances and averaged over the drawn seeds, then over
the folds. So the interval contains the variance between test speakers and the variance between
trainings, and describes the same quantity as the point estimate: it is the point estimate -/+ 1.96 times
the replicates' standard deviation (`normal_interval`). Strata this small (2 test speakers
and 3 seeds per fold) would shrink a plain bootstrap's variance by (n - 1) / n, so each stage draws
n - 1 units and rescales them (McCarthy and Snowden 1985). A fold with a single test speaker (the
10-fold session x speaker protocol) cannot resample it: there the between-speaker variance is not in
the interval, and the table's `speakers` and `folds` columns say so.

Paired comparisons of two models (or any linear contrast of several tables) on the same runs use one
resample of speakers and seeds for every term. A contrast whose folds hold one seed each (a reduced
grid) cannot resample trainings; its interval is then the fold-level t interval (each fold's value
holds one training's noise and its own test speakers), and its `interval` column says so. Tests treat the fold as the unit, since the seeds of a
fold share its test speakers: the per-run contrasts are averaged over seeds within each fold, and the
fold means are tested with a one-sample t-test (`p_t`, df = folds - 1), an exact sign-flip permutation
test (`p_signflip`, which over F folds cannot go below 2 / 2^F, given as `p_signflip_min`) and the
Wilcoxon signed-rank test. docs/background.md#statistics explains the choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

METRICS = ("WA", "UA", "macro_f1")
RUN = ("fold", "seed")


def _classes(pred: pd.DataFrame) -> list[str]:
    return [c[2:] for c in pred.columns if c.startswith("p_")] or sorted(set(pred["true"]) | set(pred["pred"]))


def counts(pred: pd.DataFrame, classes: list[str] | None = None,
           speakers: list | None = None, runs: list | None = None) -> tuple[np.ndarray, list, list]:
    """Confusion counts per speaker and run: C[s, r, true, pred]; with the speaker and run orders."""
    classes = classes or _classes(pred)
    code = {c: i for i, c in enumerate(classes)}
    speakers = speakers if speakers is not None else sorted(pred["speaker"].unique())
    runs = runs if runs is not None else sorted(set(zip(pred["fold"], pred["seed"])))
    s_of, r_of = {s: i for i, s in enumerate(speakers)}, {r: i for i, r in enumerate(runs)}
    k = len(classes)
    C = np.zeros((len(speakers), len(runs), k, k))
    np.add.at(C, (pred["speaker"].map(s_of).to_numpy(), [r_of[r] for r in zip(pred["fold"], pred["seed"])],
                  pred["true"].map(code).to_numpy(), pred["pred"].map(code).to_numpy()), 1)
    return C, speakers, runs


def metric_of(cm: np.ndarray, metric: str) -> np.ndarray:
    """WA / UA / macro-F1 of confusion matrices (..., k, k), rows true; NaN where a matrix is empty.
    UA averages the recall of the classes present; macro-F1 the F1 of the classes present in the truth
    (as metrics.scores, which uses scikit-learn)."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    n_true, n_pred = cm.sum(-1), cm.sum(-2)
    total = n_true.sum(-1)
    seen = n_true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "WA":
            return tp.sum(-1) / np.where(total > 0, total, np.nan)
        if metric == "UA":
            per = np.where(seen, tp / np.where(seen, n_true, 1), 0.0)
        elif metric == "macro_f1":
            per = np.where(seen, 2 * tp / np.where(seen, n_true + n_pred, 1), 0.0)
        else:
            raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
        return per.sum(-1) / np.where(seen.sum(-1) > 0, seen.sum(-1), np.nan)


def _run_folds(runs: list) -> np.ndarray:
    """The fold index (0 .. folds - 1, in sorted fold order) of every run (fold, seed)."""
    folds = sorted({f for f, _ in runs})
    return np.array([folds.index(f) for f, _ in runs], dtype=int)


def _folds_of(C: np.ndarray, runs: list) -> tuple[np.ndarray, np.ndarray]:
    """(fold index of every run, fold index of every speaker): a test speaker belongs to one fold."""
    run_fold = _run_folds(runs)
    has = C.sum(axis=(2, 3)) > 0  # (S, R)
    spk_fold = np.full(len(C), -1)
    for i, row in enumerate(has):
        owners = set(run_fold[row])
        if len(owners) > 1:
            raise ValueError(f"test speaker #{i} appears in the test sets of several folds: folds must be "
                             "speaker-independent")
        spk_fold[i] = owners.pop() if owners else -1
    return run_fold, spk_fold


def run_weights(runs: list) -> np.ndarray:
    """Weights of the point estimate: each fold counts once, its seeds share its weight equally."""
    run_fold = _run_folds(runs)
    n_folds, per_fold = len(set(run_fold)), np.bincount(run_fold)
    return 1.0 / (n_folds * per_fold[run_fold])


def _rescaled_draws(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """(n_boot, n) multiplicities of n units resampled the way that keeps the variance of their mean unbiased:
    n - 1 draws with replacement, scaled by n / (n - 1) (the rescaled bootstrap of McCarthy and Snowden; a
    plain n-of-n resample of a stratum shrinks the variance by (n - 1) / n, half for 2 test speakers).
    A single unit cannot be resampled: it keeps multiplicity 1."""
    if n == 1:
        return np.ones((n_boot, 1))
    return rng.multinomial(n - 1, np.full(n, 1 / n), size=n_boot) * (n / (n - 1))


def two_stage_weights(C: np.ndarray, runs: list, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One two-stage bootstrap: (w (n_boot, S) multiplicities of the test speakers, resampled within each fold;
    u (n_boot, R) weights of the runs, the seeds of each fold resampled within the fold, each fold weighing
    1 / folds). Every replicate keeps every fold. Both stages use the rescaled draw (_rescaled_draws), and all
    speaker draws come before the seed draws, so the speakers' resample does not depend on the seeds."""
    rng = np.random.default_rng(seed)
    run_fold, spk_fold = _folds_of(C, runs)
    n_folds = int(run_fold.max()) + 1 if len(run_fold) else 0
    w = np.zeros((n_boot, len(C)))
    u = np.zeros((n_boot, len(runs)))
    for f in range(n_folds):
        spk = np.flatnonzero(spk_fold == f)
        if len(spk):
            w[:, spk] = _rescaled_draws(rng, len(spk), n_boot)
    for f in range(n_folds):
        rr = np.flatnonzero(run_fold == f)
        u[:, rr] = _rescaled_draws(rng, len(rr), n_boot) / (len(rr) * n_folds)
    return w, u


def _boot(C: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Resampled counts: (n_boot, R, k, k) = sum over speakers of w[b, s] * C[s]."""
    return np.einsum("bs,srij->brij", w, C)


def _replicates(scores: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(n_boot,) weighted means of resampled run scores (n_boot, R); a run with no resampled utterance
    (a class missing from every drawn speaker) is left out and the others of its fold reweighted."""
    ok = ~np.isnan(scores)
    return np.nansum(scores * u, axis=1) / np.sum(np.where(ok, u, 0.0), axis=1)


def normal_interval(point: float, replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """point -/+ z * (the bootstrap replicates' standard deviation): the standard bootstrap interval. Not the
    percentiles: with 2 test speakers per fold a rescaled replicate holds one speaker's utterances per fold,
    whose UA (not linear in the speakers) need not center on the pooled point estimate; its spread is the
    variance the interval needs."""
    se = float(np.nanstd(replicates, ddof=1)) if np.sum(~np.isnan(replicates)) > 1 else 0.0
    z = float(sps.norm.ppf(0.5 + level / 2))
    return point - z * se, point + z * se


def fold_means(per_run: np.ndarray, runs: list) -> np.ndarray:
    """Per-run values (R,) -> one mean per fold over its seeds (F,), folds in sorted order."""
    run_fold = _run_folds(runs)
    return np.array([per_run[run_fold == f].mean() for f in range(int(run_fold.max()) + 1)])


def seed_range(per_run: np.ndarray, runs: list) -> float:
    """Median over folds of the range (max - min) of the run scores across a fold's seeds: how much the
    trainings of one fold disagree on the same test speakers. NaN with one seed per fold."""
    run_fold = _run_folds(runs)
    ranges = [np.ptp(per_run[run_fold == f]) for f in range(int(run_fold.max()) + 1) if (run_fold == f).sum() > 1]
    return float(np.median(ranges)) if ranges else float("nan")


def estimate(pred: pd.DataFrame, metric: str = "UA", n_boot: int = 2000, level: float = 0.95,
             seed: int = 0) -> dict:
    """The mean over folds of the fold means over seeds, with a two-stage bootstrap percentile interval
    (speakers within folds, seeds within folds); sd of the run scores, median seed range of a fold."""
    C, speakers, runs = counts(pred)
    per_run = metric_of(C.sum(0), metric)
    w, u = two_stage_weights(C, runs, n_boot, seed)
    mean = float(run_weights(runs) @ per_run)
    lo, hi = normal_interval(mean, _replicates(metric_of(_boot(C, w), metric), u), level)
    return {"mean": mean, "lo": lo, "hi": hi,
            "sd": float(np.std(per_run, ddof=1)) if len(per_run) > 1 else 0.0,
            "seed_range": seed_range(per_run, runs), "runs": len(runs), "folds": len({f for f, _ in runs}),
            "speakers": len(speakers)}


def utterance_interval(pred: pd.DataFrame, metric: str = "UA", n_boot: int = 2000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """The naive interval: each run's utterances resampled as if independent (a multinomial draw of its
    confusion cells). For contrast with `estimate` only; it ignores that utterances cluster by speaker."""
    classes = _classes(pred)
    code = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    rng = np.random.default_rng(seed)
    groups = [(g["true"].map(code).to_numpy(), g["pred"].map(code).to_numpy()) for _, g in pred.groupby(list(RUN))]
    scores = np.zeros((n_boot, len(groups)))
    for j, (t, p) in enumerate(groups):
        cell = t * k + p
        draws = rng.multinomial(len(cell), np.bincount(cell, minlength=k * k) / len(cell), size=n_boot)
        scores[:, j] = metric_of(draws.reshape(n_boot, k, k).astype(float), metric)
    boot = scores.mean(1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def contrast(terms: list[tuple[pd.DataFrame, float]], metric: str = "UA", n_boot: int = 2000,
             level: float = 0.95, seed: int = 0) -> dict:
    """A linear contrast sum_k c_k * (run score of table k), per run (fold, seed), on the runs and test
    speakers every table shares: its mean (folds weighted equally), a two-stage bootstrap interval (one
    resample of speakers within folds and of seeds within folds, applied to every table: they move
    together), and fold-level tests of the fold means over seeds (t, exact sign-flip, Wilcoxon).
    paired(a, b) is the contrast (+1, -1); a change of a fusion gain between two corpora is (+1, -1, -1, +1)."""
    if any(t.empty for t, _ in terms):
        raise ValueError("a contrast term has no predictions")
    classes = _classes(terms[0][0])
    runs = sorted(set.intersection(*(set(zip(t["fold"], t["seed"])) for t, _ in terms)))
    speakers = sorted(set.intersection(*(set(t["speaker"]) for t, _ in terms)))
    if not runs or not speakers:
        raise ValueError("the contrast's tables share no run (fold, seed) or no test speaker")
    tables = []
    for t, c in terms:
        t = t[t["speaker"].isin(speakers) & pd.Series(list(zip(t["fold"], t["seed"])), index=t.index).isin(runs)]
        tables.append((counts(t, classes, speakers, runs)[0], c))
    per_run = sum(c * metric_of(C.sum(0), metric) for C, c in tables)
    diff = float(run_weights(runs) @ per_run)
    d = fold_means(per_run, runs)
    if np.bincount(_run_folds(runs)).min() > 1:  # the bootstrap's weights are drawn only where they are used
        w, u = two_stage_weights(sum(C for C, _ in tables), runs, n_boot, seed)
        lo, hi = normal_interval(diff, _replicates(sum(c * metric_of(_boot(C, w), metric) for C, c in tables), u),
                                 level)
        interval = "two-stage bootstrap"
    else:  # a fold with one seed: the bootstrap cannot see training variance; the folds' values each hold one
        lo, hi = t_interval(d, level)  # training's noise, so the fold-level t interval does
        interval = "t over folds"
    return {"metric": metric, "runs": len(runs), "folds": len(d), "speakers": len(speakers),
            "diff": diff, "diff_lo": lo, "diff_hi": hi, "interval": interval,
            "p_t": t_p(d), "p_signflip": sign_flip_p(d), "p_signflip_min": min_sign_flip_p(len(d)),
            "p_wilcoxon": wilcoxon_p(d), "per_run": per_run}


def paired(pred: pd.DataFrame, model_a: str, model_b: str, metric: str = "UA", n_boot: int = 2000,
           level: float = 0.95, seed: int = 0) -> dict:
    """model_a - model_b on the runs (fold, seed) and utterances both have: the mean difference, its two-stage
    bootstrap interval, fold-level p-values (contrast), and in how many folds each model is ahead."""
    a, b = pred[pred["model"] == model_a], pred[pred["model"] == model_b]
    if a.empty or b.empty:
        raise ValueError(f"no predictions of {model_a if a.empty else model_b!r}")
    key = ["id", "fold", "seed"]
    common = a.set_index(key).index.intersection(b.set_index(key).index)
    if len(common) == 0:
        raise ValueError(f"models {model_a!r} and {model_b!r} share no utterances")
    a = a.set_index(key).loc[common].reset_index()
    b = b.set_index(key).loc[common].reset_index()
    r = contrast([(a, 1.0), (b, -1.0)], metric, n_boot, level, seed)
    d = r.pop("per_run")
    C, _, runs = counts(a, _classes(pred))
    ra, weights, folds = metric_of(C.sum(0), metric), run_weights(runs), fold_means(d, runs)
    return {"model_a": model_a, "model_b": model_b, **r, "a": float(weights @ ra), "b": float(weights @ (ra - d)),
            "a_better_folds": int((folds > 0).sum()), "b_better_folds": int((folds < 0).sum())}


def _trivial_p(d: np.ndarray) -> float | None:
    """The p-value of a test of mean(d) = 0 that needs no test: NaN below 2 units, 1 when every d is 0."""
    if len(d) < 2:
        return float("nan")  # one unit: nothing to test
    return 1.0 if not np.any(d) else None


def sign_flip_p(d: np.ndarray, max_exact: int = 20, n_resamples: int = 100_000, seed: int = 0) -> float:
    """Two-sided p-value of mean(d) = 0 by flipping the signs of the paired differences (exact up to
    2^max_exact patterns)."""
    d = np.asarray(d, dtype=float)
    if (p := _trivial_p(d)) is not None:
        return p
    res = sps.permutation_test((d,), np.mean, permutation_type="samples", alternative="two-sided",
                               n_resamples=np.inf if len(d) <= max_exact else n_resamples,
                               rng=np.random.default_rng(seed))
    return float(res.pvalue)


def min_sign_flip_p(n: int) -> float:
    """The smallest two-sided p an exact sign-flip test of n units can give: 2 / 2^n (NaN below 2 units)."""
    return 2.0 ** (1 - n) if n >= 2 else float("nan")


def t_interval(d: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """mean(d) -/+ t(df = n - 1) x sd / sqrt(n): the fold-level interval (NaN below 2 units)."""
    d = np.asarray(d, dtype=float)
    if len(d) < 2:
        return float("nan"), float("nan")
    half = float(sps.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return float(d.mean() - half), float(d.mean() + half)


def t_p(d: np.ndarray) -> float:
    """Two-sided one-sample t-test of mean(d) = 0 (NaN below 2 units; 1 when every d is 0)."""
    d = np.asarray(d, dtype=float)
    if (p := _trivial_p(d)) is not None:
        return p
    if np.ptp(d) == 0:
        return 0.0  # identical non-zero differences: no spread, the sign is certain
    return float(sps.ttest_1samp(d, 0.0).pvalue)


def holm(p: list[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (statsmodels); NaN entries stay NaN and do not count."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def wilcoxon_p(d: np.ndarray) -> float:
    d = np.asarray(d, dtype=float)
    if (p := _trivial_p(d)) is not None:
        return p
    return float(sps.wilcoxon(d, zero_method="zsplit").pvalue)
