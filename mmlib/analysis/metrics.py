"""Per-utterance metrics over whole test sets, aggregation over folds and seeds, paired tests.

    from mmlib.analysis import metrics
    m = metrics.scores(pred.true, pred.pred, classes)          # {"WA":.., "UA":.., "macro_f1":.., "recall_neu":..}
    table = metrics.per_fold(predictions)                       # one row per model, fold, seed
    summary = metrics.summarize(predictions)                    # mean over folds x seeds, two-stage interval

`predictions` is the table training writes: columns id, fold, seed, model, speaker, true, pred, p_<class>.
Intervals resample test speakers and training seeds; paired tests live in mmlib.analysis.stats.
WA = accuracy_score, UA = balanced_accuracy_score (mean per-class recall), from scikit-learn, always
on the pooled utterances of a test set, never averaged over batches.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

from mmlib.analysis import stats

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


def summarize(pred: pd.DataFrame, n_boot: int = 2000, seed: int = 0, by: tuple[str, ...] = ("model",)
              ) -> pd.DataFrame:
    """Per model (or per `by` group): mean over folds x seeds of WA / UA / macro-F1 (each run scored over
    its whole test set), the sd of the run scores, the median range over a fold's seeds, and a 95 % interval
    of that mean from a two-stage bootstrap of test speakers and seeds within folds (mmlib.analysis.stats.estimate)."""
    rows = []
    for key, g in pred.groupby(list(by), sort=False):
        row: dict = dict(zip(by, key))
        for m in METRICS:
            e = stats.estimate(g, m, n_boot=n_boot, seed=seed)
            row.update(runs=e["runs"], folds=e["folds"], speakers=e["speakers"])
            row.update({f"{m}_mean": e["mean"], f"{m}_sd": e["sd"], f"{m}_lo": e["lo"], f"{m}_hi": e["hi"],
                        f"{m}_seed_range": e["seed_range"]})
        rows.append(row)
    return pd.DataFrame(rows)


def collapse(pred: pd.DataFrame, sides: dict[str, str]) -> pd.DataFrame:
    """Predictions with true and predicted classes mapped to one side of an emotion axis (data.corpus.AXES,
    e.g. arousal: ang, hap -> high; sad, neu -> low), class probabilities dropped: summarize / per_fold then
    give the axis's binary WA / UA."""
    unknown = sorted((set(pred["true"]) | set(pred["pred"])) - set(sides))
    if unknown:
        raise ValueError(f"classes {unknown} have no side on this axis ({sides})")
    out = pred.drop(columns=[c for c in pred.columns if c.startswith("p_")])
    return out.assign(true=out["true"].map(sides), pred=out["pred"].map(sides))


def collapsed(pred: pd.DataFrame, axes: dict[str, dict[str, str]], n_boot: int = 2000) -> pd.DataFrame:
    """Per model and axis (data.corpus.AXES[label_set]): UA of the axis's two sides, mean over folds x seeds
    with its two-stage interval (summarize's columns, plus `axis`)."""
    frames = [summarize(collapse(pred, sides), n_boot=n_boot).assign(axis=axis) for axis, sides in axes.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["model", "axis"])


def by_axis(collapsed_table: pd.DataFrame, metric: str = "UA") -> pd.DataFrame:
    """collapsed()'s long table as model x axis means (models in their order); empty without axes."""
    if collapsed_table.empty or f"{metric}_mean" not in collapsed_table:
        return pd.DataFrame()
    wide = collapsed_table.pivot(index="model", columns="axis", values=f"{metric}_mean")
    return wide.loc[list(dict.fromkeys(collapsed_table["model"]))]


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The paper table: per model, WA / UA / macro-F1 in % as 'mean [lo, hi]' (mean over folds x seeds,
    two-stage bootstrap 95 % interval), with the sd over runs in its own column."""
    out = pd.DataFrame({"model": summary["model"], "runs": summary["runs"]})
    for m in METRICS:
        out[m] = [f"{100 * r[f'{m}_mean']:.1f} [{100 * r[f'{m}_lo']:.1f}, {100 * r[f'{m}_hi']:.1f}]"
                  for _, r in summary.iterrows()]
    out["UA sd"] = [f"{100 * v:.1f}" for v in summary["UA_sd"]]
    return out


def to_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs LaTeX table of `results_table` output."""
    body = table.rename(columns={"macro_f1": "macro-F1"}).to_latex(index=False, escape=True, caption=caption,
                                                                   label=label, position="t")
    return body.replace("±", r"$\pm$")
