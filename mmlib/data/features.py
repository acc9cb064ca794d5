"""Log-mel spectrograms, face clips, and the on-disk feature cache.

    feats = extract_features(table, cfg, cache_dir="data/cache")        # or: mmlib features --profile quick
    feats.audio["Ses01F_impro01_F000"].shape   # (3, 40, T): log-mel, delta, delta-delta
    feats.video["Ses01F_impro01_F000"].shape   # (n_frames, size, size, 3) uint8
                                               # chunked audio: (n_chunks, n_frames, size, size, 3)
    feats.stats                                # {"audio": {"hits": .., "built": ..}, "video": {...}}
    feats.fallbacks                            # {"Ses01F_impro01_M003": {"frames": 16, "box": 16, "missed": 16}}

Cache layout: `<cache_dir>/<modality>-<key>/<utt id>-<media fingerprint>.npy`, where `key` hashes the
modality's config section, the source code of the functions that compute it (so editing the video
crop never invalidates the audio cache) and the versions of the libraries that shape it
(`library_versions`), and the fingerprint hashes the media file's path, size and modification time.
With a face detector, `<...>.faces.json` beside each clip keeps its detection counts (frames that fell
back to the fixed box, frames without a detection of their own), so `fallbacks` is complete on cache
hits too. Files are written to a temporary name and renamed into place, so an interrupted run leaves
no half-written entry; an entry that does not load (cut short, emptied) is deleted, rebuilt, and
named in a warning. Missing entries are built in parallel, one task per utterance (audio) or per
video file (video), with a progress bar.

Both streams cover the same seconds. Padded mode: the log-mel is cut at `audio.max_seconds` and the
`video.n_frames` face frames are sampled evenly from the same first `audio.max_seconds` of the segment
(`video_span`; part of the video cache key). Chunked mode (`audio.chunk_seconds` set): each utterance's video is cut into the chunks of
`mmlib.data.chunks.chunk_spans` (same remainder rule as the audio, `audio.min_chunk_fraction`) and
each chunk gets its own `video.n_frames` frames sampled evenly from its own span. Its cache key adds
the chunk settings; the non-chunked key and arrays are untouched.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import json
import multiprocessing
import os
import pickle
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mmlib.config import AudioConfig, StudyConfig, VideoConfig, stable_hash
from mmlib.data import chunks, degrade, faces, media
from mmlib.data.media import MediaError


class BadMediaError(RuntimeError):
    """Raised when utterances could not be read; `.problems` maps utterance id -> reason."""

    def __init__(self, problems: dict[str, str]):
        self.problems = dict(problems)
        lines = [f"  {uid}: {why}" for uid, why in sorted(problems.items())]
        super().__init__(
            f"{len(problems)} utterance(s) have bad media (pass on_error='skip' to skip and record them):\n"
            + "\n".join(lines[:50])
            + (f"\n  ... and {len(lines) - 50} more" if len(lines) > 50 else "")
        )


@dataclass
class FeatureSet:
    audio: dict[str, np.ndarray] = field(default_factory=dict)  # id -> (3 or 1, n_mels, T) float32
    video: dict[str, np.ndarray] = field(default_factory=dict)  # id -> (T, H, W, 3) uint8; chunked: (K, T, H, W, 3)
    skipped: dict[str, str] = field(default_factory=dict)  # id -> reason
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)  # id -> frames cropped with the fixed face_box


# ---------------------------------------------------------------- audio

def logmel(wave: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """(3, n_mels, T) log-mel + deltas (or (1, n_mels, T)), the authors' settings by default."""
    win = int(round(cfg.win_ms * cfg.sample_rate / 1000))
    hop = int(round(cfg.hop_ms * cfg.sample_rate / 1000))
    mel = librosa.feature.melspectrogram(
        y=wave, sr=cfg.sample_rate, n_fft=cfg.n_fft, win_length=win, hop_length=hop,
        window="hamming", n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0,
    )
    db = librosa.power_to_db(mel, ref=np.max)  # (n_mels, T), 0 dB at the loudest bin
    if not cfg.deltas:
        return db[None].astype(np.float32)
    width = min(9, db.shape[1] if db.shape[1] % 2 else db.shape[1] - 1)
    if width < 3:
        raise MediaError(f"audio too short for deltas: {db.shape[1]} frames")
    d1 = librosa.feature.delta(db, width=width, order=1, mode="nearest")
    d2 = librosa.feature.delta(db, width=width, order=2, mode="nearest")
    return np.stack([db, d1, d2]).astype(np.float32)


def audio_features(path: str, uid: str, cfg: AudioConfig) -> np.ndarray:
    wave = media.read_audio(path, cfg.sample_rate)
    if cfg.chunk_seconds is None:
        wave = wave[: int(cfg.max_seconds * cfg.sample_rate)]
    if cfg.snr_db is not None:
        wave = degrade.add_noise(wave, cfg.snr_db, _rng(uid, "audio"))
    return logmel(wave, cfg)


# ---------------------------------------------------------------- video

def video_features(path: str, uids: list[str], segments, sides, cfg: VideoConfig, counts: list | None = None) -> list:
    """Clips of one video's segments; `counts` (a list) receives (box frames, undetected frames) per segment."""
    clips = media.read_clips(path, segments, cfg.n_frames, sides, cfg.size, cfg.crop, cfg.face_box, counts)
    if cfg.blur_sigma or cfg.occlusion or cfg.drop_prob:
        clips = [
            c if isinstance(c, MediaError) else degrade.degrade_frames(
                c, blur_sigma=cfg.blur_sigma, occlusion=cfg.occlusion, drop_prob=cfg.drop_prob, rng=_rng(uid, "video")
            )
            for uid, c in zip(uids, clips)
        ]
    return clips


def chunked_video_features(path: str, uids: list[str], segments, sides, cfg: VideoConfig, chunk: float,
                           min_fraction: float, counts: list | None = None) -> list:
    """Per utterance a (n_chunks, n_frames, H, W, 3) array, chunk k's frames from chunk k's own span.

    All chunks of all utterances of the video go to one read_clips call (one decoding pass); an
    utterance with a bad chunk gets that chunk's MediaError. Degradations draw per chunk ("<id>#<k>").
    """
    spans = [chunks.chunk_spans(start, end, chunk, min_fraction) for start, end in segments]
    flat_ids = [f"{uid}#{k}" for uid, sp in zip(uids, spans) for k in range(len(sp))]
    flat_sides = [side for side, sp in zip(sides, spans) for _ in sp]
    flat_counts: list = []
    clips = video_features(path, flat_ids, [s for sp in spans for s in sp], flat_sides, cfg, flat_counts)
    out, i = [], 0
    for sp in spans:
        mine, mine_counts, i = clips[i : i + len(sp)], flat_counts[i : i + len(sp)], i + len(sp)
        if counts is not None:  # an utterance's detection counts: the sums over its chunks
            counts.append(tuple(int(sum(c[j] for c in mine_counts)) for j in range(2)) if mine_counts else (0, 0))
        bad = [c for c in mine if isinstance(c, MediaError)]
        out.append(bad[0] if bad else np.stack(mine))  # (n_chunks, n_frames, H, W, 3)
    return out


def _chunking(cfg: StudyConfig) -> tuple[float, float] | None:
    """(chunk seconds, min remainder fraction) of chunked video extraction, or None."""
    a = cfg.audio
    return None if a.chunk_seconds is None else (float(a.chunk_seconds), float(a.min_chunk_fraction))


def video_span(cfg: StudyConfig) -> float | None:
    """Seconds from a segment's start that its face frames are sampled from: the audio's max_seconds when the
    audio is cut there (so both streams cover the same seconds and the matchmap compares sound and faces
    of the same moments); None in chunked mode, where each chunk's frames come from the chunk's own span."""
    return None if cfg.audio.chunk_seconds is not None else float(cfg.audio.max_seconds)


def _rng(uid: str, what: str) -> np.random.Generator:
    """Per-utterance generator: degradations are identical on every rerun and every worker."""
    return np.random.default_rng(int(stable_hash([uid, what], n=15), 16))


# ---------------------------------------------------------------- cache keys

_CODE = {
    "audio": (media.read_audio, logmel, audio_features, degrade.add_noise),
    "video": (media.read_clips, media.frame_times, media.half_of, media.box_pixels, faces.face_boxes,
              faces.detections, faces.smooth_boxes, faces._mtcnn_faces, faces._haar_faces, media.crop_faces,
              video_features, degrade.degrade_frames),
}


# libraries whose upgrade can change features: part of the cache key, so an upgrade never reuses old entries
LIBRARIES = {"audio": ("librosa", "soundfile", "soxr", "av", "numpy"), "video": ("opencv-python-headless", "numpy")}
DETECTOR_LIBRARIES = {"mtcnn": ("facenet-pytorch", "torch")}


def library_versions(cfg: StudyConfig, modality: str) -> dict[str, str]:
    """Versions of the installed libraries that shape this modality's features (the detector's too)."""
    names = LIBRARIES[modality]
    if modality == "video":
        names = names + DETECTOR_LIBRARIES.get(faces.crop_method(cfg.video.crop), ())
    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    if modality == "video":
        out["cv2"] = media.cv2.__version__  # the module itself (another OpenCV wheel may provide it)
    return out


def cache_key(cfg: StudyConfig, modality: str) -> str:
    """Hash of the modality's config section, the source of the functions that compute it, and the
    versions of the libraries they call."""
    code = "\n".join(inspect.getsource(fn) for fn in _CODE[modality])
    config = asdict(getattr(cfg, modality))
    config.pop("min_chunk_fraction", None)  # the log-mel does not depend on it (the dataset drops chunks)
    key = {"config": config, "code": code, "versions": library_versions(cfg, modality)}
    if modality == "video":
        key["span"] = video_span(cfg)  # frames from the audio's seconds only
    if modality == "video" and _chunking(cfg) is not None:  # chunked clips: a key of their own
        key["chunks"] = {"chunking": _chunking(cfg),
                         "code": inspect.getsource(chunks) + inspect.getsource(chunked_video_features)}
    return stable_hash(key)


def fingerprint(path: str | None) -> str:
    """Path, size and mtime of a media file (cheap; a changed file gets a new cache entry)."""
    if not isinstance(path, str) or not os.path.exists(path):
        return "missing"
    st = os.stat(path)
    return stable_hash([os.path.abspath(path), st.st_size, st.st_mtime_ns], n=10)


def _save(path: Path, array: np.ndarray, counts: dict | None = None) -> None:
    """Write atomically; `counts` (face-detector statistics of a clip) goes to a sidecar written first."""
    if counts is not None:
        side = _sidecar(path)
        tmp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(counts))
        os.replace(tmp, side)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.replace(tmp, path)


def _sidecar(path: Path) -> Path:
    """`<uid>-<fp>.npy` -> `<uid>-<fp>.faces.json`: frames, box (fell back to face_box), missed (no own detection)."""
    return path.with_suffix(".faces.json")


def _load(path: Path, with_counts: bool) -> tuple[np.ndarray, dict | None]:
    """A cache entry (and its sidecar); any damage raises ValueError naming the file."""
    try:
        arr = np.load(path)
        counts = json.loads(_sidecar(path).read_text()) if with_counts else None
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path}: {type(err).__name__}: {err}") from None
    return arr, counts


# ---------------------------------------------------------------- workers (top level: picklable)

def _audio_task(args):
    uid, path, cfg, out = args
    try:
        arr = audio_features(path, uid, cfg)
    except MediaError as err:
        return uid, str(err)
    _save(Path(out), arr)
    return uid, None


def _video_task(args):
    path, uids, segments, sides, cfg, outs, chunking = args
    counts: list = []  # (frames on the fixed box, undetected frames) per utterance
    if chunking is None:
        clips = video_features(path, uids, segments, sides, cfg, counts)
    else:
        clips = chunked_video_features(path, uids, segments, sides, cfg, *chunking, counts=counts)
    results = []
    detector = faces.crop_method(cfg.crop) != "box"
    for uid, clip, out, (n_box, n_missed) in zip(uids, clips, outs, counts):
        if isinstance(clip, MediaError):
            results.append((uid, str(clip)))
        else:
            _save(Path(out), clip, {"frames": int(np.prod(clip.shape[:-3])), "box": n_box, "missed": n_missed}
                  if detector else None)
            results.append((uid, None))
    return results


def _run(tasks, fn, workers: int, progress: bool, desc: str, total: int, cached: int = 0):
    """Map fn over tasks (in processes when workers > 1), yielding results as they finish."""
    if total == 0:  # all from the cache: "log-mel: 521 cached", not an empty "0utt [00:00, ?utt/s]"
        bar = tqdm(total=cached, initial=cached, desc=f"{desc}: {cached} cached", bar_format="{desc}",
                   disable=not progress)
    else:
        bar = tqdm(total=total, desc=desc, unit="utt", disable=not progress, postfix=f"{cached} cached" if cached else None)
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            res = fn(t)
            bar.update(len(res) if isinstance(res, list) else 1)
            yield res
    else:
        # forkserver, not fork: a process that already runs torch/OpenCV/OpenMP threads (a notebook
        # kernel, a test session) can deadlock its forked children on a lock held at fork time
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            for res in pool.map(fn, tasks, chunksize=1 if fn is _video_task else 8):
                bar.update(len(res) if isinstance(res, list) else 1)
                yield res
    bar.close()


def extract_features(
    table: pd.DataFrame,
    cfg: StudyConfig,
    cache_dir: str | Path = "data/cache",
    modalities: tuple[str, ...] = ("audio", "video"),
    on_error: str | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> FeatureSet:
    """Features of every row of `table`, from the cache where possible, built where not.

    on_error: 'raise' (BadMediaError listing every bad utterance) or 'skip' (leave them out and list
    them in `.skipped`); defaults to cfg.data.on_error.
    """
    on_error = on_error or cfg.data.on_error
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    workers = workers or os.cpu_count() or 1
    if len(table) == 0:
        raise ValueError(f"no utterances to extract (the table is empty; corpus {cfg.data.root or cfg.data.dataset}, "
                         f"label set {cfg.data.label_set!r})")
    if "video" in modalities:
        faces.check_available(cfg.video.crop)  # a detector that cannot run is an error before any work starts
    feats = FeatureSet()
    problems: dict[str, str] = {}
    for modality in modalities:
        if modality not in _CODE:
            raise ValueError(f"unknown modality {modality!r}; choose audio and/or video")
        t0 = time.perf_counter()
        folder = Path(cache_dir) / f"{modality}-{cache_key(cfg, modality)}"
        folder.mkdir(parents=True, exist_ok=True)
        src = "audio_path" if modality == "audio" else "video_path"
        target = {
            uid: folder / f"{uid}-{fingerprint(p)}.npy" for uid, p in zip(table["id"], table[src])
        }
        todo = table[np.array([not target[uid].exists() for uid in table["id"]], dtype=bool)]
        mcfg = getattr(cfg, modality)
        _build(modality, todo, mcfg, target, workers, progress, problems, _chunking(cfg), len(table) - len(todo),
               video_span(cfg))
        with_counts = modality == "video" and faces.crop_method(cfg.video.crop) != "box"
        store = getattr(feats, modality)
        damaged: dict[str, str] = {}
        for attempt in (1, 2):
            for uid in table["id"]:
                if uid in problems or uid in store:
                    continue
                try:
                    store[uid], counts = _load(target[uid], with_counts)
                except ValueError as err:
                    if attempt == 2:
                        problems[uid] = f"cache entry unreadable after a rebuild: {err}"
                        continue
                    damaged[uid] = str(err)
                    target[uid].unlink(missing_ok=True)
                    continue
                if counts and counts["missed"]:
                    feats.fallbacks[uid] = counts
            if attempt == 2 or not damaged:
                break
            warnings.warn(f"{len(damaged)} damaged {modality} cache file(s) rebuilt: "
                          + "; ".join(damaged[u] for u in sorted(damaged)[:5])
                          + (f"; ... and {len(damaged) - 5} more" if len(damaged) > 5 else ""), stacklevel=2)
            _build(modality, table[table["id"].isin(damaged)], mcfg, target, workers, progress, problems,
                   _chunking(cfg), span=video_span(cfg))
        feats.stats[modality] = {
            "hits": float(len(table) - len(todo) - len(damaged)),
            "built": float(len(todo) + len(damaged)),
            "rebuilt_damaged": float(len(damaged)),
            "seconds": time.perf_counter() - t0,
        }
        if with_counts:
            fb = [c for u, c in feats.fallbacks.items() if u not in problems]
            feats.stats[modality].update({
                "frames_on_box": float(sum(c["box"] for c in fb)),
                "frames_undetected": float(sum(c["missed"] for c in fb)),
                "utterances_on_box": float(sum(c["box"] > 0 for c in fb)),
            })
    if problems and on_error == "raise":
        raise BadMediaError(problems)
    feats.skipped = problems
    for store in (feats.audio, feats.video, feats.fallbacks):
        for uid in problems:
            store.pop(uid, None)
    return feats


def _build(modality: str, todo: pd.DataFrame, mcfg, target: dict, workers: int, progress: bool,
           problems: dict[str, str], chunking: tuple[float, float] | None = None, cached: int = 0,
           span: float | None = None) -> None:
    """Compute the cache entries of `todo`'s rows; bad media goes to `problems` (id -> reason). Video
    segments are cut to their first `span` seconds (video_span)."""
    if modality == "audio":
        tasks = [(r.id, r.audio_path, mcfg, str(target[r.id])) for r in todo.itertuples()]
        for uid, err in _run(tasks, _audio_task, workers, progress, "log-mel", len(tasks), cached):
            if err:
                problems[uid] = err
    else:
        missing = todo[todo["video_path"].isna()]
        problems.update({uid: "no video for this dialog" for uid in missing["id"]})
        tasks = [
            (path, list(g["id"]), [(a, b if span is None else min(b, a + span)) for a, b in zip(g["start"], g["end"])],
             list(g["video_side"]), mcfg,
             [str(target[u]) for u in g["id"]], chunking)
            for path, g in todo[todo["video_path"].notna()].groupby("video_path", sort=True)
        ]
        for results in _run(tasks, _video_task, workers, progress, "face clips", len(todo) - len(missing), cached):
            problems.update({uid: err for uid, err in results if err})
