"""Read audio and video segments, and crop faces.

    wave = read_audio("Ses01F_impro01_F000.wav", sr=16000)               # float32 mono, resampled
    wave = read_audio("01-01-03-01-01-01-01.mp4", sr=16000)              # a video's audio track (PyAV)
    clips = read_clips("Ses01F_impro01.avi", [(6.29, 8.23), ...], n_frames=16,
                       side="left", size=112, crop="box", box=(0.1, 0.1, 0.9, 0.9))

`read_clips` decodes a video once, front to back, and keeps only the frames the segments need
(`grab` skips the colour conversion of the others), so all utterances of one IEMOCAP dialog cost
one pass over its .avi. Frames are sampled at the centres of N equal parts of each segment.
Problems with one segment raise `MediaError`, which the feature extractor reports per utterance.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import soundfile as sf


class MediaError(Exception):
    """A media file or segment that cannot be read; the message says why."""


def read_audio(path: str | Path, sr: int = 16000) -> np.ndarray:
    """The whole file as float32 mono at `sr` (averaging channels, resampling with soxr via librosa).

    Files soundfile cannot open (the audio track of .mp4 / .flv videos: RAVDESS's AAC, CREMA-D's
    MP3) are decoded with PyAV instead; both paths average channels and resample the same way, so
    a RAVDESS clip gives the same features from its .wav or its .mp4.
    """
    if path is None:
        raise MediaError("no audio file for this utterance")
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"audio file missing: {path}")
    try:
        wave, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
        wave = wave.mean(axis=1)
    except Exception as sf_err:  # soundfile raises LibsndfileError / RuntimeError on damaged files and videos
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.audio:
                    raise MediaError(f"no audio stream in {path}")
                stream = container.streams.audio[0]
                file_sr = stream.codec_context.sample_rate
                to_float = av.AudioResampler(format="fltp")  # planar float, own layout and rate
                parts = [
                    f.to_ndarray()  # (channels, samples)
                    for frame in container.decode(stream)
                    for f in to_float.resample(frame)
                ]
        except MediaError:
            raise
        except Exception as av_err:  # av.error.FFmpegError, ValueError on garbage
            raise MediaError(f"unreadable audio {path}: {sf_err}; PyAV: {av_err}") from None
        wave = np.concatenate(parts, axis=1).mean(axis=0).astype(np.float32) if parts else np.zeros(0, np.float32)
    if wave.size == 0:
        raise MediaError(f"empty audio {path} (zero samples)")
    if file_sr != sr:
        import librosa

        wave = librosa.resample(wave, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq").astype(np.float32)
    return wave


def frame_times(start: float, end: float, n_frames: int) -> np.ndarray:
    """Centres of n equal parts of [start, end]: where the clip's frames are sampled."""
    return start + (np.arange(n_frames) + 0.5) * (end - start) / n_frames


def half_of(frame: np.ndarray, side: str) -> np.ndarray:
    """The left or right half of a side-by-side dialog frame, or the frame itself for 'full'."""
    w = frame.shape[1]
    if side == "left":
        return frame[:, : w // 2]
    if side == "right":
        return frame[:, w // 2 :]
    if side == "full":
        return frame
    raise ValueError(f"video side must be left, right or full, got {side!r}")


def box_pixels(shape: tuple[int, ...], box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Relative (x0, y0, x1, y1) -> integer pixel box inside an image of `shape`."""
    h, w = shape[:2]
    x0, y0, x1, y1 = box
    px = int(round(x0 * w)), int(round(y0 * h)), int(round(x1 * w)), int(round(y1 * h))
    if not (0 <= px[0] < px[2] <= w and 0 <= px[1] < px[3] <= h):
        raise ValueError(f"face box {box} falls outside a {w}x{h} image")
    return px


_CASCADE: cv2.CascadeClassifier | None = None


def _cascade() -> cv2.CascadeClassifier | None:
    """OpenCV's Haar face detector, or None where OpenCV has none (OpenCV 5 moved it out of the wheel)."""
    global _CASCADE
    if not hasattr(cv2, "CascadeClassifier"):
        import warnings

        warnings.warn(f"OpenCV {cv2.__version__} has no Haar face detector: video.crop='detector' uses the fixed "
                      "face_box (install opencv-python-headless<5 for the detector)", stacklevel=2)
        return None
    if _CASCADE is None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        _CASCADE = cv2.CascadeClassifier(str(path))
        if _CASCADE.empty():
            raise MediaError(f"OpenCV's bundled face detector could not be loaded from {path}")
    return _CASCADE


def detect_boxes(frames: list[np.ndarray], fallback: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """One square face box per frame: the largest Haar detection, smoothed over time.

    Frames without a detection take the nearest detected box; with no detection at all, every
    frame takes `fallback`. Centres and sizes are median-filtered over 3 frames, so a single
    spurious detection does not make the crop jump.
    """
    cascade = _cascade()
    if cascade is None:
        return [fallback] * len(frames)
    found: list[np.ndarray | None] = []
    for f in frames:
        gray = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
        min_side = max(16, min(gray.shape) // 8)
        dets = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4, minSize=(min_side, min_side))
        if len(dets):
            x, y, w, h = max(dets, key=lambda d: d[2] * d[3])
            found.append(np.array([x + w / 2, y + h / 2, max(w, h) * 1.2], dtype=float))  # 20 % margin
        else:
            found.append(None)
    idx = [i for i, b in enumerate(found) if b is not None]
    if not idx:
        return [fallback] * len(frames)
    params = np.stack([found[min(idx, key=lambda j: abs(j - i))] for i in range(len(frames))])
    if len(params) >= 3:
        padded = np.concatenate([params[:1], params, params[-1:]])
        params = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    boxes = []
    for (cx, cy, s), f in zip(params, frames):
        h, w = f.shape[:2]
        s = min(s, h, w)
        x0 = int(np.clip(cx - s / 2, 0, w - s))
        y0 = int(np.clip(cy - s / 2, 0, h - s))
        boxes.append((x0, y0, x0 + int(s), y0 + int(s)))
    return boxes


def crop_faces(frames: list[np.ndarray], size: int, crop: str, box) -> np.ndarray:
    """(T, size, size, 3) uint8 face crops of RGB frames (already the speaker's half)."""
    fixed = box_pixels(frames[0].shape, box)
    if crop == "box":
        boxes = [fixed] * len(frames)
    elif crop == "detector":
        boxes = detect_boxes(frames, fixed)
    else:
        raise ValueError(f"video.crop must be 'box' or 'detector', got {crop!r}")
    out = [
        cv2.resize(f[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
        for f, (x0, y0, x1, y1) in zip(frames, boxes)
    ]
    return np.stack(out).astype(np.uint8)


def read_clips(
    path: str | Path,
    segments: list[tuple[float, float]],
    n_frames: int,
    side: str | list[str],
    size: int,
    crop: str = "box",
    box=(0.1, 0.1, 0.9, 0.9),
) -> list[np.ndarray | MediaError]:
    """One (n_frames, size, size, 3) uint8 clip per segment, or the MediaError that segment hit."""
    path = Path(path)
    sides = [side] * len(segments) if isinstance(side, str) else list(side)
    if not path.is_file():
        err = MediaError(f"video file missing: {path}")
        return [err] * len(segments)
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    if not cap.isOpened() or not fps or fps <= 0:
        cap.release()
        return [MediaError(f"unreadable video {path} (OpenCV could not open it or read its frame rate)")] * len(segments)
    # frame index -> list of (segment, slot) that need it
    wanted: dict[int, list[tuple[int, int]]] = {}
    for si, (start, end) in enumerate(segments):
        for slot, t in enumerate(frame_times(start, end, n_frames)):
            wanted.setdefault(int(np.floor(t * fps)), []).append((si, slot))
    frames: dict[tuple[int, int], np.ndarray] = {}
    last = max(wanted) if wanted else -1
    index = 0
    while index <= last:
        if not cap.grab():
            break
        if index in wanted:
            ok, bgr = cap.retrieve()
            if ok:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                for si, slot in wanted[index]:
                    frames[(si, slot)] = half_of(rgb, sides[si])
        index += 1
    cap.release()
    out: list[np.ndarray | MediaError] = []
    for si, (start, end) in enumerate(segments):
        got = [frames.get((si, slot)) for slot in range(n_frames)]
        if any(g is None for g in got):
            n_missing = sum(g is None for g in got)
            out.append(
                MediaError(
                    f"segment [{start:.3f}, {end:.3f}] s lies outside {path.name} "
                    f"({index} frames at {fps:g} fps = {index / fps:.2f} s decoded; {n_missing} of {n_frames} frames missing)"
                )
            )
            continue
        try:
            out.append(crop_faces(got, size, crop, box))
        except (ValueError, cv2.error) as err:
            out.append(MediaError(f"face crop failed in {path.name} [{start:.3f}, {end:.3f}]: {err}"))
    return out
