"""Every figure of the study, in one style; each saved as PNG and PDF by `save`.

    from mmlib.figures import plots
    fig = plots.class_balance(table)
    plots.save(fig, "class_balance", "results/default/figures")   # returns None: a notebook shows the figure
    plots.model_palette(["video", "matchmap[train.similarity=SISA]", "audio"])  # name -> colour, fixed per model

Figure functions take tables (the utterance table, predictions, metrics) and return a Figure;
they compute nothing the library does not already provide, except what a plot needs to draw.

The style: DejaVu Sans (shipped with matplotlib, so a fresh machine draws and embeds the same
font; PDFs embed it as TrueType), 7-8 pt text at print size, widths of one column (`COLUMN`,
3.5 in) or two columns (`PAGE`, 7.16 in) of a paper, legends outside the axes, constrained layout.
Models keep one colour and one place in every figure (Okabe & Ito's colour-blind-safe palette, in
`MODEL_ORDER`); a variant (`matchmap[train.similarity=SISA]`, `concat (train-only norm)`) takes a
lighter or darker shade of its base model's colour and sits right after it.
"""

from __future__ import annotations

import json
import warnings
import zlib
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

COLUMN = 3.5  # inches: one column of a two-column paper (IEEE, ACM, ICPRS)
PAGE = 7.16  # inches: the full text width of a two-column paper

MODEL_ORDER = ("audio", "video", "late fusion", "concat", "matchmap", "matchmap_attn")
PALETTE = {"audio": "#0072B2", "video": "#E69F00", "concat": "#009E73", "matchmap": "#D55E00",
           "matchmap_attn": "#CC79A7",  # Okabe & Ito (2008): blue, orange, bluish green, vermillion, reddish purple
           "late fusion": "#56B4E9"}  # the untrained control
OTHER_COLORS = ("#000000", "#F0E442", "#999999")  # the rest of Okabe & Ito, for unknown model families

# what an override in a model's name means, in a paper's words (label)
OVERRIDE_WORDS = {
    "train.modality_dropout": "modality dropout {v}", "train.rank_weight": "ranking weight {v}",
    "train.balance": {"ogm_ge": "OGM-GE"}, "train.blank": {"video": "constant face", "audio": "constant voice"},
    "train.finetune_patience": "fine-tuning patience {v}", "data.video_scale": {"unscaled": "face not rescaled"},
    "model.unimodal_path": {"True": "additive unimodal path"}, "train.similarity": "{v} pooling",
    "data.speaker_norm": {"False": "training-set normalization"},
}
KNOB_WORDS = {"audio.snr_db": "speech SNR (dB)", "video.occlusion": "occluded share of the face",
              "video.blur_sigma": "face blur (sigma, px)", "video.drop_prob": "share of frames dropped",
              "face": "face reliability", "voice": "voice reliability"}


def label(name: str) -> str:
    """A model name as a paper would print it: 'matchmap[train.modality_dropout=0.5]' -> 'matchmap + modality
    dropout 0.5'; unknown overrides stay as key=value."""
    if "[" not in name or not name.endswith("]"):
        return name
    base, inner = name[:-1].split("[", 1)
    words = []
    for part in inner.split(","):
        key, _, value = part.partition("=")
        rule = OVERRIDE_WORDS.get(key)
        if isinstance(rule, dict):
            words.append(rule.get(value, f"{key}={value}"))
        elif rule:
            words.append(rule.format(v=value))
        else:
            words.append(part)
    return f"{base} + {', '.join(words)}"
SHADES = (0.45, -0.35, 0.7, -0.55, 0.25, -0.2)  # variants: >0 mixes toward white, <0 toward black
CLASS_ORDER = ["neu", "hap", "sad", "ang", "exc", "fru", "cal", "fea", "dis", "sur"]
CLASS_PALETTE = {"neu": "#8C8C8C", "hap": "#DDAA33", "sad": "#004488", "ang": "#BB5566", "exc": "#999933",
                 "fru": "#882255", "cal": "#44AA99", "fea": "#AA4499", "dis": "#117733", "sur": "#88CCEE"}  # Tol

STYLE = {
    "font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans", "font.size": 8, "axes.titlesize": 8,
    "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7,
    "legend.title_fontsize": 7, "figure.titlesize": 9, "axes.titleweight": "bold", "figure.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#333333", "axes.linewidth": 0.7,
    "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#E3E3E3", "grid.linewidth": 0.6, "axes.axisbelow": True,
    "xtick.major.width": 0.7, "ytick.major.width": 0.7, "xtick.major.size": 3, "ytick.major.size": 3,
    "legend.frameon": False, "legend.borderaxespad": 0.0, "lines.linewidth": 1.3, "patch.linewidth": 0.5,
    "figure.dpi": 150, "savefig.dpi": 300, "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
    "figure.facecolor": "white", "savefig.facecolor": "white", "image.interpolation": "nearest",
    "pdf.fonttype": 42, "ps.fonttype": 42,  # embed TrueType fonts, not Type 3
}


def use_style() -> None:
    """Apply the study's figure style (done on import)."""
    plt.rcParams.update(STYLE)


use_style()


LAYOUT_CHECK = "layout_check.json"  # in each figures folder: figure name -> figcheck problems ([] = clean)


def save(fig: plt.Figure, name: str, out_dir: str | Path) -> None:
    """Write `name`.png and `name`.pdf into out_dir. Returns None, so a notebook cell ending in
    `plots.save(...)` shows the figure and no path (the files are out_dir/name.png and .pdf).

    Every saved figure is also checked for overlapping text and legends over data (mmlib.figures.figcheck) as it
    was drawn from the run's own tables; the result goes to out_dir/layout_check.json, and a figure with
    a defect warns, naming it."""
    from mmlib.figures import figcheck  # no cycle: figcheck needs only matplotlib

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png")
    fig.savefig(out / f"{name}.pdf", metadata={"CreationDate": None})
    found = figcheck.problems(fig)
    log = out / LAYOUT_CHECK
    checked = json.loads(log.read_text()) if log.exists() else {}
    checked[name] = found
    log.write_text(json.dumps(checked, indent=1, sort_keys=True) + "\n")
    if found:
        warnings.warn(f"figure {name}: {'; '.join(found)}", stacklevel=2)


# ------------------------------------------------------------------ model colours and order

def base_model(name: str) -> str | None:
    """The known model a name derives from ('matchmap[train.similarity=SISA]' -> 'matchmap'), or None."""
    for base in sorted(PALETTE, key=len, reverse=True):
        if name == base or (name.startswith(base) and not (name[len(base):][:1].isalnum() or
                                                           name[len(base):][:1] == "_")):
            return base
    return None


def model_order(names) -> list[str]:
    """Unique names in the study's order: audio, video, concat, matchmap, matchmap_attn, each base
    model followed by its variants (in the order given), then unknown families."""
    names = list(dict.fromkeys(names))

    def key(item):
        pos, name = item
        base = base_model(name)
        family = MODEL_ORDER.index(base) if base else len(MODEL_ORDER)
        return family, name != base, pos

    return [n for _, n in sorted(enumerate(names), key=key)]


def _mix(color: str, amount: float) -> str:
    rgb = np.array(mcolors.to_rgb(color))
    target = 1.0 if amount > 0 else 0.0
    return mcolors.to_hex(rgb + (target - rgb) * abs(amount))


def model_palette(names) -> dict[str, str]:
    """name -> colour. A base model always gets its own colour; a variant a shade of its base chosen
    from its name (so it keeps its shade in every figure), moved on only if another variant in the
    same figure already has it."""
    out: dict[str, str] = {}
    used: dict[str, set] = {}
    unknown = 0
    for name in model_order(names):
        base = base_model(name)
        if base is None:
            out[name] = OTHER_COLORS[min(unknown, len(OTHER_COLORS) - 1)]
            unknown += 1
        elif name == base:
            out[name] = PALETTE[base]
        else:
            taken = used.setdefault(base, set())
            k = zlib.crc32(name.encode()) % len(SHADES)
            for step in range(len(SHADES)):
                if (k + step) % len(SHADES) not in taken:
                    k = (k + step) % len(SHADES)
                    break
            taken.add(k)
            out[name] = _mix(PALETTE[base], SHADES[k])
    return out


def _color(model: str) -> str:
    return model_palette([model])[model]


def class_palette(classes) -> dict[str, str]:
    return {c: CLASS_PALETTE.get(c, OTHER_COLORS[i % len(OTHER_COLORS)]) for i, c in enumerate(classes)}


def _classes(labels) -> list[str]:
    present = set(labels)
    return [c for c in CLASS_ORDER if c in present] + sorted(present - set(CLASS_ORDER))


# ------------------------------------------------------------------ legends outside the data

def _legend_right(ax: plt.Axes, title: str | None = None) -> None:
    """Move the axes' legend (seaborn's or matplotlib's) to the right of the axes, outside the data."""
    handles, labels = _handles(ax)
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if handles:
        ax.legend(handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.02, 1.0))


def _figure_legend(fig: plt.Figure, axes, title: str | None = None) -> None:
    """One legend for several panels, right of them all; removes the panels' own legends."""
    handles, labels = [], []
    for ax in axes:
        h, lab = _handles(ax)
        for hh, ll in zip(h, lab):
            if ll not in labels:
                handles.append(hh)
                labels.append(ll)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if handles:
        fig.legend(handles, labels, title=title, loc="outside right upper")


def _handles(ax: plt.Axes):
    leg = ax.get_legend()
    if leg is not None:
        return list(leg.legend_handles), [t.get_text() for t in leg.get_texts()]
    return ax.get_legend_handles_labels()


# ------------------------------------------------------------------ 01 data exploration

def class_balance(corpus: pd.DataFrame) -> plt.Figure:
    """Raw emotion codes overall, and study labels per session and speaker."""
    lab = corpus[corpus["label"].notna()]
    speakers = sorted(lab["speaker"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(PAGE, 2.5), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 2.2]})
    counts = corpus["emotion"].value_counts()
    axes[0].bar(counts.index, counts.values, color="#8C8C8C", width=0.7)
    axes[0].set(title="Raw emotion codes", ylabel="utterances")
    axes[0].tick_params(axis="x", rotation=90)
    order = _classes(lab["label"])
    sns.countplot(data=lab, x="speaker", hue="label", hue_order=order, order=speakers, ax=axes[1],
                  palette=class_palette(order), width=0.8, saturation=1)
    axes[1].set(title="Study labels per speaker", xlabel="", ylabel="utterances")
    if len(speakers) > 30:  # e.g. CREMA-D's 91 actors: names would overlap; the bars still show the balance
        axes[1].set_xticks([])
        axes[1].set_xlabel(f"{len(speakers)} speakers")
    else:
        axes[1].tick_params(axis="x", rotation=90)
    _legend_right(axes[1], "label")
    return fig


def durations(corpus: pd.DataFrame) -> plt.Figure:
    lab = corpus[corpus["label"].notna()].assign(duration=lambda d: d["end"] - d["start"])
    order = _classes(lab["label"])
    fig, ax = plt.subplots(figsize=(COLUMN, 2.2), layout="constrained")
    sns.histplot(data=lab, x="duration", hue="label", element="step", stat="density", common_norm=False, ax=ax,
                 hue_order=order, palette=class_palette(order), fill=False, linewidth=1.2)
    ax.set(title="Utterance durations", xlabel="seconds")
    _legend_right(ax, "label")
    return fig


def vad_by_class(corpus: pd.DataFrame) -> plt.Figure:
    lab = corpus[corpus["label"].notna()]
    long = lab.melt(id_vars="label", value_vars=["valence", "arousal", "dominance"], var_name="dimension")
    long = long.dropna(subset=["value"])
    fig, ax = plt.subplots(figsize=(COLUMN, 2.2), layout="constrained")
    if long.empty:  # RAVDESS, CREMA-D: no dimensional annotation
        ax.text(0.5, 0.5, "this corpus has no valence / arousal /\ndominance annotation", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    order = _classes(lab["label"])
    sns.boxplot(data=long, x="dimension", y="value", hue="label", ax=ax, fliersize=1, linewidth=0.6,
                hue_order=order, palette=class_palette(order), saturation=1)
    ax.set(title="Annotated V / A / D by class", xlabel="", ylabel="rating")
    _legend_right(ax, "label")
    return fig


def examples(spectrograms: dict[str, np.ndarray], clips: dict[str, np.ndarray], max_frames: int = 8) -> plt.Figure:
    """One log-mel (channel 0) and up to max_frames face frames of one clip per class (dicts keyed by
    class, e.g. 'neu (Ses01F_impro01_F000)')."""
    names = list(spectrograms)
    n_frames = min(max_frames, min(len(c) for c in clips.values()))
    fig, axes = plt.subplots(len(names), 1 + n_frames, figsize=(PAGE, 0.2 + 0.85 * len(names)), squeeze=False,
                             layout="constrained", gridspec_kw={"width_ratios": [5] + [1] * n_frames})
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.01, hspace=0.02)
    for r, name in enumerate(names):
        axes[r, 0].imshow(spectrograms[name][0], origin="lower", aspect="auto", cmap="magma")
        cls, _, uid = name.partition(" (")
        axes[r, 0].set_ylabel(f"{cls}\n{uid.rstrip(')')}" if uid else cls, rotation=0, ha="right", va="center",
                              fontsize=7)
        axes[r, 0].set_xticks([]), axes[r, 0].set_yticks([])
        clip = clips[name]
        for k, t in enumerate(np.linspace(0, len(clip) - 1, n_frames).round().astype(int)):
            axes[r, 1 + k].imshow(clip[t])
            axes[r, 1 + k].set_axis_off()
    axes[0, 0].set_title("log-mel (time →)")
    axes[0, 1 + n_frames // 2].set_title("face frames, evenly sampled")
    return fig


def av_sync(wave: np.ndarray, sr: int, frames: np.ndarray, fps: float, title: str = "") -> plt.Figure:
    """Audio RMS envelope against mouth opening (dark pixels in the lower-middle of the face crop)."""
    hop = int(sr / fps)
    rms = np.sqrt(np.array([np.mean(wave[i * hop:(i + 1) * hop] ** 2) for i in range(len(wave) // hop)]) + 1e-12)
    mouth = mouth_opening(frames)
    n = min(len(rms), len(mouth))
    t = np.arange(n) / fps
    fig, ax = plt.subplots(figsize=(PAGE, 1.9), layout="constrained")
    ax.plot(t, rms[:n] / rms[:n].max(), label="audio RMS", color=PALETTE["audio"])
    ax.plot(t, mouth[:n] / max(mouth[:n].max(), 1e-9), label="mouth opening", color=PALETTE["video"])
    r = np.corrcoef(rms[:n], mouth[:n])[0, 1] if n > 2 else np.nan
    ax.set(xlabel="seconds", ylabel="normalized", title=f"{title}  (r = {r:.2f})".strip())
    _legend_right(ax)
    return fig


def mouth_opening(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 face crops -> (T,) share of dark pixels in the mouth region."""
    h, w = frames.shape[1:3]
    region = frames[:, int(0.62 * h):int(0.9 * h), int(0.3 * w):int(0.7 * w)].mean(axis=-1)
    return (region < 60).mean(axis=(1, 2))


# ------------------------------------------------------------------ 02/03 results

def fold_scores(per_fold: pd.DataFrame, metric_names=("WA", "UA"), title: str = "") -> plt.Figure:
    """Bars of each model's WA and UA per fold (mean over seeds)."""
    models = model_order(per_fold["model"])
    fig, axes = plt.subplots(1, len(metric_names), figsize=(PAGE, 2.3), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, m in zip(axes[0], metric_names):
        sns.barplot(data=per_fold, x="fold", y=m, hue="model", hue_order=models, ax=ax, errorbar=None,
                    palette=model_palette(models), saturation=1)
        ax.set(ylim=(0, 1), title=m, ylabel="score" if ax is axes[0, 0] else "")
    _figure_legend(fig, axes[0], "model")
    if title:
        fig.suptitle(title)
    return fig


def _grid(P: int, item: dict) -> tuple[int, int, int]:
    """(t, h, w) of the P video positions: item['grid'] when given, else a square face grid."""
    if "grid" in item:
        return tuple(item["grid"])
    g = int(round(np.sqrt(P)))
    if g * g != P:
        raise ValueError(f"matchmap has {P} video positions, not a square grid: pass item['grid'] = (t, h, w)")
    return 1, g, g


def matchmap_heatmaps(items: list[dict]) -> plt.Figure:
    """Per utterance: the log-mel and, on the same time axis, the matchmap (every video cell x audio
    frame); right, the map averaged over audio frames drawn as the face grid over the middle frame.

    items: dicts with 'title', 'M' (P, T_a) rows in face-grid order (row-major h x w, per time step when
    the video keeps time), 'spec' (n_mels, T), 'frames' (T_v, H, W, 3); optional 'hop_s' (seconds per
    spectrogram frame, default 0.01) and 'grid' (t, h, w). The T_a valid audio steps span the spectrogram.
    """
    lim = max(float(np.abs(it["M"]).max()) for it in items) or 1.0
    norm = mcolors.TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    fig = plt.figure(figsize=(PAGE, 0.3 + 2.0 * len(items)), layout="constrained")
    subs = fig.subfigures(len(items), 1, squeeze=False)[:, 0]
    for sub, it in zip(subs, items):
        M, spec, frames = np.asarray(it["M"]), np.asarray(it["spec"]), np.asarray(it["frames"])
        t_grid, h, w = _grid(M.shape[0], it)
        dur = spec.shape[-1] * it.get("hop_s", 0.01)
        ax = sub.subplot_mosaic([["spec", "face"], ["map", "face"]], width_ratios=[3.2, 1],
                                height_ratios=[1, 1.3], sharex=False)
        ax["spec"].imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, dur, 0, spec.shape[0]))
        ax["spec"].set(ylabel="log-mel", xticks=[], yticks=[], xlim=(0, dur))
        ax["spec"].grid(False)
        im = ax["map"].imshow(M, aspect="auto", cmap="RdBu_r", norm=norm, interpolation="nearest",
                              extent=(0, dur, M.shape[0], 0))
        for row in range(1, t_grid * h):
            ax["map"].axhline(row * w, color="white", lw=0.4)
        ax["map"].set_yticks(np.arange(t_grid * h) * w + w / 2, [str(r % h + 1) for r in range(t_grid * h)]
                             if t_grid * h <= 8 else [""] * (t_grid * h))
        ax["map"].set(xlim=(0, dur), xlabel="time (s)", ylabel="face row")
        ax["map"].grid(False)
        face = frames[len(frames) // 2].mean(axis=-1)
        H, W = face.shape
        pooled = M.mean(axis=1).reshape(t_grid, h, w).mean(axis=0)  # mean over audio (and video time)
        ax["face"].imshow(face, cmap="gray", extent=(0, W, H, 0))
        ax["face"].imshow(pooled, cmap="RdBu_r", norm=norm, alpha=0.55, extent=(0, W, H, 0), interpolation="nearest")
        for k in range(1, h):
            ax["face"].axhline(k * H / h, color="white", lw=0.4)
        for k in range(1, w):
            ax["face"].axvline(k * W / w, color="white", lw=0.4)
        ax["face"].set(xticks=[], yticks=[], title=f"{h}×{w} face cells\nmean over audio")
        ax["face"].grid(False)
        sub.colorbar(im, ax=[ax["map"], ax["face"]], shrink=0.9, aspect=15, label="similarity", pad=0.02)
        sub.align_ylabels([ax["spec"], ax["map"]])
        sub.suptitle(str(it["title"]).replace("\n", " · "), x=0.01, ha="left", fontsize=8)
    return fig


# ------------------------------------------------------------------ 04 confusion

def confusions(matrices: dict[str, pd.DataFrame], normalized: bool) -> plt.Figure:
    names = model_order(matrices)
    n = len(names)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    k = max(len(cm) for cm in matrices.values())
    fig, axes = plt.subplots(rows, cols, figsize=(PAGE, 0.4 + 2.3 * rows), squeeze=False, layout="constrained")
    for ax, name in zip(axes.flat, names):
        sns.heatmap(matrices[name], annot=True, fmt=".2f" if normalized else "d", cmap="Blues", cbar=False, ax=ax,
                    vmin=0, vmax=1 if normalized else None, square=True, annot_kws={"fontsize": 7 if k <= 5 else 5})
        ax.set_title(name)
        ax.set(xlabel="predicted", ylabel="true")
        ax.tick_params(axis="y", rotation=0)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.suptitle("Confusion matrices" + (" (row-normalized: recall on the diagonal)" if normalized else " (counts)"))
    return fig


def per_class_recall(per_fold: pd.DataFrame, classes: list[str]) -> plt.Figure:
    models = model_order(per_fold["model"])
    long = per_fold.melt(id_vars=["model"], value_vars=[f"recall_{c}" for c in classes], var_name="class",
                         value_name="recall")
    long["class"] = long["class"].str.removeprefix("recall_")
    fig, ax = plt.subplots(figsize=(PAGE, 2.4), layout="constrained")
    sns.barplot(data=long, x="class", y="recall", hue="model", hue_order=models, errorbar="sd", ax=ax, capsize=0.1,
                palette=model_palette(models), err_kws={"linewidth": 0.8}, saturation=1)
    ax.set(ylim=(0, 1), title="Per-class recall (mean ± sd over folds and seeds)")
    _legend_right(ax, "model")
    return fig


# ------------------------------------------------------------------ estimates with speaker-level intervals

def estimates(summary: pd.DataFrame, metric: str = "UA", per_run: pd.DataFrame | None = None,
              chance: float | None = None, title: str = "", ceilings: dict[str, float] | None = None) -> plt.Figure:
    """Each model's mean over folds x seeds (point) with its 95 % interval over test speakers and seeds (bar),
    the individual runs (fold x seed) as small grey dots, and where given each model's oracle ceiling (a
    black bar: what its inputs allow, mmlib.analysis.oracle). `summary` comes from metrics.summarize."""
    order = model_order(summary["model"])
    s = summary.set_index("model").loc[order]
    fig, ax = plt.subplots(figsize=(min(PAGE, 1.2 + 0.55 * len(order)), 2.8))
    x = np.arange(len(order))
    if per_run is not None:
        jitter = np.random.default_rng(0)
        for i, m in enumerate(order):
            v = per_run.loc[per_run["model"] == m, metric].to_numpy()
            ax.scatter(i + jitter.uniform(-0.18, 0.18, len(v)), v, s=7, color="#9a9a9a", zorder=1, lw=0)
    for i, m in enumerate(order):
        mean, lo, hi = s.loc[m, f"{metric}_mean"], s.loc[m, f"{metric}_lo"], s.loc[m, f"{metric}_hi"]
        ax.errorbar(i, mean, yerr=[[mean - lo], [hi - mean]], fmt="o", color=_color(m), capsize=4, ms=6, lw=2,
                    zorder=3)
    marked = [(i, m) for i, m in enumerate(order) if m in (ceilings or {})]
    for i, m in marked:
        ax.hlines(ceilings[m], i - 0.3, i + 0.3, color="black", lw=1.5, zorder=2)
    if marked:  # named once, in the right margin beside the last model's bar (as "chance")
        ax.annotate("oracle ceiling", (1.0, ceilings[marked[-1][1]]), xycoords=("axes fraction", "data"), xytext=(2, 0),
                    textcoords="offset points", va="center", ha="left", fontsize=8)
    if chance is not None:
        ax.axhline(chance, ls="--", color="gray", lw=1, zorder=0)
        ax.annotate("chance", (1.0, chance), xycoords=("axes fraction", "data"), xytext=(2, 0),
                    textcoords="offset points", va="center", ha="left", color="gray", fontsize=8)
    ax.set_xticks(x, [label(m) for m in order], rotation=25, ha="right")
    ax.set(ylim=(0, 1), xlim=(-0.6, len(order) - 0.4), ylabel=metric,
           title=title or f"{metric}: mean over folds x seeds, 95 % interval (speakers, seeds)")
    return fig


def paired_differences(tests: pd.DataFrame, title: str = "") -> plt.Figure:
    """Forest plot of paired comparisons (stats.paired / claims rows): mean difference a - b with its 95 %
    interval over test speakers and seeds, and the fold-level p-value at the right (Holm-adjusted when the
    table is a claims family)."""
    labels = (list(tests["label"]) if "label" in tests else
              [f"{label(r.model_a)} - {label(r.model_b)}" for r in tests.itertuples()])
    fig, ax = plt.subplots(figsize=(COLUMN + 1.2, 0.9 + 0.3 * len(tests)))
    y = np.arange(len(tests))[::-1]
    for yi, r in zip(y, tests.itertuples()):
        color = _color(r.model_a)
        ax.errorbar(r.diff, yi, xerr=[[r.diff - r.diff_lo], [r.diff_hi - r.diff]], fmt="o", color=color, capsize=3)
        # a row outside its table's family (p_holm NaN, e.g. claim 2's fragility rows) shows its unadjusted p
        p, name = (r.p_holm, "p_Holm") if hasattr(r, "p_holm") and not pd.isna(r.p_holm) else (r.p_t, "p")
        ax.annotate(f"{name} < 0.001" if p < 0.001 else f"{name} = {p:.3f}", (1.0, yi),
                    xycoords=("axes fraction", "data"), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=8)
    ax.axvline(0, color="gray", lw=1, ls="--")
    ax.set_yticks(y, labels)
    metric = tests["metric"].iloc[0] if len(tests) else ""
    ax.set(xlabel=f"{metric} difference (mean over folds x seeds)", title=title or "Paired comparisons, 95 % intervals (speakers, seeds)")
    return fig


def estimate_curves(summary: pd.DataFrame, x: str, metric: str = "UA", panel: str | None = None,
                    xlabel: str = "", title: str = "") -> plt.Figure:
    """Lines of each model's mean with its 95 % band (speakers, seeds) against `x` (one panel per `panel`
    value): the robustness curves and the reliability sweep. The legend sits outside the panels."""
    panels = list(dict.fromkeys(summary[panel])) if panel else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(min(PAGE, 2.6 * len(panels) + 1.6), 2.6), squeeze=False, sharey=True)
    for ax, pv in zip(axes[0], panels):
        d = summary if pv is None else summary[summary[panel] == pv]
        levels = list(dict.fromkeys(d[x]))
        pos = {lv: i for i, lv in enumerate(levels)}
        for m in model_order(d["model"]):
            g = d[d["model"] == m]
            xs = g[x].map(pos).to_numpy()
            ax.plot(xs, g[f"{metric}_mean"], "o-", color=_color(m), label=m, ms=4)
            ax.fill_between(xs, g[f"{metric}_lo"], g[f"{metric}_hi"], color=_color(m), alpha=0.15, lw=0)
        ax.set_xticks(range(len(levels)), [str(v) for v in levels])
        ax.set(xlabel=xlabel or x, title=str(pv) if pv is not None else "", ylim=(0, 1))
    axes[0][0].set_ylabel(metric)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the learning curve (mmlib curve)

CURVE_PANELS = (("audio", "audio", ("probe: audio", "oracle: arousal only", "oracle (large draw): arousal only")),
                ("video", "video", ("probe: video", "oracle: valence only", "oracle (large draw): valence only")),
                ("fusion", ("concat", "matchmap"),
                 ("probe: both", "oracle: both", "oracle (large draw): both")))
CURVE_REFERENCE_STYLE = {"probe": ("#555555", "--"), "oracle:": ("#999999", ":"),
                         "oracle (large draw)": ("#000000", "-.")}


def learning_curve(summary: pd.DataFrame) -> plt.Figure:
    """Validation UA against labelled utterances per speaker (log scale), one panel per input (audio, video,
    fusion): the models with +-1 sd over seeds as bars, and in grey the references of their inputs (probe,
    study-sample oracle, large-draw oracle). `summary`: mmlib.runner.curve.summarize."""
    fig, axes = plt.subplots(1, 3, figsize=(PAGE, 2.6), sharey=True, layout="constrained")
    present = set(summary["model"])
    for ax, (title, models, refs) in zip(axes, CURVE_PANELS):
        for ref in refs:
            if ref not in present:
                continue
            g = summary[summary["model"] == ref].sort_values("labelled_per_speaker")
            color, style = next(v for k, v in CURVE_REFERENCE_STYLE.items() if ref.startswith(k))
            name = "oracle (study sample)" if ref.startswith("oracle:") else ref.split(":")[0]
            ax.plot(g["labelled_per_speaker"], g["UA"], style, color=color, lw=1.2, label=name)
        for m in [models] if isinstance(models, str) else models:
            g = summary[summary["model"] == m].sort_values("labelled_per_speaker")
            ax.errorbar(g["labelled_per_speaker"], g["UA"], yerr=g["sd_seeds"], fmt="o-", ms=4, capsize=2,
                        color=_color(m), label=m)
        ax.set_xscale("log", base=2)
        sizes = sorted(summary["labelled_per_speaker"].unique())
        ax.set_xticks(sizes, [f"{s:.0f}" for s in sizes])
        ax.minorticks_off()
        ax.set(title=f"{title}\n(oracles: {refs[1].split(': ')[1]})", ylim=(0.0, 1.0))
    axes[0].set_ylabel("validation UA")
    fig.supxlabel("labelled utterances per speaker (log scale)")
    _figure_legend(fig, axes)
    return fig
