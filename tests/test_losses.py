"""Ranking losses on hand-made similarity matrices, impostor sampling, and the multi-task sum.

    .venv/bin/python -m pytest -q tests/test_losses.py
"""

import math

import pytest
import torch

from mmlib.models import build_model
from mmlib.models.matchmap import pairwise_similarity
from mmlib.training.losses import (
    LossWeights,
    full_batch_ranking_loss,
    multitask_loss,
    sample_impostors,
    sampled_margin_ranking_loss,
)

torch.set_num_threads(1)

# B = 2: each anchor's only impostor is the other item.
# anchor 0: max(0, 1 + S[1,0] - 2) + max(0, 1 + S[0,1] - 2) = 0 + 0.5
# anchor 1: max(0, 1 + S[0,1] - 1) + max(0, 1 + S[1,0] - 1) = 1.5 + 0
S2 = torch.tensor([[2.0, 1.5], [0.0, 1.0]])

# B = 3, labels (0, 0, 1): anchors 0 and 1 may only pick item 2; the 9s (same label) must never be used.
# anchor 0: max(0, 1 + 0.5 - 3) + max(0, 1 + 2.5 - 3) = 0.5
# anchor 1: max(0, 1 + 0.5 - 1) + max(0, 1 + 2.5 - 1) = 3.0
# anchor 2: impostor 0 or 1 give the same: max(0, 1 + 2.5 - 1) + max(0, 1 + 0.5 - 1) = 3.0
S3 = torch.tensor([[3.0, 9.0, 2.5], [9.0, 1.0, 2.5], [0.5, 0.5, 1.0]])
Y3 = torch.tensor([0, 0, 1])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("seed", range(5))
def test_sampled_loss_hand_values(seed):
    assert sampled_margin_ranking_loss(S2, generator=gen(seed)).item() == pytest.approx(1.0)
    assert sampled_margin_ranking_loss(S3, Y3, generator=gen(seed)).item() == pytest.approx(6.5 / 3)
    assert sampled_margin_ranking_loss(S2, margin=0.0, generator=gen(seed)).item() == pytest.approx(0.5 / 2)


def test_full_batch_hinge_hand_values():
    assert full_batch_ranking_loss(S2).item() == pytest.approx(1.0)
    assert full_batch_ranking_loss(S3, Y3).item() == pytest.approx(6.5 / 3)
    # without labels anchors 0 and 1 also rank each other (cost_audio + cost_video per negative):
    #   anchor 0: j=1: max(0, 1+9-3) + max(0, 1+9-3) = 14; j=2: 0.5 + 0 -> mean 7.25
    #   anchor 1: j=0: 9 + 9 = 18; j=2: 2.5 + 0.5 = 3 -> mean 10.5
    #   anchor 2: j=0: 2.5 + 0.5; j=1: 2.5 + 0.5 -> mean 3
    assert full_batch_ranking_loss(S3).item() == pytest.approx((7.25 + 10.5 + 3.0) / 3)


def test_infonce_hand_values():
    S = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = math.log(1 + math.exp(-1))
    assert full_batch_ranking_loss(S, kind="infonce", temperature=1.0).item() == pytest.approx(expected)
    # same label: the only negative is masked out, nothing left to rank
    same = torch.tensor([3, 3])
    assert full_batch_ranking_loss(S, same, kind="infonce", temperature=1.0).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="kind"):
        full_batch_ranking_loss(S, kind="triplet")
    with pytest.raises(ValueError, match="square"):
        sampled_margin_ranking_loss(torch.zeros(2, 3))


def test_impostors_have_other_labels_and_cover_all_of_them():
    g = gen(1)
    seen = set()
    for _ in range(200):
        labels = torch.randint(0, 3, (10,), generator=g)
        imp_v, imp_a, has = sample_impostors(10, labels, g)
        assert torch.equal(has, (labels[:, None] != labels[None, :]).any(1))
        for imp in (imp_v, imp_a):
            assert (labels[imp][has] != labels[has]).all()
        imp_v, _, _ = sample_impostors(4, None, g)
        assert (imp_v != torch.arange(4)).all()
        seen.add(int(imp_v[0]))
    assert seen == {1, 2, 3}  # anchor 0 draws every other item


def test_anchors_without_impostor_contribute_nothing():
    S = torch.randn(3, 3, requires_grad=True)
    loss = sampled_margin_ranking_loss(S, torch.tensor([1, 1, 1]), generator=gen())
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph
    assert torch.equal(S.grad, torch.zeros(3, 3))
    assert full_batch_ranking_loss(S.detach(), torch.tensor([1, 1, 1])).item() == 0.0


def test_determinism_with_seed():
    S = torch.randn(16, 16, generator=gen(3))
    y = torch.randint(0, 4, (16,), generator=gen(4))
    a = sampled_margin_ranking_loss(S, y, generator=gen(7))
    b = sampled_margin_ranking_loss(S, y, generator=gen(7))
    assert torch.equal(a, b)
    others = {sampled_margin_ranking_loss(S, y, generator=gen(s)).item() for s in range(8)}
    assert len(others) > 1


def test_normalized_once_duplicated_batch_same_value():
    # duplicate the batch (items i and i + 2 identical): every impostor choice is equivalent,
    # so the mean over anchors must not change (dividing by B twice would halve it)
    S4 = S2.repeat(2, 2)
    y4 = torch.tensor([0, 1, 0, 1])
    for seed in range(5):
        assert sampled_margin_ranking_loss(S4, y4, generator=gen(seed)).item() == pytest.approx(1.0)
    assert full_batch_ranking_loss(S4, y4).item() == pytest.approx(1.0)
    S = torch.randn(6, 6, generator=gen(2))
    y = torch.arange(6)
    assert full_batch_ranking_loss(S.repeat(2, 2), y.repeat(2)).item() == pytest.approx(
        full_batch_ranking_loss(S, y).item()
    )


def test_sampled_loss_averages_to_full_hinge():
    S = torch.randn(6, 6, generator=gen(5))
    y = torch.tensor([0, 1, 1, 2, 2, 2])
    g = gen(6)
    mean = torch.stack([sampled_margin_ranking_loss(S, y, generator=g) for _ in range(3000)]).mean()
    assert mean.item() == pytest.approx(full_batch_ranking_loss(S, y).item(), rel=0.03)


@pytest.mark.parametrize("kind", ["sampled", "hinge", "infonce"])
def test_gradient_flows_to_features(kind):
    V = torch.randn(6, 8, 3, 3, requires_grad=True)
    A = torch.randn(6, 8, 5, requires_grad=True)
    S = pairwise_similarity(V, A, "SIMA")
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    if kind == "sampled":
        loss = sampled_margin_ranking_loss(S, y, margin=100.0, generator=gen())
    else:
        loss = full_batch_ranking_loss(S, y, margin=100.0, kind=kind)
    loss.backward()
    assert V.grad.abs().sum() > 0 and A.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    model = build_model(
        "concat", 4, audio_width=1.0, video_arch="narrow", video_width=2, dim=8, pool_hw=2,
        aux_heads=True, vad_head=True, audio_final_kernel=3,
    )
    model.eval()  # BatchNorm deterministic across calls
    g = gen(0)
    batch = dict(
        audio=torch.randn(4, 3, 40, 48, generator=g),
        video=torch.randn(4, 3, 4, 32, 32, generator=g),  # 32 px: 2 x 2 trunk cells for pool_hw=2
        audio_lengths=torch.tensor([48, 40, 33, 48]),
    )
    y = torch.tensor([0, 1, 2, 3])
    vad = torch.tensor([[1.0, 2.0, 3.0], [float("nan"), 1.0, 2.0], [0.5, float("nan"), 1.0], [2.0, 2.0, 2.0]])
    return model, batch, y, vad


def grads_for(model, batch, y, vad, weights: LossWeights) -> torch.Tensor:
    model.zero_grad()
    total, parts = multitask_loss(model(**batch), y, vad, weights, generator=gen(0))
    assert torch.isfinite(total)
    total.backward()
    return torch.cat([p.grad.flatten() for p in model.audio_encoder.parameters()])


@pytest.mark.parametrize("name", ["w_rank", "w_aux", "w_vad"])
def test_each_weight_changes_the_gradient(tiny_model, name):
    model, batch, y, vad = tiny_model
    base = LossWeights(margin=100.0)  # margin large: every hinge active
    off = grads_for(model, batch, y, vad, base)
    on = grads_for(model, batch, y, vad, LossWeights(margin=100.0, **{name: 0.5}))
    assert not torch.allclose(off, on)
    again = grads_for(model, batch, y, vad, base)
    assert torch.equal(off, again)  # the difference comes from the weight alone


def test_multitask_parts_and_total(tiny_model):
    model, batch, y, vad = tiny_model
    w = LossWeights(w_rank=0.1, w_aux=0.2, w_vad=0.3, ranking="infonce")
    total, parts = multitask_loss(model(**batch), y, vad, w)
    assert set(parts) == {"ce", "rank", "aux", "vad", "total"}
    assert all(not p.requires_grad for p in parts.values())
    expected = parts["ce"] + 0.1 * parts["rank"] + 0.2 * parts["aux"] + 0.3 * parts["vad"]
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    # weights 0: cross-entropy only
    total0, parts0 = multitask_loss(model(**batch), y, vad)
    assert set(parts0) == {"ce", "total"} and total0.item() == pytest.approx(parts["ce"].item(), rel=1e-6)


def test_vad_ignores_nan_targets():
    out = {"logits": torch.zeros(2, 4), "vad": torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])}
    target = torch.tensor([[2.0, float("nan"), 3.0], [float("nan"), float("nan"), 2.0]])
    _, parts = multitask_loss(out, torch.tensor([0, 1]), target, LossWeights(w_vad=1.0))
    assert parts["vad"].item() == pytest.approx((1.0 + 0.0 + 4.0) / 3)
    _, parts = multitask_loss(out, torch.tensor([0, 1]), torch.full((2, 3), float("nan")), LossWeights(w_vad=1.0))
    assert parts["vad"].item() == 0.0
