"""Every figure of the study: no overlapping text, no legend over data, one colour per model, embedded fonts."""

import io
import json

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from mmlib.analysis import reliability
from mmlib.figures import figcheck, plots, plots_reliability
from mmlib.runner import views

CLASSES = ["neu", "hap", "sad", "ang"]
MODELS = ["matchmap_attn", "video", "concat", "audio", "matchmap"]  # deliberately not in the study's order


def _per_fold(models, folds=(1, 2, 3, 4, 5), seeds=(42, 43)):
    rng = np.random.default_rng(0)
    rows = [{"model": m, "fold": f, "seed": s, "n": 100, "WA": rng.uniform(0.3, 0.8), "UA": rng.uniform(0.3, 0.8),
             "macro_f1": rng.uniform(0.3, 0.8), **{f"recall_{c}": rng.uniform(0, 1) for c in CLASSES}}
            for m in models for f in folds for s in seeds]
    return pd.DataFrame(rows)


def _robustness():
    rows = []
    for knob, levels in (("audio.snr_db", [None, 10, 0, -10]), ("video.occlusion", [0.0, 0.3, 0.6, 0.9])):
        for level in levels:
            part = _per_fold(["audio", "video", "concat", "matchmap"], folds=(1, 2)).assign(knob=knob, level=level)
            rows.append(part)
    return pd.concat(rows, ignore_index=True)


def _summary(per_run, by=("model",)):
    """A metrics.summarize-shaped table from per-run scores (intervals: min and max of the runs)."""
    g = per_run.assign(level=per_run.get("level", 0).astype(str)) if "level" in by else per_run
    out = g.groupby(list(by), sort=False)["UA"].agg(UA_mean="mean", UA_lo="min", UA_hi="max").reset_index()
    return out


def _paired():
    rng = np.random.default_rng(3)
    return pd.DataFrame([{"model_a": a, "model_b": b, "metric": "UA", "diff": d, "diff_lo": d - 0.05,
                          "diff_hi": d + 0.05, "p_t": rng.uniform(0, 1), "p_holm": rng.uniform(0, 1)}
                         for (a, b), d in zip([("matchmap", "concat"), ("matchmap_attn", "concat"), ("matchmap", "audio")],
                                              (-0.02, 0.03, 0.15))])


SWEEP_MODELS = ("late fusion", "concat", "matchmap", "matchmap_attn", "matchmap[train.rank_weight=0.0]",
                "matchmap[train.balance=ogm_ge]")


def _sweep():
    """Rows of the sweep's tables (sweep_gains / sweep_versus / shapley's summary / sweep_scores), hand-made."""
    rows = [{"modality": m, "level": lv, "model": h, "diff": 0.1 - 0.1 * lv + k * 0.01, "diff_lo": -0.05,
             "diff_hi": 0.2, "gap_weak": 0.3 * (1 - lv), "oracle_gain": 0.2 * lv, "phi_audio": 0.3, "phi_audio_lo": 0.2,
             "phi_audio_hi": 0.4, "phi_video": 0.2 * lv, "phi_video_lo": 0.2 * lv - 0.05, "phi_video_hi": 0.2 * lv + 0.05,
             "UA_mean": 0.5 + 0.2 * lv, "UA_lo": 0.45 + 0.2 * lv, "UA_hi": 0.55 + 0.2 * lv, "ceiling": 0.84}
            for m in ("face", "voice") for lv in (0.0, 0.25, 0.5, 0.75, 1.0) for k, h in enumerate(SWEEP_MODELS)]
    uni = [{"modality": m, "level": lv, "model": h, "UA_mean": 0.5, "UA_lo": 0.45, "UA_hi": 0.55, "ceiling": 0.66}
           for m in ("face", "voice") for lv in (0.0, 0.25, 0.5, 0.75, 1.0) for h in ("audio", "video")]
    return pd.DataFrame(rows), pd.concat([pd.DataFrame(rows), pd.DataFrame(uni)], ignore_index=True)


def _rob_summary():
    return pd.DataFrame([{"knob": k, "level": lv, "normalizer": n, "model": m, "UA_mean": 0.5, "UA_lo": 0.4,
                          "UA_hi": 0.6} for k, levels in (("audio.snr_db", ["clean", "30", "20", "15", "10"]),
                                                         ("video.occlusion", ["0", "0.1", "0.2", "0.3"]))
                         for lv in levels for n in ("clean", "refitted")
                         for m in ("audio", "video", "late fusion", "concat", "matchmap",
                                   "matchmap[train.modality_dropout=0.5]")])


def _missing():
    rows = [{"model": m, "condition": c, "UA": 0.5, "lo": 0.4, "hi": 0.6}
            for m in ("concat", "matchmap", "matchmap[train.modality_dropout=0.5]")
            for c in ("audio+video", "audio only", "video only")]
    return pd.DataFrame(rows + [{"model": "audio", "condition": "audio only", "UA": 0.45, "lo": 0.4, "hi": 0.5}])


def _confusions(normalized):
    rng = np.random.default_rng(1)
    out = {}
    for m in MODELS + ["concat (train-only norm)"]:
        counts = rng.integers(0, 40, (4, 4))
        cm = counts / counts.sum(axis=1, keepdims=True) if normalized else counts
        out[m] = pd.DataFrame(cm, index=CLASSES, columns=CLASSES)
    return out


def _matchmap_items(st):
    rng = np.random.default_rng(2)
    uids = sorted(st.table["id"])[:3]
    return [{"title": f"{u}\ntrue neu, predicted hap", "M": rng.normal(size=(16, 9)), "spec": st.feats.audio[u][0],
             "frames": st.feats.video[u]} for u in uids]


def _figures(st):
    """Every figure function of the quick study, on the quick corpus and hand-made result tables."""
    uid = st.table.sort_values("id")["id"].iloc[0]
    wave, sr, frames, fps = views.av_trace(st, uid)
    fusion = _per_fold(MODELS)
    ablation = _per_fold([f"matchmap[train.similarity={s}]" for s in ("SISA", "MISA", "SIMA")]
                         + [f"matchmap[train.rank_weight={w}]" for w in (0.0, 0.078, 0.5)])
    return {
        "class_balance": lambda: plots.class_balance(st.corpus),
        "durations": lambda: plots.durations(st.corpus),
        "vad_by_class": lambda: plots.vad_by_class(st.corpus),
        "vad_by_class (no annotation)": lambda: plots.vad_by_class(st.corpus.assign(valence=np.nan, arousal=np.nan,
                                                                                     dominance=np.nan)),
        "examples_per_class": lambda: plots.examples(*views.examples_per_class(st)),
        "audio_mouth_sync": lambda: plots.av_sync(wave, sr, frames, fps, uid),
        "unimodal_fold_scores": lambda: plots.fold_scores(_per_fold(["video", "audio"]), title="Unimodal models"),
        "model_comparison_ua": lambda: plots.estimates(_summary(fusion), "UA", fusion, chance=0.25,
                                                       ceilings={"audio": 0.65, "video": 0.67, "concat": 0.84,
                                                                 "matchmap": 0.84, "matchmap_attn": 0.84}),
        "ablation_similarity_weight": lambda: plots.estimates(_summary(ablation), "UA", ablation),
        "claims_paired_differences": lambda: plots.paired_differences(_paired()),
        "robustness_ua": lambda: plots_reliability.robustness(_rob_summary(), chance=0.25),
        "sweep_scores": lambda: plots_reliability.sweep_scores(_sweep()[1]),
        "sweep_gain_vs_gap": lambda: plots_reliability.sweep_gains(_sweep()[0]),
        "sweep_gain_vs_gap (levels at one gap)": lambda: plots_reliability.sweep_gains(_sweep()[0].assign(gap_weak=0.0)),
        "sweep_versus_concat": lambda: plots_reliability.sweep_versus(_sweep()[0][lambda d: d["model"] != "concat"]),
        "contributions": lambda: plots_reliability.contributions(_sweep()[0]),
        "claim2": lambda: plots.paired_differences(_paired().assign(label=[
            "matchmap - concat: change per unit of lost face reliability (levels 0, 0.5, 1)",
            "matchmap - the audio model at face reliability 0.5",
            "matchmap given audio only vs the audio model"])),
        "missing_modality_ua": lambda: plots_reliability.missing_modality(_missing(), "UA", chance=0.25),
        "effective_robustness": lambda: plots_reliability.effective_robustness(
            reliability.effective_robustness(_robustness())),
        "matchmap_heatmaps": lambda: plots.matchmap_heatmaps(_matchmap_items(st)),
        "confusion_counts": lambda: plots.confusions(_confusions(False), normalized=False),
        "confusion_normalized": lambda: plots.confusions(_confusions(True), normalized=True),
        "per_class_recall": lambda: plots.per_class_recall(fusion, CLASSES),
    }


def test_every_figure_has_no_overlapping_text_and_no_legend_over_data(quick_session):
    found = {}
    for name, make in _figures(quick_session).items():
        fig = make()
        problems = figcheck.problems(fig)
        if problems:
            found[name] = problems
        width = fig.get_size_inches()[0]
        if width > plots.PAGE + 1e-9:
            found.setdefault(name, []).append(f"{width} in wide, wider than two columns")
        plt.close(fig)
    assert found == {}


def test_figcheck_finds_the_defects_it_is_for():
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    axes[0].plot([0, 1], [0, 1], label="audio")
    axes[0].legend(loc="center")  # inside the data
    axes[1].set_ylabel("a label long enough to run into the left panel", rotation=0, ha="right")
    axes[1].text(0.5, 0.5, "one")
    axes[1].text(0.5, 0.5, "two")
    problems = figcheck.problems(fig)
    assert "text 'one' overlaps text 'two'" in problems
    assert any(p.startswith("legend (audio...) covers panel") for p in problems)
    assert any(p.startswith("text 'a label long enough to run into the left panel' runs into panel") for p in problems)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_xticks(range(5), ["matchmap_attn"] * 5, rotation=30, ha="right", rotation_mode="anchor")
    assert figcheck.problems(fig) == []  # rotated neighbours do not touch, although their extents do
    plt.close(fig)


def test_models_keep_one_colour_and_order():
    names = ["matchmap[train.similarity=SISA]", "video", "concat (train-only norm)", "mystery", "audio",
             "matchmap_attn", "matchmap", "concat"]
    assert plots.model_order(names) == ["audio", "video", "concat", "concat (train-only norm)", "matchmap",
                                        "matchmap[train.similarity=SISA]", "matchmap_attn", "mystery"]
    pal = plots.model_palette(names)
    assert pal["audio"] == "#0072B2" and pal["video"] == "#E69F00" and pal["concat"] == "#009E73"
    assert pal["matchmap"] == "#D55E00" and pal["matchmap_attn"] == "#CC79A7" and pal["mystery"] == "#000000"
    assert plots.model_palette(["audio"])["audio"] == pal["audio"]  # the same in every figure
    for variant, base in (("matchmap[train.similarity=SISA]", "matchmap"), ("concat (train-only norm)", "concat")):
        hv = mcolors.rgb_to_hsv(mcolors.to_rgb(pal[variant]))
        hb = mcolors.rgb_to_hsv(mcolors.to_rgb(pal[base]))
        assert abs(hv[0] - hb[0]) < 0.02 and pal[variant] != pal[base]  # same hue family, another shade
    assert plots.base_model("matchmap_attn[x=1]") == "matchmap_attn" and plots.base_model("matchmapper") is None
    variants = [f"matchmap[train.rank_weight={w}]" for w in range(6)]
    assert len(set(plots.model_palette(variants).values())) == 6  # no two variants share a shade


def test_pdf_embeds_dejavu_as_truetype():
    fig, ax = plt.subplots(figsize=(plots.COLUMN, 2))
    ax.set_title("UA ± sd")
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    pdf = buf.getvalue()
    assert b"/FontFile2" in pdf and b"DejaVuSans" in pdf and b"/Subtype /Type3" not in pdf


def test_save_writes_png_and_pdf_and_returns_none(tmp_path):
    fig, ax = plt.subplots()
    assert plots.save(fig, "x", tmp_path / "figs") is None
    assert (tmp_path / "figs" / "x.png").stat().st_size > 0 and (tmp_path / "figs" / "x.pdf").stat().st_size > 0
    plt.close(fig)


def test_matchmap_grid_must_be_square_or_given():
    with pytest.raises(ValueError, match="matchmap has 12 video positions, not a square grid"):
        plots._grid(12, {})
    assert plots._grid(12, {"grid": (3, 2, 2)}) == (3, 2, 2) and plots._grid(49, {}) == (1, 7, 7)


def test_save_records_each_figures_layout_check_and_warns_on_a_defect(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    plots.save(fig, "clean", tmp_path)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.text(0.5, 0.5, "one")
    ax.text(0.5, 0.5, "two")
    with pytest.warns(UserWarning, match="figure bad: text 'one' overlaps text 'two'"):
        plots.save(fig, "bad", tmp_path)
    plt.close(fig)
    log = json.loads((tmp_path / plots.LAYOUT_CHECK).read_text())
    assert log == {"bad": ["text 'one' overlaps text 'two'"], "clean": []}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pdf", "bad.png", "clean.pdf", "clean.png",
                                                          plots.LAYOUT_CHECK]
