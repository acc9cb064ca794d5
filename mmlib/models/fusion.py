"""Emotion classifiers on audio and/or video features: unimodal, concat and matchmap fusion heads.

    from mmlib.models.fusion import build_model
    model = build_model("matchmap", n_classes=4, audio_frames=300)        # the paper's fusion model
    out = model(spec, clip, audio_lengths)   # spec (B, 3, 40, 300), clip (B, 3, 16, 112, 112)
    out["logits"]                            # (B, 4); also "A" (B, D, T_a), "V" (B, D, 7, 7), "audio_mask"

Heads (A (B, D, T_a) with audio_mask (B, T_a); V (B, D, *P)):
    audio          masked max-pool of A over time -> Linear(D)
    video          max-pool of V over positions -> Linear(D)
    concat         both max-pools concatenated (2D) -> Linear (the authors' baseline)
    matchmap       M = matchmap(V, A) (B, *P, T_a), padded frames zeroed, flattened -> Linear(P * T_a)
                   (the authors'; needs the fixed P and T_a it was built for, else ValueError)
    matchmap_attn  variable-length, time-keeping variant. The scaled matchmap M / sqrt(D) scores
                   every frame by its best position (the MISA reduction) and every position by its
                   best real frame (the SIMA reduction); a masked softmax of those scores weighs
                   the frames of A and the positions of V; the two attended D-vectors are
                   concatenated -> Linear(2D). Any T_a, any number of position axes.
Options: unimodal_path (fusion heads) adds Linear(D) of the pooled A and Linear(D) of the pooled V to the
head's logits, an additive path through which the model can use one stream alone (the bilinear matchmap
head cannot ignore a stream: every matchmap entry is a product of the two); aux_heads adds Linear(D) heads on the pooled A and pooled V ("aux_audio_logits",
"aux_video_logits"); vad_head adds Linear(.., 3) on the pooled features ("vad").
Audio-only models take video=None and build no video encoder, and vice versa.
"""

import torch
import torch.nn as nn
from torch import Tensor

from mmlib.models.audio import AudioCNN
from mmlib.models.matchmap import matchmap
from mmlib.models.video import build_video_encoder

HEADS = ("audio", "video", "concat", "matchmap", "matchmap_attn")  # every head of the study, in figure order
UNIMODAL = ("audio", "video")


def modalities_of(head: str) -> tuple[str, ...]:
    """The input streams a head reads: ("audio",), ("video",) or both."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}, expected one of {HEADS}")
    return (head,) if head in UNIMODAL else UNIMODAL


def _masked_softmax(scores: Tensor, mask: Tensor | None, dim: int) -> Tensor:
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim)


class EmotionModel(nn.Module):
    def __init__(
        self,
        head: str,
        n_classes: int,
        audio_encoder: nn.Module | None = None,
        video_encoder: nn.Module | None = None,
        dim: int = 512,
        n_positions: int | None = None,  # matchmap head: P of V (7 x 7 = 49)
        n_audio_frames: int | None = None,  # matchmap head: T_a of A (10)
        aux_heads: bool = False,
        vad_head: bool = False,
        dropout: float = 0.0,
        unimodal_path: bool = False,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}, expected one of {HEADS}")
        needs_audio, needs_video = head != "video", head != "audio"
        wanted = (("audio", needs_audio, audio_encoder), ("video", needs_video, video_encoder))
        missing = [name for name, needed, encoder in wanted if needed and encoder is None]
        if missing:
            raise ValueError(f"head {head!r} needs a{'n' if missing[0] == 'audio' else ''} "
                             f"{' and a '.join(missing)} encoder")
        self.head, self.dim = head, dim
        self.audio_encoder = audio_encoder if needs_audio else None
        self.video_encoder = video_encoder if needs_video else None
        self.n_positions, self.n_audio_frames = n_positions, n_audio_frames
        n_pooled = dim * (needs_audio + needs_video)  # width of the pooled features
        if head == "matchmap":
            if n_positions is None or n_audio_frames is None:
                raise ValueError("the matchmap head needs n_positions and n_audio_frames (fixed sizes)")
            in_features = n_positions * n_audio_frames
        else:
            in_features = n_pooled
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_features, n_classes)
        self.aux_audio = nn.Linear(dim, n_classes) if aux_heads and needs_audio else None
        self.aux_video = nn.Linear(dim, n_classes) if aux_heads and needs_video else None
        self.vad = nn.Linear(n_pooled, 3) if vad_head else None
        if unimodal_path and not (needs_audio and needs_video):
            raise ValueError(f"unimodal_path adds a unimodal path to a fusion head; {head!r} has one stream")
        self.path_audio = nn.Linear(dim, n_classes) if unimodal_path else None
        self.path_video = nn.Linear(dim, n_classes) if unimodal_path else None

    def forward(
        self, audio: Tensor | None = None, video: Tensor | None = None, audio_lengths: Tensor | None = None
    ) -> dict[str, Tensor]:
        """audio (B, 3, F, T), video (B, 3, T_v, H, W), audio_lengths (B,) -> dict of outputs."""
        out: dict[str, Tensor] = {}
        pooled = []
        if self.audio_encoder is not None:
            if audio is None:
                raise ValueError(f"head {self.head!r} needs audio")
            A, a_len = self.audio_encoder(audio, audio_lengths)  # (B, D, T_a), (B,)
            mask = torch.arange(A.shape[-1], device=A.device) < a_len[:, None]  # (B, T_a)
            a_pool = A.masked_fill(~mask[:, None, :], float("-inf")).amax(2)  # (B, D)
            out.update(A=A, audio_mask=mask)
            pooled.append(a_pool)
            if self.aux_audio is not None:
                out["aux_audio_logits"] = self.aux_audio(a_pool)
        if self.video_encoder is not None:
            if video is None:
                raise ValueError(f"head {self.head!r} needs video")
            V = self.video_encoder(video)  # (B, D, *P)
            v_pool = V.flatten(2).amax(2)  # (B, D)
            out["V"] = V
            pooled.append(v_pool)
            if self.aux_video is not None:
                out["aux_video_logits"] = self.aux_video(v_pool)
        feat = torch.cat(pooled, 1)  # (B, D) or (B, 2D)
        if self.head == "matchmap":
            feat_head = self._matchmap_features(out["V"], out["A"], out["audio_mask"])
        elif self.head == "matchmap_attn":
            feat_head = self._attention_features(out["V"], out["A"], out["audio_mask"])
        else:
            feat_head = feat
        out["logits"] = self.classifier(self.drop(feat_head))
        if self.path_audio is not None:
            out["logits"] = out["logits"] + self.path_audio(self.drop(pooled[0])) + self.path_video(self.drop(pooled[1]))
        if self.vad is not None:
            out["vad"] = self.vad(self.drop(feat))
        return out

    def _matchmap_features(self, V: Tensor, A: Tensor, mask: Tensor) -> Tensor:
        P, T = V[0, 0].numel(), A.shape[-1]
        if T != self.n_audio_frames or P != self.n_positions:
            raise ValueError(
                f"the matchmap head was built for {self.n_audio_frames} audio frames and "
                f"{self.n_positions} video positions, got {T} frames and {P} positions; "
                "use fixed-length audio chunks and clips, or the matchmap_attn head"
            )
        M = matchmap(V, A).flatten(1, -2)  # (B, P, T_a)
        return M.masked_fill(~mask[:, None, :], 0.0).flatten(1)  # (B, P * T_a)

    def _attention_features(self, V: Tensor, A: Tensor, mask: Tensor) -> Tensor:
        V = V.flatten(2)  # (B, D, P)
        M = torch.einsum("b d p, b d t -> b p t", V, A) / self.dim**0.5  # scaled matchmap
        frame_score = M.amax(1)  # (B, T_a): each frame's best position
        pos_score = M.masked_fill(~mask[:, None, :], float("-inf")).amax(2)  # (B, P): best real frame
        w_t = _masked_softmax(frame_score, mask, 1)  # (B, T_a), zero on padding
        w_p = pos_score.softmax(1)  # (B, P)
        a_att = torch.einsum("b d t, b t -> b d", A, w_t)  # (B, D)
        v_att = torch.einsum("b d p, b p -> b d", V, w_p)  # (B, D)
        return torch.cat([a_att, v_att], 1)  # (B, 2D)


def build_model(
    head: str,
    n_classes: int,
    n_mels: int = 40,
    audio_width: float = 1.0,
    video_arch: str = "mc3_18",
    video_width: int = 16,
    dim: int = 512,
    keep_time: bool = False,
    pool_hw: int | None = 7,
    audio_frames: int | None = None,  # matchmap head: input spectrogram frames per item (300)
    aux_heads: bool = False,
    vad_head: bool = False,
    pretrained_video: bool = False,
    audio_final_kernel: int = 10,
    in_channels: int = 3,  # log-mel + deltas + delta-deltas; 1 without deltas
    narrow_style: str = "mc3",
    dropout: float = 0.0,
    narrow_downsample: int = 16,
    unimodal_path: bool = False,
) -> EmotionModel:
    """One EmotionModel from plain keyword arguments; encoders a head does not use are not built."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}, expected one of {HEADS}")
    audio_enc = video_enc = None
    if head != "video":
        audio_enc = AudioCNN(n_mels=n_mels, in_channels=in_channels, width=audio_width, out_dim=dim,
                             final_kernel=audio_final_kernel)
    if head != "audio":
        video_enc = build_video_encoder(
            video_arch, dim, keep_time, pool_hw, pretrained_video, video_width, narrow_style, narrow_downsample
        )
    n_positions = n_audio_frames = None
    if head == "matchmap":
        if audio_frames is None or pool_hw is None or keep_time:
            raise ValueError(
                "the matchmap head needs fixed sizes: audio_frames set, an int pool_hw and keep_time=False "
                "(use matchmap_attn for variable sizes)"
            )
        n_positions = pool_hw * pool_hw
        n_audio_frames = int(audio_enc.output_length(audio_frames))
    return EmotionModel(
        head, n_classes, audio_enc, video_enc, dim, n_positions, n_audio_frames, aux_heads, vad_head, dropout,
        unimodal_path and head not in UNIMODAL,
    )
