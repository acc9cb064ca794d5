"""Find the speaker's face in each frame of a clip: MTCNN (the authors' detector) or OpenCV's Haar cascade.

    boxes, n_box, n_missed = face_boxes(frames, "mtcnn", fallback=(40, 30, 200, 190))  # frames: T x (H, W, 3) RGB
    boxes[0]          # (x0, y0, x1, y1) square pixel box of the face in frame 0
    n_box             # frames cropped with `fallback` (no face found anywhere in the clip)
    n_missed          # frames without a detection of their own (they borrow a neighbour's box, or the fallback)

Methods (`video.crop`): `box` (the fixed box, no detector), `mtcnn` (facenet-pytorch's MTCNN, whose
weights ship inside its wheel: nothing is downloaded), `haar` (OpenCV's bundled Haar cascade;
`detector` is its old name and still accepted). In each frame the largest confident face is taken;
a frame without one borrows the box of the nearest frame that has one; centres and sizes are
median-filtered over 3 frames so one spurious detection does not make the crop jump; a clip with no
detection at all takes the fixed box. A detector that is asked for but not installed is an error
(`DetectorUnavailable`), never a silent fallback to the box.

facenet-pytorch's metadata pins torch<2.3, so it is installed without its dependencies
(`pip install --no-deps facenet-pytorch==2.6.0`, the Makefile's setup does it); it needs only torch,
torchvision, numpy, Pillow and requests, which this project already installs.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import cv2
import numpy as np

ALIASES = {"detector": "haar"}
METHODS = ("box", "mtcnn", "haar")
MIN_PROB = 0.9  # MTCNN detections below this probability are ignored
MARGIN = 1.2  # crop side = 1.2 x the larger side of the detected face box


class DetectorUnavailable(RuntimeError):
    """The face detector named by video.crop cannot run here; the message says how to get it."""


def crop_method(name: str) -> str:
    """Canonical method name ('detector' -> 'haar'); unknown names raise a ValueError."""
    method = ALIASES.get(name, name)
    if method not in METHODS:
        raise ValueError(f"video.crop must be one of {METHODS} (or 'detector', an alias of 'haar'), got {name!r}")
    return method


_HAAR: cv2.CascadeClassifier | None = None
_MTCNN = None


def haar() -> cv2.CascadeClassifier:
    """OpenCV's bundled Haar face cascade (OpenCV 5 dropped it: then DetectorUnavailable)."""
    global _HAAR
    if _HAAR is None:
        data = getattr(getattr(cv2, "data", None), "haarcascades", None)
        if not hasattr(cv2, "CascadeClassifier") or data is None:
            raise DetectorUnavailable(
                f"video.crop='haar' needs OpenCV's Haar face detector, which OpenCV {cv2.__version__} does not "
                "ship (it was dropped in OpenCV 5): install 'opencv-python-headless<5' or use video.crop=mtcnn")
        path = Path(data) / "haarcascade_frontalface_default.xml"
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise DetectorUnavailable(f"OpenCV's bundled face detector could not be loaded from {path}")
        _HAAR = cascade
    return _HAAR


def mtcnn():
    """facenet-pytorch's MTCNN on the CPU, built once per process (one torch thread in worker processes)."""
    global _MTCNN
    if _MTCNN is None:
        try:
            import torch
            from facenet_pytorch import MTCNN
        except ImportError as err:
            raise DetectorUnavailable(
                f"video.crop='mtcnn' needs facenet-pytorch ({err}); install it without its dependencies, which pin "
                "an old torch: pip install --no-deps 'facenet-pytorch==2.6.0' (make setup does this)") from None
        if multiprocessing.parent_process() is not None:
            torch.set_num_threads(1)  # feature workers are processes already
        _MTCNN = MTCNN(keep_all=True, device="cpu", post_process=False)
    return _MTCNN


def check_available(name: str) -> None:
    """Raise DetectorUnavailable now (before any worker starts) if the crop method cannot run.

    For MTCNN this looks for the package and its bundled weights without importing torch, so the
    process that only hands out work stays small.
    """
    method = crop_method(name)
    if method == "haar":
        haar()
    elif method == "mtcnn":
        import importlib.util

        spec = importlib.util.find_spec("facenet_pytorch")
        if spec is None or spec.origin is None:
            mtcnn()  # raises the message that says how to install it
            return
        weights = Path(spec.origin).parent / "data"
        missing = [f for f in ("pnet.pt", "rnet.pt", "onet.pt") if not (weights / f).is_file()]
        if missing:
            raise DetectorUnavailable(f"facenet-pytorch at {weights.parent} lacks its MTCNN weights {missing}; "
                                      "reinstall it: pip install --no-deps --force-reinstall 'facenet-pytorch==2.6.0'")


def _haar_faces(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Per frame: (n, 4) float boxes x0, y0, x1, y1 of Haar detections."""
    cascade = haar()
    out = []
    for f in frames:
        gray = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
        min_side = max(16, min(gray.shape) // 8)
        dets = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(min_side, min_side))
        dets = np.asarray(dets, dtype=float).reshape(-1, 4)
        out.append(np.concatenate([dets[:, :2], dets[:, :2] + dets[:, 2:]], axis=1))
    return out


def _mtcnn_faces(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Per frame: (n, 4) float boxes of MTCNN detections with probability >= MIN_PROB (one batched call)."""
    model = mtcnn()
    h, w = frames[0].shape[:2]
    model.min_face_size = max(20, min(h, w) // 12)  # faces smaller than 1/12 of the picture are not the speaker
    import torch

    with torch.inference_mode():
        boxes, probs = model.detect(np.stack(frames))
    out = []
    for b, p in zip(boxes, probs):
        if b is None:
            out.append(np.zeros((0, 4)))
        else:
            out.append(np.asarray(b, dtype=float)[np.asarray(p, dtype=float) >= MIN_PROB])
    return out


def detections(frames: list[np.ndarray], method: str) -> list[np.ndarray | None]:
    """Per frame: (cx, cy, side) of the largest detected face, or None."""
    found = _mtcnn_faces(frames) if crop_method(method) == "mtcnn" else _haar_faces(frames)
    out: list[np.ndarray | None] = []
    for dets in found:
        if len(dets) == 0:
            out.append(None)
            continue
        x0, y0, x1, y1 = max(dets, key=lambda d: (d[2] - d[0]) * (d[3] - d[1]))
        out.append(np.array([(x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * MARGIN]))
    return out


def smooth_boxes(found: list[np.ndarray | None], shape: tuple[int, ...],
                 fallback: tuple[int, int, int, int]) -> tuple[list[tuple[int, int, int, int]], int]:
    """Square pixel boxes from per-frame (cx, cy, side) or None, and how many frames took `fallback`.

    >>> smooth_boxes([None, np.array([50., 40., 20.]), None], (100, 100), (0, 0, 10, 10))
    ([(40, 30, 60, 50), (40, 30, 60, 50), (40, 30, 60, 50)], 0)
    """
    idx = [i for i, b in enumerate(found) if b is not None]
    if not idx:
        return [fallback] * len(found), len(found)
    params = np.stack([found[min(idx, key=lambda j: abs(j - i))] for i in range(len(found))])  # (T, 3)
    if len(params) >= 3:
        padded = np.concatenate([params[:1], params, params[-1:]])
        params = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    h, w = shape[:2]
    boxes = []
    for cx, cy, s in params:
        s = int(min(s, h, w))
        x0 = int(np.clip(cx - s / 2, 0, w - s))
        y0 = int(np.clip(cy - s / 2, 0, h - s))
        boxes.append((x0, y0, x0 + s, y0 + s))
    return boxes, 0


def face_boxes(frames: list[np.ndarray], method: str,
               fallback: tuple[int, int, int, int]) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """One square face box per frame; frames that fell back to the fixed box; frames with no own detection."""
    if crop_method(method) == "box":
        return [fallback] * len(frames), 0, 0
    found = detections(frames, method)
    boxes, n_box = smooth_boxes(found, frames[0].shape, fallback)
    return boxes, n_box, sum(f is None for f in found)
