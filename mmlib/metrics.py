"""Per-utterance metrics over whole test sets, aggregation over folds and seeds, paired tests.

    from mmlib import metrics
    m = metrics.scores(pred.true, pred.pred, classes)          # {"WA":.., "UA":.., "macro_f1":.., "recall_neu":..}
    table = metrics.per_fold(predictions)                       # one row per model, fold, seed
    summary = metrics.summarize(predictions)                    # mean, std, bootstrap interval per model
    metrics.paired_test(predictions, "matchmap", "concat")      # McNemar + paired bootstrap of the UA gap

`predictions` is the table training writes: columns id, fold, seed, model, true, pred, p_<class>.
WA = accuracy_score, UA = balanced_accuracy_score (mean per-class recall), from scikit-learn, always
on the pooled utterances of a test set, never averaged over batches.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

METRICS = ("WA", "UA", "macro_f1")


def scores(y_true, y_pred, classes: list[str]) -> dict[str, float]:
    """WA, UA, macro-F1 and per-class recall of label strings (or indices into classes)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        raise ValueError("no predictions to score")
    labels = list(classes) if y_true.dtype.kind in "OUS" else list(range(len(classes)))
    present = [lbl for lbl in labels if (y_true == lbl).any()]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        ua = float(balanced_accuracy_score(y_true, y_pred))
    out = {
        "n": float(len(y_true)),
        "WA": float(accuracy_score(y_true, y_pred)),
        "UA": ua,
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=np.nan)
    for name, r in zip(classes, recalls):
        out[f"recall_{name}"] = float(r)
    return out


def confusion(y_true, y_pred, classes: list[str], normalize: str | None = None) -> pd.DataFrame:
    """Confusion matrix (rows = true, columns = predicted); normalize='true' gives row fractions."""
    cm = confusion_matrix(y_true, y_pred, labels=classes, normalize=normalize)
    return pd.DataFrame(cm, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))


def classes_of(pred: pd.DataFrame) -> list[str]:
    return [c[2:] for c in pred.columns if c.startswith("p_")]


def per_fold(pred: pd.DataFrame, by: tuple[str, ...] = ("model", "fold", "seed")) -> pd.DataFrame:
    """One row of scores per model, fold and seed (each over that whole test set)."""
    classes = classes_of(pred)
    rows = [{**dict(zip(by, key if isinstance(key, tuple) else (key,))), **scores(g["true"], g["pred"], classes)}
            for key, g in pred.groupby(list(by), sort=True)]
    return pd.DataFrame(rows)


def bootstrap_interval(pred: pd.DataFrame, metric: str = "UA", n_boot: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile interval of `metric` over utterances resampled with replacement (all folds pooled,
    each fold resampled within itself; an utterance keeps its predictions from every seed)."""
    classes = classes_of(pred)
    code = {c: i for i, c in enumerate(classes)}
    t, p = pred["true"].map(code).to_numpy(), pred["pred"].map(code).to_numpy()
    uniq, inverse = np.unique(pred["id"].to_numpy(), return_inverse=True)
    counts = np.bincount(inverse)
    if (counts != counts[0]).any():
        raise ValueError("every utterance needs the same number of predictions (one per seed)")
    rows_of = np.argsort(inverse, kind="stable").reshape(len(uniq), counts[0])  # utterance -> its rows
    fold_of = pred.groupby("id")["fold"].first().reindex(uniq).to_numpy()
    members = [np.flatnonzero(fold_of == f) for f in np.unique(fold_of)]
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        pick = np.concatenate([rng.choice(m, size=len(m)) for m in members])
        rows = rows_of[pick].ravel()
        stats.append(_metric(t[rows], p[rows], metric))
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _metric(t: np.ndarray, p: np.ndarray, metric: str) -> float:
    """WA / UA / macro-F1 of class indices from one bincount (fast enough for bootstraps);
    agrees with scikit-learn's accuracy, balanced accuracy and macro F1 (tests check it)."""
    k = int(max(t.max(), p.max())) + 1
    cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k)  # rows true, columns predicted
    tp, n_true, n_pred = np.diag(cm).astype(float), cm.sum(1), cm.sum(0)
    if metric == "WA":
        return float(tp.sum() / len(t))
    if metric == "UA":
        seen = n_true > 0
        return float(np.mean(tp[seen] / n_true[seen]))
    if metric == "macro_f1":
        used = (n_true + n_pred) > 0
        return float(np.mean(2 * tp[used] / (n_true + n_pred)[used]))
    raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")


def summarize(pred: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per model: mean and std over folds x seeds of WA/UA/macro-F1, plus bootstrap intervals."""
    folds = per_fold(pred)
    rows = []
    for model, g in folds.groupby("model", sort=False):
        row = {"model": model, "runs": len(g)}
        for m in METRICS:
            row[f"{m}_mean"] = g[m].mean()
            row[f"{m}_std"] = g[m].std(ddof=1) if len(g) > 1 else 0.0
            lo, hi = bootstrap_interval(pred[pred["model"] == model], m, n_boot=n_boot, seed=seed)
            row[f"{m}_lo"], row[f"{m}_hi"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


def paired_test(pred: pd.DataFrame, model_a: str, model_b: str, metric: str = "UA", n_boot: int = 2000,
                seed: int = 0) -> dict[str, float]:
    """Compare two models on the same utterances (and seeds).

    McNemar's exact test on the utterances one model gets right and the other wrong, and a paired
    bootstrap of the metric difference a - b (interval and one-sided p = share of resamples <= 0).
    """
    key = ["id", "fold", "seed"]
    a = pred[pred["model"] == model_a].set_index(key)
    b = pred[pred["model"] == model_b].set_index(key)
    common = a.index.intersection(b.index)
    if len(common) == 0:
        raise ValueError(f"models {model_a!r} and {model_b!r} share no utterances")
    a, b = a.loc[common], b.loc[common]
    right_a = (a["pred"] == a["true"]).to_numpy()
    right_b = (b["pred"] == b["true"]).to_numpy()
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    p_mcnemar = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    classes = classes_of(pred)
    code = {c: i for i, c in enumerate(classes)}
    t = a["true"].map(code).to_numpy()
    pa, pb = a["pred"].map(code).to_numpy(), b["pred"].map(code).to_numpy()
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, len(t), len(t))
        diffs[i] = _metric(t[idx], pa[idx], metric) - _metric(t[idx], pb[idx], metric)
    return {
        "model_a": model_a, "model_b": model_b, "n": int(len(t)), "metric": metric,
        "a": _metric(t, pa, metric), "b": _metric(t, pb, metric),
        "diff": _metric(t, pa, metric) - _metric(t, pb, metric),
        "diff_lo": float(np.quantile(diffs, 0.025)), "diff_hi": float(np.quantile(diffs, 0.975)),
        "p_bootstrap": float((diffs <= 0).mean()),
        "only_a_right": only_a, "only_b_right": only_b, "p_mcnemar": float(p_mcnemar),
    }


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The paper table: per model, WA / UA / macro-F1 in % as 'mean +- std [lo, hi]'."""
    out = pd.DataFrame({"model": summary["model"], "runs": summary["runs"]})
    for m in METRICS:
        out[m] = [f"{100 * r[f'{m}_mean']:.1f} ± {100 * r[f'{m}_std']:.1f} [{100 * r[f'{m}_lo']:.1f}, {100 * r[f'{m}_hi']:.1f}]"
                  for _, r in summary.iterrows()]
    return out


def to_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs LaTeX table of `results_table` output."""
    body = table.rename(columns={"macro_f1": "macro-F1"}).to_latex(index=False, escape=True, caption=caption,
                                                                   label=label, position="t")
    return body.replace("±", r"$\pm$")
