"""Wall time of whole study runs (corpus generation, features, the notebooks), from scratch.

    python benchmarks/bench_study.py                     # quick, then default (about 20 minutes)
    python benchmarks/bench_study.py --profiles quick

Each profile runs into a fresh temporary data folder, so nothing is reused from earlier runs. The
quick profile is the baseline: the ratio column says how many times longer each profile took. The
targets of the repository are quick <= 2 minutes and default <= 30 minutes on two CPU cores, and the
cores busy with trainings for at least 90 % of the wall time (the manifest's `core_use`: training seconds
over workers x wall).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from mmlib.config import load_config
from mmlib.runner.study import run_study

TARGET_SECONDS = {"quick": 120, "default": 1800}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["quick", "default"])
    args = ap.parse_args()
    base = None
    for profile in args.profiles:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(profile, {"data.data_dir": str(Path(tmp) / "data")})
            t0 = time.perf_counter()
            run = run_study(cfg, run_name=profile, results_dir=Path(tmp) / "results", progress=False)
            wall = time.perf_counter() - t0
            manifest = json.loads((run / "manifest.json").read_text())
            per_nb, use = manifest["wall_seconds"], manifest["core_use"]
        base = base or wall
        target = TARGET_SECONDS.get(profile)
        verdict = "" if target is None else f"  target {target} s: {'met' if wall <= target else 'MISSED'}"
        print(f"{profile:>8}: {wall:7.1f} s  ({wall / base:5.1f}x quick){verdict}  per notebook {per_nb}")
        print(f"{'':>8}  cores on trainings: {use['training_seconds']:.0f} training-s / ({use['workers']} workers x "
              f"{use['wall_seconds']:.0f} s) = {use['share']:.0%} (target 90 %)")
        added = per_nb.get("05_when_fusion_helps")
        if added is not None:  # the experiments on claim 2 (sweep, missing modality, dropout, degradation)
            print(f"{'':>8}  05_when_fusion_helps added {added:.1f} s ({added / wall:.0%} of the run)")


if __name__ == "__main__":
    main()
