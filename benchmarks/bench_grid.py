"""The study's grid of trainings, sequential vs local Ray, in the same run (fresh checkpoints each).

    python benchmarks/bench_grid.py                           # default profile, all folds and seeds (~2 x 10 min)
    python benchmarks/bench_grid.py --folds 1 2 --seeds 42    # a slice, for a quicker reading

The grid is what notebooks 02 and 03 train: audio and video; concat, matchmap and matchmap_attn; the
headline models with training-only normalization; the matchmap ablation (notebook 03's default:
SISA pooling, ranking weight 0). Both executors run every
training on train.threads torch threads (1), so they compute the same numbers (checked here); the
sequential executor uses one core, Ray as many one-thread workers as there are cores. The ratio is
sequential time / Ray time. What limits it: two trainings share the memory bandwidth and caches of a
2-core machine, Ray starts worker processes (import torch + Lightning) once per driver, and the grid's
tail (fusion after its unimodal models, the last task alone).
"""

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from mmlib.config import RunConfig
from mmlib.runner.session import open_session

TRAIN_ONLY = {"data.speaker_norm": False}


def grid_specs():
    return ([(["audio", "video"], None, None), (["concat", "matchmap", "matchmap_attn"], None, None)]
            + [([h], TRAIN_ONLY, f"{h} (train-only norm)") for h in ("audio", "video", "concat", "matchmap")]
            + [(["matchmap"], {k: v}, None) for k, v in (("train.similarity", "SISA"), ("train.rank_weight", 0.0))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--folds", type=int, nargs="*", default=None)
    ap.add_argument("--seeds", type=int, nargs="*", default=None)
    ap.add_argument("--data-dir", default="data", help="corpus and feature cache (reused); checkpoints go to a temp dir")
    args = ap.parse_args()
    st = open_session(args.profile, data_dir=args.data_dir, results_dir=tempfile.mkdtemp(), folds=args.folds,
                      seeds=args.seeds, progress=False)
    times, preds = {}, {}
    for executor in ("sequential", "ray"):
        with tempfile.TemporaryDirectory() as tmp:
            s = replace(st, cfg=replace(st.cfg, run=RunConfig(executor=executor)), ckpt_dir=Path(tmp) / "ckpt",
                        results_dir=Path(tmp), used={})
            t0 = time.perf_counter()
            preds[executor] = s.run_grid(grid_specs())
            times[executor] = time.perf_counter() - t0
            n = len(pd.read_json(Path(tmp) / "checkpoints.jsonl", lines=True))
        print(f"{executor:>10}: {times[executor]:7.1f} s for {n} trainings ({times[executor] / n:5.2f} s each)", flush=True)
    same = preds["sequential"].equals(preds["ray"])
    print(f"sequential / ray = {times['sequential'] / times['ray']:.2f}x  (predictions identical: {same})")


if __name__ == "__main__":
    main()
