"""OGM-GE (train.balance = ogm_ge): the discrepancy ratio and coefficients on hand-made models, the gradient
modulation of the dominant encoder, and a unimodal model left alone."""

import math

import pytest
import torch

from mmlib.training.fit import EmotionModule, ogm_ge_coefficients
from mmlib.training.losses import LossWeights


class TwoBranch(torch.nn.Module):
    """logits = audio_encoder(mean audio) + video_encoder(mean video): each branch a Linear(1, 2)."""

    def __init__(self, audio_gain: float, video_gain: float):
        super().__init__()
        self.audio_encoder, self.video_encoder = torch.nn.Linear(1, 2), torch.nn.Linear(1, 2)
        with torch.no_grad():
            for enc, g in ((self.audio_encoder, audio_gain), (self.video_encoder, video_gain)):
                enc.weight.copy_(torch.tensor([[g], [-g]]))
                enc.bias.zero_()

    def forward(self, audio, video, lengths=None):
        a = self.audio_encoder(audio.flatten(1).mean(1, keepdim=True))
        v = self.video_encoder(video.flatten(1).mean(1, keepdim=True))
        return {"logits": a + v}


def batch(n: int = 8) -> dict:
    label = torch.tensor([0, 1] * (n // 2))
    sign = (1 - 2 * label).float()[:, None, None]  # class 0: +1, class 1: -1, in both streams
    return {"audio": sign.expand(n, 3, 4).clone(), "video": sign.expand(n, 3, 4).clone(), "label": label}


def test_the_ratio_moves_when_one_branch_dominates_and_only_the_dominant_branch_is_slowed():
    ratio, coeff = ogm_ge_coefficients(TwoBranch(3.0, 0.2), batch(), alpha=0.5)
    p_a, p_v = 1 / (1 + math.exp(-6.0)), 1 / (1 + math.exp(-0.4))  # true-class softmax of each branch alone
    assert ratio == pytest.approx(p_a / p_v) and ratio > 1.3
    assert coeff == pytest.approx({"audio": 1 - math.tanh(0.5 * (ratio - 1)), "video": 1.0})
    ratio, coeff = ogm_ge_coefficients(TwoBranch(0.2, 3.0), batch(), alpha=0.5)
    assert ratio == pytest.approx(p_v / p_a) and coeff["audio"] == 1.0 and coeff["video"] < 1.0
    ratio, coeff = ogm_ge_coefficients(TwoBranch(1.0, 1.0), batch(), alpha=0.5)
    assert ratio == pytest.approx(1.0) and coeff == {"audio": 1.0, "video": 1.0}  # balanced: nothing to modulate


def test_the_dominant_encoders_gradients_are_scaled_and_noised_the_others_untouched():
    model = TwoBranch(3.0, 0.2)
    module = EmotionModule(model, LossWeights(), 1e-3, 0.0, seed=0, n_classes=2, balance="ogm_ge", balance_alpha=0.5)
    b = batch()
    _, module._coeff = ogm_ge_coefficients(model, b, 0.5)
    loss = torch.nn.functional.cross_entropy(model(b["audio"], b["video"])["logits"], b["label"])
    loss.backward()
    before = {n: p.grad.clone() for n, p in model.named_parameters()}
    module.on_after_backward()
    k = module._coeff["audio"]
    noise = model.audio_encoder.weight.grad - k * before["audio_encoder.weight"]
    assert noise.abs().sum() > 0  # the generalization enhancement: noise on the modulated gradients
    assert torch.equal(model.video_encoder.weight.grad, before["video_encoder.weight"])


def test_a_unimodal_model_is_never_balanced():
    class Audio(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.audio_encoder, self.video_encoder = torch.nn.Linear(1, 2), None

    module = EmotionModule(Audio(), LossWeights(), 1e-3, 0.0, seed=0, n_classes=2, balance="ogm_ge")
    assert module.balance == "none"
