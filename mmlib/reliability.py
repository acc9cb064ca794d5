"""When does fusion help? Missing modalities, degradation at test time, effective robustness and the
modality-reliability sweep.

    from mmlib import reliability as rel
    models = {"matchmap": ("matchmap", None), "matchmap + dropout": ("matchmap", {"train.modality_dropout": 0.5})}
    miss = rel.missing_modality(session, models)                     # + a `condition` column
    rob = rel.degradation(session, models, {"audio.snr_db": [None, 10, 0], "video.occlusion": [0.0, 0.5]})
    eff = rel.effective_robustness(metrics.per_fold(rob, by=("model", "knob", "level", "fold", "seed")))
    sweep = rel.reliability_sweep("default", "face", [1.0, 0.5, 0.0], ["audio", "video", "matchmap"], "data")
    table = rel.sweep_table(sweep)                                   # one row per modality, level and fusion head

`models` maps the name a table shows to (head, config overrides); the session must have trained them
(Session.run_models / run_grid reuse what exists). A missing stream is zero-filled after normalization
(inference.predict): zero is the normalizer's mean (the speaker's mean with data.speaker_norm), MMIN's
zero-filling, not the training mean of the raw features. Nothing here trains except the sweep, which
delegates to `runner` (Session.run_models by default).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mmlib import inference, metrics, oracle, stats
from mmlib.data.features import FeatureSet, extract_features
from mmlib.models.fusion import UNIMODAL

# condition -> the stream that is zero-filled
CONDITIONS = {"audio+video": None, "audio only": "video", "video only": "audio"}
KNOBS = {"voice": "synth.voice_expressiveness", "face": "synth.face_expressiveness"}
ALIASES = {"audio": "voice", "video": "face"}  # the modality's name in the study -> the corpus knob
DEGRADATIONS = {"audio": ("snr_db",), "video": ("blur_sigma", "occlusion", "drop_prob")}  # feature-config knobs
Models = dict  # name -> (head, overrides or None)


# ------------------------------------------------------------------ 1. missing modality at test time

def conditions_of(head: str, conditions: tuple[str, ...] = tuple(CONDITIONS)) -> list[str]:
    """The test conditions a model can take: a fusion head every one of `conditions`; a unimodal head only its
    own ("audio only" or "video only"), so the table puts it next to the fusion models."""
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown conditions {unknown}; choose from {list(CONDITIONS)}")
    return [f"{head} only"] if head in UNIMODAL else list(conditions)


def missing_modality(session, models: Models, conditions: tuple[str, ...] = tuple(CONDITIONS)) -> pd.DataFrame:
    """Every model of `models` scored per fold and seed under each test condition it can take (the other stream
    zero-filled after normalization); columns as the predictions + `condition`."""
    out = []
    for name, (head, overrides) in models.items():
        todo = conditions_of(head, conditions)
        seeds = session.cfg.with_overrides(overrides).seeds
        for fold in session.folds:
            norm = inference.normalizer(session.spec(head, fold, seeds[0], overrides), session.recordings,
                                        session.feats)
            for seed in seeds:
                spec = session.spec(head, fold, seed, overrides)
                model, _ = session.load_model(spec)
                ds = inference.dataset(spec, fold.test, session.recordings, session.feats, norm)
                out += [inference.predict(model, ds, spec, None if head in UNIMODAL else CONDITIONS[c],
                                          name).assign(condition=c) for c in todo]
    return pd.concat(out, ignore_index=True)


# ------------------------------------------------------------------ 2. degradation at test time

def degradation(session, models: Models, knobs: dict[str, list], refit_normalizer: bool = False) -> pd.DataFrame:
    """Test predictions of trained models while one modality is degraded step by step (columns knob, level):
    for each knob of `knobs` (e.g. {"audio.snr_db": [None, 10, 0], "video.occlusion": [0.0, 0.3]}) and level.

    A knob is a degradation setting of the feature config (audio.snr_db; video.blur_sigma, video.occlusion,
    video.drop_prob); training data stay clean: only test features are rebuilt (and cached) per level.
    The normalizer keeps the statistics of the clean features (refit_normalizer=True refits it on the
    degraded test features, which quietly adapts to the degradation when speaker_norm is on).
    """
    for key in knobs:
        section, _, knob = key.partition(".")
        if knob not in DEGRADATIONS.get(section, ()):
            raise ValueError(f"{key!r} is not a degradation knob; use audio.snr_db or "
                             "video.blur_sigma/occlusion/drop_prob")
    return pd.concat([_degraded(session, models, key, levels, refit_normalizer) for key, levels in knobs.items()],
                     ignore_index=True)


def _degraded(session, models: Models, key: str, levels: list, refit_normalizer: bool) -> pd.DataFrame:
    section = key.partition(".")[0]
    configs = {name: session.cfg.with_overrides(over) for name, (_, over) in models.items()}
    # every recording of the test speakers (labelled or not): what a refitted speaker normalizer reads
    speakers = {s for fold in session.folds for s in fold.test_speakers}
    tests = session.recordings[session.recordings["speaker"].isin(speakers)]
    for cfg in {c.hash("audio", "video"): c for c in configs.values()}.values():
        for level in levels:  # each level extracted once for every fold's test set (one worker pool, not one per
            # fold); the fold loop below then reads the feature cache. Nothing is kept here: memory stays per fold
            extract_features(tests, cfg.with_overrides({key: level}), cache_dir=session.cache_dir,
                             modalities=(section,), progress=False)
    out = []
    for fold in session.folds:
        specs = {name: [session.spec(head, fold, seed, over) for seed in configs[name].seeds]
                 for name, (head, over) in models.items()}
        clean_norm = {name: inference.normalizer(ss[0], session.recordings, session.feats) for name, ss in specs.items()}
        loaded = {(name, s.seed): session.load_model(s)[0] for name, ss in specs.items() for s in ss}
        test = tests[tests["speaker"].isin(fold.test_speakers)]
        for level in tqdm(levels, desc=f"{key} fold {fold.number}", disable=not session.progress, leave=False):
            extra = {"knob": key, "level": "clean" if level is None else f"{level:g}"}
            for name, ss in specs.items():
                deg = extract_features(test, configs[name].with_overrides({key: level}), cache_dir=session.cache_dir,
                                       modalities=(section,), progress=False)
                feats = FeatureSet(audio={**session.feats.audio, **deg.audio}, video={**session.feats.video, **deg.video})
                norm = inference.normalizer(ss[0], session.recordings, feats) if refit_normalizer else clean_norm[name]
                for s in ss:
                    ds = inference.dataset(s, fold.test, session.recordings, feats, norm)
                    out.append(inference.predict(loaded[(name, s.seed)], ds, s, name=name, extra=extra))
    return pd.concat(out, ignore_index=True)


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


# ------------------------------------------------------------------ 3. the modality-reliability sweep

def knob_of(modality: str) -> str:
    """The synth override of a modality: "face" / "video" -> synth.face_expressiveness, etc."""
    name = ALIASES.get(modality, modality)
    if name not in KNOBS:
        raise ValueError(f"modality must be one of {sorted(KNOBS) + sorted(ALIASES)}, got {modality!r}")
    return KNOBS[name]


def reliability_sweep(profile: str, modalities: str | tuple[str, ...], levels: list[float], heads: list[str],
                      data_dir: str, overrides: dict[str, Any] | None = None, runner: Callable | None = None,
                      **session_kw) -> pd.DataFrame:
    """For each weakened modality ("face" and/or "voice") and expressiveness level (the other modality intact),
    a corpus, a session, its models.

    Each level opens `session.open_session(profile, data_dir=data_dir, overrides=overrides +
    {synth.<modality>_expressiveness: level}, **session_kw)` (the corpus is generated once per level
    and cached under data_dir) and calls `runner(session, heads)` (default Session.run_models).
    Returns the runners' prediction tables stacked, with `modality` ("voice" | "face") and `level`, and the
    oracle's predictions on each corpus (mmlib.oracle: the ceilings at that level; none on a real corpus).
    """
    from mmlib.session import Session, open_session  # the training stack: imported only when a sweep runs

    runner = runner or Session.run_models
    out = []
    for modality in ([modalities] if isinstance(modalities, str) else modalities):
        knob = knob_of(modality)
        for level in levels:
            session = open_session(profile, data_dir=data_dir, overrides={**(overrides or {}), knob: float(level)},
                                   **session_kw)
            pred = pd.concat([runner(session, list(heads)), oracle.predictions(session)], ignore_index=True)
            out.append(pred.assign(modality=knob.split(".")[1].split("_")[0], level=float(level)))
    return pd.concat(out, ignore_index=True)


def sweep_table(pred: pd.DataFrame, fusion: tuple[str, ...] = ("concat", "matchmap", "matchmap_attn"),
                metric: str = "UA") -> pd.DataFrame:
    """Per weakened modality, level and fusion head: the gain over the best unimodal model (mean over folds x
    seeds, two-stage interval, fold-level p-values: stats.paired) and gap_weak, the intact unimodal model's
    score minus the weakened one's (mean over runs). `pred`: reliability_sweep's predictions."""
    rows = []
    for (modality, level), g in pred.groupby(["modality", "level"], sort=True):
        means = metrics.per_fold(g).groupby("model")[metric].mean()
        best = max(UNIMODAL, key=lambda m: means[m])
        weak = {"voice": "audio", "face": "video"}[modality]
        intact = next(m for m in UNIMODAL if m != weak)
        for head in fusion:
            if head not in means:
                continue
            r = stats.paired(g, head, best, metric)
            rows.append({"modality": modality, "level": level, "model": head, "best": best, **r,
                         "gain": r["diff"], "lo": r["diff_lo"], "hi": r["diff_hi"],
                         "gap_weak": float(means[intact] - means[weak])})
    return pd.DataFrame(rows)


def gain_change(pred: pd.DataFrame, modality: str, head: str, weak_level: float, full_level: float = 1.0,
                metric: str = "UA") -> dict:
    """Does fusion's gain over the best unimodal model grow as `modality` weakens? The contrast
    (head - best)@weak_level - (head - best)@full_level over the same folds, seeds and test speakers
    (the best unimodal model chosen at each level by its mean), with its two-stage interval and fold-level tests."""
    terms = []
    for lv, sign in ((weak_level, 1.0), (full_level, -1.0)):
        g = pred[(pred["modality"] == modality) & (pred["level"] == lv)]
        means = metrics.per_fold(g).groupby("model")[metric].mean()
        best = max(UNIMODAL, key=lambda m: means[m])
        terms += [(g[g["model"] == head], sign), (g[g["model"] == best], -sign)]
    r = stats.contrast(terms, metric)
    r.pop("per_run")
    return {"claim": f"{head}: gain over the best unimodal model at {modality} expressiveness {weak_level:g} "
                     f"minus at {full_level:g}", "model_a": head, "model_b": "best unimodal", **r}
