"""The face of the synthetic corpus: cartoon faces whose valence can be seen, in a dialog video.

    from mmlib.data.synthetic.face import render_video, write_avi
    frames = render_video(cfg, utts, faces, env, n_frames, rng, left="F")   # (T, S, 2S, 3) uint8 BGR
    write_avi(path, frames, cfg.fps)                                         # reproducible MJPEG bytes

Valence shows in the mouth's curvature and the brows, a weak arousal cue in the eyes and brow
knitting (SynthConfig.video_arousal_cue): the expression the face shows at cfg.face_reliability
(plan.py: its own or another utterance's), scaled toward neutral by cfg.face_expressiveness; the
speaker's mouth opens with the syllable envelope `env` of the voice plan (voice.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from mmlib.config import SynthConfig
from mmlib.data.synthetic.plan import modality_expression

FACE_BOX = (0.1, 0.1, 0.9, 0.9)  # x0, y0, x1, y1 of the face in each S x S half, as fractions


def _p(x: float, y: float) -> tuple[int, int]:
    return int(round(x * 16)), int(round(y * 16))  # 4 fractional bits: sub-pixel, anti-aliased


def _ellipse(img, c, axes, color, start=0, end=360) -> None:
    cv2.ellipse(img, _p(*c), _p(max(axes[0], 0), max(axes[1], 0)), 0, start, end, color, -1, cv2.LINE_AA, 4)


def draw_face(img: np.ndarray, x_off: int, face: dict, v: float, av: float, mouth: float,
              eye: float, dx: float, dy: float) -> None:
    """One face in the half starting at column x_off: v = valence, av = leaked arousal cue,
    mouth = opening 0..1, eye = openness 0..1 (blinks), dx/dy = head motion (box fractions)."""
    S = img.shape[0]
    bx0, by0, bx1, by1 = (f * S for f in FACE_BOX)
    cx = x_off + bx0 + (bx1 - bx0) * (0.5 + face["dx"] + dx)
    cy = by0 + (by1 - by0) * (0.5 + face["dy"] + dy)
    hh = face["half_h"] * (by1 - by0)
    hw = hh * face["aspect"]
    thick = max(1, round(S / 40))
    _ellipse(img, (cx, cy), (hw, hh), face["skin"])
    _ellipse(img, (cx, cy - 0.5 * hh), (1.0 * hw, 0.5 * hh), face["hair"], 180, 360)
    # eyes narrow in a smile (cheeks up); arousal widens them a little
    ey, eh = cy - 0.12 * hh, 0.075 * hh * eye * (1 - 0.3 * max(v, 0.0)) * (1 + 0.3 * av)
    raise_out = 0.5 * v  # valence: brows up when happy, down when negative ...
    raise_in = 0.5 * v + 0.5 * min(v, 0.0) - 0.7 * av  # ... inner ends knitted; arousal knits a bit more
    for side in (-1, 1):
        ex = cx + side * face["eye_sp"] * hw
        if eh * 16 >= 6:
            _ellipse(img, (ex, ey), (0.16 * hw, eh), (235, 240, 240))
            cv2.circle(img, _p(ex, ey), int(16 * min(0.08 * hw, eh)), (40, 30, 30), -1, cv2.LINE_AA, 4)
        else:
            cv2.line(img, _p(ex - 0.16 * hw, ey), _p(ex + 0.16 * hw, ey), (40, 30, 30), 1, cv2.LINE_AA, 4)
        by = ey - 0.2 * hh
        brow = np.array([_p(ex + side * 0.22 * hw, by - raise_out * 0.14 * hh),
                         _p(ex - side * 0.18 * hw, by - raise_in * 0.14 * hh)], np.int32)
        cv2.polylines(img, [brow], False, face["hair"], thick, cv2.LINE_AA, 4)
    nose = tuple(int(c * 0.8) for c in face["skin"])
    cv2.line(img, _p(cx, ey + 0.1 * hh), _p(cx - 0.05 * hw, cy + 0.22 * hh), nose, 1, cv2.LINE_AA, 4)
    my, mw = cy + 0.5 * hh, 0.38 * hw * face["mouth_w"]
    u = np.linspace(-1, 1, 11)
    base = my + 0.24 * hh * v * (0.5 - u**2)  # corners up for a smile, down for a frown
    o = 0.36 * hh * float(np.clip(mouth, 0, 1)) * (1 - u**2)
    x = cx + mw * u
    upper = np.stack([x, base - 0.25 * o], 1)
    lower = np.stack([x, base + 0.75 * o], 1)
    lips = (90, 90, 175)
    if o.max() * 16 >= 4:
        inner = np.round(np.concatenate([upper, lower[::-1]]) * 16).astype(np.int32)
        cv2.fillPoly(img, [inner], (35, 25, 60), cv2.LINE_AA, 4)
        cv2.polylines(img, [np.round(lower * 16).astype(np.int32)], False, lips, 1, cv2.LINE_AA, 4)
    cv2.polylines(img, [np.round(upper * 16).astype(np.int32)], False, lips, 1, cv2.LINE_AA, 4)


def _smooth(x: np.ndarray) -> np.ndarray:
    """3-frame ramp so an expression sets in over ~0.2 s instead of in one frame."""
    return np.convolve(np.pad(x, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")


def render_video(cfg: SynthConfig, utts: list[dict], faces: dict[str, dict], env: dict[str, np.ndarray],
                 n_frames: int, r: np.random.Generator, left: str) -> np.ndarray:
    """(T, S, 2S, 3) uint8 BGR frames; the speaking actor's mouth follows `env` frame by frame."""
    S, fps, sr = cfg.frame_size, cfg.fps, cfg.sample_rate
    edges = np.minimum(np.round(np.arange(n_frames + 1) * sr / fps).astype(int), len(env["F"]))
    state = {}
    for g in "FM":
        c = np.concatenate([[0.0], np.cumsum(env[g], dtype=np.float64)])
        mouth = (c[edges[1:]] - c[edges[:-1]]) / np.maximum(edges[1:] - edges[:-1], 1)  # mean over the frame
        v, av = np.zeros(n_frames), np.zeros(n_frames)
        for u in utts:  # time order: own turn shows the emotion, a faint trace stays while listening
            if u["gender"] == g:
                val, aro = modality_expression(u, cfg.face_expressiveness, "face")
                f0, f1 = int(u["start"] * fps), min(math.ceil(u["end"] * fps), n_frames)
                v[f0:f1], av[f0:f1] = val, cfg.video_arousal_cue * aro
                v[f1:], av[f1:] = 0.2 * val, 0.0
        eye = np.ones(n_frames)
        for b in r.integers(0, n_frames, r.poisson(0.25 * n_frames / fps)):  # blinks
            np.minimum.at(eye, np.clip([b - 1, b, b + 1], 0, n_frames - 1), [0.5, 0.0, 0.5])
        tt = np.arange(n_frames) / fps
        fx, fy, px, py = r.uniform(0.08, 0.35, 2).tolist() + r.uniform(0, 2 * np.pi, 2).tolist()
        state[g] = (_smooth(v), _smooth(av), mouth * 1.1, eye,
                    0.012 * np.sin(2 * np.pi * fx * tt + px), 0.008 * np.sin(2 * np.pi * fy * tt + py))
    bg = np.empty((S, 2 * S, 3), np.uint8)
    for h in range(2):  # static room: a flat colour with a soft random texture
        tex = cv2.resize(r.uniform(-14, 14, (4, 4, 3)).astype(np.float32), (S, S), interpolation=cv2.INTER_CUBIC)
        tint = r.uniform(110, 170) + r.uniform(-15, 15, 3)
        bg[:, h * S:(h + 1) * S] = np.clip(tint + tex, 0, 255).astype(np.uint8)
    frames = np.empty((n_frames, S, 2 * S, 3), np.uint8)
    order = (left, "M" if left == "F" else "F")
    for k in range(n_frames):
        img = frames[k]
        img[:] = bg
        for h, g in enumerate(order):
            v, av, mouth, eye, dx, dy = state[g]
            draw_face(img, h * S, faces[g], v[k], av[k], mouth[k], eye[k], dx[k], dy[k])
    return frames


def write_avi(path: Path, frames: np.ndarray, fps: int) -> None:
    # OpenCV's built-in MJPEG muxer: no timestamps or library banners, so the bytes are reproducible
    h, w = frames.shape[1:3]
    out = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not out.isOpened():
        raise OSError(f"{path}: OpenCV could not open an MJPG writer")
    out.set(cv2.VIDEOWRITER_PROP_QUALITY, 90)
    for f in frames:
        out.write(f)
    out.release()
