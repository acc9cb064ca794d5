"""Ranking losses on the B x B audio-visual similarity matrix, and the multi-task sum.

    from mmlib.training.losses import LossWeights, multitask_loss, sampled_margin_ranking_loss
    S = pairwise_similarity(V, A, "SIMA", audio_mask)                  # (B, B), row = video, column = audio
    rank = sampled_margin_ranking_loss(S, labels=y, generator=g)       # DAVEnet / the authors' loss
    total, parts = multitask_loss(model(audio, video, lengths), y,
                                  weights=LossWeights(w_rank=0.078), generator=g)

The losses take the full matrix S: with the batched `pairwise_similarity` it costs little more than
the 3B entries the sampled loss reads, and the same S serves every loss. `sample_impostors` is
public for code that prefers to score only the sampled pairs.

Impostors and negatives: for anchor i, any j != i; with `labels`, only j of another label
(the authors drew impostors among samples of a different emotion). Anchors with no valid
impostor contribute nothing, and the sampled loss is normalized once, by the number of
contributing anchors (the authors' code divided by the batch size twice).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from mmlib.models.matchmap import pairwise_similarity


def impostor_mask(B: int, labels: Tensor | None = None, device: torch.device | None = None) -> Tensor:
    """(B, B) bool: True where j may serve as an impostor (negative) for anchor i."""
    valid = ~torch.eye(B, dtype=torch.bool, device=device)  # (B, B): never the anchor itself
    if labels is not None:
        valid &= labels[:, None] != labels[None, :]  # only other labels
    return valid


def _check_square(S: Tensor) -> int:
    if S.dim() != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"expected a square (B, B) similarity matrix, got shape {tuple(S.shape)}")
    return S.shape[0]


def _draw(valid: Tensor, generator: torch.Generator | None) -> Tensor:
    """One uniform draw per row among its True entries: valid (B, B) -> (B,) column indices."""
    keys = torch.rand(valid.shape, generator=generator, device=valid.device)  # (B, B) in [0, 1)
    return keys.masked_fill(~valid, -1.0).argmax(1)  # rows without a valid entry give 0 (unused)


def sample_impostors(
    B: int, labels: Tensor | None = None, generator: torch.Generator | None = None, device=None
) -> tuple[Tensor, Tensor, Tensor]:
    """-> (imp_video (B,), imp_audio (B,), has_impostor (B,) bool) for anchors 0..B-1."""
    valid = impostor_mask(B, labels, device)
    return _draw(valid, generator), _draw(valid, generator), valid.any(1)


def sampled_margin_ranking_loss(
    S: Tensor,
    labels: Tensor | None = None,
    margin: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """S (B, B), S[i, j] = video i vs audio j -> scalar.

    mean over anchors i with an impostor of
        max(0, margin + S[imp_v, i] - S[i, i]) + max(0, margin + S[i, imp_a] - S[i, i])
    with one impostor video imp_v and one impostor audio imp_a drawn uniformly per anchor.
    """
    B = _check_square(S)
    imp_v, imp_a, has = sample_impostors(B, labels, generator, S.device)
    i = torch.arange(B, device=S.device)
    anchor = S.diagonal()  # (B,)
    cost_v = (margin + S[imp_v, i] - anchor).clamp(min=0)  # impostor video for audio i
    cost_a = (margin + S[i, imp_a] - anchor).clamp(min=0)  # impostor audio for video i
    return torch.where(has, cost_v + cost_a, 0.0).sum() / has.sum().clamp(min=1)


def full_batch_ranking_loss(
    S: Tensor,
    labels: Tensor | None = None,
    margin: float = 1.0,
    kind: str = "hinge",
    temperature: float = 0.1,
) -> Tensor:
    """Every negative of S (B, B), both directions -> scalar.

    hinge:   for each anchor the mean over its valid negatives j of
             max(0, margin + S[i, j] - S[i, i]) + max(0, margin + S[j, i] - S[i, i]),
             then the mean over anchors with a negative: the expectation of the sampled loss.
    infonce: symmetric cross-entropy of S / temperature over rows (video -> audio) and
             columns (audio -> video); same-label off-diagonal entries are masked out.
    """
    B = _check_square(S)
    valid = impostor_mask(B, labels, S.device)  # (B, B)
    anchor = S.diagonal()  # (B,)
    if kind == "hinge":
        cost_a = (margin + S - anchor[:, None]).clamp(min=0)  # (i, j): audio j against video i
        cost_v = (margin + S.T - anchor[:, None]).clamp(min=0)  # (i, j): video j against audio i
        n_neg = valid.sum(1)  # (B,)
        per_anchor = torch.where(valid, cost_a + cost_v, 0.0).sum(1) / n_neg.clamp(min=1)
        has = n_neg > 0
        return torch.where(has, per_anchor, 0.0).sum() / has.sum().clamp(min=1)
    if kind == "infonce":
        keep = valid | torch.eye(B, dtype=torch.bool, device=S.device)  # positives and negatives
        logits = (S / temperature).masked_fill(~keep, float("-inf"))  # (B, B)
        target = torch.arange(B, device=S.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    raise ValueError(f"unknown ranking loss kind {kind!r}, expected 'hinge' or 'infonce'")


@dataclass
class LossWeights:
    w_rank: float = 0.0  # ranking term on the matchmap similarity; the paper used 0.078
    w_aux: float = 0.0  # cross-entropy of the auxiliary unimodal heads (audio + video)
    w_vad: float = 0.0  # MSE of the valence/arousal/dominance head
    margin: float = 1.0  # hinge margin (DAVEnet, the authors)
    kind: str = "SIMA"  # matchmap pooling for the ranking term: SISA | MISA | SIMA
    ranking: str = "sampled"  # sampled (authors) | hinge | infonce (full batch)
    temperature: float = 0.1  # InfoNCE only
    label_aware: bool = True  # impostors/negatives only among other labels (authors)


def multitask_loss(
    outputs: dict[str, Tensor],
    y: Tensor,
    vad_target: Tensor | None = None,
    weights: LossWeights | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """CE(logits, y) + w_rank * ranking + w_aux * (CE(aux audio) + CE(aux video)) + w_vad * MSE(vad).

    outputs: the model's dict ("logits", "A", "V", "audio_mask", optional "aux_audio_logits",
    "aux_video_logits", "vad"). A term whose weight is 0 or whose inputs are missing is skipped.
    vad_target (B, 3): NaN entries are ignored. Returns the total and detached parts for logging.
    """
    w = weights or LossWeights()
    ce = F.cross_entropy(outputs["logits"], y)
    total, parts = ce, {"ce": ce.detach()}
    if w.w_rank > 0 and "A" in outputs and "V" in outputs:
        S = pairwise_similarity(outputs["V"], outputs["A"], w.kind, outputs.get("audio_mask"))  # (B, B)
        labels = y if w.label_aware else None
        if w.ranking == "sampled":
            rank = sampled_margin_ranking_loss(S, labels, w.margin, generator)
        else:
            rank = full_batch_ranking_loss(S, labels, w.margin, w.ranking, w.temperature)
        total = total + w.w_rank * rank
        parts["rank"] = rank.detach()
    aux_keys = [k for k in ("aux_audio_logits", "aux_video_logits") if k in outputs]
    if w.w_aux > 0 and aux_keys:
        aux = sum(F.cross_entropy(outputs[k], y) for k in aux_keys)
        total = total + w.w_aux * aux
        parts["aux"] = aux.detach()
    if w.w_vad > 0 and "vad" in outputs and vad_target is not None:
        known = ~torch.isnan(vad_target)  # (B, 3)
        err = torch.where(known, outputs["vad"] - vad_target.nan_to_num(), 0.0)
        vad = err.pow(2).sum() / known.sum().clamp(min=1)
        total = total + w.w_vad * vad
        parts["vad"] = vad.detach()
    parts["total"] = total.detach()
    return total, parts
