"""Matchmap, pooled similarities and the batched B x B matrix against hand values and a slow loop.

    .venv/bin/python -m pytest -q tests/test_matchmap.py
"""

import pytest
import torch

from mmlib.models.matchmap import KINDS, matchmap, pairwise_similarity, similarity
from mmlib.models.matchmap import pairwise_similarity_loop as slow_pairwise

torch.set_num_threads(1)


def mask_of(lengths: torch.Tensor, T: int) -> torch.Tensor:
    return torch.arange(T) < lengths[:, None]


# Hand-made 1-d features (D = 1): video positions v = (1, -2, 3), audio frames a = (2, 1 | pad -1)
# M[p, t] = v_p * a_t = [[2, 1], [-4, -2], [6, 3]] on the two real frames.
V1 = torch.tensor([[[1.0, -2.0, 3.0]], [[1.0, 1.0, 1.0]]])  # (2, 1, 3): second video all ones
A1 = torch.tensor([[[2.0, 1.0, -1.0]], [[4.0, 7.0, 7.0]]])  # (2, 1, 3): second audio has 1 real frame
L1 = torch.tensor([2, 1])
HAND = {  # kind -> (score of pair 0 masked, unmasked, full 2 x 2 masked matrix)
    "SISA": (1.0, 4 / 9, [[1.0, 8 / 3], [1.5, 4.0]]),
    "MISA": (4.5, 11 / 3, [[4.5, 12.0], [1.5, 4.0]]),
    "SIMA": (2.0, 10 / 3, [[2.0, 8 / 3], [2.0, 4.0]]),
}


def test_matchmap_hand_values():
    M = matchmap(V1, A1)  # (2, 3, 3)
    assert M.shape == (2, 3, 3)
    assert torch.equal(M[0], torch.tensor([[2.0, 1.0, -1.0], [-4.0, -2.0, 2.0], [6.0, 3.0, -3.0]]))


@pytest.mark.parametrize("kind", KINDS)
def test_similarity_hand_values(kind):
    masked, unmasked, matrix = HAND[kind]
    M = matchmap(V1, A1)
    assert similarity(M, kind, mask_of(L1, 3))[0].item() == pytest.approx(masked)
    assert similarity(M[:1], kind)[0].item() == pytest.approx(unmasked)
    S = pairwise_similarity(V1, A1, kind, mask_of(L1, 3))
    assert torch.allclose(S, torch.tensor(matrix))


def test_unknown_kind_and_bad_mask():
    with pytest.raises(ValueError, match="kind"):
        similarity(matchmap(V1, A1), "MAX")
    with pytest.raises(ValueError, match="audio_mask"):
        pairwise_similarity(V1, A1, "SIMA", torch.ones(2, 4, dtype=torch.bool))


def random_inputs(pos: tuple[int, ...], I: int = 5, J: int = 6, D: int = 7, T: int = 9, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(I, D, *pos, generator=g, dtype=torch.float64)
    A = torch.randn(J, D, T, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, T + 1, (J,), generator=g)
    lengths[0] = T  # one item without padding
    lengths[1] = 1  # one item of a single frame
    return V, A, lengths


POSITIONS = [(3, 2), (2, 3, 2)]  # (H, W) and (T_v, H, W)


@pytest.mark.parametrize("pos", POSITIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_similarity_matches_loop(kind, pos):
    V, A, lengths = random_inputs(pos, I=6)
    M = matchmap(V, A)  # (6, *pos, T): pair b = (video b, audio b)
    assert M.shape == (6, *pos, A.shape[-1])
    s = similarity(M, kind, mask_of(lengths, A.shape[-1]))
    ref = slow_pairwise(V, A, kind, lengths).diagonal()
    assert torch.allclose(s, ref, atol=1e-5)


@pytest.mark.parametrize("chunk_size", [None, 1, 2, 4])
@pytest.mark.parametrize("pos", POSITIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_pairwise_matches_loop_values_and_gradients(kind, pos, chunk_size):
    V, A, lengths = random_inputs(pos)
    weights = torch.randn(V.shape[0], A.shape[0], dtype=torch.float64)  # a generic upstream gradient
    grads = []
    for fn in (
        lambda v, a: pairwise_similarity(v, a, kind, mask_of(lengths, a.shape[-1]), chunk_size),
        lambda v, a: slow_pairwise(v, a, kind, lengths),
    ):
        v, a = V.clone().requires_grad_(), A.clone().requires_grad_()
        S = fn(v, a)
        (S * weights).sum().backward()
        grads.append((S.detach(), v.grad, a.grad))
    (S, gV, gA), (S_ref, gV_ref, gA_ref) = grads
    assert S.shape == (V.shape[0], A.shape[0])
    assert torch.allclose(S, S_ref, atol=1e-5)
    assert torch.allclose(gV, gV_ref, atol=1e-5)
    assert torch.allclose(gA, gA_ref, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_pairwise_gradcheck(kind):
    V, A, lengths = random_inputs((2, 2), I=3, J=4, D=3, T=5)
    mask = mask_of(lengths, 5)
    f = lambda v, a: pairwise_similarity(v, a, kind, mask, chunk_size=2)  # noqa: E731
    assert torch.autograd.gradcheck(f, (V.requires_grad_(), A.requires_grad_()))


@pytest.mark.parametrize("huge", [1e30, float("inf"), float("nan")])
@pytest.mark.parametrize("kind", KINDS)
def test_padded_frames_do_not_matter(kind, huge):
    V, A, lengths = random_inputs((3, 2))
    mask = mask_of(lengths, A.shape[-1])
    A_bad = A.masked_fill(~mask[:, None, :], huge)
    S = pairwise_similarity(V, A, kind, mask)
    a = A_bad.clone().requires_grad_()
    S_bad = pairwise_similarity(V, a, kind, mask, chunk_size=2)
    assert torch.equal(S, S_bad.detach())
    S_bad.sum().backward()
    assert torch.isfinite(a.grad).all()
    assert (a.grad.masked_select(~mask[:, None, :]) == 0).all()  # padded frames get no gradient
    # the per-pair similarity of a matchmap ignores them too
    n = min(V.shape[0], A.shape[0])
    s_bad = similarity(matchmap(V[:n], A_bad[:n]), kind, mask[:n])
    assert torch.allclose(s_bad, S.diagonal()[:n], atol=1e-10)


def test_no_mask_means_all_frames_real():
    V, A, _ = random_inputs((3, 2))
    full = torch.full((A.shape[0],), A.shape[-1])
    for kind in KINDS:
        assert torch.allclose(pairwise_similarity(V, A, kind), slow_pairwise(V, A, kind, full), atol=1e-10)


def test_float32_and_default_chunking():
    V, A, lengths = random_inputs((7, 7), I=12, J=12, D=16, T=10)
    for kind in KINDS:
        S = pairwise_similarity(V.float(), A.float(), kind, mask_of(lengths, 10))
        assert S.dtype == torch.float32
        assert torch.allclose(S.double(), slow_pairwise(V, A, kind, lengths), atol=1e-4)


@pytest.mark.parametrize("kind", ["MISA", "SIMA"])
def test_streams_of_two_dtypes_under_autocast_are_promoted_and_train(kind):
    """Under bf16 autocast the video stream may arrive in bf16 and the audio stream in fp32 (or the reverse): the
    scores and both gradients then match the fp32 computation to bf16's precision (8 bits of mantissa)."""
    g = torch.Generator().manual_seed(3)
    V = torch.randn(4, 8, 16, generator=g)  # 16 video positions, as the CPU profiles' 4 x 4 cells
    A = torch.randn(4, 8, 12, generator=g)
    lengths = torch.tensor([12, 9, 5, 12])
    ref_v, ref_a = V.clone().requires_grad_(), A.clone().requires_grad_()
    ref = pairwise_similarity(ref_v, ref_a, kind, mask_of(lengths, 12))
    ref.sum().backward()
    low_v, low_a = V.to(torch.bfloat16).requires_grad_(), A.clone().requires_grad_()  # two dtypes
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = pairwise_similarity(low_v, low_a, kind, mask_of(lengths, 12))
    low.float().sum().backward()
    assert low_v.grad.dtype == torch.bfloat16 and low_a.grad.dtype == torch.float32
    scale = ref.abs().max()
    assert (low.float() - ref).abs().max() <= 0.03 * scale
    assert (low_v.grad.float() - ref_v.grad).abs().max() <= 0.03 * ref_v.grad.abs().max()
    assert (low_a.grad - ref_a.grad).abs().max() <= 0.03 * ref_a.grad.abs().max()
