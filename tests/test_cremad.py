"""The CREMA-D loader, its known-bad clips, features, folds and training on tiny CREMA-D-shaped trees."""

import shutil

import numpy as np
import pytest

from mmlib.config import load_config
from mmlib.data import cremad
from mmlib.data.corpus import COLUMNS, class_names, labelled
from mmlib.data.features import BadMediaError, extract_features
from mmlib.data.media import read_audio
from mmlib.data.splits import make_folds
from tests.corpora import CREMAD_EMOTIONS, TINY, cremad_sex, write_cremad

ACTORS = range(1001, 1007)  # six actors: actor5 needs more than five
BAD = set(cremad.KNOWN_BAD)
UNREADABLE = {"1076_MTI_SAD_XX", "1076_MTI_NEU_XX", "1064_TIE_SAD_XX"}  # as tests/corpora.py imitates them


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_cremad(tmp_path_factory.mktemp("crema") / "CREMA-D", actors=ACTORS, sentences=("DFA",))


@pytest.fixture(scope="module")
def ieo(tmp_path_factory):
    """One actor saying IEO at every level, no demographics file."""
    return write_cremad(tmp_path_factory.mktemp("ieo") / "CREMA-D", actors=(1001,), sentences=("IEO",),
                        known_bad=False, demographics=False)


def load(root, **kw):
    with pytest.warns(UserWarning, match="dropped the known-bad"):
        return cremad.load_corpus(root, **kw)


def test_rows_columns_and_codes(tree):
    t = load(tree)
    assert list(t.columns) == list(COLUMNS)
    assert len(t) == 36 and not set(t["id"]) & BAD
    assert t["emotion"].value_counts().to_dict() == {e: 6 for e in CREMAD_EMOTIONS}
    assert sorted(t["speaker"].unique()) == [str(a) for a in ACTORS]
    assert t.groupby("speaker")["gender"].first().to_dict() == {str(a): cremad_sex(a)[0] for a in ACTORS}
    assert (t["mode"] == "acted-XX").all() and (t["session"] == 1).all() and (t["dialog"] == t["id"]).all()
    assert t["audio_path"].str.contains("/AudioWAV/").all() and t["video_path"].str.contains("/VideoFlash/").all()
    assert not t["audio_path"].str.contains("/[.]_").any()  # ._* resource forks ignored
    assert np.allclose(t["end"], 1.0, atol=1 / 15) and (t["start"] == 0).all()
    assert t[["valence", "arousal", "dominance"]].isna().all().all()
    assert t["label"].value_counts().to_dict() == {c: 6 for c in ("neu", "hap", "sad", "ang", "fea", "dis")}


def test_known_bad_warned_and_dropped_or_kept(tree):
    with pytest.warns(UserWarning) as rec:
        cremad.load_corpus(tree)
    msg = " ".join(str(w.message) for w in rec)
    assert all(cid in msg for cid in BAD) and "no audio" in msg
    kept = cremad.load_corpus(tree, on_known_bad="keep").set_index("id")
    assert len(kept) == 40 and BAD <= set(kept.index)
    assert kept.loc["1064_TIE_SAD_XX", "end"] == pytest.approx(1.0)  # the video has no duration: the wav's
    assert kept.loc["1064_IEO_DIS_MD", "end"] == pytest.approx(3.0, abs=0.07)
    assert kept.loc["1076_MTI_NEU_XX", "end"] == pytest.approx(0.2, abs=0.07)  # 3 frames at 15 fps
    with pytest.raises(ValueError, match="on_known_bad"):
        cremad.load_corpus(tree, on_known_bad="skip")


def test_levels_and_missing_demographics(ieo):
    with pytest.warns(UserWarning, match="no VideoDemographics.csv"):
        t = cremad.load_corpus(ieo)
    assert t["mode"].value_counts().to_dict() == {"acted-LO": 5, "acted-MD": 5, "acted-HI": 5, "acted-XX": 1}
    assert (t["gender"] == "U").all()


def test_label_sets(tree):
    four = load(tree, label_set="4class")
    assert four["label"].isna().sum() == 12 and four.loc[four["emotion"].isin(["FEA", "DIS"]), "label"].isna().all()
    with pytest.raises(KeyError, match="does not apply to CREMA-D"):
        cremad.load_corpus(tree, label_set="ravdess8")


def test_names_and_errors(tree, tmp_path):
    root = tmp_path / "c"
    (root / "AudioWAV").mkdir(parents=True)
    src = tree / "AudioWAV" / "1002_DFA_HAP_XX.wav"
    shutil.copy(src, root / "AudioWAV" / "1040_ITH_SAD_X.wav")  # the release's one truncated level code
    with pytest.warns(UserWarning, match="VideoDemographics"):
        t = cremad.load_corpus(root)
    assert t["id"].tolist() == ["1040_ITH_SAD_XX"] and t["video_path"].isna().all()
    assert t["end"].iloc[0] == pytest.approx(1.0)  # from the wav when there is no video
    shutil.copy(src, root / "AudioWAV" / "1001_XYZ_ANG_XX.wav")
    with pytest.raises(ValueError, match="1001_XYZ_ANG_XX.wav: sentence 'XYZ'"):
        cremad.load_corpus(root)
    (root / "AudioWAV" / "1001_XYZ_ANG_XX.wav").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
    with pytest.raises(ValueError, match="git lfs pull"):
        cremad.load_corpus(root)


@pytest.mark.filterwarnings("ignore:n_fft=512 is too large")  # the 10 ms clip, on its way to its MediaError
def test_known_bad_media_are_reported_per_utterance(tree, tmp_path):
    table = cremad.load_corpus(tree, on_known_bad="keep")
    cfg = load_config("cremad", {"video.n_frames": 4, "video.size": 16, "video.crop": "box", "audio.max_seconds": 2.0})
    with pytest.raises(BadMediaError) as err:
        extract_features(table, cfg, cache_dir=tmp_path / "cache", progress=False, workers=1)
    assert set(err.value.problems) == UNREADABLE
    assert "zero samples" in err.value.problems["1076_MTI_SAD_XX"]
    feats = extract_features(table, cfg, cache_dir=tmp_path / "cache", progress=False, workers=1, on_error="skip")
    assert set(feats.skipped) == UNREADABLE and len(feats.audio) == len(feats.video) == 37
    assert feats.audio["1064_IEO_DIS_MD"].shape[2] == 201  # 3 s, cut at max_seconds = 2
    assert feats.video["1001_DFA_ANG_XX"].shape == (4, 16, 16, 3)


def test_flv_audio_when_the_wav_is_missing(tree, tmp_path):
    root = tmp_path / "c"
    (root / "VideoFlash").mkdir(parents=True)
    shutil.copy(tree / "VideoFlash" / "1003_DFA_SAD_XX.flv", root / "VideoFlash")
    shutil.copy(tree / "VideoDemographics.csv", root)
    t = cremad.load_corpus(root)
    assert t["audio_path"].iloc[0] == t["video_path"].iloc[0]
    wave = read_audio(t["audio_path"].iloc[0], 16000)  # 22.05 kHz MP3 in the flv -> 16 kHz
    assert 16000 <= len(wave) < 16000 + 1600  # the MP3 encoder adds up to ~0.1 s of delay and padding
    wav = read_audio(tree / "AudioWAV" / "1003_DFA_SAD_XX.wav", 16000)
    assert np.sqrt(np.mean(wave**2)) == pytest.approx(np.sqrt(np.mean(wav**2)), rel=0.2)


@pytest.mark.parametrize("protocol", ["actor5", "actor10"])
def test_folds_never_share_an_actor(tree, protocol):
    table = labelled(load(tree))
    if protocol == "actor10":
        with pytest.raises(ValueError, match="needs more than 10 speakers"):
            make_folds(table, protocol)
        return
    folds = make_folds(table, protocol)
    speaker = table.set_index("id")["speaker"]
    for f in folds:
        parts = [set(speaker[list(f.part(p))]) for p in ("train", "val", "test")]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sorted(u for f in folds for u in f.test) == sorted(table["id"])


def test_one_training_step(tree, tmp_path):
    from mmlib.training.checkpoints import ModelSpec
    from mmlib.training.fit import fit

    over = {**TINY, "video.crop": "box", "data.protocol": "actor5"}  # the literature's folds need all actors
    cfg = load_config("cremad", {**over, "data.data_dir": str(tmp_path)})
    table = labelled(load(tree, label_set=cfg.data.label_set))
    feats = extract_features(table, cfg, cache_dir=tmp_path / "cache", progress=False, workers=1)
    fold = make_folds(table, cfg.data.protocol)[0]
    res = fit(ModelSpec(cfg, "concat", fold, cfg.train.seed), table, feats, ckpt_dir=tmp_path / "ckpt", progress=False)
    pred = res.predict()
    assert sorted(pred["id"]) == sorted(fold.test)
    assert [c for c in pred.columns if c.startswith("p_")] == [f"p_{c}" for c in class_names("cremad6")]
    assert pred.set_index("id")["true"].to_dict() == table.set_index("id").loc[list(fold.test), "label"].to_dict()
