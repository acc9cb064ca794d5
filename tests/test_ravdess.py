"""The RAVDESS loader, features, folds and training on tiny RAVDESS-shaped trees (tests/corpora.py)."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mmlib.config import load_config
from mmlib.data import corpus, cremad, ravdess
from mmlib.data.corpus import COLUMNS, class_names, labelled
from mmlib.data.features import extract_features
from mmlib.data.media import MediaError, read_audio
from mmlib.data.splits import make_folds
from tests.corpora import TINY, ravdess_clips, write_ravdess

FPS = 15


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Actors 1 (no audio-only wavs) and 2 (with them); neutral, calm, angry; song and video-only too."""
    return write_ravdess(tmp_path_factory.mktemp("rav") / "RAVDESS", actors=(1, 2), emotions=(1, 2, 5),
                         audio_only="even", song=True, video_only=True, fps=FPS)


@pytest.fixture(scope="module")
def seven(tmp_path_factory):
    """Seven actors (actor6 needs more than six), the four classes of 4class, normal intensity."""
    return write_ravdess(tmp_path_factory.mktemp("rav7") / "RAVDESS", actors=range(1, 8), emotions=(1, 3, 4, 5),
                         intensities=(1,), audio_only="even", layout="flat", fps=FPS)


def test_rows_columns_and_codes(small):
    t = ravdess.load_corpus(small)
    assert list(t.columns) == list(COLUMNS)
    assert len(t) == len(ravdess_clips((1, 2), (1, 2, 5))) == 10  # no strong neutral in RAVDESS
    assert t["id"].str.match(r"^01-01-\d\d-\d\d-\d\d-\d\d-\d\d$").all()  # speech, audio-video; no ._* files
    assert t["emotion"].value_counts().to_dict() == {"calm": 4, "angry": 4, "neutral": 2}
    assert t["mode"].value_counts().to_dict() == {"acted-normal": 6, "acted-strong": 4}
    assert t.groupby("speaker")["gender"].first().to_dict() == {"Actor_01": "M", "Actor_02": "F"}
    assert (t["dialog"] == t["id"]).all() and (t["session"] == 1).all() and (t["video_side"] == "full").all()
    assert t[["valence", "arousal", "dominance"]].isna().all().all()
    assert (t["start"] == 0).all() and np.allclose(t["end"], 1.0, atol=1 / FPS)
    assert t["label"].value_counts().to_dict() == {"cal": 4, "ang": 4, "neu": 2}
    assert not any("/." in p for p in t["audio_path"]) and t["video_path"].str.endswith(".mp4").all()


def test_audio_path_prefers_the_audio_only_wav(small):
    t = ravdess.load_corpus(small).set_index("id")
    with_wav = t.loc["01-01-05-02-01-01-02"]  # actor 2 has audio-only files
    assert with_wav["audio_path"].endswith("Audio_Speech_Actors_01-24/Actor_02/03-01-05-02-01-01-02.wav")
    without = t.loc["01-01-05-02-01-01-01"]  # actor 1 has not: the mp4's own audio track
    assert without["audio_path"] == without["video_path"]
    assert without["video_path"].endswith("Video_Speech_Actor_01/Actor_01/01-01-05-02-01-01-01.mp4")


def test_song_and_video_only_rows(small):
    song = ravdess.load_corpus(small, include_song=True)
    assert len(song) == 20 and song["mode"].str.startswith("acted-song-").sum() == 10
    both = ravdess.load_corpus(small, include_song=True, include_video_only=True).set_index("id")
    assert len(both) == 40 and both.index.str.startswith("02-").sum() == 20
    # video-only rows take the same recording's audio: the audio-only wav, else the audio-video mp4
    assert both.loc["02-01-02-01-01-01-02", "audio_path"].endswith("03-01-02-01-01-01-02.wav")
    assert both.loc["02-01-02-01-01-01-01", "audio_path"].endswith("01-01-02-01-01-01-01.mp4")


def test_label_sets(small):
    four = ravdess.load_corpus(small, label_set="4class")
    assert four["label"].value_counts().to_dict() == {"ang": 4, "neu": 2} and four["label"].isna().sum() == 4
    seven_cls = ravdess.load_corpus(small, label_set="ravdess7")
    assert seven_cls["label"].value_counts().to_dict() == {"neu": 6, "ang": 4}  # calm merged into neutral
    assert ravdess.load_corpus(small, label_set="native")["label"].equals(ravdess.load_corpus(small)["label"])
    with pytest.raises(KeyError, match="does not apply to RAVDESS"):
        ravdess.load_corpus(small, label_set="6class")


def test_label_sets_agree_with_the_corpus_registry():
    """class_names() (training's class list) must give the loaders' classes, in the same order."""
    for module in (ravdess, cremad):
        for name, mapping in module.LABEL_SETS.items():
            assert mapping.items() <= corpus.LABEL_SETS[name].items(), f"{module.__name__}: {name} differs"
            assert class_names(name) == list(dict.fromkeys(mapping.values()))
    assert class_names("4class") == ["neu", "hap", "sad", "ang"]  # unchanged for IEMOCAP


def test_layouts_and_errors(seven, small, tmp_path):
    flat = ravdess.load_corpus(seven)  # Actor_XX/ holding mp4 and wav side by side
    assert len(flat) == 28 and flat["speaker"].nunique() == 7
    root = tmp_path / "broken"
    shutil.copytree(small / "Video_Speech_Actor_01", root / "Video_Speech_Actor_01")
    (root / "Actor_01").mkdir()
    shutil.copy(next((small / "Video_Speech_Actor_01").rglob("01-01-01-*.mp4")), root / "Actor_01")
    with pytest.raises(ValueError, match="appears twice"):
        ravdess.load_corpus(root)
    shutil.rmtree(root / "Actor_01")
    (root / "01-01-09-01-01-01-01.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="01-01-09-01-01-01-01.mp4: emotion code 09"):
        ravdess.load_corpus(root)
    (root / "01-01-09-01-01-01-01.mp4").unlink()
    (root / "01-01-08-01-01-01-01.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match=r"no readable video stream or duration:\n  .*01-01-08-01-01-01-01.mp4"):
        ravdess.load_corpus(root)
    audio_only = tmp_path / "audio_only"
    shutil.copytree(small / "Audio_Speech_Actors_01-24", audio_only)
    with pytest.raises(ValueError, match="no audio-video RAVDESS clips"):
        ravdess.load_corpus(audio_only)


def test_read_audio_from_mp4_matches_the_wav(small):
    t = ravdess.load_corpus(small).set_index("id")
    mp4 = t.loc["01-01-05-02-01-01-02", "video_path"]  # both written from the same waveform
    from_mp4, from_wav = read_audio(mp4, 16000), read_audio(t.loc["01-01-05-02-01-01-02", "audio_path"], 16000)
    assert len(from_wav) == 16000 and abs(len(from_mp4) - 16000) < 160  # AAC pads its last frame
    assert np.corrcoef(from_mp4[:16000], from_wav)[0, 1] > 0.99  # 48 kHz AAC -> 16 kHz, aligned
    with pytest.raises(MediaError, match="no audio stream"):
        read_audio(next(small.rglob("02-01-*.mp4")))  # video-only: no sound at all


def test_features_on_mp4_and_wav_audio(seven, tmp_path):
    table = labelled(ravdess.load_corpus(seven, label_set="4class"))
    cfg = load_config("ravdess", {"video.n_frames": 5, "video.size": 24, "video.crop": "box"})
    feats = extract_features(table, cfg, cache_dir=tmp_path / "cache", progress=False, workers=1)
    assert not feats.skipped and len(feats.audio) == len(feats.video) == 28
    for r in table.itertuples():
        n = len(read_audio(r.audio_path, 16000))
        assert feats.audio[r.id].shape == (3, 40, 1 + n // 160)  # 10 ms hop, centred frames
        assert abs(feats.audio[r.id].shape[2] - 1 - 100 * (r.end - r.start)) <= 2  # matches the video's duration
        assert feats.video[r.id].shape == (5, 24, 24, 3) and feats.video[r.id].dtype == np.uint8
    assert table["audio_path"].str.endswith(".mp4").sum() == 16  # odd actors: audio from the mp4 track


def test_detector_crop_on_ravdess_video(seven, tmp_path):
    """The profile's crop: MTCNN (falling back to face_box) on full 16:9 frames of drawn faces."""
    table = labelled(ravdess.load_corpus(seven)).head(4)
    cfg = load_config("ravdess", {"video.n_frames": 4, "video.size": 24})
    assert cfg.video.crop == "mtcnn" and cfg.data.protocol == "ravdess6_lit"
    feats = extract_features(table, cfg, cache_dir=tmp_path / "cache", modalities=("video",), progress=False, workers=1)
    assert {k: v.shape for k, v in feats.video.items()} == {uid: (4, 24, 24, 3) for uid in table["id"]}


@pytest.mark.parametrize("protocol", ["actor5", "actor6"])
def test_folds_never_share_an_actor(seven, protocol):
    table = labelled(ravdess.load_corpus(seven))
    folds = make_folds(table, protocol)
    assert len(folds) == int(protocol[5:])
    speaker = table.set_index("id")["speaker"]
    for f in folds:
        parts = [set(speaker[list(f.part(p))]) for p in ("train", "val", "test")]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert len(f.train) + len(f.val) + len(f.test) == len(table)
    tested = sorted(u for f in folds for u in f.test)
    assert tested == sorted(table["id"])  # every clip is tested exactly once


def test_one_training_step(seven, tmp_path):
    from mmlib.training.checkpoints import ModelSpec
    from mmlib.training.fit import fit

    over = {**TINY, "video.crop": "box", "data.protocol": "actor6"}  # the literature's folds need all actors
    cfg = load_config("ravdess", {**over, "data.data_dir": str(tmp_path)})
    table = labelled(ravdess.load_corpus(seven, label_set=cfg.data.label_set))
    feats = extract_features(table, cfg, cache_dir=tmp_path / "cache", progress=False, workers=1)
    fold = make_folds(table, cfg.data.protocol)[0]
    res = fit(ModelSpec(cfg, "matchmap", fold, cfg.train.seed), table, feats, ckpt_dir=tmp_path / "ckpt", progress=False)
    pred = res.predict()
    assert sorted(pred["id"]) == sorted(fold.test) and res.checkpoint.exists()
    classes = class_names("ravdess8")
    assert [c for c in pred.columns if c.startswith("p_")] == [f"p_{c}" for c in classes]
    assert pred.set_index("id")["true"].to_dict() == table.set_index("id").loc[list(fold.test), "label"].to_dict()
    assert set(pred["pred"]) <= set(classes) and np.allclose(pred.filter(like="p_").sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_quick_study_on_ravdess(tmp_path):
    """The study's notebooks, unchanged, on a RAVDESS-shaped tree: only the profile differs."""
    from mmlib.runner.study import run_study

    tree = write_ravdess(tmp_path / "RAVDESS", actors=range(1, 8), intensities=(1,), fps=FPS)  # 7 x 8 clips
    over = {**TINY, "folds": [1], "data.protocol": "actor6", "run.executor": "sequential"}  # papermill passes
    # lists; ravdess6_lit needs 24 actors; the Ray executor is covered by the synthetic quick study
    cfg = load_config("ravdess", {**over, "data.root": str(tree), "data.data_dir": str(tmp_path / "data")})
    run = run_study(cfg, run_name="rav", results_dir=tmp_path / "results", overrides=over, progress=False)
    assert (run / "metrics.csv").exists() and (run / "manifest.json").exists()
    crop = json.loads((run / "manifest.json").read_text())["face_crop"]
    assert crop["method"] == "mtcnn" and crop["utterances_on_box"] == len(crop["utterances"]) - sum(
        c["box"] == 0 for c in crop["utterances"].values())
    m = pd.read_csv(run / "metrics.csv")
    assert set(m["model"]) >= {"audio", "video", "concat", "matchmap"} and m["UA"].between(0, 1).all()
    pred = pd.read_csv(run / "predictions" / "fusion.csv", keep_default_na=False)
    assert {f"p_{c}" for c in ("neu", "cal", "hap", "sad", "ang", "fea", "dis", "sur")} <= set(pred.columns)
