"""Time and memory of the B x B matchmap similarities: batched `pairwise_similarity` vs DAVEnet's loop.

    python benchmarks/bench_matchmap.py            # B 32 and 128, D 512, V 7x7, T_a 10 and padded T 64
    python benchmarks/bench_matchmap.py --quick    # B 16, D 64, padded T 24: about 30 s (mostly process start-up)

Each row times forward + backward of the full (B, B) similarity matrix S (loss = S.sum()) for
    batched  mmlib.models.matchmap.pairwise_similarity (SISA closed form; MISA/SIMA chunked GEMMs)
    loop     DAVEnet steps/util.py style: for every pair, torch.mm on the audio cropped to its
             true length, then the pooled score; the B*B scores stacked into S
Time: median wall time of --repeats runs, after a warm-up on tiny inputs (lazy initialization).
Memory: every variant also runs once in its own fresh Python process; "peak MB" is the growth of
the process's peak resident set (ru_maxrss) during that run, over the level reached after
importing torch and building the inputs. That process runs with MALLOC_MMAP_THRESHOLD_=131072 so
glibc returns every freed large block to the OS at once; then the peak RSS follows the peak of
live bytes (activations, autograd graph, temporaries), to within page granularity. (With glibc's
default dynamic threshold freed blocks stay in the heap and the figure overstates the batched
version's peak about twofold.) Timing processes use the default allocator.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mmlib.models.matchmap import KINDS, pairwise_similarity  # noqa: E402
from mmlib.models.matchmap import pairwise_similarity_loop as loop_pairwise  # noqa: E402


def make_inputs(B: int, D: int, T: int, padded: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(B, D, 7, 7, generator=g)  # (B, D, 7, 7)
    A = torch.randn(B, D, T, generator=g)  # (B, D, T)
    lengths = torch.randint(T // 4, T + 1, (B,), generator=g) if padded else torch.full((B,), T)
    return V, A, lengths


def run_once(impl: str, V: torch.Tensor, A: torch.Tensor, lengths: torch.Tensor, kind: str) -> float:
    v, a = V.clone().requires_grad_(), A.clone().requires_grad_()
    t0 = time.perf_counter()
    if impl == "batched":
        mask = torch.arange(A.shape[-1]) < lengths[:, None]  # (B, T)
        S = pairwise_similarity(v, a, kind, mask)
    else:
        S = loop_pairwise(v, a, kind, lengths)
    S.sum().backward()
    return time.perf_counter() - t0


def worker(spec: dict) -> dict:
    """One variant in this (fresh) process: "time" -> median seconds, "memory" -> peak-RSS growth."""
    torch.set_num_threads(spec["threads"])
    V, A, lengths = make_inputs(spec["B"], spec["D"], spec["T"], spec["padded"])
    if spec["mode"] == "memory":
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        run_once(spec["impl"], V, A, lengths, spec["kind"])
        return {"peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}
    run_once(spec["impl"], *make_inputs(2, spec["D"], spec["T"], spec["padded"]), spec["kind"])  # warm-up
    times = [run_once(spec["impl"], V, A, lengths, spec["kind"]) for _ in range(spec["repeats"])]
    return {"seconds": statistics.median(times)}


def in_subprocess(spec: dict) -> dict:
    env = dict(os.environ)
    if spec["mode"] == "memory":
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # freed blocks go back to the OS: RSS tracks live bytes
    cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def check_agreement(D: int) -> float:
    """Largest |batched - loop| over all kinds on a small padded float64 case."""
    V, A, lengths = make_inputs(8, D, 20, padded=True)
    V, A = V.double(), A.double()
    mask = torch.arange(20) < lengths[:, None]
    return max(
        (pairwise_similarity(V, A, k, mask) - loop_pairwise(V, A, k, lengths)).abs().max().item() for k in KINDS
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in every variant")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of the batched version")
    ap.add_argument("--loop-repeats", type=int, default=1, help="timed runs of the per-pair loop")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    D, batches, settings = (64, (16,), [(24, True)]) if args.quick else (
        512, (32, 128), [(10, False), (64, True)])
    reps = {"batched": 1 if args.quick else args.repeats, "loop": 1 if args.quick else args.loop_repeats}
    print(f"max |batched - loop| (float64, B 8, padded T 20): {check_agreement(D):.2e}")
    print(f"D {D}, video 7x7, threads {args.threads}; forward + backward of the (B, B) matrix\n")
    head = f"{'T_a':>8} {'B':>4} {'kind':>5} {'batched ms':>11} {'loop ms':>10} {'loop/batched':>13} " \
           f"{'batched MB':>11} {'loop MB':>8}"
    print(head + "\n" + "-" * len(head))
    for T, padded in settings:
        for B in batches:
            for kind in KINDS:
                res = {}
                for impl in ("batched", "loop"):
                    spec = dict(impl=impl, kind=kind, B=B, D=D, T=T, padded=padded,
                                threads=args.threads, repeats=reps[impl])
                    res[impl] = in_subprocess({**spec, "mode": "time"}) | in_subprocess({**spec, "mode": "memory"})
                b, lp = res["batched"], res["loop"]
                t_name = f"{T}" + (" pad" if padded else "")
                print(f"{t_name:>8} {B:>4} {kind:>5} {1e3 * b['seconds']:>11.2f} {1e3 * lp['seconds']:>10.1f} "
                      f"{lp['seconds'] / b['seconds']:>12.1f}x {b['peak_mb']:>11.1f} {lp['peak_mb']:>8.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
