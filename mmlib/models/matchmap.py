"""Matchmaps and their pooled similarities (Harwath et al., ECCV 2018), batched over all pairs.

    from mmlib.models.matchmap import matchmap, similarity, pairwise_similarity
    M = matchmap(V, A)                                  # V (B, D, 7, 7), A (B, D, T) -> M (B, 7, 7, T)
    s = similarity(M, "SIMA", audio_mask)               # (B,): one score per matched pair
    S = pairwise_similarity(V, A, "SIMA", audio_mask)   # (B, B): S[i, j] = video i against audio j

For one pair, M[p, t] = <V[:, p], A[:, t]>; the scores are means, not sums:
    SISA  mean of M over positions p and valid frames t
    MISA  for each valid t the max over p, then the mean over t
    SIMA  for each p the max over valid t, then the mean over p
`audio_mask` (B, T) is True on real frames; padded frames take part in neither the max nor the
mean. Every item needs at least one real frame.

`pairwise_similarity` gives the whole B x B matrix in one batched computation:
    SISA       closed form <mean_p V_i, mean_t A_j>, no matchmap at all
    MISA/SIMA  one GEMM per chunk of videos, "i d p, j d t -> i p j t", chunked so that memory
               stays bounded; a custom autograd function keeps only the argmax indices and
               rebuilds the gradient chunk by chunk (two GEMMs), so backward is bounded too.
Frames after the last real frame of every item are cropped before the GEMMs. Under autocast the two streams may
arrive in different dtypes (bf16 from a convolution, fp32 from a norm): both are promoted to the wider first.
The max passes its gradient to the single argmax, as torch.max(dim) does in DAVEnet's loop.
"""

import torch
from torch import Tensor

KINDS = ("SISA", "MISA", "SIMA")
CHUNK_ELEMENTS = 2**23  # default budget for one chunk of matchmaps (32 MB in float32)


def matchmap(video: Tensor, audio: Tensor) -> Tensor:
    """video (B, D, *P) with any number of position axes, audio (B, D, T) -> M (B, *P, T)."""
    return torch.einsum("b d ..., b d t -> b ... t", video, audio)


def _full_mask(audio_mask: Tensor | None, B: int, T: int, device: torch.device) -> Tensor:
    if audio_mask is None:
        return torch.ones(B, T, dtype=torch.bool, device=device)
    if audio_mask.shape != (B, T):
        raise ValueError(f"audio_mask has shape {tuple(audio_mask.shape)}, expected {(B, T)}")
    return audio_mask.bool()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown similarity kind {kind!r}, expected one of {KINDS}")


def similarity(M: Tensor, kind: str, audio_mask: Tensor | None = None) -> Tensor:
    """Pooled score of each matchmap: M (B, *P, T), audio_mask (B, T) -> (B,)."""
    _check_kind(kind)
    B, T = M.shape[0], M.shape[-1]
    M = M.reshape(B, -1, T)  # (B, P, T)
    mask = _full_mask(audio_mask, B, T, M.device)  # (B, T)
    n_t = mask.sum(1).to(M.dtype)  # (B,) real frames per item
    valid = mask[:, None, :]  # (B, 1, T)
    if kind == "SISA":
        return torch.where(valid, M, 0.0).sum((1, 2)) / (n_t * M.shape[1])
    if kind == "MISA":
        best_p = M.max(1).values  # (B, T): best position for every frame
        return torch.where(mask, best_p, 0.0).sum(1) / n_t
    best_t = torch.where(valid, M, float("-inf")).max(2).values  # (B, P): best real frame per position
    return best_t.mean(1)


class _MaxPooledSimilarity(torch.autograd.Function):
    """S (I, J) of MISA or SIMA for all pairs; saves argmax indices, not matchmaps."""

    @staticmethod
    def forward(ctx, V: Tensor, A: Tensor, mask: Tensor, kind: str, chunk: int) -> Tensor:
        # V (I, D, P), A (J, D, T) with padded frames zeroed, mask (J, T)
        w = mask.to(A.dtype) / mask.sum(1, keepdim=True)  # (J, T): weights of the masked mean over t
        scores, indices = [], []
        for i0 in range(0, V.shape[0], chunk):
            M = torch.einsum("i d p, j d t -> i p j t", V[i0 : i0 + chunk], A)  # one GEMM
            if kind == "MISA":
                best, idx = M.max(1)  # (i, j, t): best position for every frame
                scores.append((best * w).sum(2))  # (i, j)
            else:
                M = M.masked_fill(~mask, float("-inf"))  # padded frames never win the max
                best, idx = M.max(3)  # (i, p, j): best real frame for every position
                scores.append(best.mean(1))  # (i, j)
            indices.append(idx)
        ctx.save_for_backward(V, A, w, torch.cat(indices))
        ctx.kind, ctx.chunk = kind, chunk
        return torch.cat(scores)

    @staticmethod
    def backward(ctx, g: Tensor):
        # g (I, J); W[i, p, j, t] = dS[i, j]/dM[i, j, p, t] * g[i, j], nonzero only at the argmax
        V, A, w, idx = ctx.saved_tensors
        (I, _, P), (J, _, T) = V.shape, A.shape
        gV = torch.zeros_like(V) if ctx.needs_input_grad[0] else None
        gA = torch.zeros_like(A) if ctx.needs_input_grad[1] else None
        for i0 in range(0, I, ctx.chunk):
            sl = slice(i0, i0 + ctx.chunk)
            gc, k = g[sl].to(A.dtype), idx[sl]  # g may be lower precision under autocast
            W = A.new_zeros(gc.shape[0], P, J, T)  # (i, p, j, t)
            if ctx.kind == "MISA":
                W.scatter_(1, k[:, None], (gc[:, :, None] * w)[:, None])  # k (i, j, t)
            else:
                src = (gc[:, None, :] / P).expand(-1, P, -1)  # (i, p, j)
                W.scatter_(3, k[..., None], src[..., None])  # k (i, p, j)
            if gV is not None:
                gV[sl] = torch.einsum("i p j t, j d t -> i d p", W, A)
            if gA is not None:
                gA += torch.einsum("i p j t, i d p -> j d t", W, V[sl])
        return gV, gA, None, None, None


def pairwise_similarity(
    video: Tensor,
    audio: Tensor,
    kind: str,
    audio_mask: Tensor | None = None,
    chunk_size: int | None = None,
) -> Tensor:
    """video (I, D, *P), audio (J, D, T), audio_mask (J, T) -> S (I, J), S[i, j] = video i vs audio j.

    chunk_size: videos per matchmap chunk (MISA/SIMA); None picks it so that one chunk of
    matchmaps holds about CHUNK_ELEMENTS numbers.
    """
    _check_kind(kind)
    I, D = video.shape[:2]
    J, _, T = audio.shape
    V = video.reshape(I, D, -1)  # (I, D, P)
    if V.dtype != audio.dtype:  # under autocast one stream may arrive in bf16, the other in fp32 (e.g. after a norm)
        dtype = torch.promote_types(V.dtype, audio.dtype)
        V, audio = V.to(dtype), audio.to(dtype)
    mask = _full_mask(audio_mask, J, T, audio.device)  # (J, T)
    A = audio.masked_fill(~mask[:, None, :], 0.0)  # (J, D, T): padding can't leak, even inf/nan
    if kind == "SISA":
        v = V.mean(2)  # (I, D)
        a = A.sum(2) / mask.sum(1, keepdim=True).to(A.dtype)  # (J, D): mean over real frames
        return torch.einsum("i d, j d -> i j", v, a)
    t_end = int(mask.any(0).nonzero().max()) + 1  # frames after every item's last real frame: dropped
    A, mask = A[..., :t_end], mask[:, :t_end]  # (J, D, T'), (J, T')
    T = t_end
    if chunk_size is None:
        chunk_size = max(1, CHUNK_ELEMENTS // (J * V.shape[2] * T))
    return _MaxPooledSimilarity.apply(V, A, mask, kind, int(chunk_size))


def pairwise_similarity_loop(video: Tensor, audio: Tensor, kind: str, lengths: Tensor) -> Tensor:
    """The slow reference, as DAVEnet's steps/util.py computes it: one torch.mm per (video i,
    audio j) pair, audio cropped to its true length. For tests and benchmarks, not for training."""
    _check_kind(kind)
    I, D = video.shape[:2]
    rows = []
    for i in range(I):
        row = []
        for j in range(audio.shape[0]):
            M = torch.mm(video[i].reshape(D, -1).t(), audio[j][:, : int(lengths[j])])  # (P, n_j)
            if kind == "SISA":
                row.append(M.mean())
            elif kind == "MISA":
                row.append(M.max(0)[0].mean())
            else:
                row.append(M.max(1)[0].mean())
        rows.append(torch.stack(row))
    return torch.stack(rows)  # (I, J)
