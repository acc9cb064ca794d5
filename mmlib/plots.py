"""Every figure of the study, in one style; each saved as PNG and PDF by `save`.

    from mmlib import plots
    fig = plots.class_balance(table)
    plots.save(fig, "class_balance", "results/default/figures")

Figure functions take tables (the utterance table, predictions, metrics) and return a Figure;
they compute nothing the library does not already provide, except what a plot needs to draw.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = {"audio": "#4C72B0", "video": "#DD8452", "concat": "#55A868", "matchmap": "#C44E52",
           "matchmap_attn": "#8172B3"}
CLASS_ORDER = ["neu", "hap", "sad", "ang", "exc", "fru", "cal", "fea", "dis", "sur"]


def use_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 200, "savefig.bbox": "tight",
                         "axes.titleweight": "bold", "pdf.fonttype": 42})


use_style()


def save(fig: plt.Figure, name: str, out_dir: str | Path) -> None:
    """Write `name`.png and `name`.pdf into out_dir. Returns None, so a notebook cell ending in
    `plots.save(...)` shows the figure and no path (the files are out_dir/name.png and .pdf)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png")
    fig.savefig(out / f"{name}.pdf")


def _color(model: str) -> str:
    return PALETTE.get(model.split("[")[0], "#777777")


# ------------------------------------------------------------------ 01 data exploration

def class_balance(corpus: pd.DataFrame) -> plt.Figure:
    """Raw emotion codes overall, and study labels per session and speaker."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1.3]})
    counts = corpus["emotion"].value_counts()
    axes[0].bar(counts.index, counts.values, color="#8C8C8C")
    axes[0].set(title="Raw emotion codes", ylabel="utterances")
    lab = corpus[corpus["label"].notna()]
    order = [c for c in CLASS_ORDER if c in set(lab["label"])]
    sns.countplot(data=lab, x="speaker", hue="label", hue_order=order, ax=axes[1])
    axes[1].set(title="Study labels per speaker", xlabel="")
    axes[1].tick_params(axis="x", rotation=60)
    fig.tight_layout()
    return fig


def durations(corpus: pd.DataFrame) -> plt.Figure:
    lab = corpus[corpus["label"].notna()].assign(duration=lambda d: d["end"] - d["start"])
    fig, ax = plt.subplots(figsize=(6, 3.4))
    sns.histplot(data=lab, x="duration", hue="label", element="step", stat="density", common_norm=False, ax=ax,
                 hue_order=[c for c in CLASS_ORDER if c in set(lab["label"])])
    ax.set(title="Utterance durations", xlabel="seconds")
    return fig


def vad_by_class(corpus: pd.DataFrame) -> plt.Figure:
    lab = corpus[corpus["label"].notna()]
    long = lab.melt(id_vars="label", value_vars=["valence", "arousal", "dominance"], var_name="dimension")
    long = long.dropna(subset=["value"])
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    if long.empty:  # RAVDESS, CREMA-D: no dimensional annotation
        ax.text(0.5, 0.5, "this corpus has no valence / arousal / dominance annotation", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    sns.boxplot(data=long, x="dimension", y="value", hue="label", ax=ax, fliersize=1,
                hue_order=[c for c in CLASS_ORDER if c in set(lab["label"])])
    ax.set(title="Annotated valence / arousal / dominance by class", xlabel="")
    return fig


def examples(spectrograms: dict[str, np.ndarray], clips: dict[str, np.ndarray]) -> plt.Figure:
    """One log-mel (channel 0) and the frames of one clip per class (dicts keyed by class)."""
    classes = list(spectrograms)
    n_frames = min(len(c) for c in clips.values())
    fig, axes = plt.subplots(len(classes), 1 + n_frames, figsize=(2.2 + 1.1 * n_frames, 1.5 * len(classes)),
                             gridspec_kw={"width_ratios": [4] + [1] * n_frames}, squeeze=False)
    for r, cls in enumerate(classes):
        axes[r, 0].imshow(spectrograms[cls][0], origin="lower", aspect="auto", cmap="magma")
        axes[r, 0].set_ylabel(cls, rotation=0, labelpad=18, fontweight="bold")
        axes[r, 0].set_xticks([]), axes[r, 0].set_yticks([])
        for k in range(n_frames):
            axes[r, 1 + k].imshow(clips[cls][k])
            axes[r, 1 + k].axis("off")
    axes[0, 0].set_title("log-mel")
    fig.suptitle("One utterance per class: spectrogram and face frames", y=1.02)
    fig.tight_layout()
    return fig


def av_sync(wave: np.ndarray, sr: int, frames: np.ndarray, fps: float, title: str = "") -> plt.Figure:
    """Audio RMS envelope against mouth opening (dark pixels in the lower-middle of the face crop)."""
    hop = int(sr / fps)
    rms = np.sqrt(np.array([np.mean(wave[i * hop:(i + 1) * hop] ** 2) for i in range(len(wave) // hop)]) + 1e-12)
    mouth = mouth_opening(frames)
    n = min(len(rms), len(mouth))
    t = np.arange(n) / fps
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.plot(t, rms[:n] / rms[:n].max(), label="audio RMS", color=PALETTE["audio"])
    ax.plot(t, mouth[:n] / max(mouth[:n].max(), 1e-9), label="mouth opening", color=PALETTE["video"])
    r = np.corrcoef(rms[:n], mouth[:n])[0, 1] if n > 2 else np.nan
    ax.set(xlabel="seconds", ylabel="normalized", title=f"{title}  (r = {r:.2f})")
    ax.legend(loc="upper right")
    return fig


def mouth_opening(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 face crops -> (T,) share of dark pixels in the mouth region."""
    h, w = frames.shape[1:3]
    region = frames[:, int(0.62 * h):int(0.9 * h), int(0.3 * w):int(0.7 * w)].mean(axis=-1)
    return (region < 60).mean(axis=(1, 2))


# ------------------------------------------------------------------ 02/03 results

def fold_scores(per_fold: pd.DataFrame, metric_names=("WA", "UA"), title: str = "") -> plt.Figure:
    """Bars of each model's WA and UA per fold, with the mean over folds as a line."""
    fig, axes = plt.subplots(1, len(metric_names), figsize=(5.5 * len(metric_names), 3.4), squeeze=False)
    for ax, m in zip(axes[0], metric_names):
        sns.barplot(data=per_fold, x="fold", y=m, hue="model", ax=ax, errorbar=None,
                    palette={k: _color(k) for k in per_fold["model"].unique()})
        ax.set(ylim=(0, 1), title=m)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def model_comparison(per_fold: pd.DataFrame, metric: str = "UA", chance: float | None = None,
                     title: str = "") -> plt.Figure:
    """Mean +- std over folds x seeds of each model, with every run as a dot."""
    order = list(dict.fromkeys(per_fold["model"]))
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(order), 3.6))
    sns.barplot(data=per_fold, x="model", y=metric, order=order, errorbar="sd", ax=ax, capsize=0.15,
                palette={k: _color(k) for k in order}, hue="model", legend=False)
    sns.stripplot(data=per_fold, x="model", y=metric, order=order, color="black", size=3, ax=ax)
    if chance is not None:
        ax.axhline(chance, ls="--", color="gray", lw=1)
        ax.text(len(order) - 0.5, chance, "chance", va="bottom", ha="right", color="gray", fontsize=8)
    ax.set(ylim=(0, 1), xlabel="", title=title or f"{metric} per model (mean +- std over folds and seeds)")
    ax.tick_params(axis="x", rotation=20)
    return fig


def ablation(per_fold: pd.DataFrame, metric: str = "UA") -> plt.Figure:
    """Ablation runs (model names like matchmap[train.similarity=SISA]) as grouped points."""
    df = per_fold.copy()
    df["setting"] = df["model"].str.extract(r"\[(.*)\]")[0].fillna("profile default")
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * df["setting"].nunique(), 3.6))
    sns.pointplot(data=df, x="setting", y=metric, errorbar="sd", ax=ax, color=PALETTE["matchmap"], capsize=0.1)
    ax.set(xlabel="", title=f"Matchmap ablation ({metric}, mean +- std over folds)")
    ax.tick_params(axis="x", rotation=30)
    return fig


def robustness(rob: pd.DataFrame, metric: str = "UA") -> plt.Figure:
    """Accuracy against the degradation level of one modality, one line per model, one panel per knob."""
    knobs = list(dict.fromkeys(rob["knob"]))
    fig, axes = plt.subplots(1, len(knobs), figsize=(5 * len(knobs), 3.6), squeeze=False)
    for ax, knob in zip(axes[0], knobs):
        d = rob[rob["knob"] == knob].copy()
        d["level"] = ["clean" if pd.isna(x) else f"{x:g}" for x in d["level"]]  # None = no degradation
        levels = list(dict.fromkeys(d["level"]))
        sns.pointplot(data=d, x="level", y=metric, hue="model", order=levels, errorbar="sd", ax=ax, dodge=0.2,
                      palette={k: _color(k) for k in d["model"].unique()})
        ax.set(title=knob, xlabel="degradation level (left = clean)", ylim=(0, 1))
    fig.tight_layout()
    return fig


def matchmap_heatmaps(items: list[dict]) -> plt.Figure:
    """Per utterance: the matchmap (video position x audio frame), the spectrogram, and frames.

    items: dicts with 'title', 'M' (P, T_a), 'spec' (n_mels, T), 'frames' (T_v, H, W, 3).
    """
    n = len(items)
    fig, axes = plt.subplots(n, 3, figsize=(12, 2.6 * n), gridspec_kw={"width_ratios": [1.2, 1.6, 1.6]},
                             squeeze=False)
    for r, it in enumerate(items):
        im = axes[r, 0].imshow(it["M"], aspect="auto", cmap="RdBu_r", vmin=-np.abs(it["M"]).max(),
                               vmax=np.abs(it["M"]).max())
        axes[r, 0].set(xlabel="audio frame", ylabel="video position", title=it["title"])
        fig.colorbar(im, ax=axes[r, 0], fraction=0.05)
        axes[r, 1].imshow(it["spec"], origin="lower", aspect="auto", cmap="magma")
        axes[r, 1].set(title="log-mel", xticks=[], yticks=[])
        axes[r, 2].imshow(np.concatenate(list(it["frames"]), axis=1))
        axes[r, 2].set(title="face frames", xticks=[], yticks=[])
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ 04 confusion

def confusions(matrices: dict[str, pd.DataFrame], normalized: bool) -> plt.Figure:
    n = len(matrices)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.7 * rows), squeeze=False)
    for ax, (name, cm) in zip(axes.flat, matrices.items()):
        sns.heatmap(cm, annot=True, fmt=".2f" if normalized else "d", cmap="Blues", cbar=False, ax=ax,
                    vmin=0, vmax=1 if normalized else None, square=True)
        ax.set(title=name)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Confusion matrices" + (" (row-normalized: recall on the diagonal)" if normalized else " (counts)"))
    fig.tight_layout()
    return fig


def per_class_recall(per_fold: pd.DataFrame, classes: list[str]) -> plt.Figure:
    long = per_fold.melt(id_vars=["model"], value_vars=[f"recall_{c}" for c in classes], var_name="class",
                         value_name="recall")
    long["class"] = long["class"].str.removeprefix("recall_")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    sns.barplot(data=long, x="class", y="recall", hue="model", errorbar="sd", ax=ax, capsize=0.05,
                palette={k: _color(k) for k in long["model"].unique()})
    ax.set(ylim=(0, 1), title="Per-class recall (mean +- std over folds and seeds)")
    return fig
