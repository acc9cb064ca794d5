"""Synthetic IEMOCAP: a corpus in IEMOCAP_full_release's exact layout whose answers are known.

IEMOCAP is licensed, so the study runs by default on this stand-in. It is built so the study's
question has an answer: the voice carries arousal (pitch level and range, loudness, speaking rate,
voice quality), the face carries valence (mouth curvature, brows), each leaks only a weak cue of
the other, so only their combination separates ang / hap / sad / neu. Weak expressions drift toward
neutral and a share of labels disagree with what is expressed, so no model reaches 100 %.

    from mmlib.data.synthetic import SYNTH_PROFILES, generate_corpus
    root = generate_corpus("data/synth-quick", SYNTH_PROFILES["quick"])
    # root = data/synth-quick/IEMOCAP_full_release; ground truth: data/synth-quick/truth.csv

    python -m mmlib.data.synthetic data/synth-quick --profile quick

The plan (who speaks when, labels, expression) is drawn up front and is cheap (`plan_corpus`);
media are rendered per dialog, each from its own rng keyed by (seed, dialog), so the parallel
result is byte-identical to the serial one.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from mmlib.data import degrade

ROOT_NAME = "IEMOCAP_full_release"
FACE_BOX = (0.1, 0.1, 0.9, 0.9)  # x0, y0, x1, y1 of the face in each S x S half, as fractions
CODES4 = ("neu", "hap", "exc", "ang", "sad")  # order of SynthConfig.class_counts
OTHER_CODES = ("xxx", "fru", "sur", "fea", "oth", "dis")  # order of SynthConfig.other_counts
BASE = {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"}  # exc merges into hap
NEUTRAL = (0.0, -0.45)  # (valence, arousal) of neutral: where weak expressions drift to
TARGETS = {  # (valence, arousal) in [-1, 1] of a full-intensity expression
    "neu": NEUTRAL, "hap": (0.85, 0.5), "exc": (0.85, 0.9), "ang": (-0.9, 0.9), "sad": (-0.85, -0.9),
    "fru": (-0.55, 0.35), "sur": (0.35, 0.8), "fea": (-0.6, 0.6), "dis": (-0.75, 0.05),
}
NAMES = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "ang": "Anger", "sad": "Sadness",
         "fru": "Frustration", "sur": "Surprise", "fea": "Fear", "dis": "Disgust", "oth": "Other"}
CONFUSED_WITH = {  # what a dissenting annotator says instead
    "neu": ("Frustration", "Sadness", "Excited"), "hap": ("Excited", "Neutral"),
    "exc": ("Happiness", "Surprise", "Neutral"), "ang": ("Frustration", "Disgust"),
    "sad": ("Neutral", "Frustration"), "fru": ("Anger", "Neutral", "Sadness"),
    "sur": ("Excited", "Happiness", "Fear"), "fea": ("Sadness", "Surprise", "Frustration"),
    "dis": ("Anger", "Frustration"), "oth": ("Neutral", "Frustration"),
}
COMMENTS = ("slightly sarcastic", "tired", "mild", "laughing", "raised voice", "hesitant")
VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010),  # F1-F3, Hz:
          "o": (570, 840, 2410), "u": (300, 870, 2240)}  # Peterson & Barney, adult male
CONSONANTS = "bdgklmnprstvz"
SKIN = ((180, 200, 235), (150, 180, 220), (125, 155, 205), (100, 130, 180), (80, 110, 160))  # BGR
HAIR = ((30, 35, 45), (40, 60, 90), (60, 90, 130), (25, 25, 25), (90, 110, 140))


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0  # every random choice derives from (seed, what, dialog)
    n_sessions: int = 5  # IEMOCAP has 5, each with one female and one male actor
    impro_per_session: int = 3  # improvised dialogs per session
    script_per_session: int = 3  # scripted dialogs per session
    turns: tuple[int, int] = (20, 28)  # turns per dialog, inclusive range
    utt_seconds: tuple[float, float] = (1.5, 4.0)  # utterance duration range
    gap_seconds: tuple[float, float] = (0.15, 0.8)  # silence between turns (turns never overlap)
    class_counts: tuple[int, ...] = (1708, 595, 1041, 1103, 1084)  # neu hap exc ang sad: IEMOCAP's
    other_share: float = 0.25  # share of utterances outside the 4-class set (IEMOCAP: 0.45)
    other_counts: tuple[int, ...] = (2507, 1849, 107, 40, 3, 2)  # xxx fru sur fea oth dis: IEMOCAP's
    intensity_beta: tuple[float, float] = (2.5, 1.5)  # intensity = min + (1 - min) * Beta: mean ~0.7
    intensity_min: float = 0.15  # the weakest expressions are nearly neutral
    label_noise: float = 0.1  # P(annotated label != expressed emotion): caps every model's accuracy
    audio_valence_cue: float = 0.15  # valence leaking into the voice, relative to arousal (0 = none)
    video_arousal_cue: float = 0.15  # arousal leaking into the face (brows, eyes), relative to valence
    sample_rate: int = 16000
    fps: int = 15
    frame_size: int = 96  # S: the dialog video is 2S wide x S high, one actor per half
    hidden_files: bool = True  # macOS '._*' debris as in the real release; loaders must skip it
    audio_snr_db: float | None = None  # white noise over every dialog at this SNR; None = clean
    video_blur_sigma: float = 0.0  # Gaussian blur, in pixels at frame size S
    video_occlusion: float = 0.0  # fraction of each half covered, over the lower/middle face
    video_drop_prob: float = 0.0  # probability a frame repeats the previous one

    def __post_init__(self) -> None:
        for name in ("turns", "utt_seconds", "gap_seconds", "class_counts", "other_counts", "intensity_beta"):
            object.__setattr__(self, name, tuple(getattr(self, name)))  # lists from JSON / overrides
        if len(self.class_counts) != len(CODES4) or len(self.other_counts) != len(OTHER_CODES):
            raise ValueError(f"class_counts needs {CODES4}, other_counts needs {OTHER_CODES}")
        if self.frame_size < 32 or self.frame_size % 8:
            raise ValueError(f"frame_size must be a multiple of 8 and >= 32, got {self.frame_size}")
        if not (0 <= self.other_share < 1 and 0 <= self.label_noise <= 1 and 0 < self.intensity_min <= 1):
            raise ValueError("other_share in [0, 1), label_noise in [0, 1], intensity_min in (0, 1]")
        if self.utt_seconds[0] < 0.5 or self.turns[0] < 2 or self.n_sessions < 1:
            raise ValueError("need utterances >= 0.5 s, >= 2 turns per dialog, >= 1 session")


SYNTH_PROFILES: dict[str, SynthConfig] = {
    # a few seconds: 5 sessions x 2 dialogs x ~8 turns of 1-2 s, 64-pixel faces
    "quick": SynthConfig(impro_per_session=1, script_per_session=1, turns=(7, 9),
                         utt_seconds=(1.0, 2.0), frame_size=64),
    # a CPU study in minutes: 5 sessions x 6 dialogs x ~24 turns of 1.5-4 s (~720 utterances)
    "default": SynthConfig(),
}


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """Independent stream per (seed, keys); crc32, unlike hash(), is stable across processes."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def _tick_rate(cfg: SynthConfig) -> int:
    """Times live on a grid that is exact both in samples and in 4-decimal text (2000 Hz at 16 kHz)."""
    return math.gcd(cfg.sample_rate, 10000)


# ---------------------------------------------------------------- the plan (no media)

def dialog_names(cfg: SynthConfig) -> list[tuple[int, str]]:
    """(session, dialog) pairs; the actor wearing markers alternates F / M between dialogs."""
    out = []
    for s in range(1, cfg.n_sessions + 1):
        kinds = [f"impro{i:02d}" for i in range(1, cfg.impro_per_session + 1)]
        kinds += [f"script{j // 3 + 1:02d}_{j % 3 + 1}" for j in range(cfg.script_per_session)]
        out += [(s, f"Ses{s:02d}{'FM'[(k + s + 1) % 2]}_{kind}") for k, kind in enumerate(kinds)]
    return out


def speaker_params(cfg: SynthConfig) -> dict[str, dict]:
    """Voice and face of each actor, keyed 'Ses01_F'."""
    out = {}
    for s in range(1, cfg.n_sessions + 1):
        for g in "FM":
            spk = f"Ses{s:02d}_{g}"
            r = _rng(cfg.seed, "speaker", spk)
            out[spk] = {
                "f0": (200.0 if g == "F" else 120.0) * 2 ** (r.normal(0, 1.5) / 12),  # Hz, +-1.5 semitones
                "vtl": (1.16 if g == "F" else 1.0) * r.uniform(0.96, 1.04),  # formant scale: shorter tract
                "level_db": r.uniform(-2.0, 2.0), "rate": r.uniform(0.9, 1.1), "breath": r.uniform(0.8, 1.2),
                "half_h": r.uniform(0.40, 0.44), "aspect": r.uniform(0.70, 0.86),  # of the FACE_BOX
                "dx": r.uniform(-0.03, 0.03), "dy": r.uniform(-0.03, 0.03),
                "eye_sp": r.uniform(0.36, 0.46), "mouth_w": r.uniform(0.85, 1.1),
                "skin": tuple(int(np.clip(c + r.integers(-12, 13), 0, 255)) for c in SKIN[r.integers(len(SKIN))]),
                "hair": HAIR[r.integers(len(HAIR))],
            }
    return out


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    raw = weights / weights.sum() * total
    n = np.floor(raw).astype(int)
    n[np.argsort(-(raw - n), kind="stable")[: total - n.sum()]] += 1
    return n


def _plan_turns(cfg: SynthConfig, session: int, dialog: str) -> list[dict]:
    r, tr = _rng(cfg.seed, "turns", dialog), _tick_rate(cfg)
    n = int(r.integers(cfg.turns[0], cfg.turns[1] + 1))
    switch = r.random(n) < 0.85  # mostly alternating, sometimes the same actor goes on
    switch[0] = False
    who = (int(r.integers(2)) + np.cumsum(switch)) % 2
    dur = np.round(r.uniform(*cfg.utt_seconds, n) * tr).astype(int)
    gap = np.round(r.uniform(*cfg.gap_seconds, n) * tr).astype(int)
    gap[0] = round(r.uniform(1.0, 3.0) * tr)  # IEMOCAP dialogs open with a few seconds of room
    start = np.cumsum(gap + dur) - dur
    end_tick = int(start[-1] + dur[-1] + round(r.uniform(0.5, 1.0) * tr))
    counter = {"F": 0, "M": 0}
    rows = []
    for i in range(n):
        g = "FM"[who[i]]
        rows.append({"id": f"{dialog}_{g}{counter[g]:03d}", "session": session, "dialog": dialog,
                     "mode": "impro" if "_impro" in dialog else "script",
                     "speaker": f"Ses{session:02d}_{g}", "gender": g,
                     "video_side": "left" if g == dialog[5] else "right",
                     "start_tick": int(start[i]), "end_tick": int(start[i] + dur[i]),
                     "start": start[i] / tr, "end": (start[i] + dur[i]) / tr, "dialog_end": end_tick / tr})
        counter[g] += 1
    return rows


def code_counts(cfg: SynthConfig, n: int) -> dict[str, int]:
    """Exact number of each annotated code among n utterances (IEMOCAP's proportions)."""
    n_other = round(cfg.other_share * n) if cfg.other_share > 0 else 0
    c4 = _largest_remainder(np.array(cfg.class_counts, float), n - n_other)
    co = _largest_remainder(np.array(cfg.other_counts, float), n_other)
    return dict(zip(CODES4 + OTHER_CODES, map(int, np.concatenate([c4, co]))))


def _annotations(code: str, expressed: str, v: float, a: float, g: str, r: np.random.Generator):
    """Annotator lines of one block (consistent with the label) and the averaged V, A, D."""
    lines = []
    evaluators = np.sort(r.choice(np.arange(1, 7), 3, replace=False))
    if code == "xxx":  # no majority: three different opinions
        names = list(r.choice(sorted(set(NAMES.values()) - {"Other"}), 3, replace=False))
    else:
        names = [NAMES[code]] * 3
        if r.random() < 0.4:
            names[r.integers(3)] = str(r.choice(CONFUSED_WITH[code]))
    for e, name in zip(evaluators, names):
        extra = f" {r.choice(CONFUSED_WITH.get(code, ('Neutral',)))};" if r.random() < 0.2 else ""
        note = r.choice(COMMENTS) if r.random() < 0.1 else ""
        lines.append(f"C-E{e}:\t{name};{extra}\t({note})")
    if r.random() < 0.7:  # the actor's own evaluation: what they meant to express
        lines.append(f"C-{g}1:\t{NAMES.get(expressed, 'Other')};\t()")
    n_attr = 3 if r.random() < 0.2 else 2
    scores = []
    for e in np.sort(r.choice(np.arange(1, 7), n_attr, replace=False)):
        val, act, dom = (int(np.clip(np.round(m + r.normal(0, sd)), 1, 5)) for m, sd in
                         ((3 + 1.6 * v, 0.5), (3 + 1.6 * a, 0.5), (3 + 0.9 * a + 0.3 * v, 0.6)))
        scores.append((val, act, dom))
        lines.append(f"A-E{e}:\tval {val}; act {act}; dom  {dom};\t()")
    V, A, D = np.mean(scores, axis=0)
    return "\n".join(lines), float(V), float(A), float(D)


def plan_corpus(cfg: SynthConfig) -> pd.DataFrame:
    """One row per utterance: ids, times, annotated code, expressed emotion and intensity, VAD."""
    plan = pd.DataFrame([row for s, d in dialog_names(cfg) for row in _plan_turns(cfg, s, d)])
    n = len(plan)
    counts = code_counts(cfg, n)
    plan["code"] = _rng(cfg.seed, "labels").permutation(np.repeat(list(counts), list(counts.values())))
    r = _rng(cfg.seed, "expression")
    exc_share = cfg.class_counts[2] / (cfg.class_counts[1] + cfg.class_counts[2])
    flipped = (r.random(n) < cfg.label_noise) & (plan["code"].to_numpy() != "xxx")
    expressed = plan["code"].to_numpy().copy()
    for i in np.flatnonzero(flipped):  # label noise: the actor expressed one of the other classes
        e = r.choice([c for c in ("neu", "hap", "ang", "sad") if c != BASE.get(expressed[i])])
        expressed[i] = "exc" if e == "hap" and r.random() < exc_share else e
    lo = cfg.intensity_min
    intensity = lo + (1 - lo) * r.beta(*cfg.intensity_beta, n)
    target = np.array([TARGETS.get(e, NEUTRAL) for e in expressed])
    oth = expressed == "oth"
    target[oth] = r.uniform(-0.6, 0.6, (oth.sum(), 2))
    for i in np.flatnonzero(expressed == "xxx"):  # a blend of two emotions
        p, q = r.choice(["neu", "hap", "ang", "sad", "fru", "exc"], 2, replace=False)
        w = r.uniform(0.3, 0.7)
        target[i] = w * np.array(TARGETS[p]) + (1 - w) * np.array(TARGETS[q])
    va = np.array(NEUTRAL) + intensity[:, None] * (target - np.array(NEUTRAL)) + r.normal(0, 0.07, (n, 2))
    va = np.clip(va, -1, 1)
    plan["expressed"], plan["intensity"], plan["flipped"] = expressed, intensity.round(4), flipped
    plan["expr_valence"], plan["expr_arousal"] = va[:, 0].round(4), va[:, 1].round(4)
    ra = _rng(cfg.seed, "annotation")
    notes = [_annotations(c, e, v, a, g, ra) for c, e, v, a, g in
             zip(plan.code, expressed, va[:, 0], va[:, 1], plan.gender)]
    plan["eval_lines"] = [x[0] for x in notes]
    for k, col in enumerate(("ann_valence", "ann_arousal", "ann_dominance"), start=1):  # 1-5, as written
        plan[col] = [round(x[k], 4) for x in notes]
    return plan


# ---------------------------------------------------------------- audio

def synth_voice(n: int, sr: int, voice: dict, arousal: float, r: np.random.Generator):
    """n samples of a voiced, syllabic utterance: (wave float32, syllable envelope 0..1, text).

    Source-filter by summed harmonics: an f0 contour (level, range and declination) accumulated
    into phase, each harmonic weighted by a spectral tilt and Lorentzian formant peaks that move
    from vowel to vowel; a syllable-rate envelope gates it; aspiration and consonant bursts add
    noise. Arousal raises pitch, pitch range, loudness, rate and brightness and lowers breathiness.
    """
    a = float(np.clip(arousal, -1.5, 1.5))
    d, t = n / sr, np.arange(n) / sr
    rate = 3.8 * voice["rate"] * (1 + 0.15 * a)  # syllables per second
    lead, tail = r.uniform(0.03, 0.1), r.uniform(0.03, 0.1)
    active = max(d - lead - tail, 0.25)
    k = int(active * rate * 1.6) + 3
    syl = r.uniform(0.7, 1.3, k) / rate
    pause = np.where(r.random(k) < 0.12, r.uniform(0.08, 0.25, k), 0.0)  # breaks between words
    m = max(1, int(np.searchsorted(np.cumsum(syl + pause) - pause, active, side="right")))
    syl, pause = syl[:m], pause[:m].copy()
    pause[-1] = 0.0
    scale = active / (syl.sum() + pause.sum())  # stretch to fill the utterance exactly
    syl, pause = syl * scale, pause * scale
    onset = lead + np.concatenate([[0.0], np.cumsum(syl + pause)[:-1]])
    stress = r.uniform(0.55, 1.0, m)
    idx = np.searchsorted(onset, t, side="right") - 1
    ic = np.clip(idx, 0, m - 1)
    tau = t - onset[ic]  # time since the current syllable's onset
    phase = tau / syl[ic]
    inside = (idx >= 0) & (phase < 1)
    env = np.where(inside, np.sin(np.pi * np.clip(phase, 0, 1)) ** 0.6 * stress[ic], 0.0)

    # pitch: semitones around the speaker's f0; accents on stressed syllables, a falling line
    centre = onset + syl / 2
    span = float(np.clip(2.0 * (1 + 0.8 * a), 0.6, 5.0))
    semis = 3.0 * a + span * 2 * (stress - 0.75) - 1.5 * centre / d
    grid = np.arange(0, d + 0.05, 0.05)
    st = np.interp(t, centre, semis) + np.interp(t, grid, r.normal(0, 0.25, grid.size))
    f0 = voice["f0"] * 2 ** (st / 12)

    # harmonic weights at a 2.5 ms control rate, interpolated to samples
    hop = max(1, sr // 400)
    ctrl = np.arange(0, n, hop)
    vowel = r.integers(len(VOWELS), size=m)
    fmt = np.array(list(VOWELS.values()), float)[vowel] * voice["vtl"]
    fmt[:, 0] *= 1 + 0.08 * a  # a more open jaw when aroused
    formants = np.stack([np.interp(ctrl / sr, centre, fmt[:, i]) for i in range(3)])  # (3, C)
    fmax = min(5000.0, 0.45 * sr)
    nh = int(min(60, fmax / f0.min()))
    kk = np.arange(1, nh + 1, dtype=float)[:, None]
    fk = kk * f0[ctrl][None, :]  # (K, C) harmonic frequencies
    peaks = sum(gain / (1 + ((fk - formants[i]) / (0.5 * bw)) ** 2)
                for i, (gain, bw) in enumerate(((1.0, 90.0), (0.6, 110.0), (0.3, 150.0))))
    weights = (peaks + 0.01) * kk ** -(1.0 - 0.35 * a) * np.clip((fmax - fk) / 300, 0, 1)
    weights /= np.sqrt((weights**2).sum(axis=0, keepdims=True)) + 1e-12  # equal power for every vowel
    pos = np.arange(n) / hop
    i0 = np.minimum(pos.astype(int), len(ctrl) - 1)
    i1 = np.minimum(i0 + 1, len(ctrl) - 1)
    fr = (pos - i0).astype(np.float32)
    w = weights.astype(np.float32)
    wfull = w[:, i0] * (1 - fr) + w[:, i1] * fr  # (K, n)
    theta = np.mod(2 * np.pi * np.cumsum(f0) / sr, 2 * np.pi).astype(np.float32)
    voiced = np.sqrt(2.0) * np.einsum("kn,kn->n", wfull, np.sin(kk.astype(np.float32) * theta))

    hiss = np.diff(r.standard_normal(n + 1)) / np.sqrt(2)  # high-passed noise
    breath = (0.06 + 0.05 * (1 - np.clip(a, -1, 1))) * voice["breath"]  # breathy when subdued
    has_cons = r.random(m) < 0.75
    burst = np.where(inside & has_cons[ic] & (tau < 0.05), np.exp(-tau / 0.012), 0.0) * stress[ic]
    gain = 0.06 * 10 ** ((voice["level_db"] + 6.0 * a) / 20)
    wave = gain * (env * (voiced + breath * hiss) + 0.3 * burst * np.roll(hiss, 977))

    letters = list(VOWELS)
    sylls = [(CONSONANTS[r.integers(len(CONSONANTS))] if has_cons[j] else "") + letters[vowel[j]] for j in range(m)]
    words, cur = [], ""
    for j, s in enumerate(sylls):  # a word ends at a pause or after 1-3 syllables
        cur += s
        if pause[j] > 0 or len(cur) >= r.integers(2, 7) or j == m - 1:
            words.append(cur)
            cur = ""
    text = " ".join(words).capitalize() + ("?" if r.random() < 0.2 else ".")
    return wave.astype(np.float32), env.astype(np.float32), text


# ---------------------------------------------------------------- video

def _p(x: float, y: float) -> tuple[int, int]:
    return int(round(x * 16)), int(round(y * 16))  # 4 fractional bits: sub-pixel, anti-aliased


def _ellipse(img, c, axes, color, start=0, end=360) -> None:
    cv2.ellipse(img, _p(*c), _p(max(axes[0], 0), max(axes[1], 0)), 0, start, end, color, -1, cv2.LINE_AA, 4)


def draw_face(img: np.ndarray, x_off: int, face: dict, v: float, av: float, mouth: float,
              eye: float, dx: float, dy: float) -> None:
    """One face in the half starting at column x_off: v = valence, av = leaked arousal cue,
    mouth = opening 0..1, eye = openness 0..1 (blinks), dx/dy = head motion (box fractions)."""
    S = img.shape[0]
    bx0, by0, bx1, by1 = (f * S for f in FACE_BOX)
    cx = x_off + bx0 + (bx1 - bx0) * (0.5 + face["dx"] + dx)
    cy = by0 + (by1 - by0) * (0.5 + face["dy"] + dy)
    hh = face["half_h"] * (by1 - by0)
    hw = hh * face["aspect"]
    thick = max(1, round(S / 40))
    _ellipse(img, (cx, cy), (hw, hh), face["skin"])
    _ellipse(img, (cx, cy - 0.5 * hh), (1.0 * hw, 0.5 * hh), face["hair"], 180, 360)
    # eyes narrow in a smile (cheeks up); arousal widens them a little
    ey, eh = cy - 0.12 * hh, 0.075 * hh * eye * (1 - 0.3 * max(v, 0.0)) * (1 + 0.3 * av)
    raise_out = 0.5 * v  # valence: brows up when happy, down when negative ...
    raise_in = 0.5 * v + 0.5 * min(v, 0.0) - 0.7 * av  # ... inner ends knitted; arousal knits a bit more
    for side in (-1, 1):
        ex = cx + side * face["eye_sp"] * hw
        if eh * 16 >= 6:
            _ellipse(img, (ex, ey), (0.16 * hw, eh), (235, 240, 240))
            cv2.circle(img, _p(ex, ey), int(16 * min(0.08 * hw, eh)), (40, 30, 30), -1, cv2.LINE_AA, 4)
        else:
            cv2.line(img, _p(ex - 0.16 * hw, ey), _p(ex + 0.16 * hw, ey), (40, 30, 30), 1, cv2.LINE_AA, 4)
        by = ey - 0.2 * hh
        brow = np.array([_p(ex + side * 0.22 * hw, by - raise_out * 0.14 * hh),
                         _p(ex - side * 0.18 * hw, by - raise_in * 0.14 * hh)], np.int32)
        cv2.polylines(img, [brow], False, face["hair"], thick, cv2.LINE_AA, 4)
    nose = tuple(int(c * 0.8) for c in face["skin"])
    cv2.line(img, _p(cx, ey + 0.1 * hh), _p(cx - 0.05 * hw, cy + 0.22 * hh), nose, 1, cv2.LINE_AA, 4)
    my, mw = cy + 0.5 * hh, 0.38 * hw * face["mouth_w"]
    u = np.linspace(-1, 1, 11)
    base = my + 0.24 * hh * v * (0.5 - u**2)  # corners up for a smile, down for a frown
    o = 0.36 * hh * float(np.clip(mouth, 0, 1)) * (1 - u**2)
    x = cx + mw * u
    upper = np.stack([x, base - 0.25 * o], 1)
    lower = np.stack([x, base + 0.75 * o], 1)
    lips = (90, 90, 175)
    if o.max() * 16 >= 4:
        inner = np.round(np.concatenate([upper, lower[::-1]]) * 16).astype(np.int32)
        cv2.fillPoly(img, [inner], (35, 25, 60), cv2.LINE_AA, 4)
        cv2.polylines(img, [np.round(lower * 16).astype(np.int32)], False, lips, 1, cv2.LINE_AA, 4)
    cv2.polylines(img, [np.round(upper * 16).astype(np.int32)], False, lips, 1, cv2.LINE_AA, 4)


def _smooth(x: np.ndarray) -> np.ndarray:
    """3-frame ramp so an expression sets in over ~0.2 s instead of in one frame."""
    return np.convolve(np.pad(x, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")


def render_video(cfg: SynthConfig, utts: list[dict], faces: dict[str, dict], env: dict[str, np.ndarray],
                 n_frames: int, r: np.random.Generator, left: str) -> np.ndarray:
    """(T, S, 2S, 3) uint8 BGR frames; the speaking actor's mouth follows `env` frame by frame."""
    S, fps, sr = cfg.frame_size, cfg.fps, cfg.sample_rate
    edges = np.minimum(np.round(np.arange(n_frames + 1) * sr / fps).astype(int), len(env["F"]))
    state = {}
    for g in "FM":
        c = np.concatenate([[0.0], np.cumsum(env[g], dtype=np.float64)])
        mouth = (c[edges[1:]] - c[edges[:-1]]) / np.maximum(edges[1:] - edges[:-1], 1)  # mean over the frame
        v, av = np.zeros(n_frames), np.zeros(n_frames)
        for u in utts:  # time order: own turn shows the emotion, a faint trace stays while listening
            if u["gender"] == g:
                f0, f1 = int(u["start"] * fps), min(math.ceil(u["end"] * fps), n_frames)
                v[f0:f1], av[f0:f1] = u["expr_valence"], cfg.video_arousal_cue * u["expr_arousal"]
                v[f1:], av[f1:] = 0.2 * u["expr_valence"], 0.0
        eye = np.ones(n_frames)
        for b in r.integers(0, n_frames, r.poisson(0.25 * n_frames / fps)):  # blinks
            np.minimum.at(eye, np.clip([b - 1, b, b + 1], 0, n_frames - 1), [0.5, 0.0, 0.5])
        tt = np.arange(n_frames) / fps
        fx, fy, px, py = r.uniform(0.08, 0.35, 2).tolist() + r.uniform(0, 2 * np.pi, 2).tolist()
        state[g] = (_smooth(v), _smooth(av), mouth * 1.1, eye,
                    0.012 * np.sin(2 * np.pi * fx * tt + px), 0.008 * np.sin(2 * np.pi * fy * tt + py))
    bg = np.empty((S, 2 * S, 3), np.uint8)
    for h in range(2):  # static room: a flat colour with a soft random texture
        tex = cv2.resize(r.uniform(-14, 14, (4, 4, 3)).astype(np.float32), (S, S), interpolation=cv2.INTER_CUBIC)
        tint = r.uniform(110, 170) + r.uniform(-15, 15, 3)
        bg[:, h * S:(h + 1) * S] = np.clip(tint + tex, 0, 255).astype(np.uint8)
    frames = np.empty((n_frames, S, 2 * S, 3), np.uint8)
    order = (left, "M" if left == "F" else "F")
    for k in range(n_frames):
        img = frames[k]
        img[:] = bg
        for h, g in enumerate(order):
            v, av, mouth, eye, dx, dy = state[g]
            draw_face(img, h * S, faces[g], v[k], av[k], mouth[k], eye[k], dx[k], dy[k])
    return frames


def _write_avi(path: Path, frames: np.ndarray, fps: int) -> None:
    # OpenCV's built-in MJPEG muxer: no timestamps or library banners, so the bytes are reproducible
    h, w = frames.shape[1:3]
    out = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not out.isOpened():
        raise OSError(f"{path}: OpenCV could not open an MJPG writer")
    out.set(cv2.VIDEOWRITER_PROP_QUALITY, 90)
    for f in frames:
        out.write(f)
    out.release()


# ---------------------------------------------------------------- one dialog

def _fmt(t: float) -> str:
    return f"{t:.4f}"


def render_dialog(job: tuple) -> None:
    """Write every file of one dialog under `root` (a worker task; pure function of its inputs)."""
    cfg, root, session, dialog, utts, spk = job
    sr, fps, S = cfg.sample_rate, cfg.fps, cfg.frame_size
    step = sr // _tick_rate(cfg)
    r = _rng(cfg.seed, "render", dialog)
    n = round(utts[0]["dialog_end"] * sr)
    wave = r.normal(0.0, 3e-4, n)  # room noise floor: silence is never digital zero
    env = {"F": np.zeros(n, np.float32), "M": np.zeros(n, np.float32)}
    texts, spans = [], []
    for u in utts:
        s0, s1 = u["start_tick"] * step, u["end_tick"] * step
        voice = spk[u["speaker"]]
        a_heard = u["expr_arousal"] + cfg.audio_valence_cue * u["expr_valence"]
        w, e, text = synth_voice(s1 - s0, sr, voice, a_heard, r)
        wave[s0:s1] += w
        env[u["gender"]][s0:s1] = e
        texts.append(text)
        spans.append((s0, s1))
    if cfg.audio_snr_db is not None:  # SNR referenced to the speech, not diluted by pauses
        speech = np.concatenate([wave[a:b] for a, b in spans])
        wave = degrade.add_noise(wave, cfg.audio_snr_db, _rng(cfg.seed, "degrade-audio", dialog),
                                 ref_power=float(np.mean(speech**2)))
    pcm = np.round(np.clip(wave, -1, 1) * 32767).astype(np.int16)

    sdir = Path(root) / f"Session{session}"
    d = sdir / "dialog"
    sf.write(d / "wav" / f"{dialog}.wav", pcm, sr, subtype="PCM_16")
    (sdir / "sentences" / "wav" / dialog).mkdir(parents=True, exist_ok=True)
    for u, (s0, s1) in zip(utts, spans):
        sf.write(sdir / "sentences" / "wav" / dialog / f"{u['id']}.wav", pcm[s0:s1], sr, subtype="PCM_16")

    n_frames = math.ceil(n / sr * fps)
    faces = {g: spk[f"Ses{session:02d}_{g}"] for g in "FM"}
    frames = render_video(cfg, utts, faces, env, n_frames, r, left=dialog[5])
    if cfg.video_blur_sigma or cfg.video_occlusion or cfg.video_drop_prob:
        rd = _rng(cfg.seed, "degrade-video", dialog)
        for h in range(2):  # occlusion and blur per actor (face-centred halves), drops for the stream
            frames[:, :, h * S:(h + 1) * S] = degrade.degrade_frames(
                frames[:, :, h * S:(h + 1) * S], cfg.video_blur_sigma, cfg.video_occlusion, 0.0, rd)
        frames = degrade.degrade_frames(frames, drop_prob=cfg.video_drop_prob, rng=rd)
    _write_avi(d / "avi" / "DivX" / f"{dialog}.avi", frames, fps)

    with open(d / "transcriptions" / f"{dialog}.txt", "w", newline="\n") as fh:
        for u, text in zip(utts, texts):
            fh.write(f"{u['id']} [{u['start']:08.4f}-{u['end']:08.4f}]: {text}\n")
    ev = d / "EmoEvaluation"
    with open(ev / f"{dialog}.txt", "w", newline="\n") as fh:
        fh.write("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n")
        for u in utts:
            fh.write(f"[{_fmt(u['start'])} - {_fmt(u['end'])}]\t{u['id']}\t{u['code']}\t"
                     f"[{u['ann_valence']:.4f}, {u['ann_arousal']:.4f}, {u['ann_dominance']:.4f}]\n{u['eval_lines']}\n\n")
    # per-annotator files as in the real release (the loader must ignore these folders)
    (ev / "Categorical" / f"{dialog}_e1_cat.txt").write_text(
        "".join(f"{u['id']} :{u['eval_lines'].split(chr(9))[1]} ()\n" for u in utts))
    (ev / "Attribute" / f"{dialog}_atr.txt").write_text(
        "".join(f"{u['id']} :act {round(u['ann_arousal'])}; val {round(u['ann_valence'])}; "
                f"dom {round(u['ann_dominance'])}; ()\n" for u in utts))
    (ev / "Self-evaluation" / f"{dialog}.anvil").write_text(
        f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<annotation>\n  <head><video src="{dialog}.avi"/></head>\n'
        "  <body/>\n</annotation>\n")


# ---------------------------------------------------------------- the corpus

def _stamp(cfg: SynthConfig) -> dict:
    """What made a corpus: the config and the generator's source (a code change means a rebuild)."""
    src = Path(__file__).read_bytes() + Path(degrade.__file__).read_bytes()
    return {"config": dataclasses.asdict(cfg), "generator": hashlib.sha256(src).hexdigest()[:16]}


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core already


def generate_corpus(out_dir: str | Path, config: SynthConfig | None = None, progress: bool = True,
                    workers: int | None = None, force: bool = False) -> Path:
    """Write out_dir/IEMOCAP_full_release (returned), out_dir/truth.csv and out_dir/synth_config.json.

    truth.csv, one row per utterance: the plan (id, times, annotated `code`, `expressed` emotion,
    `intensity` 0..1, `flipped` = label disagrees with the expression, `expr_valence` /
    `expr_arousal` in [-1, 1], the annotated `ann_*` 1-5 values) and the speaker's voice and face
    parameters (f0, vtl, level_db, rate, breath, half_h, aspect, dx, dy, eye_sp, mouth_w, skin, hair).

    Built in a temporary sibling folder and renamed into place, so a half-written corpus never
    looks complete. An existing corpus made by the same config and generator is reused (unless
    force); one made otherwise is replaced; a non-empty folder we did not make is an error.
    workers: processes (default os.cpu_count(); 1 = serial); the output does not depend on it.
    """
    cfg = config or SynthConfig()
    out_dir = Path(out_dir)
    stamp, meta = json.loads(json.dumps(_stamp(cfg))), out_dir / "synth_config.json"  # tuples -> lists
    if out_dir.exists():
        if meta.is_file() and not force and json.loads(meta.read_text()) == stamp:
            return out_dir / ROOT_NAME
        if not meta.is_file() and any(out_dir.iterdir()):
            raise FileExistsError(f"{out_dir} exists and holds no synth_config.json: not replacing it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    plan, spk = plan_corpus(cfg), speaker_params(cfg)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        root = tmp / ROOT_NAME
        names = dialog_names(cfg)
        for s in sorted({s for s, _ in names}):
            d = root / f"Session{s}" / "dialog"
            for sub in ("EmoEvaluation/Categorical", "EmoEvaluation/Attribute", "EmoEvaluation/Self-evaluation",
                        "avi/DivX", "transcriptions", "wav"):
                (d / sub).mkdir(parents=True)
            (root / f"Session{s}" / "sentences" / "wav").mkdir(parents=True)
            if cfg.hidden_files:  # AppleDouble stubs, as macOS left them in the real archive
                first = next(n for ss, n in names if ss == s)
                for p in (d / "EmoEvaluation" / f"._{first}.txt", d / "wav" / f"._{first}.wav"):
                    p.write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + bytes(58))
        records = plan.to_dict("records")
        jobs = [(cfg, str(root), s, name, [u for u in records if u["dialog"] == name], spk) for s, name in names]
        workers = min(workers or os.cpu_count() or 1, len(jobs))
        bar = tqdm(total=len(jobs), desc="synthetic corpus", unit="dialog", disable=not progress)
        if workers <= 1:
            for job in jobs:
                render_dialog(job)
                bar.update()
        else:
            ctx = multiprocessing.get_context("forkserver")  # fork can deadlock under torch/OpenMP threads
            with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
                for _ in pool.map(render_dialog, jobs):
                    bar.update()
        bar.close()
        voices = pd.DataFrame.from_dict(spk, orient="index").rename_axis("speaker").reset_index()
        voices["skin"], voices["hair"] = voices.skin.map(str), voices.hair.map(str)
        truth = plan.drop(columns=["eval_lines", "start_tick", "end_tick", "dialog_end"]).merge(
            voices.round(4), on="speaker", how="left")
        truth.to_csv(tmp / "truth.csv", index=False, lineterminator="\n")
        (tmp / "synth_config.json").write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
        if out_dir.exists():  # swap: the old corpus stays whole until the new one is in place
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / ROOT_NAME


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="write the synthetic IEMOCAP-layout corpus")
    ap.add_argument("out", help="output folder (gets IEMOCAP_full_release/ and truth.csv)")
    ap.add_argument("--profile", default="quick", choices=sorted(SYNTH_PROFILES))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--force", action="store_true", help="regenerate even if an identical corpus exists")
    args = ap.parse_args(argv)
    cfg = SYNTH_PROFILES[args.profile]
    if args.seed is not None:
        cfg = dataclasses.replace(cfg, seed=args.seed)
    print(generate_corpus(args.out, cfg, workers=args.workers, force=args.force))


if __name__ == "__main__":
    main()
