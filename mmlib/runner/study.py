"""The study runner: execute the notebooks (NOTEBOOKS) in order with papermill into results/<run>/ and write
its manifest.

    mmlib study --profile default                   # == make study
    mmlib study --profile quick --run quick-check -o train.max_epochs=1
    mmlib study -p secondary_seeds "[42, 43, 44]"   # a notebook parameter, in every notebook that declares it
    python -c "from mmlib.runner.study import run_study; from mmlib.config import load_config; run_study(load_config('quick'))"

The run is built in `results/.tmp-<run>-<pid>/` and renamed to `results/<run>/` only when every
notebook has finished, so a failed run never replaces the previous complete one; its partial
output is kept in `results/<run>.failed/` and the error names the notebook and cell. A run that was
killed leaves its `.tmp-<run>-<pid>/` behind: the next run removes those whose process is gone (and
lists them in its manifest under "removed_stale"), and reports those whose process still runs.
The manifest's "face_crop" section says, per utterance, how many frames fell back to the fixed box; its
"machine" section names the CPU model and the instruction set torch's CPU kernels used (`cpu_identity`).

Two kinds of settings reach the notebooks: config overrides (`-o key=value`, the typed StudyConfig every
notebook builds) and notebook parameters (`-p name value`, what an experiment varies: the ablation grid,
secondary seeds, sweep levels and heads, the degradation levels; `notebook_parameters()` lists them). A
parameter no notebook declares is an error, and the manifest records every parameter each notebook ran with.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mmlib.config import StudyConfig, paths, provenance
from mmlib.training.checkpoints import Ledger

NOTEBOOKS = ("01_data_exploration", "02_unimodal_baselines", "03_matchmap_fusion", "04_confusion_analysis",
             "05_when_fusion_helps")
PACKAGES = ("torch", "torchvision", "lightning", "numpy", "pandas", "scikit-learn", "scipy", "librosa",
            "soundfile", "av", "opencv-python-headless", "facenet-pytorch", "matplotlib", "seaborn", "papermill")


def select_notebooks(names: list[str] | None) -> tuple[str, ...]:
    """The notebooks of NOTEBOOKS that `names` name (each a prefix of one notebook's name, e.g. "01" or
    "03_matchmap"), in the study's order; all of them for None or an empty list. A name that matches none or
    several is an error."""
    if not names:
        return NOTEBOOKS
    picked = set()
    for name in names:
        hits = [nb for nb in NOTEBOOKS if nb.startswith(name)]
        if len(hits) != 1:
            raise ValueError(f"--notebooks {name!r} matches {'no notebook' if not hits else hits}; "
                             f"the study's notebooks: {', '.join(NOTEBOOKS)}")
        picked.add(hits[0])
    return tuple(nb for nb in NOTEBOOKS if nb in picked)


RUN_CONFIG = "MMLIB_RUN_CONFIG"  # where a study run's one config lies while its notebooks run


class StudyError(RuntimeError):
    """A notebook failed; the message names it and the failing cell."""


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def git_state(repo: Path) -> dict[str, Any]:
    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    # dirty: uncommitted changes to what made the run (provenance.study_source_hash's files), not to docs or benchmarks
    return {"commit": run("rev-parse", "HEAD"),
            "dirty": bool(run("status", "--porcelain", "--untracked-files=no", "--", *provenance.STUDY_SOURCES))}


def recipe_record(cfg: StudyConfig, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Where the run's training recipe comes from: its profile's RECIPES entry, and the recipe keys the command
    line overrode (then the recipe is no longer the recorded one, whatever the profile's provenance)."""
    from mmlib.config import RECIPE_KEYS, RECIPES

    recipe = RECIPES[cfg.profile]
    changed = sorted(k for k in (overrides or {}) if k in RECIPE_KEYS)
    return {"profile": cfg.profile, "settings": recipe.settings, "provenance": recipe.provenance,
            "validated": recipe.validated and not changed, "overridden": changed}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "not installed"
    return out


def cpu_identity(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, str | None]:
    """The machine's CPU for the manifest: {"cpu_model": /proc/cpuinfo's first "model name" (else
    platform.processor(), else None), "cpu_capability": the instruction set torch's CPU kernels use here
    (torch.backends.cpu.get_cpu_capability(), e.g. "AVX2" or "AVX512"; None without torch), "cpu_bf16": whether
    oneDNN runs bfloat16 natively here (AVX512-BF16 or AMX; without it bf16 autocast is emulated and slower than fp32;
    None when torch cannot say)}. Runs on different CPUs can differ in their last digits: this says which CPU made
    which numbers."""
    model = None
    try:
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() == "model name" and value.strip():
                model = value.strip()
                break
    except OSError:
        pass
    capability = bf16 = None
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        try:
            capability = str(torch.backends.cpu.get_cpu_capability())
        except (AttributeError, RuntimeError):
            pass
        try:
            bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            pass
    return {"cpu_model": model or platform.processor() or None, "cpu_capability": capability, "cpu_bf16": bf16}


class _ConsoleProgress(threading.Thread):
    """Shows on the console what the notebook kernels report (mmlib.training.grid writes MMLIB_PROGRESS_FILE)."""

    def __init__(self, path: Path, workers: int | None = None):
        super().__init__(daemon=True)
        self.path, self.notebook, self.stop, self.seen = path, "", threading.Event(), 0
        self.t0, self.workers, self.grids = time.time(), workers, []  # grids: one summary per finished grid

    def run(self) -> None:
        while not self.stop.wait(2.0):
            self.poll()

    def poll(self) -> None:
        if not self.path.exists():
            return
        lines = self.path.read_text().splitlines()
        for line in lines[self.seen:]:
            try:
                p = json.loads(line)
            except json.JSONDecodeError:  # a line being written
                break
            self.seen += 1
            print(f"[study {_clock(time.time() - self.t0)}] {self.notebook}: {self.words(p)}", flush=True)

    def words(self, p: dict) -> str:
        """One progress line's words; a grid's last line is also kept (self.grids) for the manifest."""
        if p.get("grid_done"):
            grid = {"notebook": self.notebook} | {k: p[k] for k in ("desc", "total", "trained", "wall", "training_s")}
            busy = p["training_s"] / (self.workers * p["wall"]) if self.workers and p["wall"] > 0 else None
            grid["core_use"] = None if busy is None else round(busy, 3)
            self.grids.append(grid)
            return (f"{p['desc']} done: {p['trained']} of {p['total']} trained, {p['training_s']:.0f} training-s in "
                    f"{p['wall']:.0f} s" + ("" if busy is None else f" ({100 * busy:.0f} % of {self.workers} cores)"))
        eta = "?" if p["eta"] is None else _clock(p["eta"])
        how = "trained" if p["trained"] else "reused"
        return f"{p['desc']} {p['done']}/{p['total']}, ETA {eta} ({p['last']} {how})"


def _clock(seconds: float) -> str:
    """Seconds as m:ss (or h:mm:ss past an hour)."""
    h, rest = divmod(int(seconds), 3600)
    return (f"{h}:" if h else "") + f"{rest // 60:0{2 if h else 1}d}:{rest % 60:02d}"


def scrub_notebook(path: Path, final: Path | None = None) -> None:
    """Rewrite an executed notebook so its text outputs and papermill metadata name the repository `<repo>`
    (or a path relative to it), not this machine's path; `final`: where the notebook will end up."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    pm_meta = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):  # papermill records where it read and wrote
        if pm_meta.get(key):
            pm_meta[key] = paths.portable(final if key == "output_path" and final else pm_meta[key])
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = paths.scrub(out["text"])
            for key in ("text/plain", "text/html", "text/markdown"):
                if key in out.get("data", {}):
                    out["data"][key] = paths.scrub(out["data"][key])
            if "traceback" in out:
                out["traceback"] = [paths.scrub(line) for line in out["traceback"]]
    nbformat.write(nb, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale(results: Path) -> tuple[list[str], list[str]]:
    """Remove `.tmp-<run>-<pid>` / `.old-<run>-<pid>` folders of processes that no longer exist.

    Returns (removed, still running): folder names. Folders of live processes are left alone (another
    run may be writing them); a printed line names both kinds.
    """
    removed, running = [], []
    if not results.is_dir():
        return removed, running
    for d in sorted(results.iterdir()):
        m = re.fullmatch(r"\.(tmp|old)-(.+)-(\d+)", d.name)
        if not (m and d.is_dir()):
            continue
        if int(m.group(3)) != os.getpid() and _alive(int(m.group(3))):
            running.append(d.name)
        else:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    if removed:
        print(f"[study] removed {len(removed)} folder(s) left by killed runs: {', '.join(removed)}", flush=True)
    if running:
        print(f"[study] note: {', '.join(running)} belong(s) to runs still in progress (left alone)", flush=True)
    return removed, running


def face_crop_report(cfg: StudyConfig, feats) -> dict[str, Any]:
    """The manifest's account of the face crop: totals and, per utterance, frames on the fixed box."""
    stats = feats.stats.get("video", {})
    return {
        "method": cfg.video.crop,
        "frames_on_box": int(stats.get("frames_on_box", 0)),
        "frames_undetected": int(stats.get("frames_undetected", 0)),
        "utterances_on_box": int(stats.get("utterances_on_box", 0)),
        "utterances": {uid: feats.fallbacks[uid] for uid in sorted(feats.fallbacks)},
    }


def _ipc_kernel_manager():
    """The kernel manager papermill starts each notebook's kernel with: IPC sockets (local files), not
    unencrypted TCP ports on localhost; ipykernel warns on every start over plain TCP."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IPCKernelManager


RUNNER_PARAMETERS = ("profile", "data_root", "data_dir", "results_dir", "overrides", "retrain")  # set by the runner


def notebook_parameters(notebooks: tuple[str, ...] = NOTEBOOKS) -> dict[str, dict[str, str]]:
    """Notebook -> {parameter: its default, as written in the notebook's parameters cell}, for the parameters
    `-p` may set (the runner sets profile, paths, overrides and retrain itself)."""
    import papermill as pm

    return {nb: {name: p["default"] for name, p in pm.inspect_notebook(str(notebooks_dir() / f"{nb}.ipynb")).items()
                 if name not in RUNNER_PARAMETERS} for nb in notebooks}


def check_parameters(parameters: dict[str, Any], notebooks: tuple[str, ...] = NOTEBOOKS) -> dict[str, dict]:
    """Notebook -> the subset of `parameters` it declares; a ValueError naming any parameter no notebook takes."""
    declared = notebook_parameters(notebooks)
    known = sorted({p for params in declared.values() for p in params})
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ValueError(f"no notebook of the study takes parameter(s) {unknown}; the notebooks' parameters: {known}")
    return {nb: {k: v for k, v in parameters.items() if k in params} for nb, params in declared.items()}


def run_study(cfg: StudyConfig, run_name: str | None = None, results_dir: str | Path = "results",
              overrides: dict[str, Any] | None = None, data_root: str | None = None, retrain: bool = False,
              progress: bool = True, notebooks: tuple[str, ...] = NOTEBOOKS,
              parameters: dict[str, Any] | None = None) -> Path:
    """Generate/extract what is missing, execute the notebooks, write manifest.json; the run folder.
    `parameters`: notebook parameters (name -> value), each passed to the notebooks that declare it.

    With run.executor=ray (the default), one Ray is started here (or joined at run.ray_address) and every
    notebook's trainings run on it; MMLIB_RAY_ADDRESS tells the kernels where it is.
    """
    import papermill as pm

    from mmlib.data.corpus import require_labelled
    from mmlib.data.features import extract_features
    from mmlib.data.loaders import prepare_corpus

    run_name = run_name or cfg.profile
    per_notebook = check_parameters(parameters or {}, notebooks)  # before anything runs: a typo fails at once
    results = paths.resolve(results_dir, "results_dir")  # relative: from the repository root, not the cwd
    final = results / run_name
    removed_stale, _ = clean_stale(results)
    tmp = results / f".tmp-{run_name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    data_dir = str(paths.resolve(cfg.data.data_dir, "data.data_dir"))
    data_root = data_root or cfg.data.root
    data_root = None if data_root is None else str(paths.resolve(data_root, "data_root", may_leave=True))
    cfg = cfg.with_overrides({"data.data_dir": data_dir, "data.root": data_root})
    print(f"[study] data in {paths.shown(data_dir)}, results in {paths.shown(final)}", flush=True)
    if str(cfg.train.precision).startswith("bf16") and cpu_identity().get("cpu_bf16") is False:
        print(f"[study] note: profile {cfg.profile} trains under bf16 autocast (train.precision "
              f"{cfg.train.precision}), which this CPU emulates: expect the trainings to be slower than in fp32; "
              "`-o train.precision=32-true` trains in fp32 (other numbers, other checkpoints)", flush=True)
    t_start = time.time()
    load = LoadSampler().start()

    # corpus and features first, with their own progress bars (the notebooks then hit the cache)
    print(f"[study] {run_name}: corpus and features (profile {cfg.profile})", flush=True)
    table = prepare_corpus(cfg, progress=progress)
    require_labelled(table, cfg.data)
    feats = extract_features(table, cfg, cache_dir=Path(data_dir) / "cache",  # every recording: speaker statistics
                             progress=progress)
    face_crop = face_crop_report(cfg, feats)
    feature_hashes = {m: _feature_hash(getattr(feats, m)) for m in ("audio", "video")}
    del feats  # the notebooks load their own copy; a real corpus's features are large

    params = {
        "profile": cfg.profile,
        "data_root": data_root,
        "data_dir": paths.portable(data_dir),  # notebooks take relative paths from the repository root
        "results_dir": paths.portable(tmp),
        "overrides": {k: list(v) if isinstance(v, tuple) else v  # papermill writes tuples as strings
                      for k, v in (overrides or {}).items() if k not in ("data.root", "data.data_dir")},
        "retrain": retrain,
    }
    started_ray = _start_ray(cfg)
    (tmp / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1, default=list) + "\n")
    os.environ[RUN_CONFIG] = str(tmp / "config.json")  # every notebook's setup checks it built this config
    watcher = _ConsoleProgress(tmp / ".progress.jsonl", training_workers(cfg))
    os.environ["MMLIB_PROGRESS_FILE"] = str(watcher.path)
    watcher.start()
    timings: dict[str, float] = {}
    try:
        for name in notebooks:
            src = notebooks_dir() / f"{name}.ipynb"
            if not src.exists():
                raise FileNotFoundError(f"notebook {src} is missing")
            print(f"[study] running {name}", flush=True)
            watcher.notebook = name
            t0 = time.time()
            try:
                pm.execute_notebook(str(src), str(tmp / f"{name}.ipynb"), parameters=params | per_notebook[name],
                                    cwd=str(notebooks_dir()),
                                    progress_bar=progress, kernel_name="python3", log_output=False,
                                    kernel_manager_class=_ipc_kernel_manager())
                scrub_notebook(tmp / f"{name}.ipynb", final / f"{name}.ipynb")
            except Exception as err:  # a failing cell, or a kernel that died (nbclient DeadKernelError)
                failed = results / f"{run_name}.failed"
                shutil.rmtree(failed, ignore_errors=True)
                tmp.rename(failed)
                where = (f"in cell [{err.exec_count}] ({err.ename}: {err.evalue})" if isinstance(err, pm.PapermillExecutionError)
                         else f"({type(err).__name__}: {err})")
                raise StudyError(f"notebook {name} failed {where}; partial output in {failed}, {final} left as it was") from None
            watcher.poll()
            timings[name] = round(time.time() - t0, 1)
    finally:
        watcher.stop.set()
        os.environ.pop("MMLIB_PROGRESS_FILE", None)
        os.environ.pop(RUN_CONFIG, None)
        if started_ray:
            import ray

            ray.shutdown()
            os.environ.pop("MMLIB_RAY_ADDRESS", None)
    (tmp / ".progress.jsonl").unlink(missing_ok=True)
    convergence_warnings = write_convergence(tmp, Path(data_dir) / "checkpoints")

    skipped_file = tmp / "skipped.json"
    manifest = {
        "run": run_name,
        "profile": cfg.profile,
        "git": git_state(Path(__file__).resolve().parents[2]),
        "source_hash": provenance.study_source_hash(),
        "config": cfg.to_dict(),
        "recipe": recipe_record(cfg, overrides),
        "parameters": params | {"results_dir": paths.portable(final)},
        "notebook_parameters": {nb: per_notebook[nb] for nb in notebooks},  # what -p set, per notebook
        "seeds": list(cfg.seeds),
        "folds": list(cfg.folds) if cfg.folds else "all",
        "normalization": NORMALIZATION[cfg.data.speaker_norm],
        "corpus": _corpus_identity(cfg, table),
        "features": feature_hashes,
        "checkpoints": Ledger(tmp).summary(),
        "convergence_warnings": convergence_warnings,
        "core_use": core_use(Ledger(tmp).summary(), cfg, time.time() - t_start),
        "grids": watcher.grids,  # per training grid: wall time, trainings, training seconds, its core use
        "executor": {"executor": cfg.run.executor, "ray_address": cfg.run.ray_address,
                     "threads_per_training": cfg.train.threads},
        "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), **cpu_identity(), "argv": sys.argv,
                    "load": load.stop()},
        "wall_seconds": {"total": round(time.time() - t_start, 1), **timings},
        "skipped": json.loads(skipped_file.read_text()) if skipped_file.exists() else {},
        "face_crop": face_crop,
        "removed_stale": removed_stale,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    Ledger(tmp).file.unlink(missing_ok=True)
    manifest["config"]["data"]["data_dir"] = paths.portable(data_dir)
    (tmp / "manifest.json").write_text(paths.scrub(json.dumps(manifest, indent=2, default=str)))
    old = results / f".old-{run_name}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(results / f"{run_name}.failed", ignore_errors=True)
    print(f"[study] done in {manifest['wall_seconds']['total']} s -> {paths.shown(final)}", flush=True)
    return final


class LoadSampler:
    """The machine's 1-minute load average (/proc/loadavg), sampled every `every` seconds in a daemon thread
    while a run lasts. Its mean over the run beside the core count says whether other work shared the cores:
    a run alone keeps the load near its own workers; a timing taken beside other work is slower than alone."""

    def __init__(self, every: float = 30.0, source: str | Path = "/proc/loadavg"):
        self.every, self.source, self.samples = every, Path(source), []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> float | None:
        try:
            return float(self.source.read_text().split()[0])
        except (OSError, ValueError, IndexError):  # no /proc (macOS): no load recorded
            return None

    def _run(self) -> None:
        while True:
            value = self._read()
            if value is not None:
                self.samples.append(value)
            if self._stop.wait(self.every):
                return

    def start(self) -> "LoadSampler":
        self._thread.start()
        return self

    def stop(self) -> dict:
        """{"mean_load_1min", "max_load_1min", "samples"} over the run (None without samples)."""
        self._stop.set()
        self._thread.join(timeout=5)
        s = self.samples
        return {"mean_load_1min": round(sum(s) / len(s), 2) if s else None,
                "max_load_1min": round(max(s), 2) if s else None, "samples": len(s)}


def core_use(checkpoints: list[dict], cfg: StudyConfig, wall: float) -> dict:
    """How much of the machine the run's trainings used: training seconds (of the checkpoints it trained)
    over workers x wall seconds (a local Ray's workers; on a cluster the share is not computed)."""
    seconds = float(sum(c.get("seconds", 0.0) for c in checkpoints if c["trained"]))
    workers = training_workers(cfg)
    share = seconds / (workers * wall) if workers and wall > 0 else None
    return {"training_seconds": round(seconds, 1), "workers": workers, "wall_seconds": round(wall, 1),
            "share": None if share is None else round(share, 3)}


def training_workers(cfg: StudyConfig) -> int | None:
    """Trainings that run at once: 1 in sequence, a local Ray's workers, None on a cluster (not known here)."""
    from mmlib.training import grid

    if cfg.run.executor == "sequential":
        return 1
    return None if cfg.run.ray_address else grid.local_workers(cfg.run, cfg.train.threads)


WARN_SHARE = 0.2  # a head whose trainings keep their first or last epoch this often has not converged


def write_convergence(run: Path, ckpt_dir: Path) -> list[str]:
    """metrics/learning_curves.csv (every epoch of every model the run used) and tables/convergence.csv (per
    head: share of trainings kept at their first or last epoch); a printed warning, returned, per head
    where either share exceeds WARN_SHARE."""
    from mmlib.training import checkpoints

    curves = checkpoints.learning_curves(Ledger(run), ckpt_dir)
    if curves.empty:
        return []
    conv = checkpoints.convergence(curves)
    for sub, df in (("metrics/learning_curves.csv", curves), ("tables/convergence.csv", conv)):
        (run / sub).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(run / sub, index=False)
    warnings = [f"{r.head}: {r.kept_first:.0%} of {r.trainings} trainings kept their first epoch, {r.kept_last:.0%} "
                "their last" for r in conv.itertuples() if max(r.kept_first, r.kept_last) > WARN_SHARE]
    for w in warnings:
        print(f"[study] warning: training has not converged for {w} (tables/convergence.csv)", flush=True)
    return warnings


NORMALIZATION = {
    True: "speaker-level: every speaker's features are standardized with the statistics of all that speaker's "
          "recordings, labelled or not (none chosen by label), test speakers included (label-free but "
          "transductive: the test speakers' recordings are used at test time)",
    False: "training-only: audio standardized with statistics of the training split (the authors' global "
           "normalization); video pixels scaled to [-0.5, 0.5]",
}


def _start_ray(cfg: StudyConfig) -> bool:
    """Start (or join) the Ray every notebook of this run uses; True when this process started it."""
    if cfg.run.executor != "ray" or os.environ.get("MMLIB_RAY_ADDRESS"):
        return False
    from mmlib.training import grid

    ray = grid.connect(cfg.run, cfg.train.threads)
    os.environ["MMLIB_RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    n = grid.local_workers(cfg.run, cfg.train.threads) if not cfg.run.ray_address else "cluster"
    print(f"[study] Ray at {os.environ['MMLIB_RAY_ADDRESS']} ({n} training workers x {cfg.train.threads} thread(s))",
          flush=True)
    return True


def _corpus_identity(cfg: StudyConfig, table) -> dict:
    """The corpus a run read: for the synthetic corpus a hash of every file; for a real corpus (too large to
    hash on every run) a hash of the utterance table (ids, labels, speakers, times, media paths)."""
    from mmlib.config import stable_hash
    from mmlib.data.loaders import synthetic_dir

    if cfg.data.dataset == "synthetic" and cfg.data.root is None:
        root = synthetic_dir(cfg)
        return {"kind": "synthetic", "folder": root.name, "files_hash": provenance.tree_hash(root)}
    cols = [c for c in ("id", "label", "speaker", "start", "end") if c in table]
    return {"kind": cfg.data.dataset, "root": cfg.data.root, "utterances": len(table),
            "table_hash": stable_hash(table[cols].astype(str).values.tolist(), n=16)}


def _feature_hash(arrays: dict) -> str:
    import hashlib

    h = hashlib.sha256()
    for uid in sorted(arrays):
        h.update(uid.encode() + b"\0" + arrays[uid].tobytes())
    return h.hexdigest()[:16]
