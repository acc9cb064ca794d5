"""The orchestration of "when does fusion help": what opens sessions, loads trained models and runs them on
test inputs (missing modality, degradation at test time) and the graded modality-reliability sweep. The statistics
of what these return live in mmlib.analysis.reliability.

    from mmlib.runner import sweep
    models = {"matchmap": ("matchmap", None), "matchmap + dropout": ("matchmap", {"train.modality_dropout": 0.5})}
    miss = sweep.missing_modality(session, models)                     # + a `condition` column
    rob = sweep.degradation(session, models, {"audio.snr_db": [None, 20, 10], "video.occlusion": [0.0, 0.1]})
    at = sweep.sweep_models(["audio", "video", "concat", "matchmap"], [{"train.balance": "ogm_ge"}])
    out = sweep.reliability_sweep("default", ("face", "voice"), [1.0, 0.5, 0.0], at, "data")

`models` maps the name a table shows to (head, config overrides); the session must have trained them
(Session.run_models / run_grid reuse what exists). A missing stream is zero-filled after normalization
(inference.predict): zero is the normalizer's mean (the speaker's mean with data.speaker_norm).
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd
from tqdm.auto import tqdm

from mmlib.analysis import oracle
from mmlib.analysis.reliability import (
    ALIASES,
    CONDITIONS,
    DEGRADATIONS,
    SHAPLEY_CONDITIONS,
    TEST_CONDITIONS,
    Models,
    conditions_of,
    knob_of,
    shapley,
)
from mmlib.data import inputs
from mmlib.data.features import FeatureSet, extract_features
from mmlib.models.fusion import UNIMODAL
from mmlib.runner.session import Session, arms, model_name, open_session
from mmlib.training import inference


def missing_modality(session, models: Models, conditions: tuple[str, ...] = TEST_CONDITIONS) -> pd.DataFrame:
    """Every model of `models` scored per fold and seed under each test condition it can take (the other stream
    zero-filled after normalization); columns as the predictions + `condition`."""
    out = []
    for name, (head, overrides) in models.items():
        todo = conditions_of(head, conditions)
        seeds = session.cfg.with_overrides(overrides).seeds
        for fold in session.folds:
            norm = inputs.normalizer(session.spec(head, fold, seeds[0], overrides), session.recordings,
                                        session.feats)
            for seed in seeds:
                spec = session.spec(head, fold, seed, overrides)
                model, _ = session.load_model(spec)
                ds = inputs.dataset(spec, fold.test, session.recordings, session.feats, norm)
                out += [inference.predict(model, ds, spec, None if head in UNIMODAL else CONDITIONS[c],
                                          name).assign(condition=c) for c in todo]
    return pd.concat(out, ignore_index=True)


def degradation(session, models: Models, knobs: dict[str, list], refit_normalizer: bool = False) -> pd.DataFrame:
    """Test predictions of trained models while one modality is degraded step by step (columns knob, level):
    for each knob of `knobs` (e.g. {"audio.snr_db": [None, 10, 0], "video.occlusion": [0.0, 0.3]}) and level.

    A knob is a degradation setting of the feature config (audio.snr_db; video.blur_sigma, video.occlusion,
    video.drop_prob); training data stay clean: only test features are rebuilt (and cached) per level.
    The normalizer keeps the statistics of the clean features (refit_normalizer=True refits it on the
    degraded test features, which quietly adapts to the degradation when speaker_norm is on); column
    `normalizer` says which ("clean" | "refitted").
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
        clean_norm = {name: inputs.normalizer(ss[0], session.recordings, session.feats) for name, ss in specs.items()}
        loaded = {(name, s.seed): session.load_model(s)[0] for name, ss in specs.items() for s in ss}
        test = tests[tests["speaker"].isin(fold.test_speakers)]
        for level in tqdm(levels, desc=f"{key} fold {fold.number}", disable=not session.progress, leave=False):
            extra = {"knob": key, "level": "clean" if level is None else f"{level:g}",
                     "normalizer": "refitted" if refit_normalizer else "clean"}
            for name, ss in specs.items():
                deg = extract_features(test, configs[name].with_overrides({key: level}), cache_dir=session.cache_dir,
                                       modalities=(section,), progress=False)
                feats = FeatureSet(audio={**session.feats.audio, **deg.audio}, video={**session.feats.video, **deg.video})
                norm = inputs.normalizer(ss[0], session.recordings, feats) if refit_normalizer else clean_norm[name]
                for s in ss:
                    ds = inputs.dataset(s, fold.test, session.recordings, feats, norm)
                    out.append(inference.predict(loaded[(name, s.seed)], ds, s, name=name, extra=extra))
    return pd.concat(out, ignore_index=True)


def sweep_models(heads: list[str], controls: list[dict] | None = None, diagnosis: list[dict] | None = None,
                 control_modalities: tuple[str, ...] = ("face", "voice"), diagnosis_at: tuple[str, float] = ("face", 0.0),
                 control_head: str = "matchmap", seeds: list[int] | None = None,
                 head_seeds: dict[str, list[int]] | None = None) -> Callable[[str, float], Models]:
    """What a sweep trains at each (weakened modality, level): every head of `heads`; `control_head` once per
    override dict of `controls` on the sweeps of `control_modalities` (every level); and once per override
    dict of `diagnosis` at `diagnosis_at` only. `seeds` replaces the profile's seeds of every model, unless an
    override dict names its own "seeds"; a diagnosis dict may name its own "head" (default `control_head`), and
    one that names a head of `heads` without other settings replaces that model there (e.g. more seeds).
    `head_seeds` gives a head of `heads` its own seeds at every level (claim 2's primary contrast on more seeds
    than the rest of the sweep)."""
    only = {"seeds": tuple(seeds)} if seeds is not None else {}
    unknown = sorted(set(head_seeds or {}) - set(heads))
    if unknown:
        raise ValueError(f"head_seeds names heads the sweep does not train: {unknown}; heads: {list(heads)}")

    def named(head: str, over: dict) -> tuple[str, tuple[str, dict | None]]:
        over = dict(over)
        head = over.pop("head", head)
        full = {**only, **over}
        if "seeds" in full:
            full["seeds"] = tuple(full["seeds"])
        return model_name(head, over), (head, full or None)

    def models_at(modality: str, level: float) -> Models:
        out = dict(named(h, {"seeds": (head_seeds or {})[h]} if h in (head_seeds or {}) else {}) for h in heads)
        if modality in control_modalities or (level == 1.0 and control_modalities):
            out.update(named(control_head, o) for o in controls or [])
        if (modality, float(level)) == (diagnosis_at[0], float(diagnosis_at[1])):
            out.update(named(control_head, o) for o in diagnosis or [])
        return out

    return models_at


def reliability_sweep(profile: str, modalities: str | tuple[str, ...], levels: list[float],
                      models: "list[str] | Callable[[str, float], Models]", data_dir: str,
                      overrides: dict[str, Any] | None = None, runner: Callable | None = None,
                      contributions: bool = True, **session_kw) -> dict[str, pd.DataFrame]:
    """For each weakened modality ("face" and/or "voice") and reliability level (the other modality intact),
    a corpus, a session, its models. At level r the weakened modality shows the expressed emotion for a share r
    of the utterances and another utterance's expression for the rest, in training and test alike
    (mmlib.data.synthetic.plan), so the oracle's ceilings fall smoothly with r; the knob is
    reliability.knob_of(modality).

    Each level opens `session.open_session(profile, data_dir=data_dir, overrides=overrides +
    {synth.<modality>_reliability: level}, **session_kw)` (the corpus is generated once per level and
    cached under data_dir) and trains `models` there: a list of heads, or `models(modality, level)` -> name ->
    (head, overrides) (sweep_models). Level 1 is the same corpus for both modalities: it is run once, with the
    union of what both sweeps ask there. `runner(session, models)` trains (default Session.train).
    Returns {"predictions": the test predictions stacked with `modality` ("voice" | "face") and `level`, the
    oracle's predictions on each corpus included (mmlib.analysis.oracle: the ceilings at that level; none on a real
    corpus); "contributions" and "contribution_runs": every fusion model's Shapley values (shapley), unless
    contributions=False}.
    """
    mods = [modalities] if isinstance(modalities, str) else list(modalities)
    knobs = {m: knob_of(m) for m in mods}
    pick = models if callable(models) else (lambda _m, _l: arms(list(models)))
    runner = runner or Session.train
    corpora: dict[tuple, list[str]] = {}  # the corpus's overrides -> the sweeps (modalities) it stands for
    for modality in mods:
        for level in levels:
            over = () if float(level) == 1.0 else ((knobs[modality], float(level)),)
            corpora.setdefault(over, []).append(modality)
    preds, conds = [], []
    for over, sweeps in corpora.items():
        level = over[0][1] if over else 1.0
        todo: Models = {}
        for modality in sweeps:
            todo.update(pick(modality, level))
        session = open_session(profile, data_dir=data_dir, overrides={**(overrides or {}), **dict(over)},
                               **session_kw)
        pred = pd.concat([runner(session, todo), oracle.predictions(session)], ignore_index=True)
        fused = {n: hm for n, hm in todo.items() if hm[0] not in UNIMODAL}
        cond = missing_modality(session, fused, SHAPLEY_CONDITIONS) if contributions and fused else None
        for modality in sweeps:
            wanted = set(pick(modality, level)) | set(oracle.CUES)
            tag = {"modality": ALIASES.get(modality, modality), "level": float(level)}
            preds.append(pred[pred["model"].isin(wanted)].assign(**tag))
            if cond is not None:
                conds.append(cond[cond["model"].isin(wanted)].assign(**tag))
    out = {"predictions": pd.concat(preds, ignore_index=True)}
    if conds:
        out["contribution_runs"], out["contributions"] = shapley(pd.concat(conds, ignore_index=True),
                                                                 by=("modality", "level"))
    return out
