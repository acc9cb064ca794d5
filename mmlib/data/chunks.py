"""Fixed-length chunks of an utterance: one rule for the audio and the video of a chunk.

    chunk_spans(2.0, 11.0, 3.0)                      # [(2, 5), (5, 8), (8, 11)]
    chunk_spans(0.0, 7.5, 3.0)                       # [(0, 3), (3, 6), (6, 7.5)]: the remainder is kept
    chunk_spans(0.0, 7.5, 3.0, min_fraction=0.65)    # [(0, 3), (3, 6)]: 1.5 s < 0.65 x 3 s is dropped
    chunk_spans(0.0, 1.2, 3.0, min_fraction=0.65)    # [(0, 1.2)]: a short utterance keeps one chunk
    audio_frame_spans(3, 300, 760)                   # [(0, 300), (300, 600), (600, 760)]

Chunk k of the segment [start, end] covers [start + k c, min(start + (k+1) c, end)]. The last,
shorter chunk (the remainder) is kept when it lasts at least `min_fraction` x c (0.0 keeps every
remainder; the authors dropped those under 0.65 x 3 s); an utterance shorter than that keeps its one
chunk, so every utterance is scored. Video extraction (features.py) samples each chunk's frames
from its own span and the dataset (dataset.py) cuts the log-mel with the same spans, so both
modalities of chunk k cover the same seconds and count the same chunks.
"""

from __future__ import annotations

import math

EPS = 1e-6  # seconds: durations that are a whole number of chunks up to float error count as whole


def chunk_spans(start: float, end: float, chunk: float, min_fraction: float = 0.0) -> list[tuple[float, float]]:
    """(start, end) seconds of each kept chunk of the segment [start, end]."""
    if not chunk > 0:
        raise ValueError(f"chunk length must be > 0 seconds, got {chunk!r}")
    if not 0.0 <= min_fraction <= 1.0:
        raise ValueError(f"audio.min_chunk_fraction must lie in [0, 1], got {min_fraction!r}")
    if not end > start:
        raise ValueError(f"segment [{start}, {end}] s is empty")
    n_full = math.floor((end - start) / chunk + EPS)
    spans = [(start + k * chunk, min(start + (k + 1) * chunk, end)) for k in range(n_full)]
    rest = end - (start + n_full * chunk)
    if rest > EPS and (rest >= min_fraction * chunk - EPS or n_full == 0):
        spans.append((start + n_full * chunk, end))
    return spans


def audio_frame_spans(n_chunks: int, chunk_frames: int, n_audio: int) -> list[tuple[int, int]]:
    """[lo, hi) log-mel frames of each of n_chunks chunks of chunk_frames, in a log-mel of n_audio frames.

    A chunk that starts past the end of the audio (the wav is shorter than the table's segment by
    more than the kept remainder) gets the audio's last frame, so it is never empty.
    """
    spans = []
    for k in range(n_chunks):
        lo = min(k * chunk_frames, n_audio - 1)
        spans.append((lo, max(lo + 1, min((k + 1) * chunk_frames, n_audio))))
    return spans
