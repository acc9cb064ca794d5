"""Chunked mode (the paper profile): the remainder rule, per-chunk video sampled from each chunk's own
span (on a video whose brightness encodes time), audio and video chunks that match, per-utterance scoring."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from mmlib.config import AudioConfig, load_config
from mmlib.data.chunks import audio_frame_spans, chunk_spans
from mmlib.data.dataset import EmotionDataset
from mmlib.data.features import FeatureSet, extract_features
from mmlib.data.iemocap import load_corpus
from mmlib.data.splits import Fold
from mmlib.training.checkpoints import ModelSpec
from mmlib.training.inference import predict
from tests.iemocap_trees import FPS, SIZE, write_dialog_tree  # each half of a frame is SIZE x SIZE

CLASSES = ["neu", "hap", "sad", "ang"]
LEVEL = 2  # frame i has brightness LEVEL * i: up to 127 frames (12.7 s)


# ---------------------------------------------------------------- the rule

@pytest.mark.parametrize("dur, keep_all, paper", [
    (1.0, 1, 1),  # shorter than 0.65 x 3 s: still one (padded) chunk
    (2.9, 1, 1),
    (3.0, 1, 1),
    (4.0, 2, 1),  # remainder 1.0 s < 1.95 s: dropped by the paper's rule
    (4.95, 2, 2),  # remainder exactly 0.65 x 3 s: kept
    (5.0, 2, 2),
    (6.0, 2, 2),
    (7.5, 3, 2),
    (8.999, 3, 3),
    (9.0, 3, 3),
])
def test_number_of_chunks(dur, keep_all, paper):
    assert len(chunk_spans(10.0, 10.0 + dur, 3.0)) == keep_all
    assert len(chunk_spans(10.0, 10.0 + dur, 3.0, min_fraction=0.65)) == paper


def test_chunk_spans_values_and_errors():
    assert chunk_spans(2.0, 9.5, 3.0) == [(2.0, 5.0), (5.0, 8.0), (8.0, 9.5)]
    assert chunk_spans(2.0, 9.5, 3.0, 0.65) == [(2.0, 5.0), (5.0, 8.0)]
    assert chunk_spans(0.5, 1.7, 3.0, 0.65) == [(0.5, 1.7)]
    assert chunk_spans(0.1, 6.1, 3.0) == [(0.1, 3.1), (3.1, 6.1)]  # 5.999999... s is two whole chunks, no sliver
    assert audio_frame_spans(3, 300, 751) == [(0, 300), (300, 600), (600, 751)]
    assert audio_frame_spans(2, 300, 250) == [(0, 250), (249, 250)]  # audio shorter than the table: never empty
    with pytest.raises(ValueError, match=r"audio.min_chunk_fraction must lie in \[0, 1\], got 1.5"):
        chunk_spans(0.0, 4.0, 3.0, 1.5)
    with pytest.raises(ValueError, match=r"chunk length must be > 0 seconds, got 0"):
        chunk_spans(0.0, 4.0, 0)
    with pytest.raises(ValueError, match=r"segment \[2.0, 2.0\] s is empty"):
        chunk_spans(2.0, 2.0, 3.0)


def test_profiles():
    assert load_config("paper").audio.min_chunk_fraction == 0.65 and load_config("paper").audio.chunk_seconds == 3.0
    assert load_config("default").audio.min_chunk_fraction == 0.0 and load_config("default").audio.chunk_seconds is None


# ---------------------------------------------------------------- features on a real video

def write_avi(path: Path, n_frames: int):
    """Left half red, right half blue, both with brightness LEVEL x frame index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (2 * SIZE, SIZE))
    for i in range(n_frames):
        frame = np.zeros((SIZE, 2 * SIZE, 3), np.uint8)
        frame[:, :SIZE, 2] = LEVEL * i  # BGR: red on the left
        frame[:, SIZE:, 0] = LEVEL * i
        w.write(frame)
    w.release()


BLOCKS = [(0.5, 8.0, "Ses01F_impro01_F000", "neu"),  # 7.5 s: 3 chunks, 2 under the 0.65 rule
          (8.0, 9.2, "Ses01F_impro01_M000", "ang"),  # 1.2 s: one short chunk either way
          (9.2, 11.9, "Ses01F_impro01_F001", "sad")]  # 2.7 s: one chunk


@pytest.fixture
def tree(tmp_path):
    return write_dialog_tree(tmp_path, BLOCKS, 12, write_avi)


def cfg_for(**over):
    return load_config("quick", {"video.n_frames": 4, "video.size": 16, "video.face_box": (0.0, 0.0, 1.0, 1.0),
                                 **over})


def frame_time(clip: np.ndarray, side: str) -> np.ndarray:
    """Decoded time (s) of each frame of a (T, H, W, 3) clip, read back from its brightness."""
    channel = 0 if side == "left" else 2  # RGB after decoding
    return clip[..., channel].mean(axis=(1, 2)) / LEVEL / FPS


def test_each_chunk_samples_its_own_span(tree, tmp_path):
    table = load_corpus(tree)
    f = extract_features(table, cfg_for(**{"audio.chunk_seconds": 3.0}), cache_dir=tmp_path / "c",
                         progress=False, workers=1)
    sides = dict(zip(table["id"], table["video_side"]))
    for start, end, uid, _ in BLOCKS:
        spans = chunk_spans(start, end, 3.0)
        v = f.video[uid]
        assert v.shape == (len(spans), 4, 16, 16, 3) and v.dtype == np.uint8
        for k, (s, e) in enumerate(spans):
            t = frame_time(v[k], sides[uid])
            # frames sampled at the centres of 4 equal parts of the chunk (floored to the 10 fps grid)
            want = np.floor((s + (np.arange(4) + 0.5) * (e - s) / 4) * FPS) / FPS
            np.testing.assert_allclose(t, want, atol=0.15)  # MJPEG is lossy: +- 3 grey levels
            assert (t > s - 0.15).all() and (t < e).all()
    # F000 [0.5, 8.0]: chunk 1 covers [3.5, 6.5] s, its frames at 3.8, 4.6, 5.3, 6.1 s
    np.testing.assert_allclose(frame_time(f.video["Ses01F_impro01_F000"][1], "left"), [3.8, 4.6, 5.3, 6.1], atol=0.15)

    paper = extract_features(table, cfg_for(**{"audio.chunk_seconds": 3.0, "audio.min_chunk_fraction": 0.65}),
                             cache_dir=tmp_path / "c", progress=False, workers=1)
    assert paper.stats["audio"]["hits"] == 3.0 and paper.stats["video"]["built"] == 3.0  # own video key only
    assert [len(paper.video[b[2]]) for b in BLOCKS] == [2, 1, 1]
    np.testing.assert_array_equal(paper.video["Ses01F_impro01_F000"], f.video["Ses01F_impro01_F000"][:2])
    whole = extract_features(table, cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1)
    assert whole.video["Ses01F_impro01_F000"].shape == (4, 16, 16, 3)  # not chunked: one clip per utterance
    assert len(list((tmp_path / "c").glob("video-*"))) == 3 and len(list((tmp_path / "c").glob("audio-*"))) == 2


@pytest.mark.parametrize("min_fraction, n_chunks", [(0.0, [3, 1, 1]), (0.65, [2, 1, 1])])
def test_audio_and_video_chunks_match(tree, tmp_path, min_fraction, n_chunks):
    table = load_corpus(tree)
    cfg = cfg_for(**{"audio.chunk_seconds": 3.0, "audio.min_chunk_fraction": min_fraction})
    f = extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1)
    ids = [b[2] for b in BLOCKS]
    ds = EmotionDataset(table, ids, f, CLASSES, cfg.audio)
    assert len(ds) == sum(n_chunks)
    for ui, (start, end, uid, _) in enumerate(BLOCKS):
        mine = [i for i, it in enumerate(ds.items) if it[0] == ui]
        assert len(mine) == len(f.video[uid]) == n_chunks[ui]
        for k, (i, (s, e)) in enumerate(zip(mine, chunk_spans(start, end, 3.0, min_fraction))):
            item = ds[i]
            assert ds.items[i][1] == k
            # audio chunk k lasts as long as video chunk k (+ the log-mel's one centred extra frame at the end)
            assert abs(item["audio"].shape[-1] * 0.01 - (e - s)) <= 0.0101
            expect = torch.from_numpy(f.video[uid][k].astype(np.float32) / 255 - 0.5).permute(3, 0, 1, 2)
            torch.testing.assert_close(item["video"], expect)
    video_only = EmotionDataset(table, ids, f, CLASSES, cfg.audio, modalities=("video",))
    assert len(video_only) == sum(n_chunks) and "audio" not in video_only[0]


# ---------------------------------------------------------------- dataset on hand-made arrays

def make(durations=(7.5, 1.2), n_frames=4):
    """Utterances of the given seconds; audio value = frame index, video pixel = 10 x chunk + frame."""
    ids = [f"u{i}" for i in range(len(durations))]
    table = pd.DataFrame({"id": ids, "label": ["neu", "ang", "sad"][: len(ids)], "speaker": ids, "valence": 1.0,
                          "arousal": 2.0, "dominance": 3.0, "start": 1.0, "end": [1.0 + d for d in durations]})
    feats = FeatureSet()
    for uid, d in zip(ids, durations):
        n = int(round(d * 100)) + 1
        feats.audio[uid] = np.broadcast_to(np.arange(n, dtype=np.float32), (3, 40, n)).copy()
        k = len(chunk_spans(1.0, 1.0 + d, 3.0))
        code = 10 * np.arange(k)[:, None] + np.arange(n_frames)[None, :]  # (K, T)
        feats.video[uid] = np.broadcast_to(code[..., None, None, None], (k, n_frames, 8, 8, 3)).astype(np.uint8)
    return table, ids, feats


def test_dataset_picks_chunk_k_frames():
    table, ids, feats = make()
    ds = EmotionDataset(table, ids, feats, CLASSES, AudioConfig(chunk_seconds=3.0))
    assert [it[:2] for it in ds.items] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert [it[2] for it in ds.items] == [(0, 300), (300, 600), (600, 751), (0, 121)]
    for i, (ui, k, (lo, hi)) in enumerate(ds.items):
        item = ds[i]
        codes = np.round((item["video"][0, :, 0, 0].numpy() + 0.5) * 255).astype(int)
        assert codes.tolist() == [10 * k + t for t in range(4)]
        assert item["audio"][0, 0, 0] == lo and item["audio"].shape[-1] == hi - lo
    # the paper's rule drops u0's 1.5 s remainder; the video must have been extracted the same way
    with pytest.raises(ValueError, match=r"utterance u0: chunked mode needs video features of shape \(n_chunks=2, "
                                         r"n_frames, H, W, 3\) \(segment \[1.0, 8.5\] s in 3.0 s chunks\), "
                                         r"got \(3, 4, 8, 8, 3\)"):
        EmotionDataset(table, ids, feats, CLASSES, AudioConfig(chunk_seconds=3.0, min_chunk_fraction=0.65))
    feats.video["u0"] = feats.video["u0"][:2]
    paper = EmotionDataset(table, ids, feats, CLASSES, AudioConfig(chunk_seconds=3.0, min_chunk_fraction=0.65))
    assert [it[2] for it in paper.items] == [(0, 300), (300, 600), (0, 121)]
    feats.video["u1"] = feats.video["u1"][0]  # an unchunked clip (T, H, W, 3) in chunked mode
    with pytest.raises(ValueError, match=r"utterance u1: chunked mode needs video .* got \(4, 8, 8, 3\)"):
        EmotionDataset(table, ids, feats, CLASSES, AudioConfig(chunk_seconds=3.0, min_chunk_fraction=0.65))


class FirstPixel(torch.nn.Module):
    """Stub model: the logit of class 0 is the video's first pixel, the others 0."""

    def forward(self, audio, video, lengths):
        logits = torch.zeros(len(video), len(CLASSES))
        logits[:, 0] = video[:, 0, 0, 0, 0]
        return {"logits": logits}


def test_utterance_scores_average_all_its_chunks():
    table, ids, feats = make(durations=(7.5, 1.2, 6.4))
    cfg = load_config("paper", {"audio.min_chunk_fraction": 0.0})
    ds = EmotionDataset(table, ids, feats, CLASSES, cfg.audio)
    assert len(ds) == 3 + 1 + 3
    spec = ModelSpec(cfg, "concat", Fold(1, (), (), tuple(ids), (), (), ()), cfg.train.seed)
    pred = predict(FirstPixel(), ds, spec, batch_size=2)  # batches cut across utterances
    assert pred["id"].tolist() == ids
    # first pixels of the chunks (10 k / 255 - 0.5): u0 and u2 average chunks 0, 1, 2; u1 has chunk 0 only
    for uid, n in (("u0", 3), ("u1", 1), ("u2", 3)):
        z = np.mean([10 * k / 255 - 0.5 for k in range(n)])
        p0 = np.exp(z) / (np.exp(z) + 3)
        assert pred.set_index("id").loc[uid, "p_neu"] == pytest.approx(p0, abs=1e-6)


def test_speaker_normalizer_pools_all_chunks_of_a_speaker():
    from mmlib.data.dataset import SpeakerNormalizer

    table, ids, feats = make(durations=(7.5, 1.2))  # 3 chunks and 1 chunk: arrays of different lengths
    table["speaker"] = "A"
    norm = SpeakerNormalizer(table, feats, ("video",))
    mean, std = norm.video_stats["A"]
    frames = np.concatenate([feats.video[u].reshape(-1, 8, 8, 3) for u in ids]).astype(np.float32) / 255
    np.testing.assert_allclose(mean, frames.mean(axis=0), rtol=1e-6)
    assert std == pytest.approx(float((frames - frames.mean(axis=0)).std()) + 1e-5, rel=1e-5)
    ds = EmotionDataset(table, ids, feats, CLASSES, AudioConfig(chunk_seconds=3.0), norm, ("video",))
    assert len(ds) == 4 and ds[2]["video"].shape == (3, 4, 8, 8)
