"""Files of a downloaded corpus: finding its media by name, skipping macOS debris, video durations.

    from mmlib.data.corpus_files import find_media, video_durations
    media = find_media(Path("/data/RAVDESS"), (".mp4", ".wav"), re.compile("^[0-9-]+$"))   # stem -> file
    ends = video_durations(list(media.values()))        # seconds of each video stream (None without one)
    resolve_label_set("native", {"ravdess8": {}}, {"native": "ravdess8"}, "RAVDESS")   # "ravdess8" (alias resolved)

The helpers the file-name corpora (ravdess.py, cremad.py) share; they know no corpus's naming scheme.
"""

from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def is_hidden(path: Path, root: Path) -> bool:
    """macOS leftovers: ._* resource forks, .DS_Store, anything under a hidden folder or __MACOSX/."""
    return any(p.startswith(".") or p == "__MACOSX" for p in path.relative_to(root).parts)


def find_media(root: Path, suffixes: tuple[str, ...], pattern: re.Pattern) -> dict[str, Path]:
    """stem -> file for every non-hidden file under root whose suffix and stem match; duplicates
    are an error, other names a warning (a download's README or a renamed copy)."""
    found: dict[str, Path] = {}
    dup, other = [], []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in suffixes or is_hidden(path, root) or not path.is_file():
            continue
        if not pattern.match(path.stem):
            other.append(path)
        elif path.stem in found:
            dup.append(f"{found[path.stem]} and {path}")
        else:
            found[path.stem] = path
    if dup:
        raise ValueError(f"the same recording appears twice under {root}: " + "; ".join(dup[:5]))
    if other:
        warnings.warn(f"ignored {len(other)} file(s) whose names are not corpus names, e.g. {other[0]}", stacklevel=3)
    return found


def video_duration(path: str | Path) -> float | None:
    """Seconds from the first to the end of the last video frame, or None without a video stream.

    read_clips numbers frames from the first one, so this (not the container's duration, which an
    audio track may stretch) is the segment a whole clip spans. MP4 stores it per stream; FLV does
    not, so there the last packets' timestamps are read after a seek to the end.
    """
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            v = c.streams.video[0]
            if v.duration:
                return float(v.duration * v.time_base)
            rate = v.average_rate or v.guessed_rate
            first = v.start_time
            if c.duration and first is not None:
                try:
                    c.seek(c.duration, backward=True, any_frame=False)  # to the last keyframe
                except av.error.FFmpegError:
                    c.seek(0)
            pts = [p.pts for p in c.demux(v) if p.pts is not None]
            if first is None:
                first = min(pts, default=None)
            if not pts or first is None or not rate:
                return None
            seconds = float((max(pts) - first) * v.time_base + 1 / rate)
            return seconds if seconds > 0 else None
    except av.error.FFmpegError:
        return None


def video_durations(paths: list) -> list[float | None]:
    """video_duration of each path (None for None), in threads: PyAV reads without holding the
    GIL, so thousands of small files (CREMA-D has 7,442) take a fraction of the serial time."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda p: None if p is None else video_duration(p), paths))


def resolve_label_set(label_set: str, sets: dict[str, dict[str, str]], aliases: dict[str, str], corpus: str) -> str:
    name = aliases.get(label_set, label_set)
    if name not in sets:
        raise KeyError(f"label set {label_set!r} does not apply to {corpus}; choose one of {sorted(sets) + sorted(aliases)}")
    return name
