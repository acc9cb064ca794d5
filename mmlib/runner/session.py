"""A study session: one config, its corpus, features and folds, and the models trained on them.

    from mmlib.runner.session import setup
    session = setup("default")                              # what every notebook's setup cell calls
    pred = session.run_models(["audio", "video"])           # every fold x seed; the prediction table
    pred = session.run_models(["concat", "matchmap"])       # fusion starts from the unimodal checkpoints
    abl = session.run_ablation({"train.similarity": ["SISA", "MISA", "SIMA"]})
    session.save(pred, "predictions/unimodal.csv")
    pred = session.train(arms(["matchmap"], {"train.modality_dropout": 0.5}))   # named models
    model, payload = session.load_model(session.spec("matchmap", session.folds[0], 42))

A session is what a notebook works with; the study runner (`mmlib.runner.study`, `mmlib study`) executes the
notebooks, each of which opens its own session on the same run folder. Every run's model name says what
differs from the profile (e.g. `matchmap[train.similarity=SISA]`), and every table carries fold and seed,
so metrics.per_fold / summarize / stats.paired apply as is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mmlib.config import StudyConfig, load_config, paths
from mmlib.data.corpus import class_names, labelled, require_labelled
from mmlib.data.features import FeatureSet, extract_features
from mmlib.data.loaders import prepare_corpus
from mmlib.data.splits import Fold, make_folds, select_folds
from mmlib.training import checkpoints, grid
from mmlib.training.checkpoints import Ledger, ModelSpec

Arm = tuple[list[str], "dict[str, Any] | None", "str | None"]  # (heads, config overrides, name); name None: model_name
NOT_IN_NAMES = ("seeds", "folds")  # which runs replicate a model, not what the model is


def model_name(head: str, overrides: dict[str, Any] | None) -> str:
    """`head`, with the overrides that make it a different model: `matchmap[train.rank_weight=0.0]`."""
    shown = {k: v for k, v in (overrides or {}).items() if k not in NOT_IN_NAMES}
    if not shown:
        return head
    return f"{head}[{','.join(f'{k}={v}' for k, v in shown.items())}]"


def arms(heads: list[str], overrides: dict[str, Any] | None = None) -> dict[str, tuple[str, dict | None]]:
    """Named models, as Session.train and the reliability experiments take them: model_name -> (head, overrides)."""
    return {model_name(h, overrides): (h, overrides) for h in heads}


@dataclass
class Session:
    cfg: StudyConfig
    corpus: pd.DataFrame  # every utterance, labelled or not
    table: pd.DataFrame  # labelled utterances with features: what folds, models and scores are made of
    recordings: pd.DataFrame  # every utterance with features, labelled or not: what speaker statistics read
    feats: FeatureSet  # features of every recording
    folds: list[Fold]  # the folds to run
    classes: list[str]
    results_dir: Path
    ckpt_dir: Path
    cache_dir: Path
    progress: bool = True
    retrain: bool = False
    used: dict[str, Path] = field(default_factory=dict)  # spec key -> the checkpoint this session used

    @property
    def figures(self) -> Path:
        return self.results_dir / "figures"

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.results_dir)

    def save(self, df: pd.DataFrame, name: str) -> Path:
        """Write a table under results_dir (CSV), creating folders as needed."""
        path = self.results_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)
        return path

    def spec(self, head: str, fold: Fold, seed: int, overrides: dict[str, Any] | None = None) -> ModelSpec:
        return ModelSpec(self.cfg.with_overrides(overrides), head, fold, seed)

    # ---------------------------------------------------------------- training (one grid per call)

    def run_models(self, heads: list[str], overrides: dict[str, Any] | None = None, name: str | None = None,
                   retrain: bool | None = None) -> pd.DataFrame:
        """Train (or reuse) each head on every fold and seed, as one grid; the concatenated test predictions.
        Fusion heads start from the same fold's and seed's unimodal checkpoints (trained here if missing)."""
        return self.run_grid([(heads, overrides, name)], retrain)

    def run_grid(self, arms: list[Arm], retrain: bool | None = None) -> pd.DataFrame:
        """Several run_models calls, (heads, overrides, name) each, submitted as one grid of trainings."""
        retrain = self.retrain if retrain is None else retrain
        jobs, names = [], []
        for heads, overrides, name in arms:
            cfg = self.cfg.with_overrides(overrides)
            for head in heads:
                for fold in self.folds:
                    for seed in cfg.seeds:
                        jobs.append(grid.Job(ModelSpec(cfg, head, fold, seed), retrain))
                        names.append(name or model_name(head, overrides))
        ledger = self.ledger
        # with retrain, what this run already trained (e.g. 02's unimodal models, seen from 03) is not trained twice
        keep = ledger.trained() if retrain else frozenset()

        def record(o: grid.Outcome) -> None:
            self.used[o.job.key] = Path(o.checkpoint)
            ledger.record(o.job.spec, o.checkpoint, o.digest, o.trained, o.seconds, o.best_epoch, o.init)

        outcomes = grid.run(jobs, self.recordings, self.feats, self.ckpt_dir, self.cfg.run, self.cfg.train.threads,
                            self.progress, keep=keep, on_outcome=record)
        # val_ua: the run's validation UA at its kept epoch, what a choice between models may read (never test)
        return pd.concat([o.predictions.assign(model=label, val_ua=o.val_ua) for o, label in zip(outcomes, names)],
                         ignore_index=True)

    def train(self, models: dict[str, tuple[str, dict | None]], retrain: bool | None = None) -> pd.DataFrame:
        """Train (or reuse) named models (name -> (head, overrides), e.g. `arms(...)`), as one grid."""
        return self.run_grid([([head], overrides, name) for name, (head, overrides) in models.items()], retrain)

    def run_ablation(self, settings: dict[str, list], head: str = "matchmap", main: str | None = None,
                     seeds: list[int] | None = None) -> pd.DataFrame:
        """`head` once per setting of each config key in `settings` (one key varied at a time), as one grid.

        A setting equal to the session's own config is the main model: it appears once, named `main` (default:
        `head`) with column `setting` listing every key=value it stands for, and is reused, not retrained.
        `seeds`: train the ablation on these seeds only (default: the session's).
        """
        varied, main_settings = [], []
        for key, values in settings.items():
            for v in values:
                if self.cfg.with_overrides({key: v}) == self.cfg:
                    main_settings.append(f"{key}={v}")
                else:
                    varied.append({key: v})
        only = {"seeds": tuple(seeds)} if seeds is not None else {}
        arms = ([([head], {**o, **only}, model_name(head, o)) for o in varied]
                + ([([head], only or None, main or head)] if main_settings else []))
        pred = self.run_grid(arms)
        pred["setting"] = pred["model"].map(lambda m: m[m.index("[") + 1:-1] if "[" in m else ", ".join(main_settings))
        return pred

    # ---------------------------------------------------------------- trained models

    def checkpoint(self, spec: ModelSpec) -> Path:
        """The checkpoint of `spec` on this session's corpus: the one this session used, else the one its
        key and training data name (trained by an earlier notebook of the run, or an earlier run).
        FileNotFoundError when the model has not been trained."""
        found = self.used.get(spec.key)
        if found is None:
            found = self.used[spec.key] = checkpoints.locate(spec, self.recordings, self.feats, self.ckpt_dir)
        return found

    def load_model(self, spec: ModelSpec):
        """(model in eval mode, checkpoint payload) of a trained spec."""
        return checkpoints.load(self.checkpoint(spec))

    def load_predictions(self, *names: str) -> pd.DataFrame:
        """Prediction tables written by earlier notebooks (results_dir/predictions/<name>.csv)."""
        frames = []
        for name in names:
            path = self.results_dir / "predictions" / f"{name}.csv"
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: run the notebook that writes it first (02 writes "
                                        "unimodal, 03 writes fusion)")
            frames.append(pd.read_csv(path, keep_default_na=False, na_values=[""]))
        return pd.concat(frames, ignore_index=True)


def open_session(profile: str = "default", data_root: str | None = None, data_dir: str = "data",
                 results_dir: str = "results/interactive", overrides: dict[str, Any] | None = None,
                 folds: list[int] | None = None, seeds: list[int] | None = None, retrain: bool = False,
                 progress: bool = True) -> Session:
    """Build the config from primitives, load (or generate) the corpus, extract features, make folds."""
    data_root, data_dir, results_dir = paths.study_paths(data_root, data_dir, results_dir)  # from the repo root
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
    require_labelled(corpus, cfg.data)
    cache = Path(data_dir) / "cache"
    # every recording, labelled or not: a speaker's normalization statistics must not depend on the labels
    feats = extract_features(corpus, cfg, cache_dir=cache, progress=progress)
    recordings = corpus[~corpus["id"].isin(feats.skipped)].reset_index(drop=True)  # on_error="skip": said so
    table = labelled(recordings)
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    if feats.skipped:
        (out / "skipped.json").write_text(json.dumps(feats.skipped, indent=1, sort_keys=True))
    return Session(cfg, corpus, table, recordings, feats, select_folds(make_folds(table, cfg.data.protocol), cfg.folds),
                   class_names(cfg.data.label_set), out, Path(data_dir) / "checkpoints", cache, progress, retrain)


WHERE = ("data_dir", "root")  # where the corpus lies, spelt relative or absolute: not what the run is


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def check_run_config(cfg: StudyConfig, path: str | None = None) -> None:
    """Inside a study run (mmlib study sets MMLIB_RUN_CONFIG): the config this notebook built must be the run's
    one config (`<run>/config.json`), else a ValueError names the keys that differ. Outside a run: nothing."""
    path = path or os.environ.get("MMLIB_RUN_CONFIG")
    if not path:
        return
    run = _flat(StudyConfig.from_dict(json.loads(Path(path).read_text())).to_dict())
    mine = _flat(cfg.to_dict())
    diff = sorted(k for k in mine if mine[k] != run.get(k) and k.removeprefix("data.") not in WHERE)
    if diff:
        raise ValueError(f"this notebook built another config than its study run's ({path}): {', '.join(diff)} "
                         "differ; set them with `mmlib study -o`, not in a notebook")


def setup(profile: str, data_root: str | None, data_dir: str, results_dir: str, overrides: dict | None = None,
          retrain: bool = False, progress: bool = True) -> Session:
    """Every notebook's setup cell: say where the corpus, data and results are, open the session, and say
    what it holds. Relative paths are taken from the repository root."""
    print(paths.describe_study(data_root, data_dir, results_dir))
    session = open_session(profile, data_root, data_dir, results_dir, overrides, retrain=retrain, progress=progress)
    check_run_config(session.cfg)
    print(f"{session.cfg.data.dataset}: {len(session.table)} labelled utterances, {len(session.folds)} fold(s), "
          f"seeds {session.cfg.seeds}")
    return session
