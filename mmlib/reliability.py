"""When does fusion help? Missing modalities, effective robustness and the modality-reliability sweep.

    from mmlib import reliability as rel
    # 1. a trained model scored with both streams, audio only, video only (per fold and seed: loop)
    pred = rel.missing_modality(model, test_ds, collate_fn, classes)      # + a `condition` column
    # 2. degradation curves (experiments.robustness) relative to clean, fusion vs the intact modality
    eff = rel.effective_robustness(rob)
    # 3. the claim itself: corpora whose face (or voice) shows less and less emotion
    pred = rel.reliability_sweep("default", "face", [1.0, 0.5, 0.0], ["audio", "video", "matchmap"], "data")
    gains = rel.sweep_gain(metrics.per_fold(pred, by=("model", "modality", "level", "fold", "seed")))
    summary = rel.sweep_summary(gains)                                     # one row per head and level

A missing stream is zero-filled AFTER normalization (data/blanking.py): zero is the normalizer's
mean (the speaker's mean with data.speaker_norm), MMIN's zero-filling, not the training mean of the
raw features. Nothing here trains: `missing_modality` takes a model and a dataset, and
`reliability_sweep` delegates the training to `runner` (experiments.run_models by default).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch.utils.data import DataLoader

from mmlib.data.blanking import blank

# condition -> the stream that is zero-filled
CONDITIONS = {"audio+video": None, "audio only": "video", "video only": "audio"}
KNOBS = {"voice": "synth.voice_expressiveness", "face": "synth.face_expressiveness"}
ALIASES = {"audio": "voice", "video": "face"}  # the modality's name in the study -> the corpus knob
UNIMODAL = ("audio", "video")


# ------------------------------------------------------------------ 1. missing modality at test time

@torch.no_grad()
def predict_blanked(model: torch.nn.Module, ds, collate_fn: Callable, classes: list[str],
                    missing: str | None = None, batch_size: int = 64) -> pd.DataFrame:
    """Per-utterance predictions with the `missing` stream ("audio" | "video" | None) zero-filled.

    ds: an EmotionDataset-like object (`ids`, `labels` (indices into classes), items with
    `utt_index`); collate_fn turns items into a batch (e.g. `lambda it: collate(it, pad_to)`).
    Chunk logits are averaged per utterance, then softmax and argmax, as training.predict does.
    Returns id, true, pred, p_<class>.
    """
    model.eval()
    sums = torch.zeros(len(ds.ids), len(classes))
    counts = torch.zeros(len(ds.ids))
    for batch in DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate_fn):
        batch = blank(batch, missing)
        logits = model(batch.get("audio"), batch.get("video"), batch.get("audio_lengths"))["logits"].float()
        sums.index_add_(0, batch["utt_index"], logits)
        counts.index_add_(0, batch["utt_index"], torch.ones(len(logits)))
    probs = torch.softmax(sums / counts[:, None], dim=1).numpy()
    out = pd.DataFrame({"id": list(ds.ids), "true": [classes[i] for i in ds.labels],
                        "pred": [classes[i] for i in probs.argmax(1)]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = probs[:, i]
    return out


def missing_modality(model: torch.nn.Module, ds, collate_fn: Callable, classes: list[str],
                     conditions: tuple[str, ...] = tuple(CONDITIONS), batch_size: int = 64) -> pd.DataFrame:
    """Predictions of one trained model under each test condition it can take, with a `condition` column.

    A fusion model (its dataset yields audio and video) is scored under every condition in
    `conditions` ("audio+video", "audio only", "video only": the other stream zero-filled after
    normalization); a unimodal model only under its own ("audio only" or "video only"), so the
    table puts it next to the fusion models. Call it per fold and seed and add those columns.
    """
    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown conditions {unknown}; choose from {list(CONDITIONS)}")
    item = ds[0]
    has = tuple(m for m in UNIMODAL if m in item)
    if has == ("audio", "video"):
        todo = list(conditions)
    elif has in (("audio",), ("video",)):
        todo = [f"{has[0]} only"]
    else:
        raise ValueError(f"the dataset's items hold neither audio nor video (keys: {sorted(item)})")
    frames = [predict_blanked(model, ds, collate_fn, classes, CONDITIONS[c] if len(has) == 2 else None,
                              batch_size).assign(condition=c) for c in todo]
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ 2. effective robustness

def _level_key(level: Any) -> str:
    if level is None or level == "clean" or (isinstance(level, float) and np.isnan(level)):
        return "clean"
    return repr(float(level))


def effective_robustness(rob: pd.DataFrame, clean: dict[str, Any] | None = None, metric: str = "UA") -> pd.DataFrame:
    """Degradation curves with MultiBench's baselines, one row per model, knob, level, fold, seed.

    rob: columns model, knob, level, fold, seed and `metric` (experiments.robustness). The clean
    level of a knob is `clean[knob]` if given, else its missing level (None / NaN, e.g. audio.snr_db)
    if present, else level 0 (blur, occlusion, drop). Adds:
      <metric>_clean  the same model, fold and seed on clean data;
      relative        <metric> / <metric>_clean (effective robustness: 1 = no loss);
      intact          the unimodal model of the modality the knob leaves intact (audio.* -> video);
      gain_over_intact  <metric> minus the intact model's at the same knob, level, fold and seed
                      (NaN for the unimodal models themselves).
    """
    need = {"model", "knob", "level", "fold", "seed", metric}
    if not need <= set(rob.columns):
        raise KeyError(f"robustness table needs columns {sorted(need)}; missing {sorted(need - set(rob.columns))}")
    df = rob.copy()
    df["_lv"] = df["level"].map(_level_key)
    clean = clean or {}
    ref_key = {}
    for knob, g in df.groupby("knob"):
        if knob in clean:
            ref_key[knob] = _level_key(clean[knob])
        elif (g["_lv"] == "clean").any():
            ref_key[knob] = "clean"
        elif (g["_lv"] == repr(0.0)).any():
            ref_key[knob] = repr(0.0)
        else:
            raise ValueError(f"knob {knob!r} has no clean level (None or 0) in the table; pass clean={{knob: level}}")
    keys = ["model", "knob", "fold", "seed"]
    ref = df[df["_lv"] == df["knob"].map(ref_key)][keys + [metric]].rename(columns={metric: f"{metric}_clean"})
    if ref.duplicated(keys).any():
        raise ValueError("robustness table holds several clean rows for one model, knob, fold and seed")
    df = df.merge(ref, on=keys, how="left")
    df["relative"] = df[metric] / df[f"{metric}_clean"]
    df["intact"] = df["knob"].map(lambda k: {"audio": "video", "video": "audio"}.get(str(k).split(".")[0]))
    uni = df[df["model"].isin(UNIMODAL)][["model", "knob", "_lv", "fold", "seed", metric]].rename(
        columns={"model": "intact", metric: "_intact"})
    df = df.merge(uni, on=["intact", "knob", "_lv", "fold", "seed"], how="left")
    df["gain_over_intact"] = np.where(df["model"].isin(UNIMODAL), np.nan, df[metric] - df["_intact"])
    return df.drop(columns=["_lv", "_intact"])


# ------------------------------------------------------------------ 3. the modality-reliability sweep

def knob_of(modality: str) -> str:
    """The synth override of a modality: "face" / "video" -> synth.face_expressiveness, etc."""
    name = ALIASES.get(modality, modality)
    if name not in KNOBS:
        raise ValueError(f"modality must be one of {sorted(KNOBS) + sorted(ALIASES)}, got {modality!r}")
    return KNOBS[name]


def reliability_sweep(profile: str, modality: str, levels: list[float], heads: list[str], data_dir: str,
                      overrides: dict[str, Any] | None = None, runner: Callable | None = None,
                      **study_kw) -> pd.DataFrame:
    """For each expressiveness level of one modality (the other intact), a corpus, a study, its models.

    Each level opens `experiments.open_study(profile, data_dir=data_dir, overrides=overrides +
    {synth.<modality>_expressiveness: level}, **study_kw)` (the corpus is generated once per level
    and cached under data_dir) and calls `runner(st, heads)` (default experiments.run_models).
    Returns the runners' prediction tables stacked, with `modality` ("voice" | "face") and `level`.
    """
    from mmlib import experiments  # training stack: imported only when a sweep runs

    knob = knob_of(modality)
    runner = runner or experiments.run_models
    out = []
    for level in levels:
        st = experiments.open_study(profile, data_dir=data_dir, overrides={**(overrides or {}), knob: float(level)},
                                    **study_kw)
        pred = runner(st, list(heads))
        out.append(pred.assign(modality=knob.split(".")[1].split("_")[0], level=float(level)))
    return pd.concat(out, ignore_index=True)


def sweep_gain(per_fold: pd.DataFrame, metric: str = "UA", unimodal: tuple[str, str] = UNIMODAL) -> pd.DataFrame:
    """Fusion's gain over the best unimodal model, per modality, level, fold and seed.

    per_fold: one row per model, modality, level, fold, seed with `metric` (metrics.per_fold of a
    reliability_sweep table). At each modality and level the best unimodal model is the one with the
    higher mean over folds and seeds (chosen once per level, not per fold, so noise does not pick
    it); for every other model (the fusion heads) and fold x seed:
      gain = metric - metric of the best unimodal model;   gap = best unimodal - the other unimodal;
      gap_weak = the intact modality's unimodal model - the weakened one's (face -> audio - video),
                 signed, so it grows as the weakened modality loses emotion (the sweep figure's x).
    Columns: modality, level, model, fold, seed, <metric>, best, <metric>_best, <metric>_other, gain, gap,
    gap_weak.
    """
    need = {"model", "modality", "level", "fold", "seed", metric}
    if not need <= set(per_fold.columns):
        raise KeyError(f"per-fold table needs columns {sorted(need)}; missing {sorted(need - set(per_fold.columns))}")
    rows = []
    for (modality, level), g in per_fold.groupby(["modality", "level"], sort=True):
        means = g.groupby("model")[metric].mean()
        missing = [m for m in unimodal if m not in means]
        if missing:
            raise ValueError(f"{modality}={level}: no per-fold rows of the unimodal model(s) {missing}")
        best = max(unimodal, key=lambda m: means[m])
        weak = dict(zip(("voice", "face"), unimodal)).get(ALIASES.get(modality, modality))
        if weak is None:
            raise ValueError(f"modality {modality!r} is neither voice nor face (nor audio / video)")
        intact = next(m for m in unimodal if m != weak)
        other = next(m for m in unimodal if m != best)
        uni = g[g["model"].isin(unimodal)].pivot_table(index=["fold", "seed"], columns="model", values=metric)
        for r in g[~g["model"].isin(unimodal)].itertuples(index=False):
            key = (r.fold, r.seed)
            if key not in uni.index:
                raise ValueError(f"{modality}={level}: {r.model} has fold {r.fold} seed {r.seed}, "
                                 "the unimodal models do not")
            ub, uo = float(uni.loc[key, best]), float(uni.loc[key, other])
            v = float(getattr(r, metric))
            rows.append({"modality": modality, "level": level, "model": r.model, "fold": r.fold, "seed": r.seed,
                         metric: v, "best": best, f"{metric}_best": ub, f"{metric}_other": uo,
                         "gain": v - ub, "gap": ub - uo,
                         "gap_weak": float(uni.loc[key, intact]) - float(uni.loc[key, weak])})
    return pd.DataFrame(rows)


def sweep_summary(gains: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean gain, gap and gap_weak per modality, level and model, with a t-interval of the gain over folds x seeds.

    lo / hi treat each fold x seed as one observation (NaN with fewer than 2); for the speaker-level
    interval, replace them with a bootstrap that resamples test speakers (metrics).
    """
    rows = []
    for (modality, lv, model), g in gains.groupby(["modality", "level", "model"], sort=True):
        x = g["gain"].to_numpy(float)
        n, mean = len(x), float(x.mean())
        half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        rows.append({"modality": modality, "level": lv, "model": model, "n": n, "gain": mean,
                     "lo": mean - half, "hi": mean + half, "gap": float(g["gap"].mean()),
                     "gap_weak": float(g["gap_weak"].mean()), "best": g["best"].iloc[0]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the study's calls (notebook 05)

def missing_modality_study(st, models: dict[str, tuple[str, dict | None]]) -> pd.DataFrame:
    """Every model of `models` (name -> (head, overrides); run_models must have run for them in this session)
    scored per fold and seed under each test condition it can take; columns as predictions + `condition`."""
    from dataclasses import replace

    from mmlib import experiments as ex
    from mmlib.data.dataset import collate
    from mmlib.training import fixed_audio_frames, load_checkpoint, make_dataset, make_normalizer

    speaker = st.table.set_index("id")["speaker"]
    out = []
    for name, (head, overrides) in models.items():
        cfg = st.cfg.with_overrides(overrides)
        pad = fixed_audio_frames(cfg) if head == "matchmap" or cfg.audio.chunk_seconds is not None else None
        for fold in st.folds:
            norm = make_normalizer(cfg, fold, st.table, st.feats, head)
            for seed in cfg.seeds:
                model, _ = load_checkpoint(ex.trained_checkpoint(st, head, fold, seed, overrides))
                c = replace(cfg, train=replace(cfg.train, seed=seed))
                ds = make_dataset(c, fold.test, st.table, st.feats, head, norm)
                pred = missing_modality(model, ds, lambda items: collate(items, pad), st.classes)
                pred.insert(1, "fold", fold.number)
                pred.insert(2, "seed", seed)
                pred.insert(3, "model", name)
                pred.insert(4, "speaker", speaker.loc[pred["id"]].to_numpy())
                out.append(pred)
    return pd.concat(out, ignore_index=True)


def sweep_table(pred: pd.DataFrame, fusion: tuple[str, ...] = ("concat", "matchmap", "matchmap_attn"),
                metric: str = "UA") -> pd.DataFrame:
    """Per weakened modality, level and fusion head: the gain over the best unimodal model (mean over folds x
    seeds, speaker-bootstrap interval, p-values: stats.paired) and gap_weak, the intact unimodal model's
    score minus the weakened one's (mean over runs). `pred`: reliability_sweep's predictions."""
    from mmlib import metrics, stats as st

    rows = []
    for (modality, level), g in pred.groupby(["modality", "level"], sort=True):
        means = metrics.per_fold(g).groupby("model")[metric].mean()
        best = max(UNIMODAL, key=lambda m: means[m])
        weak = {"voice": "audio", "face": "video"}[modality]
        intact = next(m for m in UNIMODAL if m != weak)
        for head in fusion:
            if head not in means:
                continue
            r = st.paired(g, head, best, metric)
            rows.append({"modality": modality, "level": level, "model": head, "best": best, **r,
                         "gain": r["diff"], "lo": r["diff_lo"], "hi": r["diff_hi"],
                         "gap_weak": float(means[intact] - means[weak])})
    return pd.DataFrame(rows)


def gain_change(pred: pd.DataFrame, modality: str, head: str, weak_level: float, full_level: float = 1.0,
                metric: str = "UA") -> dict:
    """Does fusion's gain over the best unimodal model grow as `modality` weakens? The contrast
    (head - best)@weak_level - (head - best)@full_level over the same folds, seeds and test speakers
    (the best unimodal model chosen at each level by its mean), with its speaker-bootstrap interval."""
    from mmlib import metrics, stats as st

    terms = []
    for lv, sign in ((weak_level, 1.0), (full_level, -1.0)):
        g = pred[(pred["modality"] == modality) & (pred["level"] == lv)]
        means = metrics.per_fold(g).groupby("model")[metric].mean()
        best = max(UNIMODAL, key=lambda m: means[m])
        terms += [(g[g["model"] == head], sign), (g[g["model"] == best], -sign)]
    r = st.contrast(terms, metric)
    r.pop("per_run")
    return {"claim": f"{head}: gain over the best unimodal model at {modality} expressiveness {weak_level:g} "
                     f"minus at {full_level:g}", "model_a": head, "model_b": "best unimodal", **r}
