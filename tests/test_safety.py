"""Data that cannot hurt a run: damaged cache entries, an empty label set, runs killed mid-way,
library upgrades, a missing face detector, truncated wavs. Each case gives a rebuild or a clear message."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from mmlib.config import load_config
from mmlib.data import faces, features
from mmlib.data.corpus import require_labelled
from mmlib.data.features import BadMediaError, cache_key, extract_features
from mmlib.data.iemocap import load_corpus
from mmlib.runner.cli import main
from mmlib.runner.study import clean_stale
from tests.iemocap_trees import cfg_for


def test_damaged_cache_files_are_rebuilt_with_a_warning(media_tree, tmp_path):
    table = load_corpus(media_tree)
    cfg = cfg_for()
    first = extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1, modalities=("audio",))
    files = sorted((tmp_path / "c").rglob("*.npy"))
    assert len(files) == 3
    cut, junk = files[0], files[1]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # a copy cut short
    junk.write_bytes(b"")  # today's "EOFError: No data left in file"
    with pytest.warns(UserWarning, match=r"2 damaged audio cache file\(s\) rebuilt: .*") as rec:
        again = extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1, modalities=("audio",))
    msg = str(rec[0].message)
    assert str(cut) in msg and str(junk) in msg and "EOFError" in msg
    assert again.stats["audio"]["rebuilt_damaged"] == 2.0
    assert again.stats["audio"]["hits"] == 1.0 and again.stats["audio"]["built"] == 2.0
    for uid in table["id"]:
        np.testing.assert_array_equal(first.audio[uid], again.audio[uid])
    third = extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1, modalities=("audio",))
    assert third.stats["audio"]["hits"] == 3.0 and third.stats["audio"]["rebuilt_damaged"] == 0.0


def test_empty_label_set_names_root_and_label_set(media_tree, tmp_path, capsys):
    table = load_corpus(media_tree)
    data = replace(load_config("quick").data, dataset="iemocap", root=str(media_tree), label_set="cremad6")
    from mmlib.data.corpus import apply_label_set

    with pytest.raises(ValueError) as err:
        require_labelled(apply_label_set(table, "cremad6"), data)
    assert str(err.value).startswith(f"no utterance of iemocap corpus {media_tree} falls in label set 'cremad6' (")
    assert "the corpus has 3 utterance(s) with emotion codes ['ang', 'neu', 'sad']" in str(err.value)
    with pytest.raises(SystemExit) as code:
        main(["features", "--profile", "quick", "--data-root", str(media_tree), "--quiet", "--data-dir", str(tmp_path),
              "-o", "data.dataset=iemocap", "-o", "data.label_set=cremad6"])
    assert code.value.code == 2
    assert f"mmlib features: error: no utterance of iemocap corpus {media_tree} falls in label set 'cremad6'" in (
        capsys.readouterr().err)
    with pytest.raises(ValueError, match="no utterances to extract"):
        extract_features(table.iloc[:0], cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1)


def test_stale_run_folders_of_dead_processes_are_removed(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for name in (f".tmp-quick-check-{dead.pid}", f".old-quick-{dead.pid}", f".tmp-default-{live.pid}", "quick"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "x.ipynb").write_text("{}")
        removed, running = clean_stale(tmp_path)
    finally:
        live.kill()
        live.wait()
    assert removed == [f".old-quick-{dead.pid}", f".tmp-quick-check-{dead.pid}"]
    assert running == [f".tmp-default-{live.pid}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f".tmp-default-{live.pid}", "quick"])
    assert "removed 2 folder(s) left by killed runs" in capsys.readouterr().out


def test_library_versions_are_part_of_the_cache_keys(monkeypatch):
    cfg = load_config("quick")
    audio, video = cache_key(cfg, "audio"), cache_key(cfg, "video")
    real = features.md.version

    def fake(upgraded):
        return lambda name: "99.0" if name == upgraded else real(name)

    monkeypatch.setattr(features.md, "version", fake("librosa"))
    assert cache_key(cfg, "audio") != audio and cache_key(cfg, "video") == video
    monkeypatch.setattr(features.md, "version", fake("opencv-python-headless"))
    assert cache_key(cfg, "audio") == audio and cache_key(cfg, "video") != video
    mt = replace(cfg, video=replace(cfg.video, crop="mtcnn"))
    key = cache_key(mt, "video")
    monkeypatch.setattr(features.md, "version", fake("facenet-pytorch"))
    assert cache_key(mt, "video") != key and cache_key(cfg, "video") == video  # the box crop does not use it
    assert set(features.library_versions(mt, "video")) == {"opencv-python-headless", "numpy", "cv2",
                                                           "facenet-pytorch", "torch"}


def test_haar_missing_from_opencv_is_an_error(media_tree, tmp_path, monkeypatch):
    table = load_corpus(media_tree)
    monkeypatch.setattr(faces, "cv2", SimpleNamespace(__version__="5.0.0"))  # OpenCV 5: no CascadeClassifier
    monkeypatch.setattr(faces, "_HAAR", None)
    for crop in ("haar", "detector"):
        cfg = replace(cfg_for(), video=replace(cfg_for().video, crop=crop))
        with pytest.raises(faces.DetectorUnavailable, match=r"video.crop='haar' needs OpenCV's Haar face detector, "
                                                            r"which OpenCV 5.0.0 does not ship"):
            extract_features(table, cfg, cache_dir=tmp_path / "c", progress=False, workers=1)
    f = extract_features(table, cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1)  # box: no detector
    assert len(f.video) == 3
    with pytest.raises(ValueError, match="video.crop must be one of"):
        faces.crop_method("dlib")


def test_truncated_wav_is_reported_as_truncated(media_tree, tmp_path):
    table = load_corpus(media_tree)
    wav = Path(table.loc[table["id"] == "Ses01F_impro01_M000", "audio_path"].item())
    sf.write(wav, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    data = wav.read_bytes()
    wav.write_bytes(data[: 44 + 2 * 160])  # header + 10 ms of the declared second
    with pytest.raises(BadMediaError) as err:
        extract_features(table, cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1, modalities=("audio",))
    assert (f"Ses01F_impro01_M000: truncated wav {wav}: its header declares 16000 sample frames, the file holds 160 "
            "(1.0 %)") in str(err.value)
    wav.write_bytes(data)  # the whole file is fine
    f = extract_features(table, cfg_for(), cache_dir=tmp_path / "c", progress=False, workers=1, modalities=("audio",))
    assert f.audio["Ses01F_impro01_M000"].shape == (3, 40, 101)


def test_mtcnn_missing_is_an_error_that_says_how_to_install(media_tree, tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # import fails as if not installed
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setattr(faces, "_MTCNN", None)
    cfg = replace(cfg_for(), video=replace(cfg_for().video, crop="mtcnn"))
    with pytest.raises(faces.DetectorUnavailable, match=r"video.crop='mtcnn' needs facenet-pytorch .*pip install "
                                                        r"--no-deps 'facenet-pytorch==2.6.0'"):
        extract_features(load_corpus(media_tree), cfg, cache_dir=tmp_path / "c", progress=False, workers=1)
