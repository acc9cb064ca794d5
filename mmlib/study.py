"""Run the four notebooks in order with papermill into results/<run>/ and write its manifest.

    mmlib study --profile default                   # == make study
    mmlib study --profile quick --run quick-check -o train.max_epochs=1
    python -c "from mmlib.study import run_study; from mmlib.config import load_config; run_study(load_config('quick'))"

The run is built in `results/.tmp-<run>-<pid>/` and renamed to `results/<run>/` only when every
notebook has finished, so a failed run never replaces the previous complete one; its partial
output is kept in `results/<run>.failed/` and the error names the notebook and cell.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mmlib.config import StudyConfig

NOTEBOOKS = ("01_data_exploration", "02_unimodal_baselines", "03_matchmap_fusion", "04_confusion_analysis")
PACKAGES = ("torch", "torchvision", "lightning", "numpy", "pandas", "scikit-learn", "scipy", "librosa",
            "soundfile", "av", "opencv-python-headless", "matplotlib", "seaborn", "papermill")


class StudyError(RuntimeError):
    """A notebook failed; the message names it and the failing cell."""


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "notebooks"


def git_state(repo: Path) -> dict[str, Any]:
    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    return {"commit": run("rev-parse", "HEAD"), "dirty": bool(run("status", "--porcelain", "--untracked-files=no"))}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "not installed"
    return out


def run_study(cfg: StudyConfig, run_name: str | None = None, results_dir: str | Path = "results",
              overrides: dict[str, Any] | None = None, data_root: str | None = None, retrain: bool = False,
              progress: bool = True, notebooks: tuple[str, ...] = NOTEBOOKS) -> Path:
    """Generate/extract what is missing, execute the notebooks, write manifest.json; the run folder."""
    import papermill as pm

    from mmlib.data.corpus import labelled, prepare_corpus
    from mmlib.data.features import extract_features

    run_name = run_name or cfg.profile
    results = Path(results_dir).resolve()
    final = results / run_name
    tmp = results / f".tmp-{run_name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    data_dir = str(Path(cfg.data.data_dir).resolve())
    data_dir_param = os.path.relpath(data_dir, notebooks_dir())
    t_start = time.time()

    # corpus and features first, with their own progress bars (the notebooks then hit the cache)
    print(f"[study] {run_name}: corpus and features (profile {cfg.profile})", flush=True)
    table = prepare_corpus(cfg, progress=progress)
    extract_features(labelled(table), cfg, cache_dir=Path(data_dir) / "cache", progress=progress)

    params = {
        "profile": cfg.profile,
        "data_root": data_root or cfg.data.root,
        "data_dir": data_dir_param,
        "results_dir": os.path.relpath(tmp, notebooks_dir()),  # notebooks run in notebooks/
        "overrides": {k: list(v) if isinstance(v, tuple) else v  # papermill writes tuples as strings
                      for k, v in (overrides or {}).items() if k not in ("data.root", "data.data_dir")},
        "retrain": retrain,
    }
    timings: dict[str, float] = {}
    for name in notebooks:
        src = notebooks_dir() / f"{name}.ipynb"
        if not src.exists():
            raise FileNotFoundError(f"notebook {src} is missing")
        print(f"[study] running {name}", flush=True)
        t0 = time.time()
        try:
            pm.execute_notebook(str(src), str(tmp / f"{name}.ipynb"), parameters=params, cwd=str(notebooks_dir()),
                                progress_bar=progress, kernel_name="python3", log_output=False)
        except Exception as err:  # a failing cell, or a kernel that died (nbclient DeadKernelError)
            failed = results / f"{run_name}.failed"
            shutil.rmtree(failed, ignore_errors=True)
            tmp.rename(failed)
            where = (f"in cell [{err.exec_count}] ({err.ename}: {err.evalue})" if isinstance(err, pm.PapermillExecutionError)
                     else f"({type(err).__name__}: {err})")
            raise StudyError(f"notebook {name} failed {where}; partial output in {failed}, {final} left as it was") from None
        timings[name] = round(time.time() - t0, 1)

    skipped_file = tmp / "skipped.json"
    manifest = {
        "run": run_name,
        "profile": cfg.profile,
        "git": git_state(Path(__file__).resolve().parent.parent),
        "config": cfg.to_dict(),
        "parameters": params | {"results_dir": os.path.relpath(final, notebooks_dir())},
        "seeds": list(cfg.seeds),
        "folds": list(cfg.folds) if cfg.folds else "all",
        "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "argv": sys.argv},
        "wall_seconds": {"total": round(time.time() - t_start, 1), **timings},
        "skipped": json.loads(skipped_file.read_text()) if skipped_file.exists() else {},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    old = results / f".old-{run_name}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(results / f"{run_name}.failed", ignore_errors=True)
    print(f"[study] done in {manifest['wall_seconds']['total']} s -> {final}", flush=True)
    return final
