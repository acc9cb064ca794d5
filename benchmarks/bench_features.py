"""Feature extraction throughput, cold cache vs warm cache, measured in one run.

    python benchmarks/bench_features.py                 # quick synthetic corpus
    python benchmarks/bench_features.py --profile default --workers 2

Prints utterances per second of a cold extraction (log-mel + face clips, all cores), of a warm one
(every entry a cache hit), and their ratio. The corpus is generated into a temporary folder first
(not timed), so each run starts from an empty cache.
"""

import argparse
import tempfile
import time
from pathlib import Path

from mmlib.config import load_config
from mmlib.data.corpus import labelled
from mmlib.data.features import extract_features
from mmlib.data.loaders import prepare_corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", choices=["quick", "default"])
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(args.profile, {"data.data_dir": tmp})
        table = labelled(prepare_corpus(cfg, progress=False))
        cache = Path(tmp) / "cache"
        runs = {}
        for name in ("cold", "warm"):
            t0 = time.perf_counter()
            feats = extract_features(table, cfg, cache_dir=cache, progress=False, workers=args.workers)
            runs[name] = time.perf_counter() - t0
            print(f"{name:>4}: {len(table)} utterances in {runs[name]:7.3f} s = {len(table) / runs[name]:9.1f} utt/s  "
                  f"(audio built {feats.stats['audio']['built']:.0f}, video built {feats.stats['video']['built']:.0f})")
        print(f"cached / uncached speed-up: {runs['cold'] / runs['warm']:.1f}x  (profile {args.profile})")


if __name__ == "__main__":
    main()
