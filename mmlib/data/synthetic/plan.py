"""The plan of the synthetic corpus: who speaks when, what was annotated, what was expressed.

No media here: everything is cheap and drawn up front, each part from its own rng keyed by
(seed, what, dialog), so the voice (voice.py) and the face (face.py) can be rendered per dialog, in
any order and in parallel, with identical bytes.

    from mmlib.config import SynthConfig          # the settings live in the config
    from mmlib.data.synthetic.plan import plan_corpus, modality_expression
    plan = plan_corpus(SynthConfig())            # one row per utterance (ids, times, codes, VAD)
    v, a = modality_expression(row, 0.5)        # (valence, arousal) half way to neutral
    v, a = modality_expression(row, 1.0, "face")  # what the face shows (reliability knob below)

Expressiveness knobs (`voice_expressiveness`, `face_expressiveness`): each modality renders the
planned expression pulled toward NEUTRAL, (v, a) -> NEUTRAL + x * ((v, a) - NEUTRAL); x = 1 is
the corpus as planned, x = 0 shows no emotion at all in that modality (every utterance neutral).
The plan itself (labels, label noise, intensities, times) does not depend on them.

Reliability knobs (`voice_reliability`, `face_reliability`): at level r a share r of the utterances
show, in that modality, the expression they were planned with; each of the others shows the
expression of another utterance of the same speaker drawn at random (its emotion, intensity and
noise). The plan records what each modality shows: `voice_from` / `face_from` (the id of the
utterance whose expression it shows: its own when reliable) and `voice_valence`, `voice_arousal`,
`face_valence`, `face_arousal` (that expression, before the expressiveness pull, which still
applies on top). Labels, the planned expression and the annotations do not depend on r: training
and test corpora alike carry a cue that holds for only a share r of their utterances.

    SynthConfig(face_reliability=0.5)   # about half the faces show another utterance's expression

Why substitution and not noise on the shown latents: (1) the information falls smoothly to zero.
Given the speaker, what a modality shows follows r * p(shown | label) + (1 - r) * p(shown), so at
r = 0 it says nothing about the label and the ceiling of a classifier given it falls from its
value at r = 1 to chance; noise removes all information only in the limit of infinite noise, and
the level-to-noise scale would be one more arbitrary choice. (2) What is shown keeps its
distribution: a donor is an utterance of the same speaker, so each speaker's shown (valence,
arousal) have the planned marginal at every level (the speaker normalization sees the same
statistics) and only their link to the label weakens; noise would spread and clip the latents, a
cue harder to see, which is what the expressiveness knob already does (it mixes "less
information" with "harder to learn"; this knob changes the information only). (3) Nested levels:
each utterance's draws (a uniform u, a donor) do not depend on r, and it is unreliable when u >= r,
so the unreliable utterances at r = 0.5 include those at r = 0.75 and the ceiling falls
monotonically instead of jittering between independent draws. The donor may express the same
emotion (about as often as the speaker does): restricting it to the other emotions would make the
cue anti-informative at low r ("not this label"; with four classes uninformative at r = 1/4 and
informative again below), so information would not fall monotonically.

The draws come from their own stream keyed by (seed, "reliability", modality): the voice's do not
depend on the face's knob or draws and vice versa, and no other draw of the generator moves, so
r = 1 is the corpus as it was before the knob existed, byte for byte.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd

from mmlib.config import CODES4, OTHER_CODES, SynthConfig  # the config owns the dataclass (and SYNTH_PROFILES)

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
SKIN = ((180, 200, 235), (150, 180, 220), (125, 155, 205), (100, 130, 180), (80, 110, 160))  # BGR
HAIR = ((30, 35, 45), (40, 60, 90), (60, 90, 130), (25, 25, 25), (90, 110, 140))


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """Independent stream per (seed, keys); crc32, unlike hash(), is stable across processes."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def _tick_rate(cfg: SynthConfig) -> int:
    """Times live on a grid that is exact both in samples and in 4-decimal text (2000 Hz at 16 kHz)."""
    return math.gcd(cfg.sample_rate, 10000)



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
    ids, v, a = plan["id"].to_numpy(), plan["expr_valence"].to_numpy(), plan["expr_arousal"].to_numpy()
    for m in MODALITIES:  # what each modality shows (module docstring, "Reliability knobs")
        src = shown_sources(plan, getattr(cfg, f"{m}_reliability"), _rng(cfg.seed, "reliability", m))
        plan[f"{m}_from"], plan[f"{m}_valence"], plan[f"{m}_arousal"] = ids[src], v[src], a[src]
    return plan


MODALITIES = ("voice", "face")  # the two rendered modalities: each has its reliability and expressiveness knob
SHOWN_COLUMNS = tuple(f"{m}_{c}" for m in MODALITIES for c in ("from", "valence", "arousal"))


def shown_sources(plan: pd.DataFrame, level: float, r: np.random.Generator) -> np.ndarray:
    """Row position of the utterance whose expression each row of `plan` shows at reliability `level`.

    Two uniforms per row from `r` (drawn whatever the level, so levels are nested): u decides (row i is
    unreliable when u_i >= level), the other picks the donor among the speaker's other utterances.

        >>> plan = pd.DataFrame({"speaker": ["a", "a", "a", "b", "b"]})
        >>> shown_sources(plan, 1.0, np.random.default_rng(0)).tolist()   # everyone shows their own
        [0, 1, 2, 3, 4]
        >>> src = shown_sources(plan, 0.0, np.random.default_rng(0))      # nobody does, donors stay in speaker
        >>> bool((src != np.arange(5)).all()) and set(src[3:]) == {3, 4}
        True
    """
    n = len(plan)
    u, pick = r.random(n), r.random(n)
    src = np.arange(n)
    for idx in plan.groupby("speaker", sort=True).indices.values():
        k = len(idx)
        if k < 2:  # a speaker with one utterance has no other expression to show
            continue
        donor = idx[(np.arange(k) + 1 + np.floor(pick[idx] * (k - 1)).astype(int)) % k]  # never the row itself
        off = u[idx] >= level
        src[idx[off]] = donor[off]
    return src



def modality_expression(u: dict, x: float, modality: str | None = None) -> tuple[float, float]:
    """(valence, arousal) one modality shows of planned utterance `u` at expressiveness x.

    `modality` None pulls the planned expression (expr_valence, expr_arousal); "voice" or "face" pulls
    what that modality shows at its reliability (the plan's <modality>_valence / _arousal). Written as
    e - (1 - x) * (e - neutral) so that x = 1 returns the values bit for bit.

        >>> u = {"expr_valence": 0.8, "expr_arousal": 0.5, "face_valence": -0.6, "face_arousal": 0.9}
        >>> modality_expression(u, 1.0), modality_expression(u, 1.0, "face")
        ((0.8, 0.5), (-0.6, 0.9))
        >>> [round(c, 9) for c in modality_expression(u, 0.0)]    # expressiveness 0: neutral
        [0.0, -0.45]
    """
    if modality is None:
        v, a = u["expr_valence"], u["expr_arousal"]
    elif modality in MODALITIES:
        v, a = u[f"{modality}_valence"], u[f"{modality}_arousal"]
    else:
        raise ValueError(f"modality must be None or one of {MODALITIES}, got {modality!r}")
    return v - (1.0 - x) * (v - NEUTRAL[0]), a - (1.0 - x) * (a - NEUTRAL[1])
