"""mmlib.training.inference: one set of inputs (normalizer, dataset, padding) and one predict, on hand-made data."""

import numpy as np
import pandas as pd
import pytest
import torch

from mmlib.config import load_config
from mmlib.data import inputs
from mmlib.data.dataset import Normalizer, SpeakerNormalizer
from mmlib.data.features import FeatureSet
from mmlib.data.inputs import fixed_audio_frames
from mmlib.data.splits import Fold
from mmlib.training import inference
from mmlib.training.checkpoints import ModelSpec

IDS = ["u0", "u1", "u2", "u3"]
FOLD = Fold(3, ("u0", "u1"), ("u2",), ("u3",), ("S1",), ("S2",), ("S3",))


def table():
    return pd.DataFrame({"id": IDS, "speaker": ["S1", "S1", "S2", "S3"], "label": ["neu", "hap", "sad", "ang"],
                         "valence": 1.0, "arousal": 2.0, "dominance": 3.0, "start": 0.0, "end": 1.0})


def feats():
    # log-mel (3, 40, T) of value k for utterance k; faces (4, 8, 8, 3) of 10 k
    return FeatureSet(audio={u: np.full((3, 40, 5 + k), float(k), np.float32) for k, u in enumerate(IDS)},
                      video={u: np.full((4, 8, 8, 3), 10 * k, np.uint8) for k, u in enumerate(IDS)})


def spec(head="concat", **over):
    return ModelSpec(load_config("quick", over), head, FOLD, 7)


class MeanModel(torch.nn.Module):
    """logits = (mean audio, mean video, number of real audio frames, 0): every input shows in the output."""

    def forward(self, audio, video, lengths=None):
        n = (audio if audio is not None else video).shape[0]
        a = audio.flatten(1).mean(1) if audio is not None else torch.zeros(n)
        v = video.flatten(1).mean(1) if video is not None else torch.zeros(n)
        t = lengths.float() if lengths is not None else torch.zeros(n)
        return {"logits": torch.stack([a, v, t, torch.zeros(n)], 1)}


def test_predict_columns_values_and_the_blanked_stream():
    s = spec(**{"data.speaker_norm": False})
    ds = inputs.dataset(s, ["u3", "u0"], table(), feats(), Normalizer(0.0, 1.0))
    pred = inference.predict(MeanModel(), ds, s, name="m[x=1]", extra={"knob": "audio.snr_db", "level": "10"})
    assert list(pred.columns) == ["id", "fold", "seed", "model", "speaker", "knob", "level", "true", "pred",
                                  "p_neu", "p_hap", "p_sad", "p_ang"]
    assert pred["id"].tolist() == ["u3", "u0"] and (pred["fold"] == 3).all() and (pred["seed"] == 7).all()
    assert (pred["model"] == "m[x=1]").all() and pred["speaker"].tolist() == ["S3", "S1"]
    assert pred["true"].tolist() == ["ang", "neu"]
    # u3: audio 3.0, video 30 / 255 - 0.5, 8 real frames -> softmax of (3, -0.382, 8, 0)
    logits = torch.tensor([3.0, 30 / 255 - 0.5, 8.0, 0.0])
    assert np.allclose(pred.loc[0, ["p_neu", "p_hap", "p_sad", "p_ang"]].to_numpy(float), logits.softmax(0).numpy(),
                       atol=1e-6)
    assert pred.loc[0, "pred"] == "sad"
    blanked = inference.predict(MeanModel(), ds, s, missing="audio")
    zero = torch.tensor([0.0, 30 / 255 - 0.5, 8.0, 0.0])
    assert np.allclose(blanked.loc[0, ["p_neu", "p_hap", "p_sad", "p_ang"]].to_numpy(float), zero.softmax(0).numpy(),
                       atol=1e-6)
    assert (blanked["model"] == "concat").all()
    with pytest.raises(ValueError, match="modality must be one of"):
        inference.predict(MeanModel(), ds, s, missing="face")


def test_the_padding_rule():
    assert inputs.pad_frames(spec("matchmap")) == fixed_audio_frames(spec().cfg) == 301  # 3 s at 10 ms, + 1
    assert inputs.pad_frames(spec("concat")) is None and inputs.pad_frames(spec("matchmap_attn")) is None
    chunked = spec("concat", **{"audio.chunk_seconds": 1.0})
    assert inputs.pad_frames(chunked) == 100
    ds = inputs.dataset(spec("matchmap", **{"data.speaker_norm": False}), IDS, table(), feats(), Normalizer(0.0, 1.0))
    batch = next(iter(inputs.loader(ds, spec("matchmap"), batch_size=4)))
    assert batch["audio"].shape == (4, 3, 40, 301) and batch["audio_lengths"].tolist() == [5, 6, 7, 8]
    assert batch["audio_mask"].sum(1).tolist() == [5, 6, 7, 8]


def test_the_normalizer_of_a_fold():
    t, f = table(), feats()
    speaker = inputs.normalizer(spec(), t, f)
    assert isinstance(speaker, SpeakerNormalizer)
    train_only = inputs.normalizer(spec(**{"data.speaker_norm": False}), t, f)
    # fitted on the fold's training utterances only (u0: 0, u1: 1; lengths 5 and 6 frames)
    assert isinstance(train_only, Normalizer) and np.allclose(train_only.mean, 6 / 11)
    video_only = inputs.normalizer(spec("video", **{"data.speaker_norm": False}), t, f)
    assert (video_only.mean, video_only.std) == (0.0, 1.0)


def test_inputs_are_the_folds_three_parts_with_one_normalizer():
    s = spec(**{"data.speaker_norm": False})
    parts = inputs.fold_inputs(s, table(), feats())
    assert (parts.train.ids, parts.val.ids, parts.test.ids) == (["u0", "u1"], ["u2"], ["u3"])
    assert parts.train.norm is parts.test.norm is parts.norm
    assert parts.test.speakers == ["S3"]


def test_torch_threads_are_restored():
    before = torch.get_num_threads()
    with inference.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_predictions_run_under_the_autocast_the_model_was_trained_with():
    net = torch.nn.Linear(4, 2)
    x = torch.randn(3, 4)
    with inference.autocast(net, "bf16-mixed"):
        assert net(x).dtype == torch.bfloat16  # CPU autocast: the matrix product in bf16
    for precision in ("32-true", "auto"):
        with inference.autocast(net, precision):
            assert net(x).dtype == torch.float32
    with inference.autocast(torch.nn.Identity(), "bf16-mixed"):  # no weights: the CPU's autocast, nothing to fail
        assert torch.is_autocast_enabled("cpu")
