"""Writing the synthetic corpus: one dialog's files (voice, face, transcripts, evaluations), the tree.

    from mmlib.data.synthetic import SYNTH_PROFILES, generate_corpus
    root = generate_corpus("data/synth-quick", SYNTH_PROFILES["quick"])

Each dialog is rendered from its own rng keyed by (seed, "render", dialog): the room noise, then
every utterance's voice plan in time order, then the video. With the expressiveness knobs at 1 the
bytes are those of the corpus as planned. With voice_expressiveness != 1 the voice is re-planned
from the same starting state at its own speaking rate (its syllables are another draw) while the
dialog's stream still advances by the planned voice, so every video file is byte-identical to the
x = 1 corpus; the face's mouth follows a syllable plan at the face's expressiveness, so with
face_expressiveness != 1 every audio file is byte-identical. When the two knobs differ, lips no
longer follow the voice syllable by syllable (no model of the study works at that time scale).
The reliability knobs (plan.py) work the same way: the voice renders what the voice shows, the face
(its mouth's syllables included) what the face shows, each from the planned stream's starting state,
so changing voice_reliability leaves every video file byte-identical and face_reliability every
audio file; both at 1 (the default) write the corpus as it was before these knobs existed.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from mmlib.config import SYNTH_PROFILES, SynthConfig
from mmlib.config.provenance import code_text
from mmlib.data import degrade
from mmlib.data.synthetic.face import render_video, write_avi
from mmlib.data.synthetic.plan import (
    SHOWN_COLUMNS,
    _rng,
    _tick_rate,
    dialog_names,
    modality_expression,
    plan_corpus,
    speaker_params,
)
from mmlib.data.synthetic.voice import voice_plan, voice_wave

ROOT_NAME = "IEMOCAP_full_release"


def _fmt(t: float) -> str:
    return f"{t:.4f}"


def _heard_arousal(cfg: SynthConfig, u: dict, x: float, modality: str | None = None) -> float:
    """Arousal a voice renders at expressiveness x: arousal plus the weak valence leak, of the planned expression
    (modality None) or of what `modality` shows at its reliability (plan.modality_expression)."""
    v, a = modality_expression(u, x, modality)
    return a + cfg.audio_valence_cue * v


def render_dialog(job: tuple) -> None:
    """Write every file of one dialog under `root` (a worker task; pure function of its inputs)."""
    cfg, root, session, dialog, utts, spk = job
    sr, fps, S = cfg.sample_rate, cfg.fps, cfg.frame_size
    step = sr // _tick_rate(cfg)
    r = _rng(cfg.seed, "render", dialog)
    n = round(utts[0]["dialog_end"] * sr)
    wave = r.normal(0.0, 3e-4, n)  # room noise floor: silence is never digital zero
    env = {"F": np.zeros(n, np.float32), "M": np.zeros(n, np.float32)}
    texts, spans = [], []
    xv, xf = cfg.voice_expressiveness, cfg.face_expressiveness
    for u in utts:
        s0, s1 = u["start_tick"] * step, u["end_tick"] * step
        voice = spk[u["speaker"]]
        planned = _heard_arousal(cfg, u, 1.0)  # the expression as planned, at full strength
        hv, hf = _heard_arousal(cfg, u, xv, "voice"), _heard_arousal(cfg, u, xf, "face")  # what each one shows
        start = copy.deepcopy(r) if {hv, hf} != {planned} else None
        # the dialog's stream advances by the planned utterance whatever the knobs, so what is drawn after
        # the voices (the video) never depends on the voice's expressiveness or reliability
        plans = {planned: voice_plan(s1 - s0, sr, voice, planned, r)}
        for h in {hv, hf} - {planned}:  # another rate is another draw of syllables, from the same start
            plans[h] = voice_plan(s1 - s0, sr, voice, h, copy.deepcopy(start))
        wave[s0:s1] += voice_wave(plans[hv], voice, hv, sr)
        env[u["gender"]][s0:s1] = plans[hf]["env"]  # the mouth keeps the face's own syllable rate
        texts.append(plans[hv]["text"])
        spans.append((s0, s1))
    if cfg.audio_snr_db is not None:  # SNR referenced to the speech, not diluted by pauses
        speech = np.concatenate([wave[a:b] for a, b in spans])
        wave = degrade.add_noise(wave, cfg.audio_snr_db, _rng(cfg.seed, "degrade-audio", dialog),
                                 ref_power=float(np.mean(speech**2)))
    pcm = np.round(np.clip(wave, -1, 1) * 32767).astype(np.int16)

    sdir = Path(root) / f"Session{session}"
    d = sdir / "dialog"
    sf.write(d / "wav" / f"{dialog}.wav", pcm, sr, subtype="PCM_16")
    (sdir / "sentences" / "wav" / dialog).mkdir(parents=True, exist_ok=True)
    for u, (s0, s1) in zip(utts, spans):
        sf.write(sdir / "sentences" / "wav" / dialog / f"{u['id']}.wav", pcm[s0:s1], sr, subtype="PCM_16")

    n_frames = math.ceil(n / sr * fps)
    faces = {g: spk[f"Ses{session:02d}_{g}"] for g in "FM"}
    frames = render_video(cfg, utts, faces, env, n_frames, r, left=dialog[5])
    if cfg.video_blur_sigma or cfg.video_occlusion or cfg.video_drop_prob:
        rd = _rng(cfg.seed, "degrade-video", dialog)
        for h in range(2):  # occlusion and blur per actor (face-centred halves), drops for the stream
            frames[:, :, h * S:(h + 1) * S] = degrade.degrade_frames(
                frames[:, :, h * S:(h + 1) * S], cfg.video_blur_sigma, cfg.video_occlusion, 0.0, rd)
        frames = degrade.degrade_frames(frames, drop_prob=cfg.video_drop_prob, rng=rd)
    write_avi(d / "avi" / "DivX" / f"{dialog}.avi", frames, fps)

    with open(d / "transcriptions" / f"{dialog}.txt", "w", newline="\n") as fh:
        for u, text in zip(utts, texts):
            fh.write(f"{u['id']} [{u['start']:08.4f}-{u['end']:08.4f}]: {text}\n")
    ev = d / "EmoEvaluation"
    with open(ev / f"{dialog}.txt", "w", newline="\n") as fh:
        fh.write("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n")
        for u in utts:
            fh.write(f"[{_fmt(u['start'])} - {_fmt(u['end'])}]\t{u['id']}\t{u['code']}\t"
                     f"[{u['ann_valence']:.4f}, {u['ann_arousal']:.4f}, {u['ann_dominance']:.4f}]\n{u['eval_lines']}\n\n")
    # per-annotator files as in the real release (the loader must ignore these folders)
    (ev / "Categorical" / f"{dialog}_e1_cat.txt").write_text(
        "".join(f"{u['id']} :{u['eval_lines'].split(chr(9))[1]} ()\n" for u in utts))
    (ev / "Attribute" / f"{dialog}_atr.txt").write_text(
        "".join(f"{u['id']} :act {round(u['ann_arousal'])}; val {round(u['ann_valence'])}; "
                f"dom {round(u['ann_dominance'])}; ()\n" for u in utts))
    (ev / "Self-evaluation" / f"{dialog}.anvil").write_text(
        f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<annotation>\n  <head><video src="{dialog}.avi"/></head>\n'
        "  <body/>\n</annotation>\n")


# ---------------------------------------------------------------- the corpus

def _stamp(cfg: SynthConfig) -> dict:
    """What made a corpus: the config and the generator's source (a code change means a rebuild)."""
    src = b"".join(code_text(p) for p in sorted(Path(__file__).parent.glob("*.py"))) + code_text(degrade.__file__)
    return {"config": dataclasses.asdict(cfg), "generator": hashlib.sha256(src).hexdigest()[:16]}


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core already


def generate_corpus(out_dir: str | Path, config: SynthConfig | None = None, progress: bool = True,
                    workers: int | None = None, force: bool = False) -> Path:
    """Write out_dir/IEMOCAP_full_release (returned), out_dir/truth.csv and out_dir/synth_config.json.

    truth.csv, one row per utterance: the plan (id, times, annotated `code`, `expressed` emotion,
    `intensity` 0..1, `flipped` = label disagrees with the expression, `expr_valence` /
    `expr_arousal` in [-1, 1], the annotated `ann_*` 1-5 values) and the speaker's voice and face
    parameters (f0, vtl, level_db, rate, breath, half_h, aspect, dx, dy, eye_sp, mouth_w, skin, hair).
    When a reliability knob is below 1 it also holds what each modality shows (plan.SHOWN_COLUMNS:
    voice_from, voice_valence, voice_arousal, face_from, face_valence, face_arousal, before the
    expressiveness pull), right after expr_arousal; at reliability 1 they repeat id and expr_* and are
    left out, so the default corpus's truth.csv is the one written before the knob existed.

    Built in a temporary sibling folder and renamed into place, so a half-written corpus never
    looks complete. An existing corpus made by the same config and generator is reused (unless
    force); one made otherwise is replaced; a non-empty folder we did not make is an error.
    workers: processes (default os.cpu_count(); 1 = serial); the output does not depend on it.
    """
    cfg = config or SynthConfig()
    out_dir = Path(out_dir)
    stamp, meta = json.loads(json.dumps(_stamp(cfg))), out_dir / "synth_config.json"  # tuples -> lists
    if out_dir.exists():
        if meta.is_file() and not force and json.loads(meta.read_text()) == stamp:
            return out_dir / ROOT_NAME
        if not meta.is_file() and any(out_dir.iterdir()):
            raise FileExistsError(f"{out_dir} exists and holds no synth_config.json: not replacing it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    plan, spk = plan_corpus(cfg), speaker_params(cfg)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        root = tmp / ROOT_NAME
        names = dialog_names(cfg)
        for s in sorted({s for s, _ in names}):
            d = root / f"Session{s}" / "dialog"
            for sub in ("EmoEvaluation/Categorical", "EmoEvaluation/Attribute", "EmoEvaluation/Self-evaluation",
                        "avi/DivX", "transcriptions", "wav"):
                (d / sub).mkdir(parents=True)
            (root / f"Session{s}" / "sentences" / "wav").mkdir(parents=True)
            if cfg.hidden_files:  # AppleDouble stubs, as macOS left them in the real archive
                first = next(n for ss, n in names if ss == s)
                for p in (d / "EmoEvaluation" / f"._{first}.txt", d / "wav" / f"._{first}.wav"):
                    p.write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + bytes(58))
        records = plan.to_dict("records")
        jobs = [(cfg, str(root), s, name, [u for u in records if u["dialog"] == name], spk) for s, name in names]
        workers = min(workers or os.cpu_count() or 1, len(jobs))
        bar = tqdm(total=len(jobs), desc="synthetic corpus", unit="dialog", disable=not progress)
        if workers <= 1:
            for job in jobs:
                render_dialog(job)
                bar.update()
        else:
            ctx = multiprocessing.get_context("forkserver")  # fork can deadlock under torch/OpenMP threads
            with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
                for _ in pool.map(render_dialog, jobs):
                    bar.update()
        bar.close()
        voices = pd.DataFrame.from_dict(spk, orient="index").rename_axis("speaker").reset_index()
        voices["skin"], voices["hair"] = voices.skin.map(str), voices.hair.map(str)
        shown = [] if (cfg.voice_reliability, cfg.face_reliability) == (1.0, 1.0) else list(SHOWN_COLUMNS)
        order = [c for c in plan.columns if c not in SHOWN_COLUMNS]
        order[order.index("expr_arousal") + 1:1 + order.index("expr_arousal")] = shown
        truth = plan[order].drop(columns=["eval_lines", "start_tick", "end_tick", "dialog_end"]).merge(
            voices.round(4), on="speaker", how="left")
        truth.to_csv(tmp / "truth.csv", index=False, lineterminator="\n")
        (tmp / "synth_config.json").write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
        if out_dir.exists():  # swap: the old corpus stays whole until the new one is in place
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / ROOT_NAME


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m mmlib.data.synthetic",
                                 description="write the synthetic IEMOCAP-layout corpus")
    ap.add_argument("out", help="output folder (gets IEMOCAP_full_release/ and truth.csv)")
    ap.add_argument("--profile", default="quick", choices=sorted(SYNTH_PROFILES))
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--force", action="store_true", help="regenerate even if an identical corpus exists")
    args = ap.parse_args(argv)
    cfg = SYNTH_PROFILES[args.profile]
    if args.seed is not None:
        cfg = dataclasses.replace(cfg, seed=args.seed)
    print(generate_corpus(args.out, cfg, workers=args.workers, force=args.force))


if __name__ == "__main__":
    main()
