"""The model factory: a freshly initialised model of a head with a config's sizes.

    from mmlib.models.factory import make_model
    model = make_model(load_config("default"), "matchmap")
"""

from __future__ import annotations

import torch

from mmlib.config import StudyConfig
from mmlib.data.corpus import class_names
from mmlib.data.inputs import fixed_audio_frames
from mmlib.models.fusion import build_model


def make_model(cfg: StudyConfig, head: str) -> torch.nn.Module:
    """A freshly initialised model of `head` with the config's sizes."""
    m = cfg.model
    return build_model(
        head=head, n_classes=len(class_names(cfg.data.label_set)), n_mels=cfg.audio.n_mels,
        in_channels=3 if cfg.audio.deltas else 1, audio_width=m.audio_width,
        audio_final_kernel=m.audio_final_kernel, video_arch=m.video_arch, video_width=m.video_width,
        dim=m.dim, keep_time=m.keep_time, pool_hw=m.pool_hw, audio_frames=fixed_audio_frames(cfg),
        aux_heads=m.aux_heads, vad_head=m.vad_head, pretrained_video=m.pretrained_video,
        narrow_downsample=m.narrow_downsample, unimodal_path=m.unimodal_path,
    )
