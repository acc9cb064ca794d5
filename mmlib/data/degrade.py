"""Deliberate damage to audio and video: noise at a set SNR, blur, occlusion, dropped frames.

Used twice: by the synthetic generator (the whole corpus degraded when it is written) and at
feature-extraction time (robustness curves on a clean corpus). Every function is a no-op at its
zero setting and deterministic given the rng.

    rng = np.random.default_rng(0)
    noisy = add_noise(wave, snr_db=10.0, rng=rng)                       # white noise, 10 dB SNR
    clip = degrade_frames(clip, blur_sigma=1.5, occlusion=0.2, drop_prob=0.1, rng=rng)
"""

from __future__ import annotations

import math

import cv2
import numpy as np

OCCLUDER_VALUE = 128  # flat mid-grey: carries no expression and no edges inside it
OCCLUDER_CENTER_Y = 0.68  # rectangle centre, fraction of height: the mouth of a face-centred frame
OCCLUDER_ASPECT = 1.6  # width / height of the rectangle before it is clipped to the frame


def _noise(shape: tuple[int, ...], color: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise along axis 0; pink = 1/f power, shaped in the frequency domain."""
    white = rng.standard_normal(shape)
    if color == "white":
        return white
    if color == "pink":
        spec = np.fft.rfft(white, axis=0)
        f = np.arange(spec.shape[0], dtype=np.float64)
        f[0] = 1.0  # keep the DC bin finite; it is removed below anyway
        spec /= np.sqrt(f).reshape((-1,) + (1,) * (len(shape) - 1))
        spec[0] = 0.0
        pink = np.fft.irfft(spec, n=shape[0], axis=0)
        return pink / max(float(pink.std()), 1e-12)
    raise ValueError(f"noise color must be 'white' or 'pink', got {color!r}")


def add_noise(
    wave: np.ndarray,
    snr_db: float | None,
    rng: np.random.Generator,
    color: str = "white",
    ref_power: float | None = None,
) -> np.ndarray:
    """`wave` plus noise whose power is exactly signal power / 10**(snr_db / 10).

    The signal power is the mean square of `wave`, or `ref_power` when given (a dialog with long
    silences should be referenced to its speech, not diluted by the pauses). snr_db None or +inf
    returns the input unchanged; a silent input is returned as a copy (no reference, no noise).
    The output is float (float64 for integer input) and not clipped.
    """
    if snr_db is None or snr_db == math.inf:
        return wave
    x = np.asarray(wave)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.size == 0:
        return x.copy()
    power = float(np.mean(np.square(x, dtype=np.float64))) if ref_power is None else float(ref_power)
    if power <= 0.0:
        return x.copy()
    noise = _noise(x.shape, color, rng)
    # Rescale the drawn noise to the exact target power, so the measured SNR is the requested one.
    target = power / 10.0 ** (float(snr_db) / 10.0)
    noise *= math.sqrt(target / max(float(np.mean(noise**2)), 1e-30))
    return (x + noise).astype(x.dtype, copy=False)


def occlusion_box(height: int, width: int, fraction: float) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of a rectangle covering `fraction` of the frame over the lower-middle face.

    Wider than tall, centred horizontally, centred vertically at OCCLUDER_CENTER_Y: on a
    face-centred frame it hides the mouth (valence and speech motion) first, the brows last.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"occlusion must be a fraction in [0, 1], got {fraction}")
    area = fraction * height * width
    if area < 1.0:
        return 0, 0, 0, 0
    w = min(width, max(1, round(math.sqrt(area * OCCLUDER_ASPECT))))
    h = min(height, max(1, round(area / w)))
    if h == height:  # too tall to fit: widen instead
        w = min(width, max(1, round(area / h)))
    y0 = round(OCCLUDER_CENTER_Y * height - h / 2)
    y0 = min(max(y0, 0), height - h)
    x0 = (width - w) // 2
    return y0, y0 + h, x0, x0 + w


def degrade_frames(
    frames: np.ndarray,
    blur_sigma: float = 0.0,
    occlusion: float = 0.0,
    drop_prob: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Occlude, blur and drop frames of a (T, H, W, 3) uint8 clip; returns a new array.

    Order follows the camera: the occluder sits in the scene, defocus blurs everything, the
    stream then loses frames (a lost frame repeats the last one delivered; frame 0 always
    arrives). All settings at 0 return `frames` itself. `rng` (default: seed 0) only decides
    which frames drop, so the same rng state gives the same clip.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if blur_sigma < 0 or not 0.0 <= drop_prob <= 1.0:
        raise ValueError(f"need blur_sigma >= 0 and drop_prob in [0, 1], got {blur_sigma}, {drop_prob}")
    out = frames
    if occlusion > 0:
        y0, y1, x0, x1 = occlusion_box(frames.shape[1], frames.shape[2], occlusion)
        out = out.copy()
        out[:, y0:y1, x0:x1] = OCCLUDER_VALUE
    if blur_sigma > 0:
        out = np.stack(
            [cv2.GaussianBlur(f, (0, 0), sigmaX=blur_sigma, borderType=cv2.BORDER_REFLECT) for f in out]
        )
    if drop_prob > 0 and len(out) > 1:
        rng = np.random.default_rng(0) if rng is None else rng
        dropped = rng.random(len(out)) < drop_prob
        dropped[0] = False
        # each frame shows the most recent frame that was not dropped
        src = np.maximum.accumulate(np.where(dropped, 0, np.arange(len(out))))
        out = out[src]
    return out
