"""Do the audio features depend on the CPU? A probe of the log-mel under other kernels, and what float64 would cost.

    python benchmarks/bench_logmel_cpu.py                   # 24 utterances of the quick synthetic corpus
    python benchmarks/bench_logmel_cpu.py --utterances 48 --repeats 7

The study computes its log-mel (mmlib.data.features.logmel) in float32, from the float32 wave. Two of its steps
pick machine code for the CPU they run on: the mel projection is a matrix product in OpenBLAS, which chooses a
kernel per CPU family, and NumPy dispatches SIMD loops (log10 among them) by the CPU's features. This probe runs
the same utterances in child processes, each forced onto another OpenBLAS kernel (OPENBLAS_CORETYPE) and, in some,
with NumPy's AVX2 loops switched off (NPY_DISABLE_CPU_FEATURES), and hashes the features twice: as the study
computes them, and from the wave cast to float64 (rounded to float32 once, at the end). It counts the distinct
results of each way. In this process, at one BLAS thread, it times both ways (median of the repeats, the two
alternating) and prints their ratio and the largest difference between them in dB.

A child that cannot run on this CPU (a kernel for instructions it lacks: the AVX-512 kernels on an AVX2 machine)
is listed as such, so the probe says nothing of those kernels; run it on such a CPU to cover them. Nothing here
changes the study's features: it is the measurement behind docs/method.md's note on CPU-dependent audio features.
"""

import argparse
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# (OPENBLAS_CORETYPE, NPY_DISABLE_CPU_FEATURES): None leaves the choice to the library, as a study run does
KERNELS = [(None, None), ("Haswell", None), ("Zen", None), ("SkylakeX", None), ("Cooperlake", None),
           ("SapphireRapids", None), ("Sandybridge", None), ("Nehalem", None), ("Core2", None), ("Prescott", None),
           (None, "X86_V3"), ("Nehalem", "X86_V3")]


def features(waves: list[np.ndarray], cfg, dtype) -> list[np.ndarray]:
    from mmlib.data.features import logmel

    return [logmel(w.astype(dtype), cfg) for w in waves]


def digest(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, np.float32).tobytes())
    return h.hexdigest()[:12]


def child(waves_file: str) -> None:
    """Runs in a process whose environment picked the kernels: prints the digests and the kernel OpenBLAS reports."""
    from threadpoolctl import threadpool_info

    from mmlib.config import load_config

    cfg = load_config("default").audio
    with np.load(waves_file) as z:
        waves = [z[k] for k in sorted(z.files)]
    blas = [i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"]
    print(json.dumps({"float32": digest(features(waves, cfg, np.float32)),
                      "float64": digest(features(waves, cfg, np.float64)),
                      "openblas": blas[0] if blas else None}))


def corpus_waves(n: int, tmp: str) -> list[np.ndarray]:
    from mmlib.config import load_config
    from mmlib.data import media
    from mmlib.data.corpus import labelled
    from mmlib.data.loaders import prepare_corpus

    cfg = load_config("quick", {"data.data_dir": tmp})
    table = labelled(prepare_corpus(cfg, progress=False))
    rows = table.iloc[np.linspace(0, len(table) - 1, min(n, len(table))).astype(int)]
    return [media.read_audio(p, cfg.audio.sample_rate)[: int(cfg.audio.max_seconds * cfg.audio.sample_rate)]
            for p in rows["audio_path"]]


def probe(waves_file: str, coretype: str | None, disabled: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    if disabled:
        env["NPY_DISABLE_CPU_FEATURES"] = disabled
    done = subprocess.run([sys.executable, __file__, "--child", waves_file], env=env, capture_output=True, text=True)
    if done.returncode == -signal.SIGILL:
        return {"error": "cannot run here (illegal instruction: this CPU lacks the kernel's instructions)"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        return {"error": f"cannot run here (exit {done.returncode}: {last[:80]})"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def timings(waves: list[np.ndarray], cfg, repeats: int) -> dict[str, float]:
    """Median seconds per utterance of each way, the two alternating, at one BLAS thread."""
    from threadpoolctl import threadpool_limits

    runs: dict[str, list[float]] = {"float32": [], "float64": []}
    with threadpool_limits(1):
        features(waves[:2], cfg, np.float64)  # warm-up: imports, FFT plans
        for _ in range(repeats):
            for name, dtype in (("float32", np.float32), ("float64", np.float64)):
                t0 = time.perf_counter()
                features(waves, cfg, dtype)
                runs[name].append((time.perf_counter() - t0) / len(waves))
    return {name: statistics.median(v) for name, v in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utterances", type=int, default=24, help="utterances of the quick corpus (default 24)")
    ap.add_argument("--repeats", type=int, default=5, help="timing repeats of each way (default 5)")
    ap.add_argument("--child", metavar="WAVES", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    from mmlib.config import load_config
    from mmlib.runner.study import cpu_identity

    cfg = load_config("default").audio
    cpu = cpu_identity()
    print(f"CPU: {cpu['cpu_model']} (torch's capability {cpu['cpu_capability']})")
    with tempfile.TemporaryDirectory() as tmp:
        waves = corpus_waves(args.utterances, tmp)
        waves_file = str(Path(tmp) / "waves.npz")
        np.savez(waves_file, **{f"w{i:04d}": w for i, w in enumerate(waves)})
        print(f"{len(waves)} utterances of the quick corpus ({sum(map(len, waves)) / cfg.sample_rate:.0f} s of audio), "
              f"the default profile's log-mel; one child process per kernel")
        print(f"{'OpenBLAS kernel (asked / used)':<34} {'NumPy loops':<14} {'float32':<14} float64")
        results = []
        for coretype, disabled in KERNELS:
            r = probe(waves_file, coretype, disabled)
            results.append(r)
            asked = f"{coretype or 'auto'} / {r.get('openblas') or '-'}"
            loops = f"no {disabled}" if disabled else "all"
            found = r["error"] if "error" in r else f"{r['float32']:<14} {r['float64']}"
            print(f"{asked:<34} {loops:<14} {found}")
    ran = [r for r in results if "error" not in r]
    for name in ("float32", "float64"):
        print(f"{name}: {len({r[name] for r in ran})} distinct result(s) over {len(ran)} kernel settings that ran here")
    f32, f64 = features(waves, cfg, np.float32), features(waves, cfg, np.float64)
    worst = max(float(np.abs(a.astype(np.float64) - b).max()) for a, b in zip(f32, f64))
    t = timings(waves, cfg, args.repeats)
    print(f"largest difference float64 - float32: {worst:.2g} dB (log-mel and its deltas)")
    print(f"time per utterance, one BLAS thread: float32 {t['float32'] * 1e3:.2f} ms, "
          f"float64 {t['float64'] * 1e3:.2f} ms = {t['float64'] / t['float32']:.2f}x")


if __name__ == "__main__":
    main()
