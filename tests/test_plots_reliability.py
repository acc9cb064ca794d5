"""mmlib.plots_reliability: each figure draws what its table holds (hand-made tables)."""

import matplotlib.pyplot as plt
import pandas as pd

from mmlib import plots_reliability as pr


def test_sweep_one_panel_per_weakened_modality_one_curve_per_head():
    rows = [{"modality": mod, "level": lv, "model": m, "gain": 0.1 * lv, "lo": 0.0, "hi": 0.2, "gap_weak": 1 - lv}
            for mod in ("voice", "face") for lv in (1.0, 0.5, 0.0) for m in ("matchmap", "concat")]
    fig = pr.sweep(pd.DataFrame(rows))
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == [pr.WEAKENED["face"], pr.WEAKENED["voice"]]
    assert axes[0].get_xlabel() == "audio-only - video-only (UA)"
    curves = axes[0].containers  # one errorbar container per head
    assert len(curves) == 2 and list(curves[0].lines[0].get_xdata()) == [0.0, 0.5, 1.0]  # sorted by gap
    assert list(curves[0].lines[0].get_ydata()) == [0.1, 0.05, 0.0]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["concat", "matchmap"]  # the study's order
    plt.close(fig)


def test_missing_modality_bars_and_effective_robustness_panels():
    summ = pd.DataFrame([{"model": m, "condition": c, "UA": 0.5, "lo": 0.4, "hi": 0.6} for m, c in
                         [("audio", "audio only"), ("matchmap", "audio+video"), ("matchmap", "audio only"),
                          ("matchmap", "video only")]])
    fig = pr.missing_modality(summ, chance=0.25)
    ax = fig.axes[0]
    assert len(ax.patches) == 4 and [t.get_text() for t in ax.get_xticklabels()] == ["audio", "matchmap"]
    plt.close(fig)
    eff = pd.DataFrame([{"model": m, "knob": "audio.snr_db", "level": lv, "fold": 1, "seed": 1, "relative": 1.0,
                         "gain_over_intact": None if m == "video" else 0.1, "intact": "video"}
                        for m in ("video", "matchmap") for lv in (None, 10.0, 0.0)])
    fig = pr.effective_robustness(eff)
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "audio.snr_db: fusion - video-only model"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["clean", "10", "0"]
    plt.close(fig)
