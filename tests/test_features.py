"""Features and cache on a hand-made IEMOCAP tree with real media: frame sampling, sides, cache hits,
selective rebuilds, and per-utterance errors for bad media."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mmlib.config import load_config
from mmlib.data.features import BadMediaError, extract_features, logmel
from mmlib.data.iemocap import load_corpus
from tests.iemocap_trees import cfg_for


def test_logmel_shape_and_range():
    cfg = load_config("default").audio
    x = logmel(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1, cfg)
    assert x.shape == (3, 40, 101)  # 1 s at a 10 ms hop, centred frames
    assert x[0].max() == pytest.approx(0.0) and x[0].min() >= -80.0  # power_to_db(ref=max), top_db 80


def test_clips_sample_right_frames_and_side(media_tree, tmp_path):
    table = load_corpus(media_tree)
    f = extract_features(table, cfg_for(), cache_dir=tmp_path / "cache", progress=False, workers=1)
    clip = f.video["Ses01F_impro01_F001"]  # segment [2, 3] s, 5 frames at centres 2.1, 2.3, ... s
    assert clip.shape == (5, 16, 16, 3)
    red = clip[..., 0].mean(axis=(1, 2))
    np.testing.assert_allclose(red, [5 * i for i in (21, 23, 25, 27, 29)], atol=3)  # MJPEG is lossy
    assert clip[..., 2].mean() < 3  # the left (F) half has no blue
    right = f.video["Ses01F_impro01_M000"]  # the male speaker sits on the right in Ses01F dialogs
    assert right[..., 0].mean() < 3 and right[..., 2].mean() > 40
    assert f.audio["Ses01F_impro01_F000"].shape == (3, 40, 101)


def test_cache_hit_and_selective_rebuild(media_tree, tmp_path):
    table = load_corpus(media_tree)
    cfg = cfg_for()
    first = extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1)
    assert first.stats["audio"]["built"] == 3 and first.stats["video"]["built"] == 3
    again = extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1)
    assert again.stats["audio"] == {**again.stats["audio"], "hits": 3.0, "built": 0.0}
    assert again.stats["video"]["hits"] == 3.0
    for uid in table["id"]:
        np.testing.assert_array_equal(first.video[uid], again.video[uid])
    changed = extract_features(table, replace(cfg, video=replace(cfg.video, size=8)), cache_dir=tmp_path / "c",
                               progress=False, workers=1)
    assert changed.stats["audio"]["hits"] == 3.0 and changed.stats["video"]["built"] == 3.0
    assert changed.video["Ses01F_impro01_F000"].shape == (5, 8, 8, 3)
    # a changed media file gets a new entry (its fingerprint changes)
    wav = Path(table.loc[0, "audio_path"])
    sf.write(wav, np.zeros(8000, np.float32) + 0.01, 16000)
    after = extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1, modalities=("audio",))
    assert after.stats["audio"]["built"] == 1.0 and after.audio[table.loc[0, "id"]].shape[-1] == 51
    assert not list((tmp_path / "c").rglob("*.tmp"))  # no temporary files left behind


def test_parallel_equals_serial(media_tree, tmp_path):
    table = load_corpus(media_tree)
    a = extract_features(table, cfg_for(), cache_dir=tmp_path / "a", progress=False, workers=1)
    b = extract_features(table, cfg_for(), cache_dir=tmp_path / "b", progress=False, workers=2)
    for uid in table["id"]:
        np.testing.assert_array_equal(a.audio[uid], b.audio[uid])
        np.testing.assert_array_equal(a.video[uid], b.video[uid])


def test_bad_media_reported_per_utterance(media_tree, tmp_path):
    table = load_corpus(media_tree)
    t = table.set_index("id")
    Path(t.loc["Ses01F_impro01_M000", "audio_path"]).write_bytes(b"RIFF\x00\x00")  # truncated wav
    table.loc[table["id"] == "Ses01F_impro01_F001", "end"] = 9.0  # the video is 3 s long
    with pytest.raises(BadMediaError) as err:
        extract_features(table, cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1)
    msg = str(err.value)
    assert "2 utterance(s) have bad media" in msg
    # the frames are read from the seconds the audio keeps (audio.max_seconds = 3 from the start): [2, 5]
    assert "Ses01F_impro01_F001: segment [2.000, 5.000] s lies outside Ses01F_impro01.avi" in msg
    assert "Ses01F_impro01_M000: unreadable audio" in msg
    f = extract_features(table, cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1, on_error="skip")
    assert sorted(f.skipped) == ["Ses01F_impro01_F001", "Ses01F_impro01_M000"]
    assert sorted(f.audio) == sorted(f.video) == ["Ses01F_impro01_F000"]


def test_missing_video_and_bad_option(media_tree, tmp_path):
    table = load_corpus(media_tree)
    table["video_path"] = None
    f = extract_features(table, cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1, on_error="skip")
    assert set(f.skipped.values()) == {"no video for this dialog"}
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        extract_features(table, cfg_for(), cache_dir=tmp_path / "c", on_error="ignore")


def test_face_frames_cover_the_seconds_the_audio_keeps(quick_session, tmp_path):
    """Padded mode cuts the log-mel at audio.max_seconds; the face frames are sampled from the same seconds."""
    from mmlib.data import features, media

    s = quick_session
    cfg = s.cfg.with_overrides({"audio.max_seconds": 1.0})  # the quick corpus's utterances last up to ~2 s
    assert features.video_span(cfg) == 1.0
    assert features.video_span(cfg.with_overrides({"audio.chunk_seconds": 1.0})) is None
    assert features.cache_key(cfg, "video") != features.cache_key(s.cfg, "video")
    rows = s.recordings[s.recordings["end"] - s.recordings["start"] > 1.5].head(2)
    assert len(rows) == 2  # utterances the audio cuts
    f = extract_features(rows, cfg, cache_dir=tmp_path, progress=False, workers=1)
    v = cfg.video
    for r in rows.itertuples():
        (cut,) = media.read_clips(r.video_path, [(r.start, r.start + 1.0)], v.n_frames, [r.video_side], v.size, v.crop,
                                  v.face_box)
        (whole,) = media.read_clips(r.video_path, [(r.start, r.end)], v.n_frames, [r.video_side], v.size, v.crop,
                                    v.face_box)
        assert np.array_equal(f.video[r.id], cut) and not np.array_equal(cut, whole)
        assert f.audio[r.id].shape[-1] == 101  # 1 s of 10 ms frames, + 1
