"""RAVDESS loader: the downloaded RAVDESS folder -> the utterance table.

    from mmlib.data.ravdess import load_corpus
    table = load_corpus("/data/RAVDESS")                        # 1,440 audio-video speech clips, 24 actors, 8 classes
    table = load_corpus("/data/RAVDESS", label_set="4class")    # neu/hap/sad/ang labelled, the other rows None
    table = load_corpus("/data/RAVDESS", include_song=True)     # + the 1,012 audio-video song clips

Reads file names (and each video's duration), nothing else. A name is `MM-VV-EE-II-SS-RR-AA.ext`:
modality (01 audio-video, 02 video-only, 03 audio-only), vocal channel (01 speech, 02 song), emotion
(01-08, EMOTIONS), intensity (01 normal, 02 strong), statement (01, 02), repetition (01, 02), actor
(01-24, odd = male). The root is searched recursively, so the Zenodo zips as they unpack
(Video_Speech_Actor_01/Actor_01/01-01-...mp4, Audio_Speech_Actors_01-24/Actor_01/03-01-...wav) and a
flat Actor_01/ ... Actor_24/ tree both work; hidden files (._*, .DS_Store) and __MACOSX/ are ignored.

One row per audio-video recording (01-*.mp4): speech by default, song (01-02-*) and video-only
(02-*.mp4) rows when asked. Columns (mmlib.data.corpus.COLUMNS):
- id, dialog: the file stem; session 1 (RAVDESS has no sessions); speaker "Actor_XX"; gender M for odd actors;
- emotion: the RAVDESS name (neutral, calm, happy, ...); label: its class under the label set (LABEL_SETS);
- mode: "acted-normal" | "acted-strong", the intensity (the contract has no intensity column);
  song rows are "acted-song-normal" | "acted-song-strong";
- valence, arousal, dominance: NaN (RAVDESS has no dimensional annotation);
- start 0.0, end: the duration of the video stream (a file without one is an error naming it);
- audio_path: the matching audio-only 03-*.wav when present (the same recording, 48 kHz PCM), else the
  .mp4 itself (read_audio decodes its 48 kHz AAC track); video_path: the .mp4; video_side "full".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmlib.data import corpus
from mmlib.data.corpus import COLUMNS, validate_table
from mmlib.data.corpus_files import find_media, resolve_label_set, video_durations

EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful", 7: "disgust", 8: "surprised"}
INTENSITIES = {1: "normal", 2: "strong"}
MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
CHANNELS = {1: "speech", 2: "song"}
N_ACTORS = 24

# label set -> {emotion: class}; the order of first appearance of each class is its index. Names are
# global (mmlib.data.corpus.LABEL_SETS holds the same entries): "4class" means neu/hap/sad/ang everywhere.
LABEL_SETS = {name: corpus.LABEL_SETS[name] for name in ("ravdess8", "ravdess7", "4class")}  # the sets this corpus uses
ALIASES = {"native": "ravdess8", "native7": "ravdess7"}  # for direct calls; configs use the global names

_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class Name:
    modality: int
    channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int


def parse_name(path: str | Path) -> Name | None:
    """The seven codes of a RAVDESS file name; None if the stem has another shape, ValueError
    (naming the file) if it has the shape but a code out of range."""
    path = Path(path)
    m = _NAME.match(path.stem)
    if m is None:
        return None
    n = Name(*(int(g) for g in m.groups()))
    checks = [("modality", n.modality, MODALITIES), ("vocal channel", n.channel, CHANNELS),
              ("emotion", n.emotion, EMOTIONS), ("intensity", n.intensity, INTENSITIES),
              ("statement", n.statement, (1, 2)), ("repetition", n.repetition, (1, 2)),
              ("actor", n.actor, range(1, N_ACTORS + 1))]
    for what, code, valid in checks:
        if code not in valid:
            raise ValueError(f"{path}: {what} code {code:02d} is not a RAVDESS code (expected one of "
                             f"{', '.join(f'{c:02d}' for c in valid)})")
    ext = ".wav" if n.modality == 3 else ".mp4"
    if path.suffix.lower() != ext:
        raise ValueError(f"{path}: a {MODALITIES[n.modality]} file should end in {ext}")
    return n


def load_corpus(root: str | Path, label_set: str = "ravdess8", include_song: bool = False,
                include_video_only: bool = False) -> pd.DataFrame:
    """The utterance table (mmlib.data.corpus.COLUMNS) of a RAVDESS download."""
    mapping = LABEL_SETS[resolve_label_set(label_set, LABEL_SETS, ALIASES, "RAVDESS")]
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: expected the unpacked RAVDESS download (Actor_01 ... Actor_24)")
    media = find_media(root, (".mp4", ".wav"), _NAME)
    names = {stem: parse_name(path) for stem, path in media.items()}
    modalities = {1, 2} if include_video_only else {1}
    channels = {1, 2} if include_song else {1}
    stems = [s for s, n in sorted(names.items()) if n.modality in modalities and n.channel in channels]
    records, no_duration = [], []
    for stem, end in zip(stems, video_durations([media[s] for s in stems])):
        n, video = names[stem], media[stem]
        rest = stem[3:]  # the recording: the same for its 01, 02 and 03 files
        audio = media.get(f"03-{rest}") or (media.get(f"01-{rest}") if n.modality == 2 else None) or video
        if end is None:
            no_duration.append(str(video))
            continue
        records.append({
            "id": stem, "dataset": "ravdess", "session": 1, "speaker": f"Actor_{n.actor:02d}",
            "gender": "M" if n.actor % 2 else "F", "dialog": stem,
            "mode": f"acted-{'song-' if n.channel == 2 else ''}{INTENSITIES[n.intensity]}",
            "emotion": EMOTIONS[n.emotion], "label": mapping.get(EMOTIONS[n.emotion]),
            "valence": np.nan, "arousal": np.nan, "dominance": np.nan, "start": 0.0, "end": end,
            "audio_path": str(audio), "video_path": str(video), "video_side": "full",
        })
    if no_duration:
        raise ValueError(f"{len(no_duration)} RAVDESS video(s) have no readable video stream or duration:\n  "
                         + "\n  ".join(no_duration))
    if not records:
        counts = {MODALITIES[m]: sum(n.modality == m for n in names.values()) for m in MODALITIES}
        raise ValueError(f"no audio-video RAVDESS clips (01-*.mp4) under {root}; found {counts}. The study needs the "
                         "Video_Speech_Actor_XX.zip downloads (the audio-only zip has no video).")
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return validate_table(table)
