"""Feature extraction at IEMOCAP's scale: one session of 720 x 480 @ 30 fps dialog videos, `mmlib features
--profile paper` on it (MTCNN face crops), utterances per second, peak memory, and the projected time
for the whole corpus.

    python benchmarks/bench_extraction.py                      # one session: 28 dialogs of 5 min (long)
    python benchmarks/bench_extraction.py --dialogs 1          # one 5-minute dialog (a few minutes)
    python benchmarks/bench_extraction.py --dialogs 2 --minutes 3 --workers 2

The session is generated into a temporary folder first (not timed): each dialog has two real faces
(scikit-image's astronaut, matplotlib's Grace Hopper, tests/realfaces.py) moving in their halves of
the frame, encoded as MPEG-4 (DivX, as IEMOCAP) .avi, and utterances back to back whose durations
follow IEMOCAP's (log-normal, median 3.5 s, mean 4.5 s, 0.6-35 s; ~66 per 5-minute dialog), one
16 kHz wav each. Then, in the same run, `mmlib features --profile paper --all-rows` twice: with
the fixed box crop (the baseline: decoding and log-mel only) and with the profile's MTCNN crop.
CPU seconds (the command and its workers, sampled with the memory) give a second projection that does not depend on how
busy the machine was. Peak memory is the largest summed RSS of the command's process tree, sampled every 0.1 s; a whole
decoded dialog would be minutes x 1,800 frames x 1 MB, and extraction must stay far below that.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import realfaces as rf  # noqa: E402

ALL_UTTERANCES = 10039  # the whole IEMOCAP (every code); 5,531 in the 4-class set
FOUR_CLASS = 5531
FPS, W, H = 30, 720, 480
# IEMOCAP's code frequencies (docs/background.md#iemocap-counts): xxx 2507, fru 1849, neu 1708, ang 1103, ...
CODES = {"xxx": 2507, "fru": 1849, "neu": 1708, "ang": 1103, "sad": 1084, "exc": 1041, "hap": 595, "sur": 107,
         "fea": 40}


def utterances(minutes: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Back-to-back segments (gaps of 0-0.6 s) with IEMOCAP-like durations filling the dialog."""
    mu, sigma = np.log(3.5), np.sqrt(2 * np.log(4.5 / 3.5))  # median 3.5 s, mean 4.5 s
    t, out = rng.uniform(0.5, 2.0), []
    while True:
        d = float(np.clip(rng.lognormal(mu, sigma), 0.6, 35.0))
        if t + d > minutes * 60 - 0.5:
            return out
        out.append((round(t, 4), round(t + d, 4)))
        t += d + rng.uniform(0.0, 0.6)


class Painter:
    """Frames of a dialog: a fixed backdrop and two photographs moving in their halves (patches cached by size)."""

    def __init__(self, seed: int):
        self.back = rf.backdrop((H, W), seed)
        self.cache: dict[tuple[str, int], tuple[np.ndarray, float, float]] = {}

    def patch(self, name: str, face_w: int):
        key = (name, face_w)
        if key not in self.cache:
            canvas = np.zeros((H, W, 3), np.uint8)
            x0, y0, x1, y1 = (int(v) for v in rf.paste(canvas, rf.Person(name, W / 2, H / 2, face_w)))
            ys, xs = np.nonzero(canvas.any(axis=2))
            top, left = ys.min(), xs.min()
            self.cache[key] = (canvas[top:ys.max() + 1, left:xs.max() + 1].copy(), W / 2 - left, H / 2 - top)
        return self.cache[key]

    def frame(self, t: int, n: int, seed: int) -> np.ndarray:
        f = self.back.copy()
        people = (("astronaut", W / 4, seed, 0, W // 2), ("hopper", 3 * W / 4, seed + 2.0, W // 2, W))
        for name, x_centre, phase, lo, hi in people:
            dx, dy, fw = rf.motion(t % 900, 900, phase)
            img, ox, oy = self.patch(name, int(round(fw / 2)) * 2)
            x, y = int(x_centre + dx - ox), int(H * 0.4 + dy - oy)
            xa, xb = max(x, lo), min(x + img.shape[1], hi)
            ya, yb = max(y, 0), min(y + img.shape[0], H)
            f[ya:yb, xa:xb] = img[ya - y:yb - y, xa - x:xb - x]
        return f


def write_session(root: Path, dialogs: int, minutes: float, seed: int = 0) -> int:
    """An IEMOCAP_full_release/Session1 tree; returns the number of utterances."""
    rng = np.random.default_rng(seed)
    s = root / "IEMOCAP_full_release" / "Session1"
    codes, p = list(CODES), np.array(list(CODES.values()), float) / sum(CODES.values())
    n_utt = 0
    for d in range(dialogs):
        dialog = f"Ses01F_impro{d + 1:02d}"
        segs = utterances(minutes, rng)
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        wav_dir = s / "sentences" / "wav" / dialog
        wav_dir.mkdir(parents=True, exist_ok=True)
        counters = {"F": 0, "M": 0}
        for start, end in segs:
            spk = "F" if rng.random() < 0.5 else "M"
            utt = f"{dialog}_{spk}{counters[spk]:03d}"
            counters[spk] += 1
            lines += [f"[{start:.4f} - {end:.4f}]\t{utt}\t{rng.choice(codes, p=p)}\t[2.5000, 2.5000, 2.5000]", ""]
            noise = 0.05 * rng.standard_normal(int((end - start) * 16000))
            sf.write(wav_dir / f"{utt}.wav", noise.astype(np.float32), 16000)
        ev = s / "dialog" / "EmoEvaluation"
        ev.mkdir(parents=True, exist_ok=True)
        (ev / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
        avi = s / "dialog" / "avi" / "DivX" / f"{dialog}.avi"
        avi.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"XVID"), FPS, (W, H))
        if not writer.isOpened():  # an OpenCV build without the MPEG-4 encoder
            writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
        painter = Painter(seed + d)
        for t in range(int(minutes * 60 * FPS)):
            writer.write(cv2.cvtColor(painter.frame(t, 0, d), cv2.COLOR_RGB2BGR))
        writer.release()
        n_utt += len(segs)
    return n_utt


def run_features(root: Path, data_dir: Path, workers: int, crop: str | None) -> dict:
    """`mmlib features --profile paper` in a subprocess: wall seconds, peak RSS (tree, largest process), its JSON."""
    cmd = [sys.executable, "-m", "mmlib.runner.cli", "features", "--profile", "paper", "--data-root", str(root),
           "--data-dir", str(data_dir), "--all-rows", "--quiet", "--workers", str(workers)]
    if crop:
        cmd += ["-o", f"video.crop={crop}"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak_tree = peak_one = 0
    cpu_of: dict[int, float] = {}  # pid -> last seen user + system seconds (workers are the forkserver's children)
    while proc.poll() is None:
        rss = [0]
        try:
            for p in [ps, *ps.children(recursive=True)]:
                with p.oneshot():
                    rss.append(p.memory_info().rss)
                    t = p.cpu_times()
                    cpu_of[p.pid] = t.user + t.system
        except psutil.Error:
            pass
        peak_tree, peak_one = max(peak_tree, sum(rss)), max(peak_one, max(rss))
        time.sleep(0.1)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    cpu = sum(cpu_of.values())  # misses at most the last 0.1 s of each process
    if proc.returncode:
        raise SystemExit(f"mmlib features failed ({proc.returncode}):\n{err[-3000:]}")
    return {"seconds": wall, "cpu": cpu, "peak_tree": peak_tree, "peak_one": peak_one, "result": json.loads(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dialogs", type=int, default=28, help="dialogs in the session (IEMOCAP: 28-31 per session)")
    ap.add_argument("--minutes", type=float, default=5.0, help="length of each dialog video")
    ap.add_argument("--workers", type=int, default=2, help="feature processes")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        n = write_session(Path(tmp), args.dialogs, args.minutes)
        print(f"generated {args.dialogs} dialog(s) of {args.minutes:g} min at {W}x{H} @ {FPS} fps, {n} utterances "
              f"in {time.perf_counter() - t0:.0f} s (not timed below)")
        runs = {}
        for name, crop in (("box", "box"), ("mtcnn", None)):
            r = run_features(Path(tmp) / "IEMOCAP_full_release", Path(tmp) / f"data-{name}", args.workers, crop)
            runs[name] = r
            rate = n / r["seconds"]
            video = r["result"]["stats"]["video"]
            print(f"{name:>5} crop: {n} utterances in {r['seconds']:.1f} s = {rate:.2f} utt/s ({r['cpu']:.0f} CPU s); "
                  f"peak memory {r['peak_tree'] / 2**20:.0f} MiB (process tree), {r['peak_one'] / 2**20:.0f} MiB "
                  f"(largest process); frames on the fixed box {video.get('frames_on_box', 0):.0f}")
        mt = runs["mtcnn"]
        rate = n / mt["seconds"]
        whole = args.minutes * 60 * FPS * W * H * 3 / 2**20
        print(f"mtcnn / box time ratio: {mt['seconds'] / runs['box']['seconds']:.2f}x")
        print(f"peak memory / one decoded dialog ({whole:.0f} MiB): {mt['peak_tree'] / 2**20 / whole:.3f}")
        print(f"projected `mmlib features --profile paper` on all {ALL_UTTERANCES} IEMOCAP utterances with "
              f"{args.workers} worker(s) on this machine: {ALL_UTTERANCES / rate / 3600:.1f} h ({FOUR_CLASS} of the 4-class set: "
              f"{FOUR_CLASS / rate / 3600:.1f} h)")
        cpu_rate = n / mt["cpu"]  # utterances per CPU second: what the wall clock gives when the cores are not shared
        print(f"from CPU time ({mt['cpu'] / n:.2f} CPU s per utterance), with {args.workers} free core(s): "
              f"{ALL_UTTERANCES / cpu_rate / args.workers / 3600:.1f} h for all {ALL_UTTERANCES}")


if __name__ == "__main__":
    main()
