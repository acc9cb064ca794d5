"""The statistics of "when does fusion help": effective robustness, the untrained control (late fusion), Shapley
contributions, and the contrasts of the modality-reliability sweep.
Nothing here opens a session or loads a model: mmlib.runner.sweep produces the predictions these read.

    from mmlib.analysis import reliability as rel
    eff = rel.effective_robustness(metrics.per_fold(rob, by=("model", "knob", "level", "fold", "seed")))
    rel.sweep_scores(pred); rel.sweep_versus(pred); rel.sweep_gains(pred)   # per level: scores, (a), (b)
    rel.trend(pred, "face", "matchmap", "concat")                    # (a) as a slope over the levels
    rel.shapley(conditions)                                          # Shapley values of the two streams
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmlib.analysis import metrics, oracle, stats
from mmlib.models.fusion import UNIMODAL

# condition -> the stream(s) zero-filled; "neither" (both) is the empty coalition of the Shapley values
CONDITIONS = {"audio+video": None, "audio only": "video", "video only": "audio", "neither": ("audio", "video")}
TEST_CONDITIONS = ("audio+video", "audio only", "video only")  # the missing-modality experiment's
# the sweep's knob per weakened modality: its reliability (the share of utterances whose expression it shows, the
# others showing another utterance's; mmlib.data.synthetic.plan), which removes information smoothly, so the oracle's
# ceilings and fusion gain fall with the level. Expressiveness (synth.*_expressiveness, the strength of the
# rendering) stays a valid override but is no sweep knob: above 0 it shrinks the cue without noise, so the cue stays
# perfectly separable and every ceiling stays where it was (issue 24)
KNOBS = {"voice": "synth.voice_reliability", "face": "synth.face_reliability"}
ALIASES = {"audio": "voice", "video": "face"}  # the modality's name in the study -> the corpus knob
DEGRADATIONS = {"audio": ("snr_db",), "video": ("blur_sigma", "occlusion", "drop_prob")}  # feature-config knobs
Models = dict  # name -> (head, overrides or None)


# ------------------------------------------------------------------ 1. missing modality at test time

def conditions_of(head: str, conditions: tuple[str, ...] = TEST_CONDITIONS) -> list[str]:
    """The test conditions a model can take: a fusion head every one of `conditions`; a unimodal head only its
    own ("audio only" or "video only"), so the table puts it next to the fusion models."""
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown conditions {unknown}; choose from {list(CONDITIONS)}")
    return [f"{head} only"] if head in UNIMODAL else list(conditions)


# ------------------------------------------------------------------ 2. degradation at test time


# ------------------------------------------------------------------ 2. effective robustness

def _level_key(level: Any) -> str:
    if level is None or level == "clean" or (isinstance(level, float) and np.isnan(level)):
        return "clean"
    return repr(float(level))


def effective_robustness(rob: pd.DataFrame, clean: dict[str, Any] | None = None, metric: str = "UA") -> pd.DataFrame:
    """Degradation curves with MultiBench's baselines, one row per model, knob, level, fold, seed.

    rob: columns model, knob, level, fold, seed and `metric` (metrics.per_fold of `degradation`). The clean
    level of a knob is `clean[knob]` if given, else its missing level (None / NaN, e.g. audio.snr_db)
    if present, else level 0 (blur, occlusion, drop). Adds:
      <metric>_clean  the same model, fold and seed on clean data;
      relative        <metric> / <metric>_clean (effective robustness: 1 = no loss);
      intact          the unimodal model of the modality the knob leaves intact (audio.* -> video);
      gain_over_intact  <metric> minus the intact model's at the same knob, level, fold and seed
                      (NaN for the unimodal models themselves).
    """
    need = {"model", "knob", "level", "fold", "seed", metric}
    if not need <= set(rob.columns):
        raise KeyError(f"robustness table needs columns {sorted(need)}; missing {sorted(need - set(rob.columns))}")
    df = rob.copy()
    df["_lv"] = df["level"].map(_level_key)
    clean = clean or {}
    ref_key = {}
    for knob, g in df.groupby("knob"):
        if knob in clean:
            ref_key[knob] = _level_key(clean[knob])
        elif (g["_lv"] == "clean").any():
            ref_key[knob] = "clean"
        elif (g["_lv"] == repr(0.0)).any():
            ref_key[knob] = repr(0.0)
        else:
            raise ValueError(f"knob {knob!r} has no clean level (None or 0) in the table; pass clean={{knob: level}}")
    keys = ["model", "knob", "fold", "seed"]
    ref = df[df["_lv"] == df["knob"].map(ref_key)][keys + [metric]].rename(columns={metric: f"{metric}_clean"})
    if ref.duplicated(keys).any():
        raise ValueError("robustness table holds several clean rows for one model, knob, fold and seed")
    df = df.merge(ref, on=keys, how="left")
    df["relative"] = df[metric] / df[f"{metric}_clean"]
    df["intact"] = df["knob"].map(lambda k: {"audio": "video", "video": "audio"}.get(str(k).split(".")[0]))
    uni = df[df["model"].isin(UNIMODAL)][["model", "knob", "_lv", "fold", "seed", metric]].rename(
        columns={"model": "intact", metric: "_intact"})
    df = df.merge(uni, on=["intact", "knob", "_lv", "fold", "seed"], how="left")
    df["gain_over_intact"] = np.where(df["model"].isin(UNIMODAL), np.nan, df[metric] - df["_intact"])
    return df.drop(columns=["_lv", "_intact"])


# ------------------------------------------------------------------ 3. controls without training

LATE = "late fusion"  # the unimodal models' averaged probabilities: fusion without training
# No "best unimodal model chosen on validation" control: its kept epoch is chosen on the same validation speakers
# that pick it, so the pick favours whichever model overfits them (at face 0.5, fold 4 it once picked video at
# validation UA 51.7, test UA 25.1). Contrast (b) compares with the intact modality's model, known by design.


def _prob_columns(pred: pd.DataFrame) -> list[str]:
    return [c for c in pred.columns if c.startswith("p_")]


def late_fusion(pred: pd.DataFrame, name: str = LATE, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Late fusion of the `audio` and `video` rows of `pred`: per utterance and run (id, fold, seed and the
    columns `by`, e.g. modality, level), the mean of the two models' class probabilities and its argmax.
    No training; the rows carry the audio rows' other columns."""
    key = ["id", "fold", "seed", *by]
    probs = _prob_columns(pred)
    if not probs:
        raise ValueError("late fusion needs the models' class probabilities (columns p_<class>)")
    a, v = pred[pred["model"] == "audio"], pred[pred["model"] == "video"]
    if a.empty or v.empty:
        raise ValueError("late fusion needs predictions of both the audio and the video model")
    m = a.merge(v[key + probs], on=key, suffixes=("", "__v"), validate="one_to_one")
    p = (m[probs].to_numpy() + m[[c + "__v" for c in probs]].to_numpy()) / 2
    out = m[list(a.columns)].copy()
    out[probs] = p
    classes = [c[2:] for c in probs]
    out["pred"] = [classes[i] for i in p.argmax(1)]
    out["model"] = name
    if "val_ua" in out:
        out["val_ua"] = np.nan
    return out


def shapley(cond: pd.DataFrame, metric: str = "UA", by: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exact two-modality Shapley values of audio and video for each fusion model of `cond` (predictions
    with a `condition` column holding every one of audio+video, audio only, video only, neither), from the
    model's score v(S) on each set S of streams it is given:

        phi_audio = ((v(av) - v(v)) + (v(a) - v(none))) / 2,  phi_video = ((v(av) - v(a)) + (v(v) - v(none))) / 2

    (so phi_audio + phi_video = v(av) - v(none)). Returns (per run: model, `by`, fold, seed, the four scores,
    phi_audio, phi_video, video_share = phi_video / (phi_audio + phi_video); per model and `by`: the means with
    two-stage intervals and fold-level p-values of each phi, stats.contrast, and the mean video share)."""
    need = set(SHAPLEY_CONDITIONS)
    runs, rows = [], []
    for key, g in cond.groupby(["model", *by], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        if not need <= set(g["condition"]):
            raise ValueError(f"{key[0]}: Shapley values need the conditions {sorted(need)}")
        part = {c: g[g["condition"] == c] for c in SHAPLEY_CONDITIONS}
        v = {c: metrics.per_fold(t, by=("fold", "seed")).set_index(["fold", "seed"])[metric] for c, t in part.items()}
        r = pd.DataFrame({f"v_{SHORT[c]}": v[c] for c in SHAPLEY_CONDITIONS})
        r["phi_audio"] = (r["v_av"] - r["v_v"] + r["v_a"] - r["v_none"]) / 2
        r["phi_video"] = (r["v_av"] - r["v_a"] + r["v_v"] - r["v_none"]) / 2
        total = r["phi_audio"] + r["phi_video"]
        r["video_share"] = np.where(total.abs() > 1e-9, r["phi_video"] / total.where(total.abs() > 1e-9, 1), np.nan)
        runs.append(r.reset_index().assign(**dict(zip(["model", *by], key))))
        out = dict(zip(["model", *by], key))
        for phi, signs in (("audio", {"audio+video": .5, "video only": -.5, "audio only": .5, "neither": -.5}),
                           ("video", {"audio+video": .5, "audio only": -.5, "video only": .5, "neither": -.5})):
            c = stats.contrast([(part[k], w) for k, w in signs.items()], metric)
            out.update({f"phi_{phi}": c["diff"], f"phi_{phi}_lo": c["diff_lo"], f"phi_{phi}_hi": c["diff_hi"],
                        f"phi_{phi}_p_t": c["p_t"]})
        out.update({f"{metric}_{SHORT[k]}": float(v[k].mean()) for k in SHAPLEY_CONDITIONS},
                   video_share=float(r["video_share"].mean()) if r["video_share"].notna().any() else np.nan,
                   runs=len(r), folds=int(r.reset_index()["fold"].nunique()), interval=c["interval"])
        rows.append(out)
    cols = ["model", *by, "fold", "seed"]
    per_run = pd.concat(runs, ignore_index=True)
    return per_run[cols + [c for c in per_run.columns if c not in cols]], pd.DataFrame(rows)


SHAPLEY_CONDITIONS = ("audio+video", "audio only", "video only", "neither")
SHORT = {"audio+video": "av", "audio only": "a", "video only": "v", "neither": "none"}


# ------------------------------------------------------------------ 4. the modality-reliability sweep

def knob_of(modality: str) -> str:
    """The synth override the sweep sets for a modality: "face" / "video" -> synth.face_reliability, etc.

        >>> knob_of("video"), knob_of("voice")
        ('synth.face_reliability', 'synth.voice_reliability')
    """
    name = ALIASES.get(modality, modality)
    if name not in KNOBS:
        raise ValueError(f"modality must be one of {sorted(KNOBS) + sorted(ALIASES)}, got {modality!r}")
    return KNOBS[name]


WEAK_MODEL = {"voice": "audio", "face": "video"}  # the unimodal model of the weakened modality
INTACT_MODEL = {"voice": "video", "face": "audio"}  # the unimodal model of the modality the sweep leaves intact


def with_controls(pred: pd.DataFrame, by: tuple[str, ...] = ("modality", "level")) -> pd.DataFrame:
    """Sweep (or any) predictions with the untrained control, late fusion, added per `by` group (a table that
    has it already is returned as is)."""
    if pred["model"].eq(LATE).any():
        return pred
    extra = [late_fusion(g, by=by) for _, g in pred.groupby(list(by), sort=False)
             if {"audio", "video"} <= set(g["model"])]
    return pd.concat([pred, *extra], ignore_index=True)


def _level_means(g: pd.DataFrame, metric: str) -> pd.Series:
    return metrics.per_fold(g).groupby("model")[metric].mean()


def sweep_scores(pred: pd.DataFrame, metric: str = "UA") -> pd.DataFrame:
    """Per weakened modality, level and model (the controls of with_controls included): the mean score with its
    interval (metrics.summarize), the oracle ceiling at that level for that model (oracle.ceiling_of) and the
    gap to it."""
    pred = with_controls(pred)
    summary = metrics.summarize(pred, by=("modality", "level", "model"))
    ceil = summary[summary["model"].map(oracle.is_oracle)].set_index(["modality", "level", "model"])[f"{metric}_mean"]
    out = summary[~summary["model"].map(oracle.is_oracle)].copy()
    out["ceiling"] = [ceil.get((m, lv, oracle.ceiling_of(n)), np.nan)
                      for m, lv, n in zip(out["modality"], out["level"], out["model"])]
    out["gap"] = out["ceiling"] - out[f"{metric}_mean"]
    return out.sort_values(["modality", "level"], kind="stable").reset_index(drop=True)


def sweep_gains(pred: pd.DataFrame, metric: str = "UA") -> pd.DataFrame:
    """Contrast (b) per weakened modality, level and fusion model (late fusion included): its gain over the
    unimodal model of the intact modality, known by design with no selection (stats.paired: mean, interval,
    fold-level p), beside the gap between the unimodal models (intact - weakened), the oracle's own gain at that
    level (oracle given both cues - oracle given the intact modality's cue: what fusion could add to the intact
    stream) and the share of it realized."""
    pred = with_controls(pred)
    rows = []
    for (modality, level), g in pred.groupby(["modality", "level"], sort=True):
        means = _level_means(g, metric)
        weak, intact = WEAK_MODEL[modality], INTACT_MODEL[modality]
        oracle_gain = float(means.get("oracle: both", np.nan) - means.get(oracle.CEILING_OF[intact], np.nan))
        for model in _fusion_models(g):
            r = stats.paired(g, model, intact, metric)
            rows.append({"modality": modality, "level": level, "model": model, **r,
                         "gap_weak": float(means[intact] - means[weak]), "oracle_gain": oracle_gain,
                         "realized": r["diff"] / oracle_gain if oracle_gain > 0.01 else np.nan})
    return pd.DataFrame(rows)


def _fusion_models(g: pd.DataFrame) -> list[str]:
    return [m for m in dict.fromkeys(g["model"]) if m not in UNIMODAL and not oracle.is_oracle(m)]


def sweep_versus(pred: pd.DataFrame, baseline: str = "concat", metric: str = "UA") -> pd.DataFrame:
    """Contrast (a) per weakened modality and level: every other fusion model (late fusion included) minus
    `baseline` (stats.paired), one Holm family per table (claims.family is applied by the caller)."""
    pred = with_controls(pred)
    rows = []
    for (modality, level), g in pred.groupby(["modality", "level"], sort=True):
        rows += [{"modality": modality, "level": level, "model": m, **stats.paired(g, m, baseline, metric)}
                 for m in _fusion_models(g) if m != baseline]
    return pd.DataFrame(rows)


def trend_terms(pred: pd.DataFrame, modality: str, model_a: str, model_b: str) -> tuple[list, list]:
    """The levels of `modality`'s sweep and the linear-contrast terms of the least-squares slope of
    model_a - model_b on the level lost (1 - level): [(predictions, weight), ...] for stats.contrast."""
    pred = with_controls(pred)
    g = pred[pred["modality"] == modality]
    levels = sorted(g["level"].unique())
    if len(levels) < 2:
        raise ValueError(f"a trend needs at least two {modality} levels, got {levels}")
    lost = 1.0 - np.asarray(levels)
    c = (lost - lost.mean()) / ((lost - lost.mean()) ** 2).sum()
    terms = []
    for lv, w in zip(levels, c):
        at = g[g["level"] == lv]
        a, b = at[at["model"] == model_a], at[at["model"] == model_b]
        if a.empty or b.empty:
            raise ValueError(f"{modality} level {lv:g}: no predictions of {model_a if a.empty else model_b!r}")
        terms += [(a, float(w)), (b, -float(w))]
    return levels, terms


def trend(pred: pd.DataFrame, modality: str, model_a: str, model_b: str, metric: str = "UA") -> dict:
    """How model_a - model_b changes as `modality` weakens: the least-squares slope of the difference on the
    level lost (1 - level) over the sweep's levels, per run, as one linear contrast (stats.contrast: mean over
    folds, interval, fold-level p-values). Positive: model_a's advantage grows as the modality weakens.
    In metric points per unit of lost level (the change from level 1 to level 0 on a straight line)."""
    levels, terms = trend_terms(pred, modality, model_a, model_b)
    r = stats.contrast(terms, metric)
    r.pop("per_run")
    return {"model_a": model_a, "model_b": model_b, "modality": modality,
            "levels": ", ".join(f"{lv:g}" for lv in levels), **r}


def diagnosis(pred: pd.DataFrame, modality: str = "face", level: float = 0.0, metric: str = "UA") -> pd.DataFrame:
    """At one sweep corpus (default: the face at reliability 0), every fusion model and control against the
    unimodal model of the intact modality (stats.paired): which of them closes the gap to it. An arm whose
    predictions are those of an arm before it (identical_arms) is left out: it is reported once, outside the
    family."""
    pred = with_controls(pred)
    g = pred[(pred["modality"] == modality) & (pred["level"] == float(level))]
    intact = INTACT_MODEL[modality]
    same = set(identical_arms(g)["model"])
    return pd.DataFrame([{"modality": modality, "level": float(level), "model": m,
                          **stats.paired(g, m, intact, metric)} for m in _fusion_models(g) if m not in same])


def identical_arms(pred: pd.DataFrame) -> pd.DataFrame:
    """Arms of one corpus whose test predictions (every fold, seed and utterance: predicted class and class
    probabilities) equal those of an arm listed before them: model, identical_to. Such an arm measured nothing new
    (e.g. a longer patience that early stopping never reached), so it belongs in no family of tests."""
    prob = sorted(c for c in pred.columns if c.startswith("p_"))
    runs = {m: g.sort_values(["fold", "seed", "id"])[["fold", "seed", "id", "pred", *prob]].reset_index(drop=True)
            for m, g in pred.groupby("model", sort=False)}
    rows, seen = [], []
    for m, r in runs.items():
        twin = next((o for o in seen if runs[o].equals(r)), None)
        if twin is None:
            seen.append(m)
        else:
            rows.append({"model": m, "identical_to": twin})
    return pd.DataFrame(rows, columns=["model", "identical_to"])


LEVEL_COLUMNS = ("face_reliability", "voice_reliability", "face_expressiveness", "voice_expressiveness")


def balance_ratios(curves: pd.DataFrame) -> pd.DataFrame:
    """Per OGM-GE training (checkpoints.learning_curves rows with train.balance = ogm_ge): the discrepancy ratio
    score_audio / score_video and the coefficients, averaged over the first epoch and over the kept one, with the
    corpus's knob levels (LEVEL_COLUMNS). A ratio of 1 throughout would mean the modulation never acted."""
    if "train_ogm_ratio" not in curves:
        return pd.DataFrame()
    g = curves[curves["train_ogm_ratio"].notna()]
    rows = []
    for ckpt, c in g.groupby("checkpoint", sort=False):
        first, kept = c[c["epoch"] == c["epoch"].min()].iloc[0], c[c["kept"]]
        kept = kept.iloc[0] if len(kept) else c.iloc[-1]
        rows.append({"checkpoint": ckpt, "head": first["head"], "fold": first["fold"], "seed": first["seed"],
                     **{k: first.get(k) for k in LEVEL_COLUMNS},
                     "ratio_first_epoch": first["train_ogm_ratio"], "ratio_kept_epoch": kept["train_ogm_ratio"],
                     "coeff_audio_first_epoch": first["train_ogm_coeff_audio"],
                     "coeff_video_first_epoch": first["train_ogm_coeff_video"], "kept_epoch": int(kept["epoch"])})
    return pd.DataFrame(rows)
