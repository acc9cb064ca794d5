"""Torch Dataset and collate over cached features.

    norm = Normalizer.fit([feats.audio[i] for i in fold.train])     # or SpeakerNormalizer(table, feats)
    ds = EmotionDataset(table, fold.train, feats, class_names, cfg.audio, norm)
    loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate)
    batch = next(iter(loader))
    batch["audio"]          # (B, 3, n_mels, T_max) float, zero-padded; batch["audio_lengths"] (B,)
    batch["audio_mask"]     # (B, T_max) bool, True on real frames
    batch["video"]          # (B, 3, T_v, H, W) float: pixels / 255 - 0.5, or speaker-standardized
    batch["label"], batch["vad"], batch["id"], batch["utt_index"]

Two audio modes, from AudioConfig.chunk_seconds:
- None: one item per utterance, variable length (cut at max_seconds during extraction), masked;
- c seconds (the authors used 3): the table's segment [start, end] is cut by
  `chunks.chunk_spans` into chunks of c seconds; a remainder shorter than
  `audio.min_chunk_fraction` x c is dropped (0.0 keeps all; the authors 0.65), an utterance shorter
  than that keeps one chunk. Each chunk is one item: its c s of log-mel (the last zero-padded,
  masked) and its own clip, `feats.video[id][k]` of the chunked features (n_chunks, n_frames, H, W, 3),
  whose frames were sampled from the same span, so audio and video stay aligned (the authors' code
  read chunk k's video from 3k s to the end). Evaluation combines chunk logits per utterance (`utt_index`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from mmlib.config import AudioConfig
from mmlib.data.chunks import audio_frame_spans, chunk_spans


@dataclass
class Normalizer:
    """Per channel and mel band mean/std of log-mel features, fitted on a training split only."""

    mean: np.ndarray  # (C, F, 1)
    std: np.ndarray  # (C, F, 1)

    @classmethod
    def fit(cls, arrays: list[np.ndarray]) -> "Normalizer":
        if not arrays:
            raise ValueError("cannot fit a normalizer on no features")
        cat = np.concatenate(arrays, axis=2)  # (C, F, sum T)
        return cls(cat.mean(axis=2, keepdims=True), cat.std(axis=2, keepdims=True) + 1e-5)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def audio(self, uid: str, x: np.ndarray) -> np.ndarray:
        return self(x)

    def video(self, uid: str, v: np.ndarray) -> np.ndarray:
        return v.astype(np.float32) / 255.0 - 0.5


class SpeakerNormalizer:
    """Standardize each utterance with the statistics of its own speaker, in both modalities.

    Audio: mean/std per channel and mel band over the speaker's utterances; video: the speaker's
    mean face (per pixel, over all frames of all clips) subtracted, divided by one std (video_scale="unscaled":
    not divided, so a face that barely moves stays near zero instead of being blown up to unit variance). It uses no
    labels: `table` should hold every recording of each speaker, labelled or not (Session.recordings),
    so which recordings enter cannot depend on a label (for a test speaker: its test recordings and its
    unlabelled ones), the usual speaker-level normalization of speech emotion work. It removes what is
    constant for a speaker (voice, face shape and colour) and keeps what changes with the expression.
    """

    def __init__(self, table: pd.DataFrame, feats, modalities: tuple[str, ...] = ("audio", "video"),
                 video_scale: str = "speaker"):
        if video_scale not in ("speaker", "unscaled"):
            raise ValueError(f"video_scale must be 'speaker' or 'unscaled', got {video_scale!r}")
        self.speaker_of = dict(zip(table["id"], table["speaker"]))
        self.audio_stats: dict[str, Normalizer] = {}
        self.video_stats: dict[str, tuple[np.ndarray, float]] = {}
        for spk, g in table.groupby("speaker"):
            ids = list(g["id"])
            if "audio" in modalities:
                self.audio_stats[spk] = Normalizer.fit([feats.audio[i] for i in ids])
            if "video" in modalities:
                clips = [feats.video[i] for i in ids]  # (T, H, W, 3) each, or chunked (K, T, H, W, 3)
                clips = (np.stack(clips) if clips[0].ndim == 4 else np.concatenate(clips)).astype(np.float32) / 255.0
                mean = clips.mean(axis=(0, 1))  # (H, W, 3): the speaker's average face
                sd = float((clips - mean).std()) + 1e-5 if video_scale == "speaker" else 1.0
                self.video_stats[spk] = (mean, sd)

    def audio(self, uid: str, x: np.ndarray) -> np.ndarray:
        return self.audio_stats[self.speaker_of[uid]](x)

    def video(self, uid: str, v: np.ndarray) -> np.ndarray:
        mean, std = self.video_stats[self.speaker_of[uid]]
        return ((v.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)


class EmotionDataset(Dataset):
    """Items of the utterances `ids` of `table` (labelled rows), features from a FeatureSet."""

    def __init__(self, table: pd.DataFrame, ids, feats, classes: list[str], audio_cfg: AudioConfig,
                 normalizer: Normalizer | None = None, modalities: tuple[str, ...] = ("audio", "video")):
        unknown_ids = sorted(set(ids) - set(table["id"]))
        if unknown_ids:
            raise KeyError(f"{len(unknown_ids)} utterance ids are not in the table: {unknown_ids[:5]}")
        rows = table.set_index("id").loc[list(ids)]
        missing = [i for i in ids if ("audio" in modalities and i not in feats.audio)
                   or ("video" in modalities and i not in feats.video)]
        if missing:
            raise KeyError(f"{len(missing)} utterances have no features (skipped or not extracted): {missing[:5]}")
        unknown = sorted(set(rows["label"].dropna()) - set(classes))
        if rows["label"].isna().any() or unknown:
            raise ValueError(f"every utterance needs a label in {classes}; found None or {unknown}")
        self.ids = list(ids)
        self.speakers = rows["speaker"].tolist()
        self.labels = np.array([classes.index(lbl) for lbl in rows["label"]], dtype=np.int64)
        self.vad = rows[["valence", "arousal", "dominance"]].to_numpy(dtype=np.float32).copy()
        self.feats, self.modalities, self.norm = feats, modalities, normalizer
        hop_s = audio_cfg.hop_ms / 1000
        self.chunk_frames = None if audio_cfg.chunk_seconds is None else round(audio_cfg.chunk_seconds / hop_s)
        # (utterance index, chunk index, audio frame span); chunk and span are None for whole utterances
        self.items: list[tuple[int, int | None, tuple[int, int] | None]] = []
        segments = list(zip(rows["start"], rows["end"])) if self.chunk_frames is not None else None
        for ui, uid in enumerate(self.ids):
            if self.chunk_frames is None:
                self.items.append((ui, None, None))
                continue
            start, end = segments[ui]
            n = len(chunk_spans(start, end, audio_cfg.chunk_seconds, audio_cfg.min_chunk_fraction))
            if "video" in modalities and (feats.video[uid].ndim != 5 or len(feats.video[uid]) != n):
                raise ValueError(
                    f"utterance {uid}: chunked mode needs video features of shape (n_chunks={n}, n_frames, H, W, 3) "
                    f"(segment [{start}, {end}] s in {audio_cfg.chunk_seconds} s chunks), got "
                    f"{feats.video[uid].shape}: extract the features with the same audio.chunk_seconds and "
                    "audio.min_chunk_fraction")
            spans = audio_frame_spans(n, self.chunk_frames, feats.audio[uid].shape[-1]) if "audio" in modalities \
                else [None] * n
            self.items.extend((ui, k, span) for k, span in enumerate(spans))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        ui, k, span = self.items[i]
        uid = self.ids[ui]
        item = {"id": uid, "utt_index": ui, "label": int(self.labels[ui]), "vad": torch.from_numpy(self.vad[ui])}
        if "audio" in self.modalities:
            a = self.feats.audio[uid]
            a = self.norm.audio(uid, a) if self.norm is not None else a
            if span is not None:
                a = a[..., span[0]:span[1]]
            item["audio"] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        if "video" in self.modalities:
            v = self.feats.video[uid]  # (T, H, W, 3) uint8, or chunked (K, T, H, W, 3)
            if k is not None:
                v = v[k]  # chunk k's own frames
            v = self.norm.video(uid, v) if self.norm is not None else v.astype(np.float32) / 255.0 - 0.5
            item["video"] = torch.from_numpy(np.ascontiguousarray(v)).permute(3, 0, 1, 2)  # (3, T, H, W)
        return item


def collate(items: list[dict], chunk_frames: int | None = None) -> dict:
    """Stack items; pad audio to the longest (or to chunk_frames) with a mask of real frames."""
    out: dict = {
        "id": [it["id"] for it in items],
        "utt_index": torch.tensor([it["utt_index"] for it in items]),
        "label": torch.tensor([it["label"] for it in items]),
        "vad": torch.stack([it["vad"] for it in items]),
    }
    if "audio" in items[0]:
        lengths = torch.tensor([it["audio"].shape[-1] for it in items])
        t_max = int(chunk_frames or lengths.max())
        c, f = items[0]["audio"].shape[:2]
        audio = torch.zeros(len(items), c, f, t_max)
        for b, it in enumerate(items):
            audio[b, :, :, : it["audio"].shape[-1]] = it["audio"]
        out["audio"] = audio
        out["audio_lengths"] = lengths
        out["audio_mask"] = torch.arange(t_max)[None, :] < lengths[:, None]
    if "video" in items[0]:
        out["video"] = torch.stack([it["video"] for it in items])
    return out
