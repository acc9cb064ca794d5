"""mmlib.data.degrade: noise at an exact SNR, occlusion area, blur, dropped frames, determinism."""

import math

import numpy as np
import pytest

from mmlib.data.degrade import add_noise, degrade_frames, occlusion_box


def _tone(n: int = 16000) -> np.ndarray:
    t = np.arange(n) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def _frames(t: int = 6, h: int = 64, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("color", ["white", "pink"])
@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 30.0])
def test_noise_hits_the_requested_snr(snr, color):
    x = _tone()
    y = add_noise(x, snr, np.random.default_rng(1), color=color)
    measured = 10 * math.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((y - x).astype(np.float64) ** 2))
    assert abs(measured - snr) < 0.5
    assert y.dtype == x.dtype and y.shape == x.shape


def test_noise_reference_power_and_noops():
    x = _tone()
    assert add_noise(x, None, np.random.default_rng(0)) is x
    assert add_noise(x, math.inf, np.random.default_rng(0)) is x
    silent = np.zeros(100, np.float32)
    assert np.array_equal(add_noise(silent, 10.0, np.random.default_rng(0)), silent)
    y = add_noise(x, 20.0, np.random.default_rng(0), ref_power=1.0)  # referenced to power 1, not to x
    assert np.mean((y - x) ** 2) == pytest.approx(0.01, rel=1e-3)
    a = add_noise(x, 5.0, np.random.default_rng(7), color="pink")
    b = add_noise(x, 5.0, np.random.default_rng(7), color="pink")
    assert np.array_equal(a, b)
    with pytest.raises(ValueError):
        add_noise(x, 5.0, np.random.default_rng(0), color="brown")


def test_pink_noise_has_more_low_than_high_frequency_power():
    n = add_noise(np.zeros(1 << 15) + 1.0, 0.0, np.random.default_rng(0), color="pink") - 1.0
    spec = np.abs(np.fft.rfft(n)) ** 2
    assert spec[10:200].mean() > 20 * spec[-2000:].mean()


@pytest.mark.parametrize("size", [(64, 64), (96, 96), (48, 80)])
@pytest.mark.parametrize("frac", [0.05, 0.1, 0.3, 0.5, 0.9, 1.0])
def test_occlusion_covers_the_requested_fraction(size, frac):
    h, w = size
    frames = np.zeros((2, h, w, 3), np.uint8)
    out = degrade_frames(frames, occlusion=frac)
    covered = (out[0, :, :, 0] == 128).mean()
    assert abs(covered - frac) <= 0.05 * frac
    assert np.array_equal(out[0], out[1])
    y0, y1, _, _ = occlusion_box(h, w, frac)
    if frac <= 0.3:  # over the lower-middle face: the mouth row (0.7 h) is hidden, the brow row is not
        assert y0 <= 0.7 * h < y1 and y0 > 0.35 * h


def test_blur_removes_high_frequencies():
    frames = _frames()
    out = degrade_frames(frames, blur_sigma=1.5)

    def hf(a):
        g = a.astype(np.float64).mean(-1)
        return np.mean(np.diff(g, axis=1) ** 2) + np.mean(np.diff(g, axis=2) ** 2)

    assert hf(out) < 0.2 * hf(frames)
    assert out.shape == frames.shape and out.dtype == np.uint8


def test_drop_all_frames_repeats_the_first():
    frames = _frames()
    out = degrade_frames(frames, drop_prob=1.0, rng=np.random.default_rng(0))
    assert all(np.array_equal(f, frames[0]) for f in out)


def test_dropped_frames_repeat_the_previous_delivered_frame():
    frames = _frames(t=200)
    out = degrade_frames(frames, drop_prob=0.3, rng=np.random.default_rng(3))
    same = np.array([np.array_equal(out[i], frames[i]) for i in range(200)])
    assert 0.6 < same.mean() < 0.8
    for i in np.flatnonzero(~same):
        assert np.array_equal(out[i], out[i - 1])


def test_zero_settings_are_identity():
    frames = _frames()
    assert degrade_frames(frames) is frames
    assert np.array_equal(degrade_frames(frames, 0.0, 0.0, 0.0, np.random.default_rng(0)), frames)


def test_same_seed_same_output():
    frames = _frames(t=40)
    kw = dict(blur_sigma=1.0, occlusion=0.2, drop_prob=0.4)
    a = degrade_frames(frames, rng=np.random.default_rng(11), **kw)
    b = degrade_frames(frames, rng=np.random.default_rng(11), **kw)
    c = degrade_frames(frames, rng=np.random.default_rng(12), **kw)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_input_is_an_error():
    with pytest.raises(ValueError):
        degrade_frames(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError):
        degrade_frames(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        degrade_frames(np.zeros((2, 8, 8, 3), np.uint8), occlusion=1.5)
