"""Frames with real faces, from photographs that ship inside registry packages (nothing is downloaded).

    frame, boxes = scene((480, 720), [Person("astronaut", cx=180, cy=200, face_w=75)], seed=0)
    boxes[0]      # (x0, y0, x1, y1): where the astronaut's face is in `frame`
    frames, truth = dialog((480, 720), n=16, seed=3)   # IEMOCAP-like: astronaut left, Grace Hopper right, moving

Photographs: scikit-image's `data.astronaut()` (Eileen Collins, 512 x 512) and matplotlib's sample
`grace_hopper.jpg` (512 x 600). Their face boxes below were measured by hand on the photographs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

FACES = {"astronaut": (178, 62, 268, 172), "hopper": (170, 105, 355, 335)}  # x0, y0, x1, y1 in the photo


@lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB photograph."""
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    if name == "hopper":
        import matplotlib.cbook as cbook
        import matplotlib.image as mpimg

        return np.ascontiguousarray(mpimg.imread(cbook.get_sample_data("grace_hopper.jpg"))[..., :3])
    raise KeyError(name)


@dataclass
class Person:
    name: str
    cx: float  # face centre in the frame
    cy: float
    face_w: float  # face width in pixels


def backdrop(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A studio-like backdrop: a grey-blue gradient with sensor noise."""
    h, w = shape
    rng = np.random.default_rng(seed)
    grad = np.linspace(70, 140, w)[None, :, None] * np.array([0.9, 1.0, 1.1])[None, None, :]
    img = np.broadcast_to(grad, (h, w, 3)) + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, p: Person, clip: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """Paste the head and shoulders of p's photograph so that its face is p.face_w wide at (cx, cy).

    clip: the x range (x0, x1) the patch may cover (one half of a dialog frame). Returns the face box.
    """
    img = photo(p.name)
    fx0, fy0, fx1, fy1 = FACES[p.name]
    fw, fh = fx1 - fx0, fy1 - fy0
    # head and shoulders: 0.8 face widths either side, 0.5 face heights above, 1.0 below
    px0, py0 = max(0, int(fx0 - 0.8 * fw)), max(0, int(fy0 - 0.5 * fh))
    px1, py1 = min(img.shape[1], int(fx1 + 0.8 * fw)), min(img.shape[0], int(fy1 + 1.0 * fh))
    k = p.face_w / fw
    size = (round((px1 - px0) * k), round((py1 - py0) * k))
    patch = cv2.resize(img[py0:py1, px0:px1], size, interpolation=cv2.INTER_AREA)
    # top-left of the patch in the frame
    ox = int(round(p.cx - ((fx0 + fx1) / 2 - px0) * k))
    oy = int(round(p.cy - ((fy0 + fy1) / 2 - py0) * k))
    lo, hi = clip if clip else (0, frame.shape[1])
    x0, y0 = max(ox, lo), max(oy, 0)
    x1, y1 = min(ox + patch.shape[1], hi), min(oy + patch.shape[0], frame.shape[0])
    frame[y0:y1, x0:x1] = patch[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return (ox + (fx0 - px0) * k, oy + (fy0 - py0) * k, ox + (fx1 - px0) * k, oy + (fy1 - py0) * k)


def scene(shape: tuple[int, int], people: list[Person], seed: int = 0, halves: bool = False):
    """One RGB frame with the given people (each kept inside its own half when halves=True), and their face boxes."""
    frame = backdrop(shape, seed)
    w = shape[1]
    boxes = []
    for p in people:
        clip = ((0, w // 2) if p.cx < w // 2 else (w // 2, w)) if halves else None
        boxes.append(paste(frame, p, clip))
    return frame, boxes


def motion(t: int, n: int, phase: float, amp=(25.0, 10.0), face=(60.0, 90.0)) -> tuple[float, float, float]:
    """Head motion at frame t of n: (dx, dy, face width), smooth and different for each phase."""
    a = 2 * np.pi * (1.3 * t / max(n, 1)) + phase
    lo, hi = face
    return amp[0] * np.sin(a), amp[1] * np.cos(1.7 * a), lo + (hi - lo) * (0.5 + 0.5 * np.sin(0.9 * a + 1.0))


def dialog(shape=(480, 720), n: int = 16, seed: int = 0, left="astronaut", right="hopper"):
    """IEMOCAP-like frames: two people side by side, faces 60-90 px wide, moving; per frame {name: face box}."""
    h, w = shape
    frames, truth = [], []
    for t in range(n):
        dl, dr = motion(t, n, seed), motion(t, n, seed + 2.0)
        people = [Person(left, w * 0.25 + dl[0], h * 0.4 + dl[1], dl[2]),
                  Person(right, w * 0.75 + dr[0], h * 0.4 + dr[1], dr[2])]
        frame, boxes = scene(shape, people, seed=seed * 1000 + t, halves=True)
        frames.append(frame)
        truth.append({left: boxes[0], right: boxes[1]})
    return frames, truth


def single(shape, name: str, n: int, seed: int, face=(0.30, 0.40)):
    """RAVDESS/CREMA-D-like frames: one person near the centre, face width a fraction of the height, moving."""
    h, w = shape
    frames, truth = [], []
    for t in range(n):
        dx, dy, fw = motion(t, n, seed, amp=(0.04 * w, 0.03 * h), face=(face[0] * h, face[1] * h))
        frame, boxes = scene(shape, [Person(name, w / 2 + dx, h * 0.42 + dy, fw)], seed=seed * 1000 + t)
        frames.append(frame)
        truth.append(boxes[0])
    return frames, truth


def covers(crop: tuple, face: tuple, min_inside: float = 0.8, max_ratio: float = 2.0) -> bool:
    """True when the crop box holds the face: its centre inside the face box, >= min_inside of the face
    inside the crop, and the crop at most max_ratio times the face's larger side (a face crop, not a scene)."""
    cx0, cy0, cx1, cy1 = crop
    fx0, fy0, fx1, fy1 = face
    mx, my = (cx0 + cx1) / 2, (cy0 + cy1) / 2
    inter = max(0.0, min(cx1, fx1) - max(cx0, fx0)) * max(0.0, min(cy1, fy1) - max(cy0, fy0))
    area = (fx1 - fx0) * (fy1 - fy0)
    side = max(cx1 - cx0, cy1 - cy0)
    centred = fx0 <= mx <= fx1 and fy0 <= my <= fy1
    return centred and inter >= min_inside * area and side <= max_ratio * max(fx1 - fx0, fy1 - fy0)
