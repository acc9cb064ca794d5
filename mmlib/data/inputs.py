"""A model's inputs: the one normalizer, dataset, padding rule and loader that training, evaluation and every
test-time experiment use.

    from mmlib.data import inputs
    parts = inputs.fold_inputs(spec, table, feats)       # normalizer + train / val / test datasets of spec's fold
    batches = inputs.loader(parts.train, spec, shuffle=True)

`spec` is a mmlib.training.checkpoints.ModelSpec (its cfg, head, fold, seed, modalities and classes); this module
reads it and imports nothing above the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch.utils.data import DataLoader

from mmlib.config import StudyConfig
from mmlib.data import blanking
from mmlib.data.dataset import EmotionDataset, Normalizer, SpeakerNormalizer, collate

if TYPE_CHECKING:
    from mmlib.training.checkpoints import ModelSpec


def fixed_audio_frames(cfg: StudyConfig) -> int:
    """Audio frames every item is padded to: the chunk, or max_seconds (the fixed matchmap head needs it)."""
    a = cfg.audio
    seconds = a.chunk_seconds if a.chunk_seconds is not None else a.max_seconds
    return int(round(seconds * 1000 / a.hop_ms)) + (0 if a.chunk_seconds is not None else 1)


def normalizer(spec: ModelSpec, table: pd.DataFrame, feats):
    """The feature standardization of spec's fold.

    data.speaker_norm=True: every speaker is standardized with the statistics of all its recordings in
    `table` (pass every recording, labelled or not: Session.recordings), test speakers included: label-free
    but transductive (the test speakers' recordings are used at test time). False: the authors' global audio
    statistics fitted on the fold's training utterances only.
    """
    if spec.cfg.data.speaker_norm:
        return SpeakerNormalizer(table, feats, spec.modalities, spec.cfg.data.video_scale)
    if "audio" in spec.modalities:
        return Normalizer.fit([feats.audio[i] for i in spec.fold.train])
    return Normalizer(0.0, 1.0)


def dataset(spec: ModelSpec, ids, table: pd.DataFrame, feats, norm) -> EmotionDataset:
    """The items of utterances `ids` as spec's head reads them (its modalities, normalized by `norm`)."""
    return EmotionDataset(table, ids, feats, spec.classes, spec.cfg.audio, norm, spec.modalities)


@dataclass
class Inputs:
    norm: object  # Normalizer | SpeakerNormalizer
    train: EmotionDataset
    val: EmotionDataset
    test: EmotionDataset


def fold_inputs(spec: ModelSpec, table: pd.DataFrame, feats) -> Inputs:
    """The normalizer and the training, validation and test datasets of spec's fold."""
    norm = normalizer(spec, table, feats)
    fold = spec.fold
    return Inputs(norm, *(dataset(spec, ids, table, feats, norm) for ids in (fold.train, fold.val, fold.test)))


def pad_frames(spec: ModelSpec) -> int | None:
    """Audio frames a batch is padded to: fixed for the matchmap head (its Linear needs one size) and for
    chunked audio; None pads to the batch's longest item (masked)."""
    cfg = spec.cfg
    return fixed_audio_frames(cfg) if (spec.head == "matchmap" or cfg.audio.chunk_seconds is not None) else None


def _collate(items, chunk_frames, blank):
    return blanking.blank(collate(items, chunk_frames=chunk_frames), blank)


def loader(ds: EmotionDataset, spec: ModelSpec, shuffle: bool = False, batch_size: int | None = None) -> DataLoader:
    """Batches of `ds` as spec's model takes them; shuffled from spec's seed when training. With train.blank
    the named stream is zero-filled in every batch (training, validation and test: a constant input)."""
    t = spec.cfg.train
    batch_size = batch_size or t.batch_size
    blank = spec.config.train.blank if spec.config.train.blank in spec.modalities else None
    return DataLoader(
        ds, batch_size=batch_size, shuffle=shuffle, num_workers=t.num_workers,
        collate_fn=partial(_collate, chunk_frames=pad_frames(spec), blank=blank),
        generator=torch.Generator().manual_seed(spec.seed if shuffle else 0),
        drop_last=shuffle and len(ds) > batch_size,  # BatchNorm needs > 1 item
        pin_memory=torch.cuda.is_available(), persistent_workers=t.num_workers > 0,
        prefetch_factor=4 if t.num_workers > 0 else None,  # keep a GPU fed: 4 batches ready per loader process
    )
