"""Face crops on real faces (photographs shipped in scikit-image and matplotlib): MTCNN finds the right
person in IEMOCAP-like dialog frames and RAVDESS/CREMA-D-like frames, smoothing, and fallback counts."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from mmlib.config import load_config
from mmlib.data import faces, media
from mmlib.data.features import extract_features
from mmlib.data.iemocap import load_corpus
from mmlib.runner.study import face_crop_report
from tests import realfaces as rf
from tests.iemocap_trees import write_session


def shift(box, dx):
    return (box[0] - dx, box[1], box[2] - dx, box[3])


@pytest.mark.parametrize("method,seed", [("mtcnn", 0), ("mtcnn", 1), ("haar", 0)])
def test_detector_finds_each_speaker_in_dialog_frames(method, seed):
    """720 x 480, two people side by side, faces 60-90 px wide, moving: >= 95 % of frames hold the right face."""
    frames, truth = rf.dialog((480, 720), n=16, seed=seed)
    for side, name, dx in (("left", "astronaut", 0), ("right", "hopper", 360)):
        halves = [media.half_of(f, side) for f in frames]
        boxes, n_box, n_missed = faces.face_boxes(halves, method, fallback=(0, 0, 360, 360))
        hits = [rf.covers(b, shift(t[name], dx)) for b, t in zip(boxes, truth)]
        assert np.mean(hits) >= 0.95, (side, hits)
        assert n_box == 0 and n_missed <= 1
        assert all(60 * 1.0 <= b[2] - b[0] <= 90 * 1.2 * 1.4 for b in boxes)  # ~1.2 x the face, never the half


@pytest.mark.parametrize("shape,name,face", [((720, 1280), "astronaut", (0.30, 0.40)),  # RAVDESS: 1280 x 720
                                             ((360, 480), "hopper", (0.30, 0.40))])  # CREMA-D: 480 x 360
def test_mtcnn_on_single_face_clips(shape, name, face):
    frames, truth = rf.single(shape, name, n=8, seed=2, face=face)
    boxes, n_box, _ = faces.face_boxes(frames, "mtcnn", fallback=(0, 0, 100, 100))
    assert np.mean([rf.covers(b, t) for b, t in zip(boxes, truth)]) >= 0.95 and n_box == 0


def test_haar_alias_and_smoothing_on_hand_made_detections():
    assert faces.crop_method("detector") == "haar" and faces.crop_method("mtcnn") == "mtcnn"
    found = [np.array([50.0, 50.0, 20.0]), np.array([90.0, 10.0, 60.0]), np.array([52.0, 50.0, 20.0]), None]
    boxes, n_box = faces.smooth_boxes(found, (100, 120), fallback=(0, 0, 10, 10))
    # the spurious detection of frame 1 is voted down by its neighbours; frame 3 borrows frame 2's box
    assert boxes == [(40, 40, 60, 60), (42, 40, 62, 60), (42, 40, 62, 60), (42, 40, 62, 60)] and n_box == 0
    assert faces.smooth_boxes([None, None], (100, 120), (1, 2, 3, 4)) == ([(1, 2, 3, 4)] * 2, 2)


FPS = 30


def write_dialog(root: Path, blank_utts=()):
    """An IEMOCAP tree with one 720 x 480 @ 30 fps dialog: F (astronaut) left, M (Grace Hopper) right.

    Utterances of 1 s each; during those listed in blank_utts nobody is in the picture."""
    utts = ["Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses01F_impro01_F001", "Ses01F_impro01_M001"]
    blocks = [(float(i), float(i + 1), u, "neu") for i, u in enumerate(utts)]
    s = write_session(root, 1, {"Ses01F_impro01": blocks}, video=False)
    frames, _ = rf.dialog((480, 720), n=FPS * len(utts), seed=5)
    avi = s / "dialog" / "avi" / "DivX" / "Ses01F_impro01.avi"
    avi.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (720, 480))
    for i, f in enumerate(frames):
        if utts[i // FPS] in blank_utts:
            f = rf.backdrop((480, 720), i)
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    w.release()
    for start, end, u, _ in blocks:
        wav = s / "sentences" / "wav" / "Ses01F_impro01" / f"{u}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav, 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32), 16000)
    return root


def reference(name: str, size: int) -> np.ndarray:
    """The person's face as the crop should show it: a square of 1.2 x the face's larger side, resized."""
    x0, y0, x1, y1 = rf.FACES[name]
    s = 1.2 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    img = rf.photo(name)[int(cy - s / 2):int(cy + s / 2), int(cx - s / 2):int(cx + s / 2)]
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).astype(float)


def ncc(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_dialog_video_crops_the_speaker_named_by_the_utterance_id(tmp_path):
    table = load_corpus(write_dialog(tmp_path / "IEMOCAP_full_release"))
    assert dict(zip(table["id"], table["video_side"]))["Ses01F_impro01_M000"] == "right"
    cfg = load_config("quick", {"video.crop": "mtcnn", "video.n_frames": 16, "video.size": 48})
    feats = extract_features(table, cfg, cache_dir=tmp_path / "c", modalities=("video",), progress=False, workers=1)
    refs = {"F": reference("astronaut", 48), "M": reference("hopper", 48)}
    right = []
    for uid, clip in feats.video.items():
        me, other = uid.split("_")[-1][0], {"F": "M", "M": "F"}[uid.split("_")[-1][0]]
        for frame in clip.astype(float):
            right.append(ncc(frame, refs[me]) > max(0.5, ncc(frame, refs[other])))
    assert len(right) == 64 and np.mean(right) >= 0.95
    assert feats.fallbacks == {} and feats.stats["video"]["frames_on_box"] == 0.0


def test_fallbacks_are_counted_cached_and_reported(tmp_path):
    table = load_corpus(write_dialog(tmp_path / "IEMOCAP_full_release", blank_utts=("Ses01F_impro01_M001",)))
    cfg = load_config("quick", {"video.crop": "mtcnn", "video.n_frames": 8, "video.size": 32})
    for run in (1, 2):  # built, then from the cache (the counts come from the sidecar files)
        feats = extract_features(table, cfg, cache_dir=tmp_path / "c", modalities=("video",), progress=False, workers=1)
        assert feats.stats["video"]["hits"] == (0.0 if run == 1 else 4.0)
        assert feats.fallbacks == {"Ses01F_impro01_M001": {"frames": 8, "box": 8, "missed": 8}}
        report = face_crop_report(cfg, feats)
        assert report == {"method": "mtcnn", "frames_on_box": 8, "frames_undetected": 8, "utterances_on_box": 1,
                          "utterances": {"Ses01F_impro01_M001": {"frames": 8, "box": 8, "missed": 8}}}
    json.dumps(report)  # goes into manifest.json as it is
    box = extract_features(table, replace(cfg, video=replace(cfg.video, crop="box")), cache_dir=tmp_path / "c",
                           modalities=("video",), progress=False, workers=1)
    assert box.fallbacks == {} and "frames_on_box" not in box.stats["video"]
