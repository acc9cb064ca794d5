"""The study's experiments, one call each, for the notebooks.

    from mmlib import experiments as ex
    st = ex.open_study("default")                          # config, corpus, features, folds
    pred = ex.run_models(st, ["audio", "video"])           # every fold x seed; predictions table
    pred = ex.run_models(st, ["concat", "matchmap"])       # fusion starts from the unimodal checkpoints
    abl = ex.run_ablation(st, {"train.similarity": ["SISA", "MISA", "SIMA"]})
    rob = ex.robustness(st, ["audio", "video", "matchmap"], "audio.snr_db", [None, 10, 0])

Every run's model name says what differs from the profile (e.g. `matchmap[train.similarity=SISA]`),
and every table carries fold and seed, so metrics.per_fold / summarize / paired_test apply as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from mmlib import grid as _grid
from mmlib import metrics, paths
from mmlib.config import StudyConfig, load_config
from mmlib.data.corpus import class_names, labelled, prepare_corpus
from mmlib.data.dataset import collate
from mmlib.data.features import FeatureSet, extract_features
from mmlib.data.splits import Fold, make_folds, select_folds
from mmlib.training import (fixed_audio_frames, load_checkpoint, make_dataset,
                            make_normalizer, predict)


@dataclass
class Study:
    cfg: StudyConfig
    corpus: pd.DataFrame  # every utterance, labelled or not
    table: pd.DataFrame  # labelled utterances with features
    feats: FeatureSet
    folds: list[Fold]  # the folds to run
    classes: list[str]
    results_dir: Path
    ckpt_dir: Path
    cache_dir: Path
    progress: bool = True
    retrain: bool = False
    checkpoints: dict = field(default_factory=dict)  # (head, overrides key, fold, seed) -> path trained here

    def save(self, df: pd.DataFrame, name: str) -> Path:
        """Write a table under results_dir (CSV), creating folders as needed."""
        path = self.results_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False)
        return path


def open_study(profile: str = "default", data_root: str | None = None, data_dir: str = "data",
               results_dir: str = "results/interactive", overrides: dict[str, Any] | None = None,
               folds: list[int] | None = None, seeds: list[int] | None = None, retrain: bool = False,
               progress: bool = True) -> Study:
    """Build the config from primitives, load (or generate) the corpus, extract features, make folds."""
    data_root, data_dir, results_dir = paths.study_paths(data_root, data_dir, results_dir)  # from the repo root
    over = dict(overrides or {})
    if data_root:
        over["data.root"] = data_root
    over["data.data_dir"] = data_dir
    if folds is not None:
        over["folds"] = tuple(folds)
    if seeds is not None:
        over["seeds"] = tuple(seeds)
    cfg = load_config(profile, over)
    corpus = prepare_corpus(cfg, progress=progress)
    table = labelled(corpus)
    cache = Path(data_dir) / "cache"
    feats = extract_features(table, cfg, cache_dir=cache, progress=progress)
    if feats.skipped:  # on_error="skip": the rest of the study runs without them, and says so
        table = table[~table["id"].isin(feats.skipped)].reset_index(drop=True)
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    if feats.skipped:
        (out / "skipped.json").write_text(json.dumps(feats.skipped, indent=1, sort_keys=True))
    return Study(cfg, corpus, table, feats, select_folds(make_folds(table, cfg.data.protocol), cfg.folds),
                 class_names(cfg.data.label_set), out, Path(data_dir) / "checkpoints", cache, progress, retrain)


def model_name(head: str, overrides: dict[str, Any] | None) -> str:
    if not overrides:
        return head
    return f"{head}[{','.join(f'{k}={v}' for k, v in overrides.items())}]"


def run_models(st: Study, heads: list[str], overrides: dict[str, Any] | None = None,
               name: str | None = None, retrain: bool | None = None) -> pd.DataFrame:
    """Train (or reuse) each head on every fold and seed, as one grid; the concatenated test predictions.

    Fusion heads start from the same fold's and seed's unimodal checkpoints (trained here if missing).
    """
    return run_grid(st, [(heads, overrides, name)], retrain)


def run_grid(st: Study, specs: list[tuple[list[str], dict[str, Any] | None, str | None]],
             retrain: bool | None = None) -> pd.DataFrame:
    """Several run_models calls, (heads, overrides, name) each, submitted as one grid of trainings."""
    retrain = st.retrain if retrain is None else retrain
    jobs, names = [], []
    for heads, overrides, name in specs:
        cfg = st.cfg.with_overrides(overrides)
        for head in heads:
            for fold in st.folds:
                for seed in cfg.seeds:
                    jobs.append(_grid.Job(cfg, head, fold, seed, retrain))
                    names.append((name or model_name(head, overrides), _key(overrides)))
    # with retrain, what this run already trained (e.g. 02's unimodal models, seen from 03) is not trained twice
    trained = _ledger_trained(st) if retrain else set()
    outcomes = _grid.run(jobs, st.table, st.feats, st.ckpt_dir, st.cfg.run, st.cfg.train.threads, st.progress,
                         trained=trained, on_outcome=lambda o: _record(st, o))
    out = []
    for o, (label, okey) in zip(outcomes, names):
        st.checkpoints[(o.job.head, okey, o.job.fold.number, o.job.seed)] = Path(o.checkpoint)
        pred = o.predictions.copy()
        pred["model"] = label
        out.append(pred)
    return pd.concat(out, ignore_index=True)


def _record(st: Study, o: _grid.Outcome) -> None:
    """Append a checkpoint the grid used to results_dir/checkpoints.jsonl (the manifest reads it)."""
    row = {"checkpoint": Path(o.checkpoint).name, "weights_sha256": o.digest, "trained": o.trained, "seconds": o.seconds,
           "head": o.job.head, "fold": o.job.fold.number, "seed": o.job.seed, "key": list(o.job.key),
           "best_epoch": o.best_epoch, "init": {m: Path(p).name for m, p in o.init.items()}}
    with open(st.results_dir / "checkpoints.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def _ledger_trained(st: Study) -> set:
    path = st.results_dir / "checkpoints.jsonl"
    if not path.exists():
        return set()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {tuple(r["key"][:2]) + (int(r["key"][2]), int(r["key"][3])) for r in rows if r["trained"]}


def _key(overrides: dict[str, Any] | None) -> str:
    return json.dumps(overrides or {}, sort_keys=True, default=str)


def trained_checkpoint(st: Study, head: str, fold: Fold, seed: int, overrides: dict[str, Any] | None = None) -> Path:
    """The checkpoint run_models used for this model: in this session, or recorded by an earlier notebook of
    the same run (results_dir/checkpoints.jsonl). A KeyError when the model was not trained for this run."""
    found = st.checkpoints.get((head, _key(overrides), fold.number, seed))
    if found is not None:
        return found
    key = list(_grid.Job(st.cfg.with_overrides(overrides), head, fold, seed).key)
    ledger = st.results_dir / "checkpoints.jsonl"
    rows = [json.loads(line) for line in ledger.read_text().splitlines()] if ledger.exists() else []
    names = [r["checkpoint"] for r in rows if r["key"] == key and (st.ckpt_dir / r["checkpoint"]).exists()]
    if not names:
        raise KeyError(f"no checkpoint of {model_name(head, overrides)} fold {fold.number} seed {seed} in this run: "
                       "call run_models for it first (it reuses existing checkpoints)")
    return st.ckpt_dir / names[-1]


def run_ablation(st: Study, grid: dict[str, list], head: str = "matchmap", main: str | None = None,
                 seeds: list[int] | None = None) -> pd.DataFrame:
    """`head` once per setting of each config key in `grid` (one key varied at a time), as one grid.

    A setting equal to the study's own config is the main model: it appears once, named `main` (default:
    `head`) with column `setting` listing every key=value it stands for, and is reused, not retrained.
    `seeds`: train the ablation on these seeds only (default: the study's).
    """
    settings, main_settings = [], []
    for key, values in grid.items():
        for v in values:
            if st.cfg.with_overrides({key: v}) == st.cfg:
                main_settings.append(f"{key}={v}")
            else:
                settings.append({key: v})
    only = {"seeds": tuple(seeds)} if seeds is not None else {}
    specs = ([([head], {**o, **only}, model_name(head, o)) for o in settings]
             + ([([head], only or None, main or head)] if main_settings else []))
    pred = run_grid(st, specs)
    pred["setting"] = pred["model"].map(lambda m: m[m.index("[") + 1:-1] if "[" in m else ", ".join(main_settings))
    return pred


def robustness_predictions(st: Study, heads: list[str], key: str, levels: list,
                           overrides: dict[str, Any] | None = None, refit_normalizer: bool = False) -> pd.DataFrame:
    """Test predictions of trained models while one modality is degraded step by step (columns knob, level).

    `key` is a degradation knob of the feature config (audio.snr_db; video.blur_sigma, video.occlusion,
    video.drop_prob); training data stay clean: only test features are rebuilt (and cached) per level.
    The normalizer keeps the statistics of the clean features (refit_normalizer=True refits it on the
    degraded test features, which quietly adapts to the degradation when speaker_norm is on).
    """
    section, _, knob = key.partition(".")
    if section not in ("audio", "video") or knob not in ("snr_db", "blur_sigma", "occlusion", "drop_prob"):
        raise ValueError(f"{key!r} is not a degradation knob; use audio.snr_db or video.blur_sigma/occlusion/drop_prob")
    cfg = st.cfg.with_overrides(overrides)
    speaker = st.table.set_index("id")["speaker"]
    tests = st.table[st.table["id"].isin({u for fold in st.folds for u in fold.test})]
    for level in levels:  # each level extracted once for every fold's test set (one worker pool, not one per
        # fold); the fold loop below then reads the feature cache. Nothing is kept here: memory stays per fold
        extract_features(tests, cfg.with_overrides({key: level}), cache_dir=st.cache_dir, modalities=(section,),
                         progress=False)
    out = []
    for fold in st.folds:
        clean_norm = {h: make_normalizer(cfg, fold, st.table, st.feats, h) for h in heads}  # seed-independent
        models = {(h, s): load_checkpoint(trained_checkpoint(st, h, fold, s, overrides))[0]
                  for h in heads for s in cfg.seeds}
        test = st.table[st.table["id"].isin(fold.test)]
        for level in tqdm(levels, desc=f"{key} fold {fold.number}", disable=not st.progress, leave=False):
            deg = extract_features(test, cfg.with_overrides({key: level}), cache_dir=st.cache_dir,
                                   modalities=(section,), progress=False)
            feats = FeatureSet(audio={**st.feats.audio, **deg.audio}, video={**st.feats.video, **deg.video})
            for head in heads:
                norm = make_normalizer(cfg, fold, st.table, feats, head) if refit_normalizer else clean_norm[head]
                for seed in cfg.seeds:
                    c = replace(cfg, train=replace(cfg.train, seed=seed))
                    pred = predict(models[(head, seed)], make_dataset(c, fold.test, st.table, feats, head, norm), c, head)
                    pred.insert(1, "fold", fold.number)
                    pred.insert(2, "seed", seed)
                    pred.insert(3, "model", head)
                    pred.insert(4, "speaker", speaker.loc[pred["id"]].to_numpy())
                    pred.insert(5, "knob", key)
                    pred.insert(6, "level", "clean" if level is None else f"{level:g}")
                    out.append(pred)
    return pd.concat(out, ignore_index=True)


def robustness(st: Study, heads: list[str], key: str, levels: list, overrides: dict[str, Any] | None = None,
               refit_normalizer: bool = False) -> pd.DataFrame:
    """Per model, knob, level, fold and seed: WA / UA / macro-F1 under degradation (robustness_predictions)."""
    return metrics.per_fold(robustness_predictions(st, heads, key, levels, overrides, refit_normalizer),
                            by=("model", "knob", "level", "fold", "seed"))


# ------------------------------------------------------------------ helpers for the notebooks' figures

IEMOCAP_4CLASS = {"neu": 1708, "hap": 1636, "ang": 1103, "sad": 1084}  # STUDY.md: 5,531 utterances
IEMOCAP_4CLASS_PER_SESSION = {1: 1085, 2: 1023, 3: 1151, 4: 1031, 5: 1241}


def corpus_summary(st: Study) -> pd.DataFrame:
    """Labelled utterances per session and class (plus totals); with IEMOCAP's published counts
    alongside when the corpus is the real IEMOCAP."""
    lab = st.corpus[st.corpus["label"].notna()]
    table = pd.crosstab(lab["session"], lab["label"], margins=True, margins_name="total")
    table = table[[c for c in st.classes if c in table.columns] + ["total"]]
    if st.cfg.data.dataset == "iemocap" and st.cfg.data.label_set == "4class":
        published = pd.Series({**IEMOCAP_4CLASS_PER_SESSION, "total": sum(IEMOCAP_4CLASS.values())})
        table["published_total"] = published.reindex(table.index).to_numpy()
    return table


def examples_of(st: Study, uids: list[str]) -> tuple[dict, dict]:
    """Log-mel and face clip of each utterance, named '<label> (<id>)', for plots.examples."""
    specs, clips = {}, {}
    label = st.table.set_index("id")["label"]
    for uid in uids:
        specs[f"{label[uid]} ({uid})"] = st.feats.audio[uid]
        video = st.feats.video[uid]
        clips[f"{label[uid]} ({uid})"] = video[0] if video.ndim == 5 else video  # chunked: the first chunk's frames
    return specs, clips


def examples_per_class(st: Study, rank: int = 0) -> tuple[dict, dict]:
    """Log-mel and face clip of one utterance per class (the `rank`-th by id), for a figure."""
    return examples_of(st, [sorted(st.table.loc[st.table["label"] == cls, "id"])[rank] for cls in st.classes])


def av_trace(st: Study, uid: str) -> tuple:
    """Waveform and every video frame (speaker's face crop) of one utterance, for the sync figure."""
    import cv2

    from mmlib.data import media

    row = st.table.set_index("id").loc[uid]
    cap = cv2.VideoCapture(row["video_path"])
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    n = max(2, int((row["end"] - row["start"]) * fps))
    v = st.cfg.video
    (frames,) = media.read_clips(row["video_path"], [(row["start"], row["end"])], n, row["video_side"], v.size,
                                 v.crop, v.face_box)
    if isinstance(frames, Exception):
        raise frames
    return media.read_audio(row["audio_path"], st.cfg.audio.sample_rate), st.cfg.audio.sample_rate, frames, fps


def matchmap_item(st: Study, uid: str, head: str = "matchmap", seed: int | None = None) -> dict | None:
    """The matchmap of one test utterance under the trained `head` of its fold (chunk 0 when audio is
    chunked), as plots.matchmap_heatmaps takes it; None when that model was not trained in this run."""
    import torch

    from mmlib.matchmap import matchmap

    fold = next((f for f in st.folds if uid in set(f.test)), None)
    seed = st.cfg.seeds[0] if seed is None else seed
    try:
        path = trained_checkpoint(st, head, fold, seed) if fold is not None else None
    except KeyError:
        path = None
    if path is None:
        return None
    cfg = replace(st.cfg, train=replace(st.cfg.train, seed=seed))
    model, _ = load_checkpoint(path)
    ds = make_dataset(cfg, [uid], st.table, st.feats, head, make_normalizer(cfg, fold, st.table, st.feats, head))
    batch = collate([ds[0]], fixed_audio_frames(cfg) if head == "matchmap" or ds.chunk_frames else None)
    with torch.no_grad():
        out = model(batch["audio"], batch["video"], batch["audio_lengths"])
    M = matchmap(out["V"], out["A"])[0]  # (*P, T_a)
    t_a = int(out["audio_mask"][0].sum())
    video = st.feats.video[uid]
    spec = st.feats.audio[uid][0]
    label = st.table.set_index("id").at[uid, "label"]
    return {"title": f"{uid}\ntrue {label}, predicted {st.classes[int(out['logits'].argmax())]}",
            "M": M.reshape(-1, M.shape[-1])[:, :t_a].numpy(), "spec": spec[:, :ds.chunk_frames] if ds.chunk_frames else spec,
            "frames": video[0] if video.ndim == 5 else video, "hop_s": st.cfg.audio.hop_ms / 1000,
            "fold": fold.number, "seed": seed}


def matchmap_examples(st: Study, head: str = "matchmap", n: int = 3, fold: Fold | None = None,
                      seed: int | None = None) -> list[dict]:
    """Matchmaps of the first test utterance of n classes under a trained fusion model."""
    fold = fold or st.folds[0]
    test = st.table[st.table["id"].isin(fold.test)]
    uids = [sorted(test.loc[test["label"] == c, "id"])[0] for c in st.classes if (test["label"] == c).any()][:n]
    return [matchmap_item(st, uid, head, seed) for uid in uids]


def load_predictions(results_dir: str | Path, *names: str) -> pd.DataFrame:
    """Prediction tables written by earlier notebooks (results_dir/predictions/<name>.csv)."""
    frames = []
    for name in names:
        path = Path(results_dir) / "predictions" / f"{name}.csv"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run the notebook that writes it first (02 writes "
                                    "unimodal, 03 writes fusion)")
        frames.append(pd.read_csv(path, keep_default_na=False, na_values=[""]))
    return pd.concat(frames, ignore_index=True)


def verdict(test: dict, alpha: float = 0.05) -> str:
    """'shown' only when the speaker-level interval excludes 0 and the fold x seed test agrees. With too few
    runs the exact sign-flip test cannot reach `alpha` at all (n runs: p >= 2 / 2^n, 0.0625 for 5); such a
    comparison is 'not testable', never 'not shown', so a reader does not take a design limit for a finding."""
    runs = test.get("runs")
    if runs is not None and 2.0 ** (1 - runs) >= alpha:
        return f"not testable: {runs} runs (the sign-flip p cannot go below {2.0 ** (1 - runs):.3g})"
    if test["diff_lo"] > 0 and test["p_signflip"] < alpha:
        return f"shown: {test['model_a']} > {test['model_b']}"
    if test["diff_hi"] < 0 and test["p_signflip"] < alpha:
        return f"shown: {test['model_a']} < {test['model_b']}"
    return "not shown"


CLAIM1_PAIRS = (("matchmap", "concat"), ("matchmap_attn", "concat"), ("matchmap", "audio"), ("matchmap", "video"),
                ("concat", "audio"), ("concat", "video"))


def claims(pred: pd.DataFrame, pairs=CLAIM1_PAIRS, metric: str = "UA") -> pd.DataFrame:
    """Claim 1 measured: each (a, b) pair of models on the same folds x seeds (mean per-run difference,
    speaker-bootstrap interval, sign-flip and Wilcoxon p-values) and the verdict it supports."""
    rows = []
    for a, b in pairs:
        r = metrics.paired_test(pred, a, b, metric)
        rows.append({"claim": f"{a} vs {b}", **r, "verdict": verdict(r)})
    return pd.DataFrame(rows)
