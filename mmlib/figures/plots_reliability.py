"""Figures of "when does fusion help?" (notebook 05), in the style of mmlib.figures.plots (to move there).

    from mmlib.figures import plots, plots_reliability as pr
    from mmlib.analysis import reliability as rel
    fig = pr.sweep_scores(rel.sweep_scores(pred))     # every model's UA per level, oracle ceilings beside
    fig = pr.sweep_gains(rel.sweep_gains(pred))       # (b) fusion - the intact stream's model vs the gap, oracle's gain
    fig = pr.sweep_versus(rel.sweep_versus(pred))     # (a) fusion models - concat per level
    fig = pr.contributions(sweep["contributions"])    # the weakened stream's Shapley value per level
    fig = pr.missing_modality(summary)                # model x condition bars (UA, lo, hi)
    fig = pr.effective_robustness(rel.effective_robustness(rob))
    plots.save(fig, "fusion_gain_vs_gap", "results/default/figures")

Intervals come in as columns (computed by the caller: mmlib.analysis.stats through reliability's tables); the figures
only draw them. Models are labelled in a paper's words (plots.label).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mmlib.analysis import oracle
from mmlib.analysis import reliability as rel
from mmlib.figures import plots


def _curve(ax, model: str, x, y, lo, hi) -> None:
    """One model's values over x with their intervals as error bars, in the model's colour and name: the one
    way every figure of this module draws an estimate with its interval."""
    y, lo, hi = (np.asarray(v, dtype=float) for v in (y, lo, hi))
    ax.errorbar(np.asarray(x, dtype=float), y, yerr=np.vstack([y - lo, hi - y]).clip(min=0), color=plots._color(model),
                marker="o", ms=3, capsize=2, lw=1.2, label=plots.label(model))

CONDITION_COLORS = {"audio+video": "#555555", "audio only": plots.PALETTE["audio"],
                    "video only": plots.PALETTE["video"]}


def _models(names) -> list[str]:
    return plots.model_order(names)


def _yerr(df: pd.DataFrame, y: str) -> np.ndarray | None:
    if not {"lo", "hi"} <= set(df.columns) or df[["lo", "hi"]].isna().all().all():
        return None
    return np.vstack([df[y] - df["lo"], df["hi"] - df[y]]).clip(min=0)


def _panels(modalities) -> list[str]:
    present = list(dict.fromkeys(modalities))
    return [m for m in ("face", "voice") if m in present] + [m for m in present if m not in ("face", "voice")]


def _curves(d: pd.DataFrame) -> list[str]:
    """The models of a panel drawn as curves: those run at two levels or more (a diagnosis arm trained at one
    level only has its own figure), in the study's order."""
    n = d.groupby("model")["level"].nunique()
    return [m for m in _models(d["model"]) if n[m] > 1]


def _weakened(mod: str) -> str:
    return f"{mod} weakened" if mod in ("face", "voice") else str(mod)


def _legend_below(fig, axes, ncols: int = 4) -> None:
    seen: dict[str, object] = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    seen = dict(sorted(seen.items(), key=lambda kv: kv[0].startswith("oracle")))  # models first, references last
    fig.legend(list(seen.values()), list(seen), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=ncols,
               frameon=False, fontsize=7)


def sweep_scores(scores: pd.DataFrame, metric: str = "UA") -> plt.Figure:
    """Each model's score against the weakened modality's reliability (one panel per weakened modality),
    with its interval, and the oracle ceilings at each level (black: both cues; grey dashed: the weakened
    modality's own cue). scores: reliability.sweep_scores."""
    mods = _panels(scores["modality"])
    fig, axes = plt.subplots(1, len(mods), figsize=(plots.PAGE, 2.9), squeeze=False, sharey=True)
    for ax, mod in zip(axes[0], mods):
        d = scores[scores["modality"] == mod]
        for model in _curves(d):
            g = d[d["model"] == model].sort_values("level")
            _curve(ax, model, g["level"], g[f"{metric}_mean"], g[f"{metric}_lo"], g[f"{metric}_hi"])
        weak = rel.WEAK_MODEL[mod]
        both = d[d["model"].map(oracle.ceiling_of) == "oracle: both"].drop_duplicates("level").sort_values("level")
        own = d[d["model"] == weak].sort_values("level")
        ax.plot(both["level"], both["ceiling"], "-", color="black", lw=1, label="oracle: both cues")
        ax.plot(own["level"], own["ceiling"], "--", color="#777777", lw=1, label="oracle: the weakened stream's cue")
        ax.set(title=_weakened(mod), xlabel=plots.KNOB_WORDS.get(mod, mod), ylim=(0, 1))
        ax.set_xticks(sorted(d["level"].unique()))
    axes[0][0].set_ylabel(f"{metric} (mean, 95 % interval)")
    return _finish(fig, axes, scores)


def sweep_gains(gains: pd.DataFrame, metric: str = "UA") -> plt.Figure:
    """Contrast (b): each fusion model's gain over the intact modality's model against the gap between the
    unimodal models (intact - weakened), one panel per weakened modality, with the oracle's own gain at each level
    (black: what fusion could add to the intact stream's cue there). Grey numbers: the weakened modality's level.
    gains: reliability.sweep_gains."""
    mods = _panels(gains["modality"])
    fig, axes = plt.subplots(1, len(mods), figsize=(plots.PAGE, 3.0), squeeze=False, sharey=True)
    for ax, mod in zip(axes[0], mods):
        sub = gains[gains["modality"] == mod]
        for model in _curves(sub):
            d = sub[sub["model"] == model].sort_values("gap_weak")
            _curve(ax, model, d["gap_weak"], d["diff"], d["diff_lo"], d["diff_hi"])
        o = sub.drop_duplicates("level").sort_values("gap_weak")
        ax.plot(o["gap_weak"], o["oracle_gain"], "s-", color="black", ms=3, lw=1, label="oracle's gain (both cues "
                "- the intact stream's cue)")
        xs = o["gap_weak"].to_numpy(dtype=float)
        span, row, prev = float(np.ptp(xs)) if len(xs) else 0.0, 0, None
        for gx, lv in zip(xs, o["level"]):  # stacked where levels sit at nearly the same gap
            row = row + 1 if prev is not None and abs(gx - prev) <= 0.08 * span else 0
            prev = gx
            ax.annotate(f"{lv:g}", (gx, 0), xycoords=("data", "axes fraction"), xytext=(0, 3 + 9 * row),
                        textcoords="offset points", ha="center", fontsize=7, color="#555555")
        ax.axhline(0, color="#999999", lw=0.8, ls="--")
        weak, intact = rel.WEAK_MODEL[mod], rel.INTACT_MODEL[mod]
        ax.set(title=_weakened(mod), xlabel=f"{intact} model - {weak} model ({metric})",
               ylabel=f"fusion - the {intact} model ({metric})")
    return _finish(fig, axes, gains)


def sweep_versus(versus: pd.DataFrame, baseline: str = "concat", metric: str = "UA") -> plt.Figure:
    """Contrast (a): each fusion model minus `baseline` against the weakened modality's reliability (one panel
    per weakened modality), with its interval. versus: reliability.sweep_versus."""
    mods = _panels(versus["modality"])
    fig, axes = plt.subplots(1, len(mods), figsize=(plots.PAGE, 2.9), squeeze=False, sharey=True)
    models = _models(versus["model"])
    offset = {m: (i - (len(models) - 1) / 2) * 0.012 for i, m in enumerate(models)}  # side by side at each level
    for ax, mod in zip(axes[0], mods):
        sub = versus[versus["modality"] == mod]
        for model in [m for m in models if m in _curves(sub)]:
            d = sub[sub["model"] == model].sort_values("level")
            _curve(ax, model, d["level"] + offset[model], d["diff"], d["diff_lo"], d["diff_hi"])
        ax.axhline(0, color="#999999", lw=0.8, ls="--")
        ax.set(title=_weakened(mod), xlabel=plots.KNOB_WORDS.get(mod, mod))
        ax.set_xticks(sorted(sub["level"].unique()))
    axes[0][0].set_ylabel(f"model - {baseline} ({metric})")
    return _finish(fig, axes, versus)


def contributions(contrib: pd.DataFrame) -> plt.Figure:
    """What each modality contributes: per fusion model, the Shapley value of the weakened modality's stream
    (left panel per modality) against its reliability, with its interval; the values of both streams sum to
    the model's score minus its score with both streams blanked. contrib: reliability.shapley's summary."""
    mods = _panels(contrib["modality"])
    fig, axes = plt.subplots(1, len(mods), figsize=(plots.PAGE, 2.9), squeeze=False, sharey=True)
    for ax, mod in zip(axes[0], mods):
        sub = contrib[contrib["modality"] == mod]
        stream = rel.WEAK_MODEL[mod]
        for model in _curves(sub):
            d = sub[sub["model"] == model].sort_values("level")
            y = d[f"phi_{stream}"]
            _curve(ax, model, d["level"], y, d[f"phi_{stream}_lo"], d[f"phi_{stream}_hi"])
        ax.axhline(0, color="#999999", lw=0.8, ls="--")
        ax.set(title=f"{_weakened(mod)}: the {stream} stream's Shapley value", xlabel=plots.KNOB_WORDS.get(mod, mod))
        ax.set_xticks(sorted(sub["level"].unique()))
    axes[0][0].set_ylabel("Shapley value (UA points as a fraction)")
    return _finish(fig, axes, contrib)


def robustness(summary: pd.DataFrame, metric: str = "UA", chance: float | None = None) -> plt.Figure:
    """UA under test-time degradation, one panel per knob (in a paper's words), a line per model, solid with the
    clean speaker statistics and dotted with statistics refitted on the degraded features (column normalizer),
    bands = 95 % intervals. summary: metrics.summarize by knob, level, normalizer, model."""
    knobs = list(dict.fromkeys(summary["knob"]))
    most = _seed_count(summary, "clean")  # a model on fewer seeds says so in the legend
    fig, axes = plt.subplots(1, len(knobs), figsize=(plots.PAGE, 3.0), squeeze=False, sharey=True)
    for ax, knob in zip(axes[0], knobs):
        d = summary[summary["knob"] == knob]
        levels = list(dict.fromkeys(d["level"].map(_level_label)))
        for model in _models(d["model"]):
            for norm, style in (("clean", "-"), ("refitted", ":")):
                g = d[(d["model"] == model) & (d.get("normalizer", "clean") == norm)]
                if g.empty:
                    continue
                xs = g["level"].map(_level_label).map(levels.index).to_numpy()
                ax.plot(xs, g[f"{metric}_mean"], style, marker="o", ms=3, color=plots._color(model),
                        label=plots.label(model) + _seeds(g, norm, most) if norm == "clean" else None)
                if norm == "clean":
                    ax.fill_between(xs, g[f"{metric}_lo"], g[f"{metric}_hi"], color=plots._color(model), alpha=0.12,
                                    lw=0)
        if chance is not None:
            ax.axhline(chance, color="#999999", lw=0.8, ls="--")
        ax.set_xticks(range(len(levels)), levels)
        ax.set(xlabel=plots.KNOB_WORDS.get(knob, knob), ylim=(0, 1))
    axes[0][0].set_ylabel(metric)
    fig.suptitle(f"solid: clean speaker statistics{_seeds(summary, 'clean')}; dotted: statistics refitted on the "
                 f"degraded input{_seeds(summary, 'refitted')}", fontsize="small")
    fig.tight_layout()
    _legend_below(fig, axes)
    return fig


def _seed_count(rows: pd.DataFrame, normalizer: str) -> int | None:
    """The most seeds any row of one normalizer rests on (runs / folds); None when the table does not say."""
    if not {"runs", "folds"} <= set(rows.columns):
        return None
    rows = rows[rows.get("normalizer", "clean") == normalizer]
    return int((rows["runs"] // rows["folds"]).max()) if len(rows) else None


def _seeds(rows: pd.DataFrame, normalizer: str, unless: int | None = None) -> str:
    """', k seeds' for the rows of one normalizer ('' when unknown or equal to `unless`): the clean and refitted
    curves, and the models, may rest on different seeds, so an offset between them can be one of seeds."""
    n = _seed_count(rows, normalizer)
    if n is None or n == unless:
        return ""
    return f", {n} seed" + ("" if n == 1 else "s") if unless is None else f" ({n} seed" + ("" if n == 1 else "s") + ")"


def _finish(fig: plt.Figure, axes, rows: pd.DataFrame) -> plt.Figure:
    """A sweep figure's last touches: what its intervals rest on (_runs_note) as the title, the legend below."""
    note = _runs_note(rows)
    if note:
        fig.suptitle(note, fontsize="small")
    fig.tight_layout()
    _legend_below(fig, axes)
    return fig


def _runs_note(rows: pd.DataFrame) -> str:
    """What the intervals of a sweep figure rest on: 'each point: 5 folds x 1 seed, 95 % interval', then the
    points on other seed counts (e.g. the face-0 controls); '' when the table does not say."""
    if not {"runs", "folds"} <= set(rows.columns) or rows.empty:
        return ""
    if {"modality", "level"} <= set(rows.columns):  # only what the panels draw
        rows = pd.concat([g[g["model"].isin(_curves(g))] for _, g in rows.groupby("modality", sort=False)])
    seeds = (rows["runs"] // rows["folds"]).astype(int)
    common = int(seeds.mode().iloc[0])
    folds = sorted(set(rows["folds"].astype(int)))
    note = (f"each point: {'-'.join(map(str, folds[::max(1, len(folds) - 1)]))} folds x {common} "
            f"seed{'' if common == 1 else 's'}, 95 % interval")
    where = rows.assign(seeds=seeds, at=[" ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in key)
                                         for key in zip(*(rows[c] for c in ("modality", "level") if c in rows))])
    parts = []
    for n, g in where[where["seeds"] != common].groupby("seeds"):
        models = []
        for model, places in g.groupby("model", sort=False):
            every = len(places) == (where["model"] == model).sum()  # the model's every point rests on n seeds
            models.append(plots.label(model) + ("" if every else f" at {', '.join(places['at'])}"))
        parts.append(f"{n} seed{'' if n == 1 else 's'}: {'; '.join(models)}")
    return note + (f" ({'; '.join(parts)})" if parts else "")


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
    seeds = ({m: int(g["runs"].max() // g["folds"].max()) for m, g in summary.groupby("model")}
             if {"runs", "folds"} <= set(summary.columns) else {})
    most = max(seeds.values(), default=None)
    ax.set_xticks(range(len(models)), [plots.label(m) + (f" ({seeds[m]} seed{'' if seeds[m] == 1 else 's'})"
                                                         if m in seeds and seeds[m] != most else "")
                                       for m in models], rotation=25, ha="right", rotation_mode="anchor")
    top = float(np.nanmax(summary["hi"] if "hi" in summary else summary[metric]))
    folds = int(summary["folds"].max()) if most else 0
    title = "Missing modality at test time" + (f" (95 % intervals, {folds} folds x {most} seeds)" if most else "")
    ax.set(ylabel=metric, title=title, ylim=(0, min(1.0, top * 1.15)))
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
        words = plots.KNOB_WORDS.get(knob, knob)
        for ax, y, title in ((row[0], "relative", f"{words}: UA relative to clean"),
                             (row[1], "gain_over_intact", f"{words}: fusion - the {intact} model")):
            for model in _models(sub["model"]):
                d = sub[sub["model"] == model].dropna(subset=[y])
                if d.empty:
                    continue
                for _, run in d.groupby(["fold", "seed"]):
                    ax.plot(run["_x"], run[y], color=plots._color(model), lw=0.5, alpha=0.3)
                m = d.groupby("_x")[y].mean()
                ax.plot(m.index, m.values, color=plots._color(model), marker="o", lw=1.8, label=plots.label(model))
            ax.axhline(1.0 if y == "relative" else 0.0, color="#999999", lw=0.8, ls="--")
            ax.set_xticks(range(len(order)), order)
            ax.set(title=title, xlabel=words, ylabel="UA / clean UA" if y == "relative" else "UA gain")
    models = _models(eff["model"])
    handles = [plt.Line2D([], [], color=plots._color(m), marker="o", lw=1.8) for m in models]
    fig.tight_layout()
    fig.legend(handles, [plots.label(m) for m in models], loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncols=min(len(models), 4), frameon=False, fontsize=8)
    return fig
