"""Dataset and collate: padding masks, chunking with aligned video, normalizer from training data."""

import numpy as np
import pandas as pd
import pytest
import torch

from mmlib.config import AudioConfig
from mmlib.data.dataset import EmotionDataset, Normalizer, collate
from mmlib.data.features import FeatureSet

CLASSES = ["neu", "hap", "sad", "ang"]


def make(lengths=(250, 120, 301), n_video=6):
    ids = [f"u{i}" for i in range(len(lengths))]
    table = pd.DataFrame({"id": ids, "label": ["neu", "ang", "sad"][: len(ids)], "speaker": ids,
                          "valence": 1.0, "arousal": 2.0, "dominance": np.nan})
    feats = FeatureSet()
    for uid, n in zip(ids, lengths):
        a = np.broadcast_to(np.arange(n, dtype=np.float32), (3, 40, n)).copy()  # value = frame index
        feats.audio[uid] = a
        # video frame k carries its index in every pixel
        feats.video[uid] = np.broadcast_to(np.arange(n_video, dtype=np.uint8)[:, None, None, None], (n_video, 8, 8, 3)).copy()
    return table, ids, feats


def test_padded_batch_and_mask():
    table, ids, feats = make()
    ds = EmotionDataset(table, ids, feats, CLASSES, AudioConfig())
    assert len(ds) == 3
    b = collate([ds[i] for i in range(3)])
    assert b["audio"].shape == (3, 3, 40, 301) and b["video"].shape == (3, 3, 6, 8, 8)
    assert b["audio_lengths"].tolist() == [250, 120, 301]
    assert b["audio_mask"].sum(1).tolist() == [250, 120, 301]
    assert b["audio"][1, 0, 0, 119] == 119 and b["audio"][1, :, :, 120:].abs().sum() == 0
    assert b["label"].tolist() == [0, 3, 2]
    assert torch.isnan(b["vad"][:, 2]).all() and b["vad"][0, 0] == 1.0
    assert b["video"].min() == pytest.approx(-0.5) and b["video"][0, 0, 5, 0, 0] == pytest.approx(5 / 255 - 0.5)
    fixed = collate([ds[0]], chunk_frames=400)
    assert fixed["audio"].shape[-1] == 400 and fixed["audio_mask"].sum() == 250


def test_chunks_cover_utterance_and_video_follows_audio():
    table, ids, feats = make(lengths=(251,), n_video=4)
    table = table.assign(start=0.0, end=2.5)  # 2.5 s: chunks [0, 1], [1, 2], [2, 2.5] s
    # chunked features: one clip per chunk, clip k's frames carry 10 k + frame index
    feats.video["u0"] = (10 * np.arange(3)[:, None, None, None, None] + feats.video["u0"][None]).astype(np.uint8)
    ds = EmotionDataset(table, ids, feats, CLASSES, AudioConfig(chunk_seconds=1.0))  # 100-frame chunks
    assert len(ds) == 3 and [ds.items[i][2] for i in range(3)] == [(0, 100), (100, 200), (200, 251)]
    assert ds[2]["audio"].shape[-1] == 51 and ds[2]["audio"][0, 0, 0] == 200
    v = np.round((ds[2]["video"][0, :, 0, 0] + 0.5).numpy() * 255).astype(int)
    assert v.tolist() == [20, 21, 22, 23]  # chunk 2's own clip
    b = collate([ds[i] for i in range(3)], chunk_frames=100)
    assert b["utt_index"].tolist() == [0, 0, 0] and b["audio_mask"].sum(1).tolist() == [100, 100, 51]
    assert b["video"].shape == (3, 3, 4, 8, 8)


def test_normalizer_and_errors():
    table, ids, feats = make()
    norm = Normalizer.fit([feats.audio[i] for i in ids[:2]])
    cat = np.concatenate([feats.audio[i] for i in ids[:2]], axis=2)
    z = np.concatenate([norm(feats.audio[i]) for i in ids[:2]], axis=2)
    assert np.allclose(z.mean(axis=2), 0, atol=1e-4) and np.allclose(z.std(axis=2), 1, atol=1e-3)
    assert norm.mean.shape == (3, 40, 1) and cat.shape[2] == 370
    with pytest.raises(KeyError, match=r"1 utterance ids are not in the table: \['nope'\]"):
        EmotionDataset(table, ["u0", "nope"], feats, CLASSES, AudioConfig())
    del feats.video["u1"]
    with pytest.raises(KeyError, match=r"1 utterances have no features .*\['u1'\]"):
        EmotionDataset(table, ids, feats, CLASSES, AudioConfig())
    EmotionDataset(table, ids, feats, CLASSES, AudioConfig(), modalities=("audio",))  # audio-only needs no video
    bad = table.assign(label=["neu", "fru", "sad"])
    feats.video["u1"] = feats.video["u0"]
    with pytest.raises(ValueError, match=r"needs a label in .*\['fru'\]"):
        EmotionDataset(bad, ids, feats, CLASSES, AudioConfig())


def test_speaker_normalizer_removes_speaker_constants():
    from mmlib.data.dataset import SpeakerNormalizer

    rng = np.random.default_rng(0)
    ids = [f"u{i}" for i in range(6)]
    table = pd.DataFrame({"id": ids, "speaker": ["A", "A", "A", "B", "B", "B"], "label": "neu",
                          "valence": 1.0, "arousal": 1.0, "dominance": 1.0})
    feats = FeatureSet()
    for i, uid in enumerate(ids):
        offset = 0.0 if i < 3 else 50.0  # speaker B is louder and brighter everywhere
        feats.audio[uid] = (rng.standard_normal((3, 40, 30)) + offset).astype(np.float32)
        feats.video[uid] = np.clip(rng.integers(0, 100, (4, 8, 8, 3)) + int(offset), 0, 255).astype(np.uint8)
    norm = SpeakerNormalizer(table, feats)
    for spk, members in (("A", ids[:3]), ("B", ids[3:])):
        z = np.concatenate([norm.audio(u, feats.audio[u]) for u in members], axis=2)
        assert np.allclose(z.mean(axis=2), 0, atol=1e-4) and np.allclose(z.std(axis=2), 1, atol=1e-3)
        v = np.stack([norm.video(u, feats.video[u]) for u in members])
        assert abs(v.mean()) < 1e-5 and v.std() == pytest.approx(1.0, abs=1e-3)
    ds = EmotionDataset(table, ids, feats, CLASSES, AudioConfig(), norm)
    assert ds[4]["video"].shape == (3, 4, 8, 8) and abs(float(ds[4]["audio"].mean())) < 0.5
