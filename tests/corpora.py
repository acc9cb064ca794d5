"""Tiny RAVDESS- and CREMA-D-shaped trees for the loader, feature and training tests.

    from tests.corpora import write_ravdess, write_cremad
    root = write_ravdess(tmp_path / "RAVDESS", actors=range(1, 8))         # Video_Speech_Actor_XX/Actor_XX/*.mp4 ...
    root = write_cremad(tmp_path / "CREMA-D", actors=range(1001, 1008))    # VideoFlash/*.flv, AudioWAV/*.wav, ...

Each clip is written in its corpus's exact naming and media formats, only smaller and shorter:
RAVDESS: H.264 .mp4 (16:9) with 48 kHz stereo AAC, plus 48 kHz 16-bit .wav audio-only files;
CREMA-D: FLV1 .flv (4:3) with 22.05 kHz MP3, plus 16 kHz .wav, plus VideoDemographics.csv and the
corpus's four known-bad clips as far as they can be imitated. The emotion leaves a weak trace in
both modalities (pitch and loudness of a buzzy voice; mouth curve, mouth opening and brows of a
drawn face), so a short training run has something to find. Everything is seeded by the file name.
TINY holds the config overrides that train a model on such a tree in one short epoch.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import soundfile as sf

TINY = {  # sizes of the "quick" profile, one epoch: fast enough for a unit test
    "video.n_frames": 4, "video.size": 32, "audio.max_seconds": 1.0, "model.dim": 32, "model.audio_width": 1.0,
    "model.video_width": 8, "model.pool_hw": 2, "train.batch_size": 16, "train.max_epochs": 1, "train.patience": 1,
}

# canonical emotion -> (pitch factor, loudness, mouth curve (+ smile), mouth opening, brow raise)
STYLE: dict[str, tuple[float, float, float, float, float]] = {
    "neu": (1.00, 0.12, 0.0, 0.25, 0.0),
    "cal": (0.92, 0.08, 0.2, 0.15, 0.1),
    "hap": (1.25, 0.22, 0.9, 0.45, 0.4),
    "sad": (0.82, 0.07, -0.8, 0.15, -0.3),
    "ang": (1.12, 0.35, -0.4, 0.60, -0.9),
    "fea": (1.35, 0.18, -0.3, 0.70, 0.8),
    "dis": (0.95, 0.16, -0.6, 0.30, -0.5),
    "sur": (1.45, 0.28, 0.1, 0.95, 1.0),
}
RAVDESS_EMOTIONS = {1: "neu", 2: "cal", 3: "hap", 4: "sad", 5: "ang", 6: "fea", 7: "dis", 8: "sur"}
CREMAD_EMOTIONS = {"NEU": "neu", "HAP": "hap", "SAD": "sad", "ANG": "ang", "FEA": "fea", "DIS": "dis"}


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _envelope(t: np.ndarray, seconds: float, rate: float = 4.0) -> np.ndarray:
    """Syllable-like loudness: 0..1 bumps at `rate` Hz, faded in and out over 50 ms."""
    fade = np.clip(np.minimum(t, seconds - t) / 0.05, 0, 1)
    return fade * 0.5 * (1 - np.cos(2 * np.pi * rate * t))


def voice(name: str, emotion: str, seconds: float, sr: int, base_f0: float, strength: float = 1.0) -> np.ndarray:
    """A buzzy voiced tone: f0 and loudness follow the emotion; float32 mono in [-1, 1]."""
    pitch, loud, *_ = STYLE[emotion]
    r = _rng(name)
    t = np.arange(int(round(seconds * sr))) / sr
    f0 = base_f0 * pitch * (1 + 0.04 * (strength - 1)) * (1 + 0.03 * np.sin(2 * np.pi * 5 * t)) * r.uniform(0.95, 1.05)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 7))
    x = loud * strength * _envelope(t, seconds) * tone / 2 + 0.005 * r.standard_normal(len(t))
    return np.clip(x, -1, 1).astype(np.float32)


def face(w: int, h: int, emotion: str, opening: float, name: str) -> np.ndarray:
    """One RGB frame: a drawn face in the middle of a grey backdrop (the Haar detector may or may
    not take it for a face; the study's crop then falls back to its box)."""
    _, _, curve, open_amount, brow = STYLE[emotion]
    tint = int(_rng(name.split("_")[0] + name[-2:]).integers(-15, 15))  # a per-actor backdrop
    img = np.full((h, w, 3), (165 + tint, 170, 178 - tint), np.uint8)
    cx, cy, fh = w / 2, 0.45 * h, 0.3 * h  # face centre and half-height
    fw = 0.75 * fh
    cv2.ellipse(img, (int(cx), int(cy)), (int(fw), int(fh)), 0, 0, 360, (224, 182, 150), -1, cv2.LINE_AA)
    cv2.ellipse(img, (int(cx), int(cy - 0.55 * fh)), (int(fw), int(0.5 * fh)), 0, 180, 360, (70, 50, 40), -1)
    for side in (-1, 1):
        ex, ey = cx + side * 0.4 * fw, cy - 0.2 * fh
        cv2.circle(img, (int(ex), int(ey)), max(1, int(0.1 * fh)), (245, 245, 245), -1, cv2.LINE_AA)
        cv2.circle(img, (int(ex), int(ey)), max(1, int(0.05 * fh)), (40, 30, 30), -1, cv2.LINE_AA)
        inner = ey - (0.28 - 0.1 * brow) * fh  # brows: inner ends down in anger, both up in surprise
        outer = ey - (0.3 + 0.05 * brow) * fh
        cv2.line(img, (int(ex - side * 0.15 * fw), int(inner)), (int(ex + side * 0.3 * fw), int(outer)),
                 (60, 40, 30), max(1, int(0.05 * fh)), cv2.LINE_AA)
    u = np.linspace(-1, 1, 9)
    my = cy + 0.5 * fh + 0.2 * fh * curve * (0.5 - u**2)  # corners up in a smile, down in a frown
    gap = 0.35 * fh * open_amount * opening * (1 - u**2)
    x = cx + 0.45 * fw * u
    lips = np.concatenate([np.stack([x, my - 0.3 * gap], 1), np.stack([x, my + 0.7 * gap], 1)[::-1]])
    cv2.fillPoly(img, [np.round(lips).astype(np.int32)], (90, 30, 40), cv2.LINE_AA)
    cv2.polylines(img, [np.round(np.stack([x, my - 0.3 * gap], 1)).astype(np.int32)], False, (150, 60, 70), 1,
                  cv2.LINE_AA)
    return img


def frames_for(name: str, emotion: str, seconds: float, fps: int, size: tuple[int, int]) -> list[np.ndarray]:
    """The face clip of one recording: the mouth opens with the voice's envelope."""
    n = int(round(seconds * fps))
    t = (np.arange(n) + 0.5) / fps
    return [face(size[0], size[1], emotion, float(e), name) for e in _envelope(t, seconds)]


def write_av(path: Path, frames: list[np.ndarray], fps: int, fmt: str, vcodec: str,
             audio: np.ndarray | None = None, rate: int = 48000, acodec: str = "aac", layout: str = "mono") -> Path:
    """Mux RGB frames and a float mono waveform (duplicated to `layout`) into a container with PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as out:
        vs = None
        if frames:
            vs = out.add_stream(vcodec, rate=fps)
            vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            if vcodec in ("libx264", "h264"):
                vs.options = {"preset": "ultrafast", "crf": "30"}
        if audio is not None:
            aus = out.add_stream(acodec, rate=rate)
            aus.layout = layout
            # the encoders' fastest settings: these clips are test fixtures, not listening material
            aus.options = {"aac_coder": "fast"} if acodec == "aac" else {"compression_level": "9"}
        if vs is not None:
            for img in frames:
                out.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            out.mux(vs.encode())
        if audio is not None and audio.size:  # an empty waveform leaves the audio stream without packets
            ctx = aus.codec_context
            to_codec = av.AudioResampler(format=ctx.format.name, layout=layout, rate=rate, frame_size=ctx.frame_size or 1024)
            channels = 2 if layout == "stereo" else 1
            frame = av.AudioFrame.from_ndarray(np.repeat(audio, channels)[None], format="flt", layout=layout)
            frame.sample_rate, frame.pts = rate, 0
            for f in to_codec.resample(frame) + to_codec.resample(None):
                out.mux(aus.encode(f))
            out.mux(aus.encode())
    return path


def _junk(folder: Path, name: str) -> None:
    """What macOS zips leave behind: resource forks and .DS_Store (the loaders must ignore them)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"._{name}").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


# ---------------------------------------------------------------- RAVDESS

def ravdess_stem(modality: int, channel: int, emotion: int, intensity: int, statement: int, rep: int, actor: int) -> str:
    return f"{modality:02d}-{channel:02d}-{emotion:02d}-{intensity:02d}-{statement:02d}-{rep:02d}-{actor:02d}"


def ravdess_clips(actors=range(1, 3), emotions=range(1, 9), intensities=(1, 2), statements=(1,),
                  repetitions=(1,), channel: int = 1) -> list[tuple[int, int, int, int, int]]:
    """(emotion, intensity, statement, repetition, actor) of the recordings written, as the real
    corpus has them: no strong neutral, and songs only in the first six emotions."""
    out = []
    for a in actors:
        for e in emotions:
            if channel == 2 and e > 6:
                continue
            for i in intensities:
                if e == 1 and i == 2:
                    continue
                out += [(e, i, s, r, a) for s in statements for r in repetitions]
    return out


def write_ravdess(root: str | Path, actors=range(1, 3), emotions=range(1, 9), intensities=(1, 2),
                  statements=(1,), repetitions=(1,), audio_only: str = "all", song: bool = False,
                  video_only: bool = False, layout: str = "download", seconds: float = 1.0, fps: int = 15,
                  size: tuple[int, int] = (96, 54)) -> Path:
    """A RAVDESS-shaped tree; returns `root`.

    audio_only: "all" | "none" | "even" (03-* .wav files only for even-numbered actors).
    layout: "download" (Video_Speech_Actor_XX/Actor_XX/ and Audio_Speech_Actors_01-24/Actor_XX/, as
    the Zenodo zips unpack) or "flat" (Actor_XX/ holding every modality).
    """
    root = Path(root)

    def folder(kind: str, actor: int) -> Path:
        if layout == "flat":
            return root / f"Actor_{actor:02d}"
        top = {"video": f"Video_{'Song' if kind == 'song' else 'Speech'}_Actor_{actor:02d}",
               "audio": "Audio_Speech_Actors_01-24", "audio_song": "Audio_Song_Actors_01-24"}
        return root / top["video" if kind in ("speech", "song") else kind] / f"Actor_{actor:02d}"

    for channel in (1, 2) if song else (1,):
        for e, i, s, r, a in ravdess_clips(actors, emotions, intensities, statements, repetitions, channel):
            emo = RAVDESS_EMOTIONS[e]
            stem = ravdess_stem(1, channel, e, i, s, r, a)
            wave = voice(stem[3:], emo, seconds, 48000, 120.0 if a % 2 else 210.0, 1.0 + 0.5 * (i - 1))
            frames = frames_for(stem[3:], emo, seconds, fps, size)
            vdir = folder("speech" if channel == 1 else "song", a)
            write_av(vdir / f"{stem}.mp4", frames, fps, "mp4", "libx264", wave, 48000, "aac", "stereo")
            if video_only:
                write_av(vdir / f"{ravdess_stem(2, channel, e, i, s, r, a)}.mp4", frames, fps, "mp4", "libx264")
            if audio_only == "all" or (audio_only == "even" and a % 2 == 0):
                adir = folder("audio" if channel == 1 else "audio_song", a)
                adir.mkdir(parents=True, exist_ok=True)
                sf.write(adir / f"{ravdess_stem(3, channel, e, i, s, r, a)}.wav", wave, 48000, subtype="PCM_16")
            _junk(vdir, f"{stem}.mp4")
    return root


# ---------------------------------------------------------------- CREMA-D

def cremad_sex(actor: int) -> str:
    """The Sex column the builder writes: not a parity rule, so a test can tell it was read."""
    return "Female" if actor % 3 == 0 else "Male"


def cremad_clips(actors=range(1001, 1003), sentences=("DFA", "IEO"), ieo_levels=("LO", "MD", "HI"),
                 emotions=tuple(CREMAD_EMOTIONS)) -> list[str]:
    """Clip ids as CREMA-D has them: IEO at several levels (neutral only XX), every other sentence XX."""
    out = []
    for a in actors:
        for s in sentences:
            for e in emotions:
                levels = ieo_levels if s == "IEO" and e != "NEU" else ("XX",)
                out += [f"{a}_{s}_{e}_{lv}" for lv in levels]
    return out


def _write_cremad_clip(root: Path, cid: str, seconds: float, fps: int, size, flv_audio: bool, wav_seconds=None,
                       video_frames: int | None = None, flv_sound: bool = True) -> None:
    emo = CREMAD_EMOTIONS[cid.split("_")[2]]
    base_f0 = 120.0 if cremad_sex(int(cid[:4])) == "Male" else 210.0
    wave22 = voice(cid, emo, seconds, 22050, base_f0)
    frames = frames_for(cid, emo, seconds, fps, size)
    if video_frames is not None:
        frames = frames[:video_frames]
    audio = wave22 if (flv_audio and flv_sound) else None
    write_av(root / "VideoFlash" / f"{cid}.flv", frames, fps, "flv", "flv", audio, 22050, "libmp3lame", "mono")
    secs = seconds if wav_seconds is None else wav_seconds
    sf.write(root / "AudioWAV" / f"{cid}.wav", voice(cid, emo, secs, 16000, base_f0) if secs > 0 else np.zeros(0, np.float32),
             16000, subtype="PCM_16")


def write_cremad(root: str | Path, actors=range(1001, 1003), sentences=("DFA", "IEO"), ieo_levels=("LO", "MD", "HI"),
                 emotions=tuple(CREMAD_EMOTIONS), demographics: bool = True, known_bad: bool = True,
                 flv_audio: bool = True, seconds: float = 1.0, fps: int = 15, size: tuple[int, int] = (80, 60)) -> Path:
    """A CREMA-D-shaped tree (VideoFlash/, AudioWAV/, VideoDemographics.csv); returns `root`.

    known_bad adds imitations of the four clips the corpus's README lists:
    1076_MTI_SAD_XX (flv without sound, wav with zero samples), 1076_MTI_NEU_XX (3 video frames and
    10 ms of audio), 1064_TIE_SAD_XX (an flv whose video stream holds no frame, so it has no video
    duration), 1064_IEO_DIS_MD (3 s, standing in for one minute).
    """
    root = Path(root)
    (root / "VideoFlash").mkdir(parents=True, exist_ok=True)
    (root / "AudioWAV").mkdir(parents=True, exist_ok=True)
    for cid in cremad_clips(actors, sentences, ieo_levels, emotions):
        _write_cremad_clip(root, cid, seconds, fps, size, flv_audio)
    if known_bad:
        _write_cremad_clip(root, "1076_MTI_SAD_XX", seconds, fps, size, flv_audio, wav_seconds=0.0, flv_sound=False)
        _write_cremad_clip(root, "1076_MTI_NEU_XX", seconds, fps, size, flv_audio, wav_seconds=0.01, video_frames=3)
        _write_cremad_clip(root, "1064_TIE_SAD_XX", seconds, fps, size, flv_audio, video_frames=0)
        _write_cremad_clip(root, "1064_IEO_DIS_MD", 3.0, fps, size, flv_audio)
    if demographics:
        ids = sorted(set(actors) | ({1064, 1076} if known_bad else set()))
        rows = [f"{a},{20 + a % 50},{cremad_sex(a)},Caucasian,Not Hispanic" for a in ids]
        (root / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n" + "\n".join(rows) + "\n")
    _junk(root / "AudioWAV", "1001_DFA_ANG_XX.wav")
    _junk(root / "VideoFlash", "1001_DFA_ANG_XX.flv")
    return root
