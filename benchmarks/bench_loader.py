"""Would a GPU wait for batches? Loader throughput on the paper profile's shapes next to training throughput.

    python benchmarks/bench_loader.py                  # paper profile shapes, loader workers 0, 2, 4
    python benchmarks/bench_loader.py --workers 0 1 --utterances 64 --model-steps 1

The loader reads cached features (random arrays of the paper profile's shapes: 3 s chunks of a 40-band
log-mel with deltas, and per chunk 16 face frames of 112 x 112 x 3 uint8), normalizes, chunks and
collates them exactly as training does (mmlib.training.inputs.loader: pinned memory on a GPU, prefetch 4
per worker). The model is the paper's matchmap model (mc3_18, D = 512) doing full optimizer steps on
this machine's device. ratio = loader clips/s / model clips/s: below 1 the accelerator waits for data
(give the task more CPUs: train.num_workers), above 1 the loader keeps up. On the CPU-only reference
machine the model is the bottleneck by far; on a GPU (about 1,000 clips/s for mc3_18 in fp16) the
ratio with num_workers = 0 (measured ~600 clips/s) says it would wait.
"""

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import clips_per_second  # noqa: E402

from mmlib.config import load_config  # noqa: E402
from mmlib.data import inputs  # noqa: E402
from mmlib.data.chunks import chunk_spans  # noqa: E402
from mmlib.data.corpus import class_names  # noqa: E402
from mmlib.data.dataset import Normalizer  # noqa: E402
from mmlib.data.features import FeatureSet  # noqa: E402
from mmlib.data.splits import Fold  # noqa: E402
from mmlib.training.checkpoints import ModelSpec  # noqa: E402


def fake_features(cfg, n: int, seed: int = 0) -> tuple[pd.DataFrame, FeatureSet]:
    """n utterances of IEMOCAP-like lengths (1-12 s) with features of the profile's shapes."""
    rng = np.random.default_rng(seed)
    classes = class_names(cfg.data.label_set)
    dur = np.clip(rng.gamma(2.0, 2.3, n), 1.0, 12.0)
    table = pd.DataFrame({"id": [f"u{i:05d}" for i in range(n)], "label": rng.choice(classes, n),
                          "speaker": [f"s{i % 10}" for i in range(n)], "start": 0.0, "end": dur,
                          "valence": 3.0, "arousal": 3.0, "dominance": 3.0})
    feats = FeatureSet()
    v, a = cfg.video, cfg.audio
    for uid, d in zip(table["id"], dur):
        frames = int(round(d * 1000 / a.hop_ms)) + 1
        feats.audio[uid] = rng.standard_normal((3, a.n_mels, frames), dtype=np.float32)
        n_chunks = len(chunk_spans(0.0, d, a.chunk_seconds, a.min_chunk_fraction)) if a.chunk_seconds else None
        shape = (v.n_frames, v.size, v.size, 3) if n_chunks is None else (n_chunks, v.n_frames, v.size, v.size, 3)
        feats.video[uid] = rng.integers(0, 255, shape, dtype=np.uint8)
    return table, feats


def loader_clips_per_second(cfg, table, feats, workers: int) -> float:
    c = replace(cfg, train=replace(cfg.train, num_workers=workers))
    norm = Normalizer.fit([feats.audio[i] for i in table["id"][:32]])
    ids = tuple(table["id"])
    spec = ModelSpec(c, "matchmap", Fold(1, ids, (), (), tuple(sorted(set(table["speaker"]))), (), ()), seed=0)
    ds = inputs.dataset(spec, ids, table, feats, norm)
    loader = inputs.loader(ds, spec, shuffle=True)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    t0, n = time.perf_counter(), 0
    for batch in it:
        n += len(batch["label"])
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--utterances", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4])
    ap.add_argument("--model-steps", type=int, default=2)
    args = ap.parse_args()
    cfg = load_config(args.profile)
    table, feats = fake_features(cfg, args.utterances)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model_cps = clips_per_second(cfg, "matchmap", args.model_steps) if device == "cpu" else None
    if device == "cuda":  # the model where it would run: on the GPU in fp16
        with torch.autocast("cuda", dtype=torch.float16):
            model_cps = clips_per_second(cfg, "matchmap", args.model_steps, device="cuda")
    print(f"profile {args.profile}: batch {cfg.train.batch_size}, video {cfg.video.n_frames} x {cfg.video.size}^2, "
          f"{args.utterances} utterances; model {cfg.model.video_arch} matchmap on {device}: {model_cps:.1f} clips/s")
    for w in args.workers:
        cps = loader_clips_per_second(cfg, table, feats, w)
        print(f"loader, {w} worker(s): {cps:8.1f} clips/s   ratio loader/model = {cps / model_cps:6.2f}"
              f"   ({'keeps up' if cps >= model_cps else 'the model would wait'})", flush=True)


if __name__ == "__main__":
    main()
