"""A model's inputs and its predictions: the one normalizer, dataset, padding rule and loader that training,
evaluation and every test-time experiment use, and the one `predict`.

    from mmlib import inference
    inputs = inference.inputs(spec, table, feats)        # normalizer + train / val / test datasets of spec's fold
    pred = inference.predict(model, inputs.test, spec)   # id, fold, seed, model, speaker, true, pred, p_<class>
    pred = inference.predict(model, inputs.test, spec, missing="video")   # video zero-filled after normalization

A missing stream is zero-filled after normalization (data/blanking.py), i.e. set to the normalizer's mean
(the speaker's mean with data.speaker_norm), MMIN's zero-filling. When audio is cut into chunks, chunk
logits are averaged per utterance before softmax and argmax.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pandas as pd
import torch
from torch.utils.data import DataLoader

from mmlib.checkpoints import ModelSpec, fixed_audio_frames
from mmlib.data import blanking
from mmlib.data.dataset import EmotionDataset, Normalizer, SpeakerNormalizer, collate

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


def inputs(spec: ModelSpec, table: pd.DataFrame, feats) -> Inputs:
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


@torch.no_grad()
def predict(model: torch.nn.Module, ds: EmotionDataset, spec: ModelSpec, missing: str | None = None,
            name: str | None = None, extra: dict | None = None, batch_size: int = 64) -> pd.DataFrame:
    """Per-utterance predictions of `model` on `ds`, with the `missing` stream ("audio" | "video") zero-filled.

    Columns: id, fold, seed, model (`name`, default the head), speaker, then `extra` (column -> one value,
    e.g. a degradation level), true, pred, p_<class> (softmax of the chunk-averaged logits).
    """
    model.eval()
    classes = spec.classes
    sums = torch.zeros(len(ds.ids), len(classes))
    counts = torch.zeros(len(ds.ids))
    for batch in loader(ds, spec, batch_size=batch_size):
        batch = blanking.blank(batch, missing)
        logits = model(batch.get("audio"), batch.get("video"), batch.get("audio_lengths"))["logits"].float()
        sums.index_add_(0, batch["utt_index"], logits)
        counts.index_add_(0, batch["utt_index"], torch.ones(len(logits)))
    probs = torch.softmax(sums / counts[:, None], dim=1).numpy()
    out = pd.DataFrame({"id": ds.ids, "fold": spec.fold.number, "seed": spec.seed, "model": name or spec.head,
                        "speaker": ds.speakers, **(extra or {}),
                        "true": [classes[i] for i in ds.labels], "pred": [classes[i] for i in probs.argmax(1)]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = probs[:, i]
    return out


class torch_threads:
    """Run a block on `n` torch threads and restore the previous number afterwards (a training and its test
    predictions run on train.threads under every executor, so every executor gives the same numbers)."""

    def __init__(self, n: int):
        self.n = max(1, int(n))

    def __enter__(self):
        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)
