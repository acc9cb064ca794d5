"""Claim 2's controls on the quick profile, end to end (the sweep's corpus generation, training, scoring): on a
corpus whose face shows no emotion the video stream contributes nothing to matchmap, late fusion stays within
noise of the audio model, and OGM-GE's discrepancy ratio moves away from 1 (the audio branch dominates)."""

import pathlib

import numpy as np
import pytest

from mmlib.analysis import metrics
from mmlib.analysis import reliability as rel
from mmlib.runner import sweep
from mmlib.training import checkpoints

# the quick profile, on a corpus large enough to learn from in seconds (4 dialogs per session), three folds
OVERRIDES = {"synth.impro_per_session": 2, "synth.script_per_session": 2, "synth.turns": (14, 18),
             "folds": (1, 2, 3), "train.max_epochs": 15, "train.patience": 5}


@pytest.mark.slow
def test_at_face_0_video_contributes_nothing_late_fusion_follows_audio_and_ogm_ge_acts(tmp_path):
    models = sweep.sweep_models(["audio", "video", "matchmap"], [{"train.balance": "ogm_ge"}],
                              control_modalities=("face",))
    out = sweep.reliability_sweep("quick", "face", [0.0], models, str(tmp_path / "data"), OVERRIDES,
                                results_dir=str(tmp_path / "results"), progress=False)
    pred = rel.with_controls(out["predictions"])
    ua = metrics.per_fold(pred).groupby("model")["UA"].mean()
    print(ua.round(3).to_dict())
    # the face's cue is unrelated to the label: its oracle is at chance up to the noise of ~120 test utterances
    # (measured 0.273 at face reliability 0; exactly 0.25 only under the old expressiveness knob); bound 0.35
    assert abs(ua["oracle: valence only"] - 0.25) < 0.1
    # the voice still carries arousal: the audio model learns it (above the 0.25 of chance)
    assert ua["audio"] > 0.30  # seeds 42-46: 0.361-0.484; bound 0.30 (was 0.35)
    contrib = out["contributions"].set_index("model")
    print(contrib[["phi_audio", "phi_video", "video_share"]].round(3))
    mm = contrib.loc["matchmap"]
    # the face adds ~nothing, the voice carries it; Shapley values of one seed x 3 folds move with the training noise
    assert abs(mm["phi_video"]) < 0.13  # seeds 42-46: -0.030 to 0.051; bound 0.13 (was 0.05)
    assert mm["phi_audio"] > 0.05  # seeds 42-46: 0.106-0.213; bound 0.05 (was 0.1)
    runs = out["contribution_runs"]
    # in every fold of both fusion models the voice contributes more than the face
    assert (runs["phi_audio"] > runs["phi_video"]).all()  # seeds 42-46: min phi_audio - phi_video 0.093 of 30 runs
    assert abs(ua[rel.LATE] - ua["audio"]) < 0.2  # within the noise of 3 folds x ~40 test utterances
    # seeds 42-46: late - audio -0.056 to 0.013; bound 0.2 (unchanged)
    ratios = rel.balance_ratios(checkpoints.learning_curves(checkpoints.Ledger(pathlib.Path(tmp_path / "results")),
                                                            tmp_path / "data" / "checkpoints"))
    print(ratios[["fold", "ratio_first_epoch", "ratio_kept_epoch", "coeff_audio_first_epoch"]])
    assert len(ratios) == 3 and (ratios["face_reliability"] == 0.0).all()
    # the ratio moves: the modulation acts; seeds 42-46: kept-epoch ratios 1.72-4.44; bound |r - 1| > 0.05 (unchanged)
    assert np.all(np.abs(ratios["ratio_kept_epoch"] - 1) > 0.05)
    # and on average the audio branch is the dominant one; seeds 42-46: mean 2.07-3.51; bound 1 (unchanged)
    assert ratios["ratio_kept_epoch"].mean() > 1
