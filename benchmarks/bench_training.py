"""Training throughput (clips per second) of every model on the CPU, at a profile's input sizes.

    python benchmarks/bench_training.py                    # default profile sizes
    python benchmarks/bench_training.py --profile paper --steps 2

One optimizer step = forward, the multi-task loss (ranking term included for fusion heads),
backward and AdamW, on random inputs of the profile's shapes (batch size, log-mel frames at
max_seconds or chunk length, clip frames and size). The audio-only model is the baseline: the
ratio column says how many times slower each model is than it, measured in the same run.

--positions times the heads that see video with the default trunk (2 x 2 video cells: narrow_downsample 16,
pool_hw 2) and with 4 x 4 cells (narrow_downsample 8, pool_hw 4), interleaved, best of --repeats, and prints
what 4 x 4 matchmap positions cost.

--precision times every head's step in fp32 and under bfloat16 autocast (torch.autocast on the CPU), interleaved,
best of --repeats, and checks bf16 against fp32 from the same weights and batches: the largest difference of the
class logits before training (as a share of their spread) and the loss after --steps steps in each.

--layout also times the video encoder alone (forward + backward) in the channels-last 3D layout the
models use and in the default contiguous layout, interleaved, best of --repeats, and prints the ratio.
"""

import argparse
import copy
import time

import torch

from mmlib.config import load_config
from mmlib.data.inputs import fixed_audio_frames
from mmlib.models.factory import make_model
from mmlib.models.fusion import HEADS
from mmlib.models.video import build_video_encoder
from mmlib.training.fit import loss_weights
from mmlib.training.losses import multitask_loss


def _batch(cfg, head: str, device: str = "cpu", seed: int = 0):
    """Random inputs of the profile's shapes (audio, video, lengths, labels); one seed, one batch."""
    g = torch.Generator().manual_seed(seed)
    B, T = cfg.train.batch_size, fixed_audio_frames(cfg)
    c_audio = 3 if cfg.audio.deltas else 1
    audio = torch.randn(B, c_audio, cfg.audio.n_mels, T, generator=g).to(device) if head != "video" else None
    video = torch.randn(B, 3, cfg.video.n_frames, cfg.video.size, cfg.video.size, generator=g).to(device) \
        if head != "audio" else None
    return audio, video, torch.full((B,), T, device=device), torch.arange(B, device=device) % 4


def _steps(cfg, head: str, model, batch, steps: int, bf16: bool = False, warmup: int = 0) -> tuple[float, float]:
    """`steps` optimizer steps on one batch (after `warmup` untimed ones): (seconds, the last step's loss)."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    audio, video, lengths, y = batch
    gen = torch.Generator().manual_seed(0)
    weights = loss_weights(cfg, head)
    device = "cuda" if y.is_cuda else "cpu"
    t0 = time.perf_counter()
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            out = model(audio, video, lengths)
            loss, _ = multitask_loss(out, y, None, weights, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, float(loss.detach())


def clips_per_second(cfg, head: str, steps: int, warmup: int = 1, device: str = "cpu", bf16: bool = False) -> float:
    torch.manual_seed(0)
    model = make_model(cfg, head).train().to(device)
    seconds, _ = _steps(cfg, head, model, _batch(cfg, head, device), steps, bf16, warmup)
    return cfg.train.batch_size * steps / seconds


def precision_check(cfg, head: str, steps: int) -> dict:
    """bf16 autocast against fp32 from the same initial weights on the same batch: the largest difference of the
    class logits before any step, as a share of the fp32 logits' range, and the loss after `steps` steps each."""
    batch = _batch(cfg, head)
    torch.manual_seed(0)
    model = make_model(cfg, head).train()
    state = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        ref = model(*batch[:3])["logits"].float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(*batch[:3])["logits"].float()
    losses = {}
    for bf16 in (False, True):
        model.load_state_dict(state)
        losses[bf16] = _steps(cfg, head, model, batch, steps, bf16)[1]
    spread = float(ref.max() - ref.min()) or 1.0
    return {"logit_diff": float((ref - low).abs().max()) / spread, "loss_fp32": losses[False], "loss_bf16": losses[True]}


def precision_ratio(cfg, steps: int, repeats: int, heads=HEADS) -> dict:
    """Per head: (clips/s in fp32, clips/s under bf16 autocast or the error that stops it), best of `repeats`,
    interleaved."""
    best: dict = {(h, b): 0.0 for h in heads for b in (False, True)}
    for _ in range(repeats):
        for h in heads:
            for b in (False, True):
                if isinstance(best[(h, b)], str):
                    continue
                try:
                    best[(h, b)] = max(best[(h, b)], clips_per_second(cfg, h, steps, bf16=b))
                except RuntimeError as e:  # e.g. a custom autograd function whose backward mixes dtypes
                    best[(h, b)] = str(e).splitlines()[0]
    return {h: (best[(h, False)], best[(h, True)]) for h in heads}


def layout_ratio(cfg, steps: int, repeats: int) -> tuple[float, float]:
    """Clips/s of the video encoder's forward + backward: (channels-last 3D, contiguous)."""
    m = cfg.model
    B = cfg.train.batch_size
    clip = torch.randn(B, 3, cfg.video.n_frames, cfg.video.size, cfg.video.size)
    nets = []
    for cl in (True, False):
        torch.manual_seed(0)
        nets.append(build_video_encoder(m.video_arch, m.dim, m.keep_time, m.pool_hw, width=m.video_width,
                                        narrow_downsample=m.narrow_downsample, channels_last=cl).train())
    best = [float("inf"), float("inf")]
    for _ in range(repeats):  # interleaved, so a busy moment of the machine hits both layouts alike
        for i, net in enumerate(nets):
            net(clip).sum().backward()  # warm-up
            t0 = time.perf_counter()
            for _ in range(steps):
                net(clip).sum().backward()
            best[i] = min(best[i], (time.perf_counter() - t0) / steps)
    return B / best[0], B / best[1]


def positions_ratio(cfg, steps: int, repeats: int, heads=("video", "concat", "matchmap")) -> dict:
    """Per head: (clips/s with 2 x 2 video cells, clips/s with 4 x 4), best of `repeats`, interleaved."""
    cells = {2: cfg.with_overrides({"model.narrow_downsample": 16, "model.pool_hw": 2}),
             4: cfg.with_overrides({"model.narrow_downsample": 8, "model.pool_hw": 4})}
    best = {(h, n): 0.0 for h in heads for n in cells}
    for _ in range(repeats):
        for h in heads:
            for n, c in cells.items():
                best[(h, n)] = max(best[(h, n)], clips_per_second(c, h, steps))
    return {h: (best[(h, 2)], best[(h, 4)]) for h in heads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--layout", action="store_true", help="also compare the video encoder's memory layouts")
    ap.add_argument("--positions", action="store_true", help="also time 4 x 4 against 2 x 2 video positions")
    ap.add_argument("--precision", action="store_true", help="also time bf16 autocast against fp32 and compare")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cfg = load_config(args.profile)
    print(f"profile {args.profile}: batch {cfg.train.batch_size}, audio (3, {cfg.audio.n_mels}, {fixed_audio_frames(cfg)}), "
          f"video (3, {cfg.video.n_frames}, {cfg.video.size}, {cfg.video.size}), video arch {cfg.model.video_arch}, "
          f"D {cfg.model.dim}, torch threads {torch.get_num_threads()}")
    base = None
    for head in HEADS:
        cps = clips_per_second(cfg, head, args.steps)
        base = base or cps
        print(f"{head:>14}: {cps:8.1f} clips/s   ({base / cps:5.2f}x the time of the audio-only model)")
    if args.positions:
        for head, (two, four) in positions_ratio(cfg, args.steps, args.repeats).items():
            print(f"{head:>14}: 2 x 2 cells {two:7.1f} clips/s, 4 x 4 cells {four:7.1f} clips/s: 4 x 4 takes "
                  f"{two / four:.2f}x the time")
    if args.precision:
        for head, (fp32, bf16) in precision_ratio(cfg, args.steps, args.repeats).items():
            if isinstance(bf16, str):
                print(f"{head:>14}: fp32 {fp32:7.1f} clips/s; bf16 autocast fails: {bf16}")
                continue
            check = precision_check(cfg, head, args.steps)
            print(f"{head:>14}: fp32 {fp32:7.1f} clips/s, bf16 autocast {bf16:7.1f} clips/s: bf16 takes "
                  f"{fp32 / bf16:.2f}x the time; logits before training differ by up to "
                  f"{100 * check['logit_diff']:.2f} % of their range; loss after {args.steps} steps "
                  f"{check['loss_fp32']:.4f} (fp32) vs {check['loss_bf16']:.4f} (bf16)")
    if args.layout:
        cl, contiguous = layout_ratio(cfg, args.steps, args.repeats)
        print(f"video encoder forward + backward: channels-last 3D {cl:.1f} clips/s, contiguous {contiguous:.1f} "
              f"clips/s: channels-last is {cl / contiguous:.2f}x as fast")


if __name__ == "__main__":
    main()
