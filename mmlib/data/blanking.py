"""Blanking a modality of a batch: modality dropout in training, a missing modality at test time.

    from mmlib.data.blanking import blank, modality_dropout
    batch = modality_dropout(batch, p=0.3, generator=gen)   # training: per item, P(one stream zeroed) = p
    batch = blank(batch, "video")                           # test: every item's video zeroed

A blanked stream is zero-filled AFTER normalization (the batch holds normalized features): zero is
the normalizer's mean, i.e. "nothing unusual" (per speaker with data.speaker_norm), as MMIN fills a
missing modality. The audio mask and lengths are kept, so the encoder sees zeros of the usual size.
Both functions return a new dict and never modify the input tensors.
"""

from __future__ import annotations

import torch

MODALITIES = ("audio", "video")


def blank(batch: dict, modality: str | tuple[str, ...] | None) -> dict:
    """The batch with `modality` ("audio" | "video", or a tuple of both) zero-filled for every item;
    None = unchanged."""
    if modality is None:
        return batch
    if isinstance(modality, tuple):
        for m in modality:
            batch = blank(batch, m)
        return batch
    if modality not in MODALITIES:
        raise ValueError(f"blank: modality must be one of {MODALITIES} or None, got {modality!r}")
    if modality not in batch:
        raise KeyError(f"blank: the batch has no {modality!r} stream (keys: {sorted(batch)})")
    return {**batch, modality: torch.zeros_like(batch[modality])}


def modality_dropout(batch: dict, p: float, generator: torch.Generator) -> dict:
    """With probability p per item, zero one of its two streams (audio or video, equally likely).

    Never both streams of an item. A batch with one stream (unimodal heads) or p = 0 is returned
    as is, and then nothing is drawn from `generator`. Draws: rand(B) then randint(0, 2, (B,)), both
    from `generator`, so the same seed blanks the same items.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"train.modality_dropout must lie in [0, 1], got {p}")
    if p == 0.0 or not all(m in batch for m in MODALITIES):
        return batch
    a, v = batch["audio"], batch["video"]  # (B, C, F, T), (B, 3, T, H, W)
    n = a.shape[0]
    drop = torch.rand(n, generator=generator) < p  # (B,) this item loses a stream
    which = torch.randint(0, 2, (n,), generator=generator)  # (B,) 0 = audio, 1 = video
    keep_a = ~(drop & (which == 0))
    keep_v = ~(drop & (which == 1))
    return {**batch, "audio": _keep(a, keep_a), "video": _keep(v, keep_v)}


def _keep(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """x with the items where keep (B,) is False set to zero."""
    return torch.where(keep.view(-1, *[1] * (x.dim() - 1)), x, torch.zeros((), dtype=x.dtype))
