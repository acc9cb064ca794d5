"""Statistics with the speaker as the unit: cluster bootstrap intervals and paired tests over folds x seeds.

    from mmlib import stats
    stats.estimate(pred, "UA")                     # {"mean", "lo", "hi", "sd", "runs", "speakers"}
    stats.paired(pred, "matchmap", "concat", "UA") # mean per-run difference, speaker-bootstrap interval, p-values
    stats.utterance_interval(pred, "UA")           # the naive interval (utterances as independent), for contrast

`pred` is a predictions table (id, fold, seed, speaker, model, true, pred, ...). A *run* is one
(fold, seed): its score is WA / UA / macro-F1 over that run's whole test set. The point estimate is the
mean of the run scores over folds x seeds. Its interval comes from a bootstrap that resamples the test
speakers (clusters) with replacement: a drawn speaker brings all its utterances, under every seed (seeds
stay together), the run scores are recomputed from the resampled utterances and averaged again. So the
interval describes the same quantity as the point estimate, and utterances of one speaker are never
treated as independent evidence.

Paired comparisons of two models on the same folds and seeds use the per-run differences: their mean,
a speaker-bootstrap interval of that mean (both models resampled with the same speakers), an exact
sign-flip permutation test (scipy.stats.permutation_test; Monte Carlo beyond 2^20 sign patterns) and
the Wilcoxon signed-rank test. The runs of different seeds share test speakers, so these p-values treat
folds x seeds as the units, which docs/background.md#statistics cautions against (there the fold is the
defensible unit); the speaker bootstrap interval is the conservative statement.
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


def _mean_over_runs(cm: np.ndarray, metric: str) -> np.ndarray:
    """cm (..., R, k, k) -> mean over the runs that have utterances (...,)."""
    return np.nanmean(metric_of(cm, metric), axis=-1)


def _speaker_weights(n_speakers: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, S) multiplicities of a resample of S speakers drawn with replacement."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_speakers, np.full(n_speakers, 1 / n_speakers), size=n_boot).astype(float)


def _boot(C: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Resampled counts: (n_boot, R, k, k) = sum over speakers of w[b, s] * C[s]."""
    return np.einsum("bs,srij->brij", w, C)


def estimate(pred: pd.DataFrame, metric: str = "UA", n_boot: int = 2000, level: float = 0.95,
             seed: int = 0) -> dict:
    """Mean of the per-run scores over folds x seeds, with a speaker-bootstrap percentile interval."""
    C, speakers, runs = counts(pred)
    per_run = metric_of(C.sum(0), metric)
    boot = _mean_over_runs(_boot(C, _speaker_weights(len(speakers), n_boot, seed)), metric)
    lo, hi = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": float(np.mean(per_run)), "lo": float(lo), "hi": float(hi),
            "sd": float(np.std(per_run, ddof=1)) if len(per_run) > 1 else 0.0,
            "runs": len(runs), "speakers": len(speakers)}


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
    speakers every table shares: its mean over runs, a speaker-bootstrap interval (one resample of speakers
    applied to every table: the tables' speakers move together), and sign-flip and Wilcoxon p-values of
    the per-run values. paired(a, b) is the contrast (+1, -1); a change of a fusion gain between two
    corpora is (+1, -1, -1, +1)."""
    if any(t.empty for t, _ in terms):
        raise ValueError("a contrast term has no predictions")
    classes = _classes(terms[0][0])
    runs = sorted(set.intersection(*(set(zip(t["fold"], t["seed"])) for t, _ in terms)))
    speakers = sorted(set.intersection(*(set(t["speaker"]) for t, _ in terms)))
    if not runs or not speakers:
        raise ValueError("the contrast's tables share no run (fold, seed) or no test speaker")
    w = _speaker_weights(len(speakers), n_boot, seed)
    per_run, boot = 0.0, 0.0
    for t, c in terms:
        t = t[t["speaker"].isin(speakers) & pd.Series(list(zip(t["fold"], t["seed"])), index=t.index).isin(runs)]
        C, _, _ = counts(t, classes, speakers, runs)
        per_run = per_run + c * metric_of(C.sum(0), metric)
        boot = boot + c * metric_of(_boot(C, w), metric)
    boot = np.nanmean(boot, axis=-1)
    lo, hi = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return {"metric": metric, "runs": len(runs), "speakers": len(speakers), "diff": float(np.mean(per_run)),
            "diff_lo": float(lo), "diff_hi": float(hi), "p_signflip": sign_flip_p(per_run),
            "p_wilcoxon": wilcoxon_p(per_run), "per_run": per_run}


def paired(pred: pd.DataFrame, model_a: str, model_b: str, metric: str = "UA", n_boot: int = 2000,
           level: float = 0.95, seed: int = 0) -> dict:
    """model_a - model_b on the runs (fold, seed) and utterances both have: per-run differences, their mean,
    a speaker-bootstrap interval, a sign-flip permutation p-value and a Wilcoxon signed-rank p-value."""
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
    ra = metric_of(counts(a, _classes(pred))[0].sum(0), metric)
    return {"model_a": model_a, "model_b": model_b, **r, "a": float(ra.mean()), "b": float((ra - d).mean()),
            "a_better_runs": int((d > 0).sum()), "b_better_runs": int((d < 0).sum())}


def sign_flip_p(d: np.ndarray, max_exact: int = 20, n_resamples: int = 100_000, seed: int = 0) -> float:
    """Two-sided p-value of mean(d) = 0 by flipping the signs of the paired differences (exact up to
    2^max_exact patterns)."""
    d = np.asarray(d, dtype=float)
    if len(d) < 2:
        return float("nan")  # one run: nothing to test
    if not np.any(d):
        return 1.0
    res = sps.permutation_test((d,), np.mean, permutation_type="samples", alternative="two-sided",
                               n_resamples=np.inf if len(d) <= max_exact else n_resamples,
                               rng=np.random.default_rng(seed))
    return float(res.pvalue)


def wilcoxon_p(d: np.ndarray) -> float:
    d = np.asarray(d, dtype=float)
    if len(d) < 2:
        return float("nan")
    if not np.any(d):
        return 1.0
    return float(sps.wilcoxon(d, zero_method="zsplit").pvalue)
