"""The learning curve: what the models and the references reach as the synthetic corpus grows, on validation
speakers only.

    mmlib curve --profile default           # -> results/curve-default/ (scores.csv, summary.csv, curve.png, ...)
    from mmlib.runner import curve
    record = curve.measure("default")       # nothing here scores a test utterance

The corpus grows by dialogs per session (half improvised, half scripted; every dialog keeps the profile's
turns and durations), so each speaker has more labelled utterances and the speakers, folds and the share of
each emotion stay as they are. At each size (`DIALOGS`) the corpus is generated and its features extracted,
then every head of `HEADS` is trained on every fold and seed of the profile with the profile's recipe, and
scored by the validation UA at the epoch its training kept (the checkpoint's own history, as `mmlib recipe`
reads it). Beside them, on the same validation speakers:

- `oracle: ...`: the study's oracle (mmlib.analysis.oracle) fitted on the fold's training utterances only;
- `oracle (large draw): ...`: the oracle fitted on an independent draw of the generator of about
  `references.DRAW_SESSIONS` default-sized sessions (the same draw at every size), so not limited by the sample;
- `probe: ...`: the probe of mmlib.analysis.references fitted on the training utterances, at the C it chooses on
  these validation speakers.

Both the kept epoch and the probe's C are chosen on the very validation speakers that score them, so every
score here leans the same way (a little optimistic, less so as the validation speakers' utterances grow); the
study's test folds are never read. The test predictions that training computes are dropped unread, as in
mmlib recipe.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from mmlib.analysis import metrics, oracle, references, targets
from mmlib.data.splits import Fold

DIALOGS = (6, 12, 24, 48)  # dialogs per session: ~52, ~104, ~208, ~416 labelled utterances per speaker (default)
HEADS = ("audio", "video", "concat", "matchmap")
BASE_DIALOGS = 6  # the default corpus's dialogs per session (3 improvised + 3 scripted)


def size_overrides(dialogs: int) -> dict:
    """The config overrides of a corpus with `dialogs` dialogs per session (the odd one improvised)."""
    if dialogs < 2:
        raise ValueError(f"a session needs at least 2 dialogs (one improvised, one scripted), got {dialogs}")
    return {"synth.impro_per_session": dialogs - dialogs // 2, "synth.script_per_session": dialogs // 2}


def validation_folds(folds: list[Fold]) -> list[Fold]:
    """Each fold with its validation speakers in the place of its test speakers and no validation part: what
    the references fit on (training utterances) and score (validation utterances) through their usual code."""
    return [replace(f, test=f.val, test_speakers=f.val_speakers, val=(), val_speakers=()) for f in folds]


def model_scores(session, heads=HEADS) -> pd.DataFrame:
    """Every head x fold x seed of the session trained (or reused): its validation UA at the kept epoch."""
    pred = session.run_grid([(list(heads), None, None)])
    runs = pred.groupby(["model", "fold", "seed"], sort=True)["val_ua"].first().reset_index()
    return runs.rename(columns={"val_ua": "UA"}).assign(kind="model")


def reference_scores(session, draw_sessions: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the references' validation UA per model and fold, the probe's settings tried): oracles fitted on each
    fold's training utterances and scored on its validation speakers; the probe at its validation-chosen C."""
    vfolds = validation_folds(session.folds)
    frames = []
    path = oracle.truth_file(session.cfg)
    if path is not None:
        sample = oracle.fit_predict(oracle.cues(pd.read_csv(path), session.cfg.synth), session.table, vfolds)
        large = references.large_draw_predictions(session.cfg, session.table, vfolds, sessions=draw_sessions)
        per_fold = metrics.per_fold(pd.concat([sample, large], ignore_index=True))
        frames.append(per_fold[["model", "fold", "seed", "UA"]])
    _, tried = references.probe_predictions(session.table, session.folds, session.feats)
    chosen = tried[tried["chosen"]].rename(columns={"val_UA": "UA"}).assign(seed=0)
    frames.append(chosen[["model", "fold", "seed", "UA"]])
    return pd.concat(frames, ignore_index=True).assign(kind="reference"), tried


def measure(profile: str = "default", dialogs=DIALOGS, data_dir: str = "data", results_dir: str | Path = "results",
            overrides: dict | None = None, heads=HEADS, progress: bool = True, on_size=None) -> dict:
    """The curve: every size of `dialogs`, each a session of `profile` (+ overrides) opened on its own corpus.
    {"scores": one row per size x model x fold x seed, "tried": the probe's settings, "sizes": per size its
    corpus, utterances and wall seconds}. `on_size(record)`, if given, receives the record so far after each size
    (the command writes it, so a long run leaves its finished sizes behind)."""
    from mmlib.runner.session import open_session
    from mmlib.runner.study import git_state

    if not dialogs:
        raise ValueError("a learning curve needs at least one size (dialogs per session)")
    made_by = git_state(Path(__file__).resolve().parents[2])  # the code that trains and scores, before any size
    scores, tried, sizes = [], [], []
    for d in dialogs:
        start = time.perf_counter()
        over = {**(overrides or {}), **size_overrides(d)}
        session = open_session(profile, data_dir=data_dir, results_dir=str(results_dir), overrides=over,
                               progress=progress)
        per_speaker = session.table.groupby("speaker").size()
        draw = max(1, round(references.DRAW_SESSIONS * BASE_DIALOGS / d))  # the same number of dialogs at every size
        size = {"dialogs_per_session": d, "labelled": len(session.table),
                "labelled_per_speaker": float(per_speaker.mean()),
                "labelled_per_speaker_min": int(per_speaker.min()),
                "val_utterances_per_fold": float(pd.Series([len(f.val) for f in session.folds]).mean()),
                "folds": len(session.folds), "seeds": ",".join(map(str, session.cfg.seeds)),
                "draw_sessions": draw if oracle.truth_file(session.cfg) is not None else 0}
        refs, t = reference_scores(session, draw)
        found = pd.concat([model_scores(session, heads), refs], ignore_index=True)
        tag = {"dialogs_per_session": d, "labelled_per_speaker": size["labelled_per_speaker"]}
        scores.append(found.assign(**tag))
        tried.append(t.assign(dialogs_per_session=d))
        size["seconds"] = round(time.perf_counter() - start, 1)
        sizes.append(size)
        if progress:
            print(f"curve: {d} dialogs per session, {size['labelled_per_speaker']:.0f} labelled utterances per "
                  f"speaker: {size['seconds']:.0f} s", flush=True)
        record = {"scores": pd.concat(scores, ignore_index=True), "tried": pd.concat(tried, ignore_index=True),
                  "sizes": pd.DataFrame(sizes), "made_by": made_by}
        if on_size is not None:
            on_size(record)
    return record


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Per size and model: the mean validation UA over folds (seeds averaged within a fold first), the sd of the
    fold means, the sd over seeds of the all-fold mean (0 for the references, which have one seed), and counts."""
    keys = ["dialogs_per_session", "labelled_per_speaker", "kind", "model"]
    fold_means = scores.groupby(keys + ["fold"])["UA"].mean().reset_index()
    seed_means = scores.groupby(keys + ["seed"])["UA"].mean().reset_index()
    out = fold_means.groupby(keys)["UA"].agg(UA="mean", sd_folds="std", folds="size").reset_index()
    seed_sd = seed_means.groupby(keys)["UA"].agg(sd_seeds="std", seeds="size").reset_index()
    out = out.merge(seed_sd, on=keys)
    out["sd_seeds"] = out["sd_seeds"].fillna(0.0)
    return out.sort_values(["kind", "model", "dialogs_per_session"], ignore_index=True)


def contrast_power(scores: pd.DataFrame, model_a: str = "matchmap", model_b: str = "concat") -> pd.DataFrame:
    """Per size, claim 1's contrast on validation speakers: model_a - model_b per fold and seed, averaged over a
    fold's seeds; the mean and sd of those fold values and the minimum detectable effect of the fold-level
    t-test at 80 % power (mmlib.analysis.power.mde): how the design's power moves with the corpus size. The
    validation speakers (one or two per fold) are fewer than the test speakers, so the sd is indicative."""
    from mmlib.analysis import power

    columns = ["dialogs_per_session", "labelled_per_speaker", "contrast", "mean", "sd_folds", "folds", "mde"]
    if not {model_a, model_b} <= set(scores["model"]):
        return pd.DataFrame(columns=columns)  # a curve of other heads has no claim-1 contrast
    models = scores[scores["model"].isin([model_a, model_b])]
    wide = models.pivot_table(index=["dialogs_per_session", "labelled_per_speaker", "fold", "seed"],
                              columns="model", values="UA").dropna()
    diff = (wide[model_a] - wide[model_b]).rename("diff").reset_index()
    folds = diff.groupby(["dialogs_per_session", "labelled_per_speaker", "fold"])["diff"].mean().reset_index()
    rows = []
    for (d, n), g in folds.groupby(["dialogs_per_session", "labelled_per_speaker"]):
        v = g["diff"].to_numpy()
        rows.append({"dialogs_per_session": d, "labelled_per_speaker": n, "contrast": f"{model_a} - {model_b}",
                     "mean": float(v.mean()), "sd_folds": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                     "folds": len(v), "mde": power.mde(v)})
    return pd.DataFrame(rows)


def write(record: dict, out: str | Path, profile: str) -> Path:
    """results/curve-<profile>/: scores.csv, summary.csv, power.csv, probe_settings.csv, sizes.csv, about.json,
    curve.png/pdf."""
    from mmlib.figures import plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record["scores"].to_csv(out / "scores.csv", index=False)
    summary = summarize(record["scores"])
    summary.to_csv(out / "summary.csv", index=False)
    contrast_power(record["scores"]).to_csv(out / "power.csv", index=False)
    record["tried"].to_csv(out / "probe_settings.csv", index=False)
    record["sizes"].to_csv(out / "sizes.csv", index=False)
    (out / "about.json").write_text(json.dumps({
        "profile": profile, "data": "validation speakers of every fold; no test utterance",
        "score": "validation UA at the epoch each training kept (models); the probe at its validation-chosen C; "
                 "oracles fitted on training utterances only",
        "sizes": "dialogs per session (synth.impro_per_session + synth.script_per_session)",
        "made_by": record.get("made_by")}, indent=2) + "\n")
    plots.save(plots.learning_curve(summary), "curve", out)
    return out


def table(summary: pd.DataFrame) -> pd.DataFrame:
    """Models and references as rows, sizes (labelled utterances per speaker) as columns, UA in %: what the
    command prints."""
    wide = summary.pivot_table(index=["kind", "model"], columns="labelled_per_speaker", values="UA") * 100
    wide.columns = [f"{c:.0f}/speaker" for c in wide.columns]
    return wide.round(1)


REFERENCE_OF = {"audio": ("probe: audio", "oracle (large draw): arousal only"),
                "video": ("probe: video", "oracle (large draw): valence only")}  # fusion: the "both" references


def report_lines(record_dir: str | Path) -> list[str]:
    """The report's section on a written learning curve: what was measured, a table (UA % per size), and per
    model its gain from the smallest to the largest size and where it ends against its probe and large-draw
    oracle. Every number comes from the record."""
    d = Path(record_dir)
    summary = pd.read_csv(d / "summary.csv")
    sizes = pd.read_csv(d / "sizes.csv")
    wide = table(summary)
    cols = list(wide.columns)
    out = [f"**Learning curve** (`mmlib curve`, `{d.name}/`; validation speakers only, never a test fold): the "
           f"synthetic corpus at {', '.join(str(int(x)) for x in sizes['dialogs_per_session'])} dialogs per session, "
           f"every model trained on {_n(int(sizes['folds'].iloc[0]), 'fold')} x seeds {sizes['seeds'].iloc[0]}, "
           "scored by "
           "its validation UA at the epoch it kept; the probe at the C it chose on the same speakers; the oracles "
           "fitted on training utterances. UA in %, mean over folds; columns: labelled utterances per speaker.", "",
           "| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for (kind, model), row in wide.iterrows():
        out.append(f"| {model} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    ua = summary.pivot_table(index="model", columns="labelled_per_speaker", values="UA") * 100
    first, last = ua.columns.min(), ua.columns.max()
    parts = []
    for head in HEADS:
        if head not in ua.index:
            continue
        probe, large = REFERENCE_OF.get(head, ("probe: both", "oracle (large draw): both"))
        ends = ", ".join(f"{name.split(':')[0]} {ua.loc[ref, last]:.1f}" for name, ref in
                         (("probe", probe), ("large-draw oracle", large)) if ref in ua.index)
        parts.append(f"{head} {ua.loc[head, first]:.1f} -> {ua.loc[head, last]:.1f} ({ends})")
    out += ["", f"From {first:.0f} to {last:.0f} labelled utterances per speaker: " + "; ".join(parts) + "."]
    above = [f"{head} at {size:.0f} per speaker ({ua.loc[head, size]:.1f} vs {ua.loc[large, size]:.1f})"
             for head, (_, large) in REFERENCE_OF.items() if head in ua.index and large in ua.index
             for size in ua.columns if ua.loc[head, size] > ua.loc[large, size]]
    if above:
        out.append("Above its single-cue large-draw oracle: " + "; ".join(above) + ". That oracle reads one latent "
                   "only, while the synthetic face also shows a weak arousal cue (synth.video_arousal_cue) and the "
                   "voice a weak valence cue (synth.audio_valence_cue): a single-cue oracle is the ceiling of that "
                   "cue, not of the input.")
    pw = pd.read_csv(d / "power.csv") if (d / "power.csv").exists() else pd.DataFrame()
    if len(pw):
        met = sizes_meeting_targets(d)
        all_met = met[met["all_met"]]
        out.append("Against the study's targets (mmlib.analysis.targets: every model at or above its probe and within "
                   f"{100 * targets.CEILING_GAP:.0f} points of its large-draw oracle, claim 1 detectable at "
                   f"{100 * targets.MDE:.0f} points), on these validation speakers: " + "; ".join(
                       f"{r.labelled_per_speaker:.0f} per speaker {r.at_or_above_probe} of {r.heads} at the probe, "
                       f"{r.near_ceiling} of {r.heads} near the ceiling, detectable {100 * r.mde:.1f}"
                       for r in met.itertuples()) + ". " + (
                       f"All are met first at {all_met['labelled_per_speaker'].iloc[0]:.0f} labelled utterances per "
                       "speaker." if len(all_met) else "No size meets all of them.")
                   + " Validation folds hold other speakers than the test folds, so this says where the targets would "
                   "be met, not whether a study meets them.")
        out.append("Claim 1's contrast on these validation speakers (fold means over seeds), and the effect a "
                   "fold-level t-test over these folds detects at 80 % power: " + "; ".join(
                       f"{r.labelled_per_speaker:.0f} per speaker {100 * r['mean']:+.1f} (sd over folds "
                       f"{100 * r.sd_folds:.1f}, detectable {100 * r.mde:.1f})" for _, r in pw.iterrows()) + ".")
    return out + [""]


def sizes_meeting_targets(record_dir: str | Path) -> pd.DataFrame | None:
    """targets.by_size of a committed curve (`record_dir` with summary.csv and power.csv), with each size's dialogs
    per session beside it, smallest size first (the first row with all_met is where every target is met first);
    None when the record is not there."""
    d = Path(record_dir)
    if not ((d / "summary.csv").exists() and (d / "power.csv").exists() and (d / "sizes.csv").exists()):
        return None
    met = targets.by_size(pd.read_csv(d / "summary.csv"), pd.read_csv(d / "power.csv"), REFERENCE_OF, HEADS)
    sizes = pd.read_csv(d / "sizes.csv")[["dialogs_per_session", "labelled_per_speaker"]]
    return (sizes.merge(met, on="labelled_per_speaker", validate="one_to_one")
            .sort_values("dialogs_per_session", ignore_index=True))


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")
