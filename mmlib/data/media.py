"""Read audio and video segments, and crop faces.

    wave = read_audio("Ses01F_impro01_F000.wav", sr=16000)               # float32 mono, resampled
    wave = read_audio("01-01-03-01-01-01-01.mp4", sr=16000)              # a video's audio track (PyAV)
    clips = read_clips("Ses01F_impro01.avi", [(6.29, 8.23), ...], n_frames=16,
                       side="left", size=112, crop="mtcnn", box=(0.1, 0.1, 0.9, 0.9))

`read_clips` decodes a video once, front to back, and keeps only the frames the segments need
(`grab` skips the colour conversion of the others), so all utterances of one IEMOCAP dialog cost
one pass over its .avi, and each clip is cropped as soon as its last frame is decoded (memory stays
bounded by the overlapping segments). Frames are sampled at the centres of N equal parts of each
segment; faces are found by `mmlib.data.faces` (MTCNN, Haar, or a fixed box).
Problems with one segment raise `MediaError`, which the feature extractor reports per utterance.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from mmlib.data import faces


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
    truncated = wav_truncation(path)
    if truncated:
        raise MediaError(truncated)
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


def wav_truncation(path: Path) -> str | None:
    """A message if `path` is a RIFF/WAVE file whose data chunk is shorter than its header declares, else None.

    libsndfile reads such a file without complaint and returns the samples that are there, so a copy
    cut short would otherwise surface later as "too short" or as silently shorter features.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = path.stat().st_size
            block = None
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, n = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"fmt ":
                    fmt = fh.read(n)
                    block = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
                    fh.seek(n % 2, 1)
                    continue
                if cid == b"data":
                    have = size - fh.tell()
                    if n in (0, 0xFFFFFFFF) or have >= n:  # 0 / 0xFFFFFFFF: streamed writers leave the size open
                        return None
                    unit = block or 1
                    return (f"truncated wav {path}: its header declares {n // unit} sample frames, the file holds "
                            f"{have // unit} ({100 * have / n:.1f} %); the copy was cut short, fetch the file again")
                fh.seek(n + n % 2, 1)
    except OSError:
        return None


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


def crop_faces(frames: list[np.ndarray], size: int, crop: str, box, counts: list | None = None) -> np.ndarray:
    """(T, size, size, 3) uint8 face crops of RGB frames (already the speaker's half).

    crop: box | mtcnn | haar (alias: detector), see `mmlib.data.faces`. When `counts` is a list, the
    pair (frames cropped with the fixed box, frames without a detection of their own) is appended to it.
    """
    fixed = box_pixels(frames[0].shape, box)
    boxes, n_box, n_missed = faces.face_boxes(frames, crop, fixed)
    if counts is not None:
        counts.append((n_box, n_missed))
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
    counts: list | None = None,
) -> list[np.ndarray | MediaError]:
    """One (n_frames, size, size, 3) uint8 clip per segment, or the MediaError that segment hit.

    A segment is cropped as soon as its last frame is decoded, so memory holds the frames of the
    segments that overlap the current position only, never the whole video. When `counts` is a list,
    it receives one (frames on the fixed box, frames without own detection) pair per segment.
    """
    path = Path(path)
    sides = [side] * len(segments) if isinstance(side, str) else list(side)
    per_segment: list[tuple[int, int]] = [(0, 0)] * len(segments)
    if counts is not None:
        counts.extend(per_segment)
    if not path.is_file():
        err = MediaError(f"video file missing: {path}")
        return [err] * len(segments)
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    if not cap.isOpened() or not fps or fps <= 0:
        cap.release()
        return [MediaError(f"unreadable video {path} (OpenCV could not open it or read its frame rate)")] * len(segments)
    # frame index -> list of (segment, slot) that need it; segment -> the last frame index it needs
    wanted: dict[int, list[tuple[int, int]]] = {}
    last_of: dict[int, list[int]] = {}
    for si, (start, end) in enumerate(segments):
        idx = [int(np.floor(t * fps)) for t in frame_times(start, end, n_frames)]
        for slot, i in enumerate(idx):
            wanted.setdefault(i, []).append((si, slot))
        last_of.setdefault(max(idx), []).append(si)
    frames: dict[tuple[int, int], np.ndarray] = {}
    out: list[np.ndarray | MediaError | None] = [None] * len(segments)

    def finish(si: int, decoded: int) -> None:
        got = [frames.pop((si, slot), None) for slot in range(n_frames)]
        start, end = segments[si]
        if any(g is None for g in got):
            n_missing = sum(g is None for g in got)
            out[si] = MediaError(
                f"segment [{start:.3f}, {end:.3f}] s lies outside {path.name} "
                f"({decoded} frames at {fps:g} fps = {decoded / fps:.2f} s decoded; {n_missing} of {n_frames} frames missing)"
            )
            return
        try:
            seg_counts: list = []
            out[si] = crop_faces(got, size, crop, box, seg_counts)
            per_segment[si] = seg_counts[0]
        except (ValueError, cv2.error) as err:
            out[si] = MediaError(f"face crop failed in {path.name} [{start:.3f}, {end:.3f}]: {err}")

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
                    frames[(si, slot)] = np.ascontiguousarray(half_of(rgb, sides[si]))  # not a view of the whole frame
        index += 1
        for si in last_of.get(index - 1, ()):
            finish(si, index)
    cap.release()
    for si in range(len(segments)):
        if out[si] is None:
            finish(si, index)
    if counts is not None:
        counts[len(counts) - len(segments):] = per_segment
    return out
