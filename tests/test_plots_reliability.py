"""mmlib.figures.plots_reliability: each figure draws what its table holds (hand-made tables)."""

import matplotlib.pyplot as plt
import pandas as pd

from mmlib.figures import plots_reliability as pr


def test_sweep_gains_one_panel_per_weakened_modality_one_curve_per_model_and_the_oracle():
    rows = [{"modality": mod, "level": lv, "model": m, "diff": 0.1 * lv, "diff_lo": 0.0, "diff_hi": 0.2,
             "gap_weak": 1 - lv, "oracle_gain": 0.3 * lv} for mod in ("voice", "face") for lv in (1.0, 0.5, 0.0)
            for m in ("matchmap", "concat", "matchmap[train.balance=ogm_ge]")]
    fig = pr.sweep_gains(pd.DataFrame(rows))
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["face weakened", "voice weakened"]
    assert axes[0].get_xlabel() == "audio model - video model (UA)"
    assert [ax.get_ylabel() for ax in axes] == ["fusion - the audio model (UA)", "fusion - the video model (UA)"]
    curves = axes[0].containers  # one errorbar container per model
    assert len(curves) == 3 and list(curves[0].lines[0].get_xdata()) == [0.0, 0.5, 1.0]  # sorted by gap
    assert list(curves[0].lines[0].get_ydata()) == [0.1, 0.05, 0.0]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [  # the study's order, in a paper's words
        "concat", "matchmap", "matchmap + OGM-GE", "oracle's gain (both cues - the intact stream's cue)"]
    plt.close(fig)


def test_robustness_panels_speak_the_readers_language():
    summ = pd.DataFrame([{"knob": k, "level": lv, "normalizer": n, "model": m, "UA_mean": 0.5, "UA_lo": 0.4,
                          "UA_hi": 0.6} for k, levels in (("audio.snr_db", ["clean", "20", "10"]),
                                                         ("video.occlusion", ["0", "0.1"]))
                         for lv in levels for n in ("clean", "refitted")
                         for m in ("audio", "matchmap[train.modality_dropout=0.5]")])
    fig = pr.robustness(summ, chance=0.25)
    assert [ax.get_xlabel() for ax in fig.axes] == ["speech SNR (dB)", "occluded share of the face"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["audio", "matchmap + modality dropout 0.5"]
    assert len(fig.axes[0].lines) == 2 * 2 + 1  # clean and refitted per model, chance
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
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "speech SNR (dB): fusion - the video model"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["clean", "10", "0"]
    plt.close(fig)


def test_sweep_figures_say_how_many_seeds_each_point_holds():
    rows = pd.DataFrame({"modality": ["face"] * 4, "level": [0.0, 1.0, 0.0, 1.0],
                         "model": ["audio", "audio", "matchmap", "matchmap"], "runs": [15, 5, 5, 5],
                         "folds": [5, 5, 5, 5]})
    assert pr._runs_note(rows) == "each point: 5 folds x 1 seed, 95 % interval (3 seeds: audio at face 0)"
    # an arm run at one level only is not drawn as a curve, so the note does not count it
    arm = pd.DataFrame({"modality": ["face"], "level": [0.0], "model": ["video"], "runs": [15], "folds": [5]})
    assert pr._runs_note(pd.concat([rows.iloc[1:], arm])) == "each point: 5 folds x 1 seed, 95 % interval"
    assert pr._runs_note(rows.drop(columns="folds")) == ""
    # a model on more seeds at every point is named once
    video = pd.DataFrame({"modality": ["face"] * 2, "level": [0.0, 1.0], "model": ["video"] * 2, "runs": [5, 5],
                          "folds": [5, 5]})
    every = pd.concat([rows.assign(runs=[15, 5, 15, 15]), video])
    assert pr._runs_note(every) == "each point: 5 folds x 1 seed, 95 % interval (3 seeds: audio at face 0; matchmap)"
