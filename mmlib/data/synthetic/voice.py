"""The voice of the synthetic corpus: a syllabic source-filter voice whose arousal can be heard.

    from mmlib.data.synthetic.voice import synth_voice, voice_plan, voice_wave
    wave, env, text = synth_voice(n, sr, speaker, arousal, rng)        # both steps at once
    plan = voice_plan(n, sr, speaker, arousal, rng)   # every random draw: timing, syllables, text
    wave = voice_wave(plan, speaker, arousal, sr)     # (n,) float32, no randomness

Two steps so the dialog renderer can draw an utterance's randoms once (keeping the dialog's random
stream, and so the face rendered after the voices, independent of the voice's expressiveness) and
render the wave at any arousal. `plan["env"]` (n,) 0..1 is the syllable envelope the mouth follows.
"""

from __future__ import annotations

import numpy as np

VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010),  # F1-F3, Hz:
          "o": (570, 840, 2410), "u": (300, 870, 2240)}  # Peterson & Barney, adult male
CONSONANTS = "bdgklmnprstvz"


def voice_plan(n: int, sr: int, voice: dict, arousal: float, r: np.random.Generator) -> dict:
    """Every random draw of one utterance, in a fixed order; arousal sets the speaking rate only.

    Returns onset / syl / stress / centre (m syllables), vowel and has_cons (m,), jitter (pitch
    noise on a 50 ms grid), hiss (n,), env / inside / tau / ic (n,), text.
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
    grid = np.arange(0, d + 0.05, 0.05)
    jitter = r.normal(0, 0.25, grid.size)
    vowel = r.integers(len(VOWELS), size=m)
    hiss = np.diff(r.standard_normal(n + 1)) / np.sqrt(2)  # high-passed noise
    has_cons = r.random(m) < 0.75

    letters = list(VOWELS)
    sylls = [(CONSONANTS[r.integers(len(CONSONANTS))] if has_cons[j] else "") + letters[vowel[j]] for j in range(m)]
    words, cur = [], ""
    for j, s in enumerate(sylls):  # a word ends at a pause or after 1-3 syllables
        cur += s
        if pause[j] > 0 or len(cur) >= r.integers(2, 7) or j == m - 1:
            words.append(cur)
            cur = ""
    text = " ".join(words).capitalize() + ("?" if r.random() < 0.2 else ".")
    return {"n": n, "onset": onset, "syl": syl, "stress": stress, "centre": onset + syl / 2, "grid": grid,
            "jitter": jitter, "vowel": vowel, "hiss": hiss, "has_cons": has_cons, "env": env, "inside": inside,
            "tau": tau, "ic": ic, "text": text}


def voice_wave(plan: dict, voice: dict, arousal: float, sr: int) -> np.ndarray:
    """(n,) float32 wave of a planned utterance, deterministic.

    Source-filter by summed harmonics: an f0 contour (level, range and declination) accumulated
    into phase, each harmonic weighted by a spectral tilt and Lorentzian formant peaks that move
    from vowel to vowel; the syllable envelope gates it; aspiration and consonant bursts add
    noise. Arousal raises pitch, pitch range, loudness and brightness and lowers breathiness.
    """
    a = float(np.clip(arousal, -1.5, 1.5))
    n, env, stress, centre, ic = plan["n"], plan["env"], plan["stress"], plan["centre"], plan["ic"]
    d, t = n / sr, np.arange(n) / sr

    # pitch: semitones around the speaker's f0; accents on stressed syllables, a falling line
    span = float(np.clip(2.0 * (1 + 0.8 * a), 0.6, 5.0))
    semis = 3.0 * a + span * 2 * (stress - 0.75) - 1.5 * centre / d
    st = np.interp(t, centre, semis) + np.interp(t, plan["grid"], plan["jitter"])
    f0 = voice["f0"] * 2 ** (st / 12)

    # harmonic weights at a 2.5 ms control rate, interpolated to samples
    hop = max(1, sr // 400)
    ctrl = np.arange(0, n, hop)
    fmt = np.array(list(VOWELS.values()), float)[plan["vowel"]] * voice["vtl"]
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

    hiss, tau = plan["hiss"], plan["tau"]
    breath = (0.06 + 0.05 * (1 - np.clip(a, -1, 1))) * voice["breath"]  # breathy when subdued
    burst = np.where(plan["inside"] & plan["has_cons"][ic] & (tau < 0.05), np.exp(-tau / 0.012), 0.0) * stress[ic]
    gain = 0.06 * 10 ** ((voice["level_db"] + 6.0 * a) / 20)
    wave = gain * (env * (voiced + breath * hiss) + 0.3 * burst * np.roll(hiss, 977))
    return wave.astype(np.float32)


def synth_voice(n: int, sr: int, voice: dict, arousal: float, r: np.random.Generator):
    """n samples of a voiced, syllabic utterance: (wave float32, syllable envelope 0..1 float32, text)."""
    plan = voice_plan(n, sr, voice, arousal, r)
    return voice_wave(plan, voice, arousal, sr), plan["env"].astype(np.float32), plan["text"]
