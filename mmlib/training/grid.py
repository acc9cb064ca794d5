"""The grid of trainings: every (config, head, fold, seed) is one task, run on Ray or in sequence.

    from mmlib.training import grid
    jobs = [grid.Job(ModelSpec(cfg, "concat", fold, seed)) for fold in folds for seed in cfg.seeds]
    done = grid.run(jobs, table, feats, "data/checkpoints", cfg.run)   # one Outcome per job, same order
    done[0].predictions, done[0].checkpoint, done[0].trained

A job is a ModelSpec to train or reuse (mmlib.training.checkpoints). A fusion job starts from its fold's and
seed's unimodal checkpoints (train.init_from_unimodal, the authors' recipe): the grid adds those unimodal trainings as dependencies, once however many fusion
jobs share them, and a fusion task starts when its two dependencies have finished. The whole grid of
a call is submitted at once and runs as wide as the machine allows.

Executors (config section `run`):
- `ray` (default): a local Ray with `run.workers` one-training workers (0 = cores // train.threads,
  so workers x threads never exceed the cores), or an existing cluster with `run.ray_address`
  ("auto", "host:port"; `mmlib study --ray-address auto`). Each task asks for train.threads CPUs and
  run.gpus_per_training GPUs. Checkpoints are written to `ckpt_dir`, which on a cluster must be a
  path every node can read (shared filesystem). Dashboard and usage statistics are off.
- `sequential`: the same tasks, in this process, in dependency order (for debugging).
Each training seeds everything from its own seed and runs on train.threads torch threads under both
executors, so on a CPU both give byte-identical predictions.

Progress: a tqdm bar (trainings done / total, ETA), and when MMLIB_PROGRESS_FILE is set (by
`mmlib study`), one JSON line per finished training appended to that file, which the study's console
shows while notebooks run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from mmlib.config import RunConfig
from mmlib.data.features import FeatureSet
from mmlib.models.fusion import UNIMODAL
from mmlib.training.checkpoints import ModelSpec

EXECUTORS = ("ray", "sequential")


@dataclass(frozen=True)
class Job:
    spec: ModelSpec  # the model to train (or reuse)
    retrain: bool = False

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass
class Outcome:
    job: Job
    predictions: pd.DataFrame  # the fold's test utterances (inference.predict)
    checkpoint: str
    trained: bool  # False: an existing checkpoint was reused
    digest: str  # sha256 (16 hex) of the checkpoint's weights
    seconds: float
    best_epoch: int | None = None
    init: dict[str, str] = field(default_factory=dict)
    val_ua: float | None = None  # validation UA at the kept epoch


def dependencies(job: Job) -> list[Job]:
    """The unimodal trainings a fusion job starts from (none for unimodal jobs or without init_from_unimodal)."""
    return [Job(s, job.retrain) for s in job.spec.starts_from]


def plan(jobs: list[Job]) -> list[Job]:
    """Every job to run once, dependencies first (unimodal, then fusion), duplicates (same key) removed."""
    seen: dict[str, Job] = {}
    for job in jobs:
        for dep in dependencies(job):
            seen.setdefault(dep.key, dep)
    for job in jobs:
        seen.setdefault(job.key, job)
    return sorted(seen.values(), key=lambda j: j.spec.head not in UNIMODAL)  # stable: unimodal first


def execute(job: Job, table: pd.DataFrame, feats: FeatureSet, ckpt_dir: str, keep: frozenset[str] = frozenset(),
            *inits: Outcome) -> Outcome:
    """One training (or checkpoint reuse) and its test predictions; `inits` are the outcomes it starts from,
    `keep` the checkpoints this run already trained (reused even when retrain is asked)."""
    from mmlib.training import (
        fit as training,  # Lightning: loaded where a training runs, not by every importer of the grid
    )
    from mmlib.training.checkpoints import weights_digest

    t0 = time.time()
    init = {o.job.spec.head: Path(o.checkpoint) for o in inits}
    fitted = training.fit(job.spec, table, feats, ckpt_dir, init or None, job.retrain, keep, progress=False)
    return Outcome(job, fitted.predict(), str(fitted.checkpoint), fitted.trained, weights_digest(fitted.checkpoint),
                   round(time.time() - t0, 2), fitted.best_epoch, {m: str(p) for m, p in init.items()}, fitted.val_ua)


def run(jobs: list[Job], table: pd.DataFrame, feats: FeatureSet, ckpt_dir: str | Path, run_cfg: RunConfig,
        threads: int = 1, progress: bool = True, desc: str = "trainings", keep: frozenset[str] = frozenset(),
        on_outcome=None) -> list[Outcome]:
    """Run `jobs` (and the unimodal trainings they start from); one Outcome per job, in order.
    `keep`: checkpoint names already trained in this run (never retrained twice); `on_outcome(outcome)` is
    called for every finished task, dependencies included (e.g. to record checkpoints)."""
    if run_cfg.executor not in EXECUTORS:
        raise ValueError(f"run.executor must be one of {EXECUTORS}, got {run_cfg.executor!r}")
    todo = plan(jobs)
    ckpt_dir = str(Path(ckpt_dir).resolve())
    Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
    bar = _Progress(len(todo), desc, progress, on_outcome)
    if run_cfg.executor == "sequential":
        done: dict[str, Outcome] = {}
        for job in todo:
            done[job.key] = execute(job, table, feats, ckpt_dir, keep, *(done[d.key] for d in dependencies(job)))
            bar.update(done[job.key])
    else:
        done = _run_ray(todo, table, feats, ckpt_dir, keep, run_cfg, threads, bar)
    bar.close()
    return [done[j.key] for j in jobs]


def _run_ray(todo: list[Job], table, feats, ckpt_dir: str, keep: frozenset[str], run_cfg: RunConfig, threads: int,
             bar) -> dict:
    ray = connect(run_cfg, threads)
    data = ray.put((table, feats))
    task = ray.remote(_ray_task).options(num_cpus=threads, num_gpus=run_cfg.gpus_per_training, max_retries=0)
    refs: dict[str, object] = {}
    for job in todo:  # dependencies first, so their refs exist
        refs[job.key] = task.remote(job, data, ckpt_dir, keep, *(refs[d.key] for d in dependencies(job)))
    key_of = {ref: k for k, ref in refs.items()}
    pending, done = list(refs.values()), {}
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        out = ray.get(ready[0])  # a failed training raises here, naming the task
        done[key_of[ready[0]]] = out
        bar.update(out)
    return done


def _ray_task(job: Job, data, ckpt_dir: str, keep: frozenset[str], *inits: Outcome) -> Outcome:
    table, feats = data
    return execute(job, table, feats, ckpt_dir, keep, *inits)


def connect(run_cfg: RunConfig, threads: int = 1):
    """The Ray of this process: joins run.ray_address (or MMLIB_RAY_ADDRESS, set by `mmlib study`), else
    starts a local one with workers x threads CPUs. No dashboard, no usage statistics, no network."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return ray
    address = run_cfg.ray_address or os.environ.get("MMLIB_RAY_ADDRESS")
    quiet = dict(include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="error")
    if address:
        ray.init(address=address, **quiet)
        return ray
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            ray.init(num_cpus=local_workers(run_cfg, threads) * threads, **quiet)
            return ray
        except Exception as err:  # Ray's raylet gives up when its agents start slowly on a loaded machine
            ray.shutdown()
            if attempt == START_ATTEMPTS:
                raise RuntimeError(f"a local Ray did not start ({attempt} attempts; last: {err}); the machine may be "
                                   "overloaded. Run with -o run.executor=sequential (same results) or retry") from err
            print(f"[grid] local Ray did not start ({err.__class__.__name__}); retrying ({attempt}/{START_ATTEMPTS})",
                  flush=True)
    return ray


START_ATTEMPTS = 3


def local_workers(run_cfg: RunConfig, threads: int = 1) -> int:
    """Parallel trainings of a local Ray: run.workers, or as many as the cores allow at `threads` each."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return run_cfg.workers or max(1, cores // max(1, threads))


class _Progress:
    """tqdm bar in the notebook + JSON lines for the study console (MMLIB_PROGRESS_FILE)."""

    def __init__(self, total: int, desc: str, show: bool, on_outcome=None):
        self.total, self.desc, self.n, self.t0, self.on_outcome = total, desc, 0, time.time(), on_outcome
        self.n_trained = 0  # the ETA comes from trainings only: a reused checkpoint finishes in a blink
        self.training_s = 0.0  # seconds inside trainings that ran (reused checkpoints cost none)
        self.bar = tqdm(total=total, desc=desc, unit="training", disable=not show)
        self.path = os.environ.get("MMLIB_PROGRESS_FILE")

    def update(self, out: Outcome) -> None:
        if self.on_outcome is not None:
            self.on_outcome(out)
        self.n += 1
        self.n_trained += bool(out.trained)
        self.training_s += out.seconds if out.trained else 0.0
        self.bar.update(1)
        self.bar.set_postfix_str(f"{out.job.spec.label()} {'trained' if out.trained else 'reused'}", refresh=False)
        if self.path:
            elapsed = time.time() - self.t0
            # tasks left are mostly trainings (reused checkpoints come first: they are the dependencies)
            eta = elapsed / self.n_trained * (self.total - self.n) if self.n_trained else None
            line = {"desc": self.desc, "done": self.n, "total": self.total, "elapsed": round(elapsed, 1),
                    "eta": None if eta is None else round(eta, 1), "last": out.job.spec.label(), "trained": out.trained}
            with open(self.path, "a") as f:
                f.write(json.dumps(line) + "\n")

    def close(self) -> None:
        """Close the bar; with MMLIB_PROGRESS_FILE, one last line on the whole grid (its wall time against the
        seconds its trainings took: where a study's idle cores sit)."""
        self.bar.close()
        if self.path:
            line = {"desc": self.desc, "grid_done": True, "total": self.total, "trained": self.n_trained,
                    "wall": round(time.time() - self.t0, 1), "training_s": round(self.training_s, 1)}
            with open(self.path, "a") as f:
                f.write(json.dumps(line) + "\n")
