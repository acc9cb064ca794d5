"""Figures of "when does fusion help?" (notebook 05), in the style of mmlib.plots (to move there).

    from mmlib import plots, plots_reliability as pr, reliability as rel
    fig = pr.sweep(rel.sweep_table(sweep))            # fusion gain vs the gap between the unimodal models
    fig = pr.missing_modality(summary)                # model x condition bars (UA, lo, hi)
    fig = pr.effective_robustness(rel.effective_robustness(rob))
    plots.save(fig, "fusion_gain_vs_gap", "results/default/figures")

Intervals come in as columns lo / hi (computed by the caller, e.g. reliability.sweep_table's speaker-level
bootstrap); the figures only draw them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mmlib import plots

CONDITION_COLORS = {"audio+video": "#555555", "audio only": plots.PALETTE["audio"],
                    "video only": plots.PALETTE["video"]}
WEAKENED = {"face": "face weakened (face_expressiveness)", "voice": "voice weakened (voice_expressiveness)"}


def _models(names) -> list[str]:
    return plots.model_order(names)


def _yerr(df: pd.DataFrame, y: str) -> np.ndarray | None:
    if not {"lo", "hi"} <= set(df.columns) or df[["lo", "hi"]].isna().all().all():
        return None
    return np.vstack([df[y] - df["lo"], df["hi"] - df[y]]).clip(min=0)


def sweep(summary: pd.DataFrame, metric: str = "UA", x: str = "gap_weak") -> plt.Figure:
    """Fusion's gain over the best unimodal model against the gap between the unimodal models.

    summary: one row per modality (the one weakened), level and fusion model with `x` (default
    gap_weak: intact unimodal - weakened unimodal, reliability.sweep_table), gain and optionally
    lo / hi (the gain's interval). One panel per weakened modality, one curve per head, the
    expressiveness levels written under the points. The claim holds where the curves rise.
    """
    mods = [m for m in ("face", "voice") if m in set(summary["modality"])] + sorted(
        set(summary["modality"]) - {"face", "voice"})
    fig, axes = plt.subplots(1, len(mods), figsize=(min(plots.PAGE, 3.5 * len(mods)), 3.0), squeeze=False, sharey=True)
    for ax, mod in zip(axes[0], mods):
        sub = summary[summary["modality"] == mod]
        for k, model in enumerate(_models(sub["model"])):
            d = sub[sub["model"] == model].sort_values(x)
            ax.errorbar(d[x], d["gain"], yerr=_yerr(d, "gain"), color=plots._color(model), marker="o",
                        capsize=3, label=model, lw=1.6)
            if k == 0:  # level labels once per panel, along the bottom edge; stacked where points nearly coincide
                xs = d[x].to_numpy(dtype=float)
                span = float(np.ptp(xs)) if len(xs) else 0.0
                row, prev = 0, None
                for gx, lv in zip(xs, d["level"]):
                    row = row + 1 if prev is not None and abs(gx - prev) <= 0.08 * span else 0
                    prev = gx
                    ax.annotate(f"{lv:g}", (gx, 0), xycoords=("data", "axes fraction"), xytext=(0, 4 + 10 * row),
                                textcoords="offset points", ha="center", fontsize=8, color="#555555")
        ax.axhline(0, color="#999999", lw=0.8, ls="--")
        weak, intact = ("video", "audio") if mod in ("face", "video") else ("audio", "video")
        xlabel = (f"{intact}-only - {weak}-only ({metric})" if x == "gap_weak"
                  else f"gap between the unimodal models ({metric})")
        ax.set(title=WEAKENED.get(mod, mod), xlabel=xlabel, ylabel=f"fusion - best unimodal ({metric})")
        ax.margins(y=0.12)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncols=len(labels) + 1, frameon=False, fontsize=9,
               title="grey numbers: expressiveness level of the weakened modality", title_fontsize=8)
    return fig


def missing_modality(summary: pd.DataFrame, metric: str = "UA", chance: float | None = None) -> plt.Figure:
    """Grouped bars: each model (x) under each test condition it was scored on (bars), with lo / hi.

    summary: one row per model and condition with `metric` (a mean) and optionally lo / hi.
    """
    models = _models(summary["model"])
    conds = [c for c in CONDITION_COLORS if c in set(summary["condition"])]
    width = 0.8 / len(conds)
    fig, ax = plt.subplots(figsize=(min(plots.PAGE, 1.2 + 0.9 * len(models)), 3.0))
    for j, cond in enumerate(conds):
        d = summary[summary["condition"] == cond].set_index("model")
        xs = [i for i, m in enumerate(models) if m in d.index]
        rows = d.loc[[models[i] for i in xs]].reset_index()
        x = np.array(xs) + (j - (len(conds) - 1) / 2) * width
        ax.bar(x, rows[metric], width * 0.95, color=CONDITION_COLORS[cond], label=cond, yerr=_yerr(rows, metric),
               capsize=2, error_kw={"lw": 1})
    if chance is not None:
        ax.axhline(chance, color="#999999", lw=0.8, ls="--", label="chance")
    ax.set_xticks(range(len(models)), models, rotation=25, ha="right", rotation_mode="anchor")
    top = float(np.nanmax(summary["hi"] if "hi" in summary else summary[metric]))
    ax.set(ylabel=metric, title="Missing modality at test time", ylim=(0, min(1.0, top * 1.15)))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7,
              title="test input (missing stream\nzero-filled after normalization)", title_fontsize=7)
    fig.tight_layout()
    return fig


def _level_label(level) -> str:
    if isinstance(level, str):
        return level
    return "clean" if level is None or (isinstance(level, float) and np.isnan(level)) else f"{level:g}"


def effective_robustness(eff: pd.DataFrame) -> plt.Figure:
    """Per degradation knob (rows): UA relative to clean per model, and fusion's gain over the model
    of the intact modality, against the level (means over folds and seeds; the thin lines are the
    fold x seed runs). eff: reliability.effective_robustness's table."""
    knobs = list(dict.fromkeys(eff["knob"]))
    fig, axes = plt.subplots(len(knobs), 2, figsize=(plots.PAGE, 2.6 * len(knobs)), squeeze=False)
    for row, knob in zip(axes, knobs):
        sub = eff[eff["knob"] == knob].copy()
        sub["_lv"] = sub["level"].map(_level_label)
        order = list(dict.fromkeys(sub["_lv"]))
        sub["_x"] = sub["_lv"].map(order.index)
        intact = sub["intact"].dropna().iloc[0] if sub["intact"].notna().any() else "?"
        for ax, y, title in ((row[0], "relative", f"{knob}: UA relative to clean"),
                             (row[1], "gain_over_intact", f"{knob}: fusion - {intact}-only model")):
            for model in _models(sub["model"]):
                d = sub[sub["model"] == model].dropna(subset=[y])
                if d.empty:
                    continue
                for _, run in d.groupby(["fold", "seed"]):
                    ax.plot(run["_x"], run[y], color=plots._color(model), lw=0.5, alpha=0.3)
                m = d.groupby("_x")[y].mean()
                ax.plot(m.index, m.values, color=plots._color(model), marker="o", lw=1.8, label=model)
            ax.axhline(1.0 if y == "relative" else 0.0, color="#999999", lw=0.8, ls="--")
            ax.set_xticks(range(len(order)), order)
            ax.set(title=title, xlabel=knob.split(".")[-1], ylabel="UA / clean UA" if y == "relative" else "UA gain")
    models = _models(eff["model"])
    handles = [plt.Line2D([], [], color=plots._color(m), marker="o", lw=1.8) for m in models]
    fig.tight_layout(rect=(0, 0.05 / len(knobs), 1, 1))
    fig.legend(handles, models, loc="lower center", ncols=len(models), frameon=False, fontsize=9)
    return fig
