"""The study's experiments, one call each, for the notebooks.

    from mmlib import experiments as ex
    st = ex.open_study("default")                          # config, corpus, features, folds
    pred = ex.run_models(st, ["audio", "video"])           # every fold x seed; predictions table
    pred = ex.run_models(st, ["concat", "matchmap"])       # fusion starts from the unimodal checkpoints
    abl = ex.run_ablation(st, {"train.similarity": ["SISA", "MISA", "SIMA"]})
    rob = ex.robustness(st, ["audio", "video", "matchmap"], "audio.snr_db", [None, 10, 0])

Every run's model name says what differs from the profile (e.g. `matchmap[train.similarity=SISA]`),
and every table carries fold and seed, so metrics.per_fold / summarize / paired_test apply as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from mmlib import metrics
from mmlib.config import StudyConfig, load_config
from mmlib.data.corpus import class_names, labelled, prepare_corpus
from mmlib.data.dataset import EmotionDataset, Normalizer
from mmlib.data.features import FeatureSet, extract_features
from mmlib.data.splits import Fold, make_folds, select_folds
from mmlib.training import checkpoint_path, fit_fold, load_checkpoint, modalities_of, predict


@dataclass
class Study:
    cfg: StudyConfig
    corpus: pd.DataFrame  # every utterance, labelled or not
    table: pd.DataFrame  # labelled utterances with features
    feats: FeatureSet
    folds: list[Fold]  # the folds to run
    classes: list[str]
    results_dir: Path
    ckpt_dir: Path
    cache_dir: Path
    progress: bool = True
    retrain: bool = False

    def save(self, df: pd.DataFrame, name: str) -> Path:
        """Write a table under results_dir (CSV), creating folders as needed."""
        path = self.results_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)
        return path


def open_study(profile: str = "default", data_root: str | None = None, data_dir: str = "data",
               results_dir: str = "results/interactive", overrides: dict[str, Any] | None = None,
               folds: list[int] | None = None, seeds: list[int] | None = None, retrain: bool = False,
               progress: bool = True) -> Study:
    """Build the config from primitives, load (or generate) the corpus, extract features, make folds."""
    over = dict(overrides or {})
    if data_root:
        over["data.root"] = data_root
    over["data.data_dir"] = data_dir
    if folds is not None:
        over["folds"] = tuple(folds)
    if seeds is not None:
        over["seeds"] = tuple(seeds)
    cfg = load_config(profile, over)
    corpus = prepare_corpus(cfg, progress=progress)
    table = labelled(corpus)
    cache = Path(data_dir) / "cache"
    feats = extract_features(table, cfg, cache_dir=cache, progress=progress)
    if feats.skipped:  # on_error="skip": the rest of the study runs without them, and says so
        table = table[~table["id"].isin(feats.skipped)].reset_index(drop=True)
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    if feats.skipped:
        (out / "skipped.json").write_text(json.dumps(feats.skipped, indent=1, sort_keys=True))
    return Study(cfg, corpus, table, feats, select_folds(make_folds(table, cfg.data.protocol), cfg.folds),
                 class_names(cfg.data.label_set), out, Path(data_dir) / "checkpoints", cache, progress, retrain)


def model_name(head: str, overrides: dict[str, Any] | None) -> str:
    if not overrides:
        return head
    return f"{head}[{','.join(f'{k}={v}' for k, v in overrides.items())}]"


def run_models(st: Study, heads: list[str], overrides: dict[str, Any] | None = None,
               name: str | None = None, retrain: bool | None = None) -> pd.DataFrame:
    """Train (or reuse) each head on every fold and seed; the concatenated test predictions."""
    cfg = st.cfg.with_overrides(overrides)
    retrain = st.retrain if retrain is None else retrain
    out = []
    jobs = [(h, f, s) for h in heads for f in st.folds for s in cfg.seeds]
    bar = tqdm(jobs, desc="folds", disable=not st.progress)
    for head, fold, seed in bar:
        bar.set_postfix_str(f"{head} fold {fold.number} seed {seed}")
        init = None
        if head not in ("audio", "video") and cfg.train.init_from_unimodal:
            # the authors' recipe: encoders start from this fold's unimodal models (trained here if missing)
            init = {m: fit_fold(st.cfg, fold, st.table, st.feats, m, seed, st.ckpt_dir, progress=False).checkpoint
                    for m in ("audio", "video")}
        res = fit_fold(cfg, fold, st.table, st.feats, head, seed, st.ckpt_dir, init, retrain and head in ("audio", "video"),
                       progress=False)
        pred = res.predictions
        pred["model"] = name or model_name(head, overrides)
        out.append(pred)
    return pd.concat(out, ignore_index=True)


def run_ablation(st: Study, grid: dict[str, list], head: str = "matchmap") -> pd.DataFrame:
    """`head` once per value of each config key in `grid` (one key varied at a time)."""
    return pd.concat([run_models(st, [head], {key: v}) for key, values in grid.items() for v in values],
                     ignore_index=True)


def robustness(st: Study, heads: list[str], key: str, levels: list, overrides: dict[str, Any] | None = None
               ) -> pd.DataFrame:
    """Test-set WA/UA of trained models while one modality is degraded step by step.

    `key` is a degradation knob of the feature config (audio.snr_db; video.blur_sigma, video.occlusion,
    video.drop_prob); training data stay clean: only test features are rebuilt (and cached) per level.
    """
    section, _, field = key.partition(".")
    if section not in ("audio", "video") or field not in ("snr_db", "blur_sigma", "occlusion", "drop_prob"):
        raise ValueError(f"{key!r} is not a degradation knob; use audio.snr_db or video.blur_sigma/occlusion/drop_prob")
    cfg = st.cfg.with_overrides(overrides)
    rows = []
    for level in tqdm(levels, desc=key, disable=not st.progress):
        deg_cfg = cfg.with_overrides({key: level})
        for fold in st.folds:
            test = st.table[st.table["id"].isin(fold.test)]
            deg = extract_features(test, deg_cfg, cache_dir=st.cache_dir, modalities=(section,), progress=False)
            feats = FeatureSet(audio={**st.feats.audio, **deg.audio}, video={**st.feats.video, **deg.video})
            for head in heads:
                for seed in cfg.seeds:
                    c = replace(cfg, train=replace(cfg.train, seed=seed))
                    model, _ = load_checkpoint(checkpoint_path(c, head, fold, seed, st.ckpt_dir))
                    mods = modalities_of(head)
                    norm = Normalizer.fit([st.feats.audio[i] for i in fold.train]) if "audio" in mods else None
                    ds = EmotionDataset(st.table, fold.test, feats, st.classes, cfg.audio, norm, mods)
                    pred = predict(model, ds, cfg, head)
                    rows.append({"model": head, "knob": key, "level": level, "fold": fold.number, "seed": seed,
                                 **metrics.scores(pred["true"], pred["pred"], st.classes)})
    return pd.DataFrame(rows)
