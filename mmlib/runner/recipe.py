"""The training recipe, chosen on validation speakers only, and the record of every setting tried.

    mmlib recipe --profile default          # -> results/recipe-default/ (tried.csv, summary.csv, choice.json)
    from mmlib.runner import recipe
    record = recipe.select(session)         # the two stages below; nothing here scores a test utterance

Two stages, each a grid of candidates (config overrides) trained on every fold with the profile's first
seed and scored on the fold's validation speakers, at the epoch the training kept (the checkpoint's own
history: validation UA and cross-entropy):
1. from scratch: the unimodal models (audio, video) under each of SCRATCH (learning rate x patience);
2. fine-tuning: the fusion models (concat, matchmap) started from stage 1's chosen unimodal models, under
   each of FINETUNE (the fine-tuning learning rate).
The chosen candidate of a stage has the highest validation UA, averaged over its folds and heads; ties
go to the earlier candidate (the listed order: the cheaper first). The record says what was tried, on which
data, which won and why; the profile in mmlib.config then carries the winners (tests/test_recipe.py
checks that it does), and the README's "settings tried" sentence is generated from the record. The
candidates' test predictions, which the grid computes with every training, are neither saved nor read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from mmlib.runner.session import Session

SCRATCH = [{"train.lr": lr, "train.patience": p} for lr in (2e-3, 1e-3, 5e-4) for p in (3, 8)]
FINETUNE = [{"train.finetune_lr": lr} for lr in (2e-3, 5e-4, 2e-4)]
STAGES = (("from scratch", ("audio", "video"), SCRATCH), ("fine-tuning", ("concat", "matchmap"), FINETUNE))
# The first grid's winners sat on its edges (patience 8, fine-tuning lr 2e-3: the largest tried); the wide grid
# adds a value beyond every edge until each winner is inside (`mmlib recipe --grid wide`).
SCRATCH_WIDE = [{"train.lr": lr, "train.patience": p} for lr in (2e-3, 1e-3, 5e-4, 2.5e-4) for p in (3, 8, 16)]
FINETUNE_WIDE = [{"train.finetune_lr": lr} for lr in (5e-2, 2e-2, 1e-2, 5e-3, 2e-3, 5e-4, 2e-4)]
# bf16 autocast against fp32 (issue 23 item 7: use what the CPU offers, with results checked against fp32), both
# stages. Declared before the run: bf16, listed first (about 0.7x the fp32 step time on a CPU with native bf16,
# benchmarks/bench_training.py --precision), is kept unless fp32 beats it by more than TOLERANCE["precision"].
PRECISION = [{"train.precision": "bf16-mixed"}, {"train.precision": "32-true"}]
GRIDS = {"first": STAGES,
         "wide": (("from scratch", ("audio", "video"), SCRATCH_WIDE), ("fine-tuning", ("concat", "matchmap"),
                                                                       FINETUNE_WIDE)),
         "precision": (("from scratch", ("audio", "video"), PRECISION), ("fine-tuning", ("concat", "matchmap"),
                                                                         PRECISION))}
# A grid whose first candidate is kept unless another beats its validation UA by more than this (a fraction):
# a setting chosen for speed must not cost accuracy, and a difference inside seed noise is no reason to pay.
TOLERANCE = {"precision": 0.01}
CRITERION = "mean validation UA at the kept epoch, over folds and heads (seed {seed}); ties: the first listed"
CRITERION_TOLERANT = ("mean validation UA at the kept epoch, over folds and heads (seed {seed}); the first listed is "
                      "kept unless another is higher by more than {points}")


def validation_scores(checkpoint: str | Path) -> dict:
    """The kept epoch's validation UA and cross-entropy, the kept epoch and the epochs run, from a checkpoint."""
    payload = torch.load(checkpoint, map_location="cpu", weights_only=False)
    hist = pd.DataFrame(payload["history"])
    kept = hist[hist["epoch"] == payload["best_epoch"]].iloc[0]
    return {"val_ua": float(kept["val_ua"]), "val_ce": float(kept["val_ce"]), "kept_epoch": int(payload["best_epoch"]),
            "epochs_run": int(hist["epoch"].max()) + 1}


def evaluate(session: Session, stage: str, heads, candidates: list[dict], base: dict, seed: int) -> pd.DataFrame:
    """Every candidate x head x fold of one stage, trained (or reused) as one grid: its validation scores."""
    arms = [(list(heads), {**base, **c, "seeds": (seed,)}, f"{stage} #{i}") for i, c in enumerate(candidates)]
    session.run_grid(arms)  # trains; the test predictions it returns are dropped unread
    rows = []
    for i, c in enumerate(candidates):
        for head in heads:
            for fold in session.folds:
                spec = session.spec(head, fold, seed, {**base, **c})
                rows.append({"stage": stage, "candidate": i, "setting": json.dumps(c, sort_keys=True), "head": head,
                             "fold": fold.number, "val_speakers": ",".join(fold.val_speakers), "seed": seed,
                             **validation_scores(session.checkpoint(spec))})
    return pd.DataFrame(rows)


def _points(fraction: float) -> str:
    x = 100 * fraction
    return f"{x:g} point" + ("" if x == 1 else "s")


def chosen_row(val_ua, tolerance: float = 0.0) -> int:
    """The chosen candidate among a stage's mean validation UAs (listed order): the highest, the earlier on a tie;
    with `tolerance` > 0 the first listed unless the highest beats it by more than `tolerance`."""
    val_ua = list(val_ua)
    best = max(range(len(val_ua)), key=lambda i: (val_ua[i], -i))
    return 0 if val_ua[best] - val_ua[0] <= tolerance else best


def select(session: Session, stages=None, tolerance: float = 0.0) -> dict:
    """Both stages (`stages`: one of GRIDS, default STAGES); {"tried": per candidate, head and fold, "summary": per
    candidate, "choice": overrides}. `tolerance` > 0: a stage keeps its first candidate unless another's validation
    UA is higher by more than that (TOLERANCE)."""
    seed = session.cfg.seeds[0]
    base: dict = {}
    tried, summary = [], []
    for stage, heads, candidates in (stages or STAGES):
        t = evaluate(session, stage, heads, candidates, base, seed)
        s = t.groupby(["stage", "candidate", "setting"], sort=True).agg(
            val_ua=("val_ua", "mean"), val_ce=("val_ce", "mean"), kept_epoch=("kept_epoch", "median"),
            epochs_run=("epochs_run", "median"), trainings=("fold", "size")).reset_index()
        best = chosen_row(s["val_ua"].to_numpy(), tolerance)
        s["chosen"] = s.index == best
        base = {**base, **candidates[int(s.loc[best, "candidate"])]}
        tried.append(t)
        summary.append(s)
    return {"tried": pd.concat(tried, ignore_index=True), "summary": pd.concat(summary, ignore_index=True),
            "choice": base, "criterion": (CRITERION_TOLERANT.format(seed=seed, points=_points(tolerance)) if tolerance
                                          else CRITERION.format(seed=seed))}


def write(record: dict, out: str | Path, profile: str, grid: str = "first") -> Path:
    """results/recipe-<profile>/: tried.csv, summary.csv and choice.json (the winners, the criterion, the grid)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record["tried"].to_csv(out / "tried.csv", index=False)
    record["summary"].to_csv(out / "summary.csv", index=False)
    (out / "choice.json").write_text(json.dumps({"profile": profile, "choice": record["choice"],
                                                 "criterion": record["criterion"], "grid": grid,
                                                 "data": "validation speakers of every fold; no test utterance"},
                                                indent=2, sort_keys=True) + "\n")
    return out


def pending(record_dir: str | Path, carried: dict, link: str | None = None) -> str:
    """A sentence on a recipe record whose choice the profile does not carry (`carried`: the profile's settings,
    e.g. the manifest's recipe.settings): what it chose per stage, against the carried setting in the same search
    (validation UA); `link` the record's path as the sentence's reader reaches it. "" when the profile carries it."""
    d = Path(record_dir)
    choice = json.loads((d / "choice.json").read_text())["choice"]
    if all(carried.get(k) == v for k, v in choice.items()):
        return ""
    s = pd.read_csv(d / "summary.csv")
    parts = []
    for stage, g in s.groupby("stage", sort=False):
        won = g[g["chosen"]].iloc[0]
        keys = list(json.loads(won.setting))
        ours = g[[all(json.loads(x).get(k) == carried.get(k) for k in keys) for x in g["setting"]]]
        if ours.empty or bool(ours["chosen"].iloc[0]):
            continue
        parts.append(f"{stage}, {_settings(won.setting)} (validation UA {100 * won.val_ua:.1f} against "
                     f"{100 * ours.val_ua.iloc[0]:.1f} for the profile's {_settings(ours.setting.iloc[0])})")
    link = link or str(d)
    return (f"A wider recipe search ([{link}]({link}), {len(s)} settings, validation speakers only) prefers "
            + "; ".join(parts) + ". The profile does not carry it yet: adopting it retrains every model of every "
            "run.") if parts else ""


def sentence(record_dir: str | Path) -> str:
    """The README's "settings tried" sentence, from a written record."""
    d = Path(record_dir)
    s = pd.read_csv(d / "summary.csv")
    choice = json.loads((d / "choice.json").read_text())
    parts = []
    for stage, g in s.groupby("stage", sort=False):
        tried = "; ".join(f"{_settings(r.setting)}: {100 * r.val_ua:.1f}" + (" (chosen)" if r.chosen else "")
                          for r in g.itertuples())
        parts.append(f"{stage}, {len(g)} settings (validation UA, %): {tried}")
    return (f"Settings tried ({choice['criterion']}; {choice['data']}): " + ". ".join(parts) + ".")


def _settings(setting: str) -> str:
    return ", ".join(f"{k.split('.')[-1]} {v:g}" if isinstance(v, (int, float)) else f"{k.split('.')[-1]} {v}"
                     for k, v in json.loads(setting).items())
