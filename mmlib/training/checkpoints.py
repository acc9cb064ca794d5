"""A trained model's one owner: what it is (a ModelSpec and its key), where its checkpoint lives, how to
load it, and the run's ledger of the checkpoints it used.

    from mmlib.training.checkpoints import ModelSpec, locate, load
    spec = ModelSpec(cfg, "matchmap", fold, seed=42)
    spec.key                        # the model's identity (12 hex): the config that shapes it, head, fold, seed
    spec.starts_from                # the unimodal specs a fusion model is initialised from (train.init_from_unimodal)
    path = locate(spec, table, feats, "data/checkpoints")   # its checkpoint (FileNotFoundError: not trained yet)
    model, payload = load(path)     # the model in eval mode, and what the checkpoint recorded

Two kinds of identity, two words: a *key* names a model before it exists (spec.key: what was asked for);
a *digest* is a content hash of something that exists (the training data, the source code, weights).
A checkpoint's file name is `<head>-fold<NN>-seed<S>-<hash>.pt`, the hash covering the spec's key, the
digest of the training data (labels, speakers and feature arrays of the fold's training and validation
utterances), the digest of the source that shapes a model (every mmlib module that `mmlib.training.fit`
imports, directly or not, found from the imports themselves: a new module on that path changes every
key), and the weights of the checkpoints it starts from. So a rerun reuses a checkpoint only when all of
these are unchanged, and a corpus whose audio is byte-identical (a sweep corpus with a weakened face)
reuses the audio models instead of retraining them.

The ledger (`results/<run>/checkpoints.jsonl`, one JSON line per model a notebook used) is what the
study's manifest reports: which checkpoints the run trained, which it reused, their weight digests.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mmlib.config import StudyConfig, TrainConfig, provenance, stable_hash
from mmlib.data.corpus import class_names
from mmlib.data.splits import Fold
from mmlib.models.factory import make_model
from mmlib.models.fusion import HEADS, UNIMODAL, modalities_of

# not part of a model's key: where files live and how the grid runs (and which folds / seeds a study runs);
# the corpus generator's settings (what a model learns from is in the data digest, by content)
_NOT_MODEL = ("profile", "folds", "seeds", "run", "synth")
_NOT_DATA = ("data_dir", "root", "on_error")  # where the corpus is, not what it holds


def canonical_config(cfg: StudyConfig, head: str) -> StudyConfig:
    """`cfg` with the training settings that cannot affect `head` reset, so that one model has one key: the
    ranking settings of a head trained without the ranking term, the fusion-only settings of a unimodal head
    (train.blank too: a fusion arm with a constant face starts from the ordinary unimodal models), the video
    normalization of the audio model.
    (An ablation of the ranking loss then reuses, not retrains, the unimodal models it starts from.)"""
    t, base = cfg.train, TrainConfig()
    changes: dict = {}
    if head in t.rank_heads:
        changes["rank_heads"] = (head,)
    else:
        changes.update(rank_heads=(), rank_weight=0.0, similarity=base.similarity, rank_loss=base.rank_loss,
                       margin=base.margin, impostor_other_label=base.impostor_other_label)
    model, data = cfg.model, cfg.data
    if head in UNIMODAL:
        changes.update(aux_weight=0.0, modality_dropout=0.0, init_from_unimodal=base.init_from_unimodal,
                       blank=base.blank, balance=base.balance, balance_alpha=base.balance_alpha, freeze=base.freeze)
        if not t.continue_unimodal:  # the fine-tuning recipe shapes a unimodal model only when it continues
            changes.update(finetune_lr=base.finetune_lr, finetune_patience=base.finetune_patience)
    else:
        changes.update(continue_unimodal=base.continue_unimodal)
        model = replace(model, unimodal_path=False)
        if head == "audio":
            data = replace(data, video_scale="speaker")
    return replace(cfg, train=replace(t, **changes), model=model, data=data)


@dataclass(frozen=True)
class ModelSpec:
    """One model of the study: a config (overrides applied), a head, a fold and a training seed."""

    cfg: StudyConfig
    head: str
    fold: Fold
    seed: int

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose one of {HEADS}")

    @functools.cached_property
    def config(self) -> StudyConfig:
        """The config that trains this model: the seed set, the settings that cannot affect the head reset."""
        return canonical_config(replace(self.cfg, train=replace(self.cfg.train, seed=self.seed)), self.head)

    @property
    def modalities(self) -> tuple[str, ...]:
        return modalities_of(self.head)

    @property
    def classes(self) -> list[str]:
        return class_names(self.cfg.data.label_set)

    @property
    def starts_from(self) -> list["ModelSpec"]:
        """The unimodal models a fusion model's encoders start from (none without train.init_from_unimodal); for a
        unimodal head with train.continue_unimodal, its own ordinary model (none otherwise)."""
        if self.head in UNIMODAL:
            if not self.config.train.continue_unimodal:
                return []
            return [ModelSpec(replace(self.cfg, train=replace(self.cfg.train, continue_unimodal=False)), self.head,
                              self.fold, self.seed)]
        if not self.config.train.init_from_unimodal:
            return []
        return [ModelSpec(self.cfg, m, self.fold, self.seed) for m in UNIMODAL]

    @functools.cached_property
    def key(self) -> str:
        """The model's identity: everything in the config that shapes it (for a unimodal head, not the feature
        settings of the modality it never sees), the head, the fold (number and test utterances), the seed."""
        unseen = tuple(m for m in UNIMODAL if m not in self.modalities)
        d = {k: v for k, v in self.config.to_dict().items() if k not in (*_NOT_MODEL, *unseen)}
        d["data"] = {k: v for k, v in d["data"].items() if k not in _NOT_DATA}
        return stable_hash({"cfg": d, "head": self.head, "fold": self.fold.number, "test": self.fold.test,
                            "seed": self.seed})

    def label(self) -> str:
        return f"{self.head} fold {self.fold.number} seed {self.seed}"


# ------------------------------------------------------------------ digests: what a checkpoint was made from

@functools.lru_cache(maxsize=None)
def code_digest() -> str:
    """Digest of the source that shapes a trained model: every mmlib module `mmlib.training.fit` imports, directly
    or through others (models, losses, matchmap, inputs, features, config, ...), read from the imports;
    their code only (provenance.code_text: a docstring or comment edit keeps every checkpoint)."""
    modules = sorted(provenance.import_closure("mmlib.training.fit"))
    return stable_hash([(m, provenance.code_text(provenance.module_file(m)).decode()) for m in modules])


def training_data_digest(spec: ModelSpec, table: pd.DataFrame, feats) -> str:
    """Digest of what a model learns from: the labels, speakers and feature arrays (of the modalities its head
    reads) of every recording of its fold's training and validation speakers (the labelled ones it trains on,
    and the unlabelled ones their speaker statistics read). A changed corpus, feature code or library version
    can never reuse an old checkpoint."""
    speakers = set(spec.fold.train_speakers) | set(spec.fold.val_speakers)
    rows = table[table["speaker"].isin(speakers)].set_index("id").sort_index()
    ids = list(rows.index)
    h = hashlib.blake2b(digest_size=8)
    h.update(rows[["label", "speaker"]].to_csv().encode())
    for uid in ids:
        for m in spec.modalities:
            h.update(np.ascontiguousarray(getattr(feats, m)[uid]).tobytes())
    return h.hexdigest()


def weights_digest(path: str | Path) -> str:
    """sha256 (16 hex) of a checkpoint's weights only (not where it was made or how it ran)."""
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode() + b"\0" + state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def path(spec: ModelSpec, ckpt_dir: str | Path, data_digest: str, init: dict[str, Path] | None = None) -> Path:
    """Where the model of `spec` trained on data of `data_digest`, starting from the checkpoints `init`
    (modality -> path), lives under ckpt_dir."""
    name = stable_hash({"model": spec.key, "code": code_digest(), "data": data_digest,
                        "init": {m: weights_digest(p) for m, p in sorted((init or {}).items())}})
    return Path(ckpt_dir) / f"{spec.head}-fold{spec.fold.number:02d}-seed{spec.seed}-{name}.pt"


def locate(spec: ModelSpec, table: pd.DataFrame, feats, ckpt_dir: str | Path, must_exist: bool = True) -> Path:
    """The checkpoint of `spec` for this corpus (table, features), its starting checkpoints located first.
    FileNotFoundError, naming the model, when it has not been trained (must_exist=False: the path anyway)."""
    init = {s.head: locate(s, table, feats, ckpt_dir) for s in spec.starts_from}
    found = path(spec, ckpt_dir, training_data_digest(spec, table, feats), init)
    if must_exist and not found.exists():
        raise FileNotFoundError(f"no checkpoint of {spec.label()} (config {spec.key}) in {ckpt_dir}: train it first "
                                "(Session.run_models reuses the checkpoints that exist)")
    return found


# ------------------------------------------------------------------ the model a checkpoint holds

def save(target: Path, payload: dict) -> None:
    """Write a checkpoint under a temporary name and rename it into place: a half-written file never takes
    the final name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, target)


def load(source: str | Path) -> tuple[torch.nn.Module, dict]:
    """The model stored in a checkpoint (built from the config it records), in eval mode, and the payload."""
    payload = torch.load(source, map_location="cpu", weights_only=False)
    model = make_model(StudyConfig.from_dict(payload["config"]), payload["head"])
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload


# ------------------------------------------------------------------ the run's ledger

@dataclass
class Ledger:
    """`<results_dir>/checkpoints.jsonl`: one line per model a notebook of the run used (trained or reused)."""

    results_dir: Path
    name: str = "checkpoints.jsonl"

    @property
    def file(self) -> Path:
        return Path(self.results_dir) / self.name

    def record(self, spec: ModelSpec, checkpoint: str | Path, digest: str, trained: bool, seconds: float,
               best_epoch: int | None, init: dict[str, Any]) -> None:
        row = {"checkpoint": Path(checkpoint).name, "weights_sha256": digest, "trained": trained,
               "seconds": seconds, "head": spec.head, "fold": spec.fold.number, "seed": spec.seed, "key": spec.key,
               "best_epoch": best_epoch, "init": {m: Path(p).name for m, p in init.items()}}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file, "a") as f:
            f.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict]:
        if not self.file.exists():
            return []
        return [json.loads(line) for line in self.file.read_text().splitlines() if line.strip()]

    def trained(self) -> frozenset[str]:
        """File names of the checkpoints this run trained (a rerun with retrain does not train them twice)."""
        return frozenset(r["checkpoint"] for r in self.rows() if r["trained"])

    def summary(self) -> list[dict]:
        """Every checkpoint the run used, once, with its weight digest and whether this run trained it."""
        out: dict[str, dict] = {}
        for r in self.rows():
            seen = out.setdefault(r["checkpoint"], {k: r[k] for k in ("checkpoint", "weights_sha256", "head", "fold",
                                                                       "seed", "best_epoch", "init")} | {"trained": False})
            seen["trained"] = seen["trained"] or r["trained"]
            if r["trained"]:
                seen["weights_sha256"], seen["seconds"], seen["best_epoch"] = r["weights_sha256"], r["seconds"], r["best_epoch"]
        return sorted(out.values(), key=lambda r: r["checkpoint"])


# ------------------------------------------------------------------ learning curves and convergence

# the corpus knobs a training's history is recorded with (the sweep's levels)
SYNTH_LEVELS = ("face_reliability", "voice_reliability", "face_expressiveness", "voice_expressiveness")


def learning_curves(ledger: Ledger, ckpt_dir: str | Path) -> pd.DataFrame:
    """Per epoch of every model the run used (the ledger's checkpoints, trained in this run or reused):
    checkpoint, head, fold, seed, epoch, the logged losses (train_total, val_ce, val_ua, ...) and `kept` (the
    epoch the checkpoint holds). Read from the histories the checkpoints record, so a rerun that reuses
    every checkpoint reports the same curves."""
    frames = []
    for r in ledger.summary():
        if not (Path(ckpt_dir) / r["checkpoint"]).exists():
            continue
        payload = torch.load(Path(ckpt_dir) / r["checkpoint"], map_location="cpu", weights_only=False)
        hist = pd.DataFrame(payload.get("history") or {})
        if hist.empty:
            continue
        synth = payload["config"].get("synth", {})
        frames.append(hist.assign(checkpoint=r["checkpoint"], head=r["head"], fold=r["fold"], seed=r["seed"],
                                  kept=hist["epoch"] == payload.get("best_epoch"),
                                  max_epochs=payload["config"]["train"]["max_epochs"],
                                  balance=payload["config"]["train"].get("balance", "none"),
                                  **{k: synth.get(k) for k in SYNTH_LEVELS}))
    cols = ["checkpoint", "head", "fold", "seed", "epoch", "kept", "max_epochs", "balance", *SYNTH_LEVELS]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    return out[cols + [c for c in out.columns if c not in cols]]


def convergence(curves: pd.DataFrame) -> pd.DataFrame:
    """Per head: trainings, the share whose kept epoch is the first (the model barely moved from where it
    started) or the last one run (still improving when training stopped), the median kept epoch and the
    median number of epochs run. High shares mean the recipe does not let training converge."""
    rows = []
    for head, g in curves.groupby("head", sort=False):
        per = g.groupby("checkpoint").agg(last=("epoch", "max"), max_epochs=("max_epochs", "first"))
        per["kept"] = g[g["kept"]].groupby("checkpoint")["epoch"].first().reindex(per.index).fillna(-1).astype(int)
        rows.append({"head": head, "trainings": len(per), "kept_first": float((per["kept"] == 0).mean()),
                     "kept_last": float((per["kept"] == per["last"]).mean()),
                     "hit_max_epochs": float((per["last"] + 1 >= per["max_epochs"]).mean()),
                     "median_kept_epoch": float(per["kept"].median()), "median_epochs_run": float((per["last"] + 1).median())})
    return pd.DataFrame(rows)
