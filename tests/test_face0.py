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
    assert ua["oracle: valence only"] == pytest.approx(0.25)  # the face's cue is gone: its oracle is at chance
    assert ua["audio"] > 0.35  # the voice still carries arousal: the audio model learns it
    contrib = out["contributions"].set_index("model")
    print(contrib[["phi_audio", "phi_video", "video_share"]].round(3))
    mm = contrib.loc["matchmap"]
    assert abs(mm["phi_video"]) < 0.05 and mm["phi_audio"] > 0.1  # the face adds ~nothing, the voice carries it
    assert abs(ua[rel.LATE] - ua["audio"]) < 0.2  # within the noise of 3 folds x ~40 test utterances
    ratios = rel.balance_ratios(checkpoints.learning_curves(checkpoints.Ledger(pathlib.Path(tmp_path / "results")),
                                                            tmp_path / "data" / "checkpoints"))
    print(ratios[["fold", "ratio_first_epoch", "ratio_kept_epoch", "coeff_audio_first_epoch"]])
    assert len(ratios) == 3 and (ratios["face_expressiveness"] == 0.0).all()
    assert np.all(np.abs(ratios["ratio_kept_epoch"] - 1) > 0.05)  # the ratio moves: the modulation acts
    assert ratios["ratio_kept_epoch"].mean() > 1  # and on average the audio branch is the dominant one
