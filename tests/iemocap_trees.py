"""Hand-written IEMOCAP-layout trees for the loader, feature and chunk tests, and readers of any
IEMOCAP-layout tree (the synthetic corpus included).

    from tests.iemocap_trees import write_session, write_media_tree, cfg_for
    s = write_session(root, 1, {"Ses01F_impro01": [(0.0, 1.0, "Ses01F_impro01_F000", "neu")]})
    root = write_media_tree(tmp_path)      # 3 utterances with real media (MJPEG .avi, noise .wav)
    wav = utterance_wav(root, "Ses01F_impro01_F000")
    frames = dialog_frames(root, "Ses01F_impro01")   # every frame of the dialog's .avi (BGR)

The `media_tree` fixture (tests/conftest.py) is `write_media_tree(tmp_path)`; `cfg_for()` is the
config its features are extracted with.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import soundfile as sf

from mmlib.config import load_config

LEGEND = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
UTT = re.compile(r"^(Ses0[1-5][FM]_(?:impro\d{2}|script\d{2}_\d))_([FM])\d{3}$")


def block(start, end, utt, emo, vad=(2.5, 2.5, 2.5), annot=("C-E2:\tNeutral;\t()", "A-E3:\tval 3; act 2; dom  2;\t()")):
    head = f"[{start:.4f} - {end:.4f}]\t{utt}\t{emo}\t[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]"
    return "\n".join([head, *annot]) + "\n\n"


def write_session(root: Path, n: int, dialogs: dict[str, list[tuple]], newline="\n", video=True):
    s = root / f"Session{n}"
    for dialog, blocks in dialogs.items():
        ev = s / "dialog" / "EmoEvaluation"
        for sub in ("Categorical", "Attribute", "Self-evaluation"):
            (ev / sub).mkdir(parents=True, exist_ok=True)
            (ev / sub / f"{dialog}_e1_cat.txt").write_text("[6.2 - 8.2]\tnot a label file\n")
        text = LEGEND + "".join(block(*b) for b in blocks)
        (ev / f"{dialog}.txt").write_bytes(text.replace("\n", newline).encode())
        (ev / f"._{dialog}.txt").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
        if video:
            (s / "dialog" / "avi" / "DivX").mkdir(parents=True, exist_ok=True)
            (s / "dialog" / "avi" / "DivX" / f"{dialog}.avi").write_bytes(b"")
    return s


# ------------------------------------------------------------------ a tree with real media

FPS = 10
SIZE = 32  # each half is SIZE x SIZE


def write_avi(path: Path, n_frames: int):
    """Left half: red with brightness = 5 x frame index; right half: blue with the same encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (2 * SIZE, SIZE))
    for i in range(n_frames):
        frame = np.zeros((SIZE, 2 * SIZE, 3), np.uint8)
        frame[:, :SIZE, 2] = 5 * i  # BGR: red channel on the left
        frame[:, SIZE:, 0] = 5 * i  # blue on the right
        w.write(frame)
    w.release()


def write_dialog_tree(tmp_path: Path, blocks, video_seconds: float, video_writer=None) -> Path:
    """IEMOCAP_full_release with one dialog (Ses01F_impro01): `blocks` (start, end, utterance, code), an MJPEG
    video of `video_seconds` (written by `video_writer(path, n_frames)`, default write_avi) and noise wavs."""
    root = tmp_path / "IEMOCAP_full_release"
    s = write_session(root, 1, {"Ses01F_impro01": blocks}, video=False)
    (video_writer or write_avi)(s / "dialog" / "avi" / "DivX" / "Ses01F_impro01.avi", round(video_seconds * FPS))
    rng = np.random.default_rng(0)
    for start, end, utt, _ in blocks:
        wav = s / "sentences" / "wav" / "Ses01F_impro01" / f"{utt}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav, 0.1 * rng.standard_normal(int(round((end - start) * 16000))).astype(np.float32), 16000)
    return root


def write_media_tree(tmp_path: Path) -> Path:
    """One dialog of three 1 s utterances (neu, ang, sad) with a 3 s MJPEG video and noise wavs."""
    return write_dialog_tree(tmp_path, [(0.0, 1.0, "Ses01F_impro01_F000", "neu"), (1.0, 2.0, "Ses01F_impro01_M000", "ang"),
                                        (2.0, 3.0, "Ses01F_impro01_F001", "sad")], 3)


def cfg_for():
    """The config the media tree's features are extracted with: 5 frames of 16 px, the whole half as the face."""
    return load_config("quick", {"video.n_frames": 5, "video.size": 16, "video.face_box": (0.0, 0.0, 1.0, 1.0)})


# ------------------------------------------------------------------ reading an IEMOCAP-layout tree

def utterance_wav(root: Path, utt: str) -> Path:
    dialog = UTT.match(utt).group(1)
    return root / f"Session{int(utt[3:5])}" / "sentences" / "wav" / dialog / f"{utt}.wav"


def dialog_frames(root: Path, dialog: str) -> np.ndarray:
    cap = cv2.VideoCapture(str(root / f"Session{int(dialog[3:5])}" / "dialog/avi/DivX" / f"{dialog}.avi"))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    return np.stack(frames)


def speaker_z(values: np.ndarray, speakers: pd.Series) -> np.ndarray:
    """Each value standardized within its speaker."""
    return pd.Series(values).groupby(speakers.to_numpy()).transform(lambda c: (c - c.mean()) / c.std()).to_numpy()
