"""Two references beside every score: what the expressed emotion allows, and what a simple learner gets.

    from mmlib.analysis import references
    pred, tried = references.predictions(session)  # both references' test predictions; the probe's settings tried
    refs = references.table(metrics.summarize(models), metrics.summarize(pred))   # one row per model

(a) **The large-draw oracle** (`oracle (large draw): ...`): the oracle of mmlib.analysis.oracle (the same gradient
    boosting on the same cue sets), trained once on a large independent draw of the same generator (another
    generator seed, `DRAW_SESSIONS` sessions, built from the plan alone: no media) and scored on the study's own
    test utterances. Unlike the study's oracle, which learns from the study's few hundred labelled utterances
    per fold, it is not limited by that sample: it says what the expression each modality shows allows.
    Synthetic corpus only.
(b) **The probe** (`probe: audio`, `probe: video`, `probe: both`): a logistic regression (scikit-learn,
    balanced class weights, its regularization chosen per fold on the fold's validation speakers) on pooled
    features of each utterance, refitted on each fold's training and validation utterances with their labels
    and scored on its test utterances, the same folds as the models. Audio: per log-mel band the mean, the sd, the 90th percentile and the mean absolute
    frame-to-frame change (4 x n_mels values). Video: the face clip in grey, averaged over frames, and its sd
    over frames, each on an 8 x 8 grid (128 values). Every pooled value is standardized per speaker over that
    speaker's labelled utterances (label-free, the test speakers included, as the models' speaker
    normalization). It says what a simple learner gets from the very features the models read; a model below
    its probe has not learned what its inputs plainly hold. Runs on any corpus.

Each model is set beside the references of its inputs: the audio model beside the arousal-only oracle and the
audio probe, the video model beside the valence-only oracle and the video probe, every fusion model beside the
both-cue oracle and the probe on both.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from mmlib.analysis import metrics, oracle

DRAW_SESSIONS = 100  # sessions of the independent draw (~20x the default corpus's labelled utterances)
DRAW_SEED_OFFSET = 1000  # the draw's generator seed: the corpus's synth.seed + this
LARGE = {name: name.replace("oracle:", "oracle (large draw):") for name in oracle.CUES}
PROBE_OF = {"audio": "probe: audio", "video": "probe: video"}  # every other model: "probe: both"
GRID = 8  # the video probe's pooling grid


def probe_of(model: str) -> str:
    """The probe a model is set beside: its head's inputs (a model name may carry [overrides])."""
    return PROBE_OF.get(model.split("[")[0].split(" ")[0], "probe: both")


def large_draw_of(model: str) -> str:
    return LARGE[oracle.ceiling_of(model)]


# ---------------------------------------------------------------- (a) the oracle trained on a large draw

def large_draw_predictions(cfg, table: pd.DataFrame, folds, sessions: int = DRAW_SESSIONS,
                           seed: int = 0) -> pd.DataFrame:
    """The oracle trained on an independent draw of the generator (synth.seed + DRAW_SEED_OFFSET, `sessions`
    sessions, every other setting of cfg.synth kept, reliability and expressiveness knobs included) and scored on
    the test utterances of `folds` of the study's corpus (`table`); no rows on a real corpus."""
    path = oracle.truth_file(cfg)
    if path is None:
        return pd.DataFrame(columns=list(oracle.COLUMNS))
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    draw_cfg = replace(cfg, synth=replace(cfg.synth, seed=cfg.synth.seed + DRAW_SEED_OFFSET, n_sessions=sessions))
    draw_table, plan = oracle.plan_table(draw_cfg)
    draw_x = oracle.cues(plan, draw_cfg.synth).loc[draw_table["id"]]
    x = oracle.cues(pd.read_csv(path), cfg.synth)
    label, speaker = table.set_index("id")["label"], table.set_index("id")["speaker"]
    out = []
    for name, cols in oracle.CUES.items():
        with threadpool_limits(1, user_api="openmp"):
            clf = HistGradientBoostingClassifier(random_state=seed).fit(draw_x[list(cols)].to_numpy(),
                                                                         draw_table["label"].to_numpy())
        for fold in folds:
            test = list(fold.test)
            out.append(pd.DataFrame({"id": test, "fold": fold.number, "seed": seed, "model": LARGE[name],
                                     "speaker": speaker.loc[test].to_numpy(), "true": label.loc[test].to_numpy(),
                                     "pred": clf.predict(x.loc[test, list(cols)].to_numpy())}))
    return pd.concat(out, ignore_index=True)


# ---------------------------------------------------------------- (b) the probe on pooled features

def pooled_audio(mel: np.ndarray) -> np.ndarray:
    """(channels, n_mels, T) log-mel (the first channel is read) -> per band mean, sd, 90th percentile and mean
    absolute frame-to-frame change, concatenated (4 x n_mels).

        >>> pooled_audio(np.array([[[0.0, 2.0, 4.0]]])).tolist()
        [2.0, 1.632993161855452, 3.6, 2.0]
    """
    x = np.asarray(mel, dtype=np.float64)[0]
    change = np.abs(np.diff(x, axis=1)).mean(1) if x.shape[1] > 1 else np.zeros(len(x))
    return np.concatenate([x.mean(1), x.std(1), np.percentile(x, 90, axis=1), change])


def pooled_video(clip: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(T, H, W, 3) uint8 face clip (or chunked (K, T, H, W, 3), chunks pooled together) -> the grey clip's mean
    over frames and its sd over frames, each averaged on a grid x grid layout of cells (2 x grid^2 values)."""
    v = np.asarray(clip, dtype=np.float64)
    v = v.reshape(-1, *v.shape[-3:]).mean(-1)  # (frames, H, W) grey
    h, w = v.shape[1] // grid * grid, v.shape[2] // grid * grid
    if h == 0 or w == 0:
        raise ValueError(f"a face clip of {v.shape[1]} x {v.shape[2]} pixels is smaller than the {grid} x {grid} grid")
    cells = v[:, :h, :w].reshape(len(v), grid, h // grid, grid, w // grid)
    return np.concatenate([cells.mean((0, 2, 4)).ravel(), cells.mean((2, 4)).std(0).ravel()])


def pooled(feats, ids, modality: str) -> np.ndarray:
    """Per utterance of `ids`, its pooled features of `modality` (audio | video) as rows."""
    source, pool = {"audio": (feats.audio, pooled_audio), "video": (feats.video, pooled_video)}[modality]
    return np.stack([pool(source[i]) for i in ids])


def speaker_standardized(x: np.ndarray, speakers) -> np.ndarray:
    """Each column standardized within each speaker (mean 0, sd 1 over that speaker's rows; a constant column
    stays 0)."""
    out = np.zeros_like(x, dtype=np.float64)
    speakers = np.asarray(speakers)
    for s in np.unique(speakers):
        rows = speakers == s
        sd = x[rows].std(0)
        out[rows] = (x[rows] - x[rows].mean(0)) / np.where(sd > 0, sd, 1.0)
    return out


PROBE_CS = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)  # inverse regularization strengths, chosen per fold on validation


def probe_predictions(table: pd.DataFrame, folds, feats, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The probe's test predictions on `folds` for audio, video and both (the two pooled vectors side by side),
    as a prediction table (model = probe: ..., seed = `seed`), class probabilities included; and every setting
    tried: per probe and fold, each C of PROBE_CS with its validation UA, the chosen one marked.

    C is chosen per fold on the fold's own validation speakers (the highest validation UA, the smaller C on a
    tie), then the probe is refitted on training and validation utterances with it and scored on the test
    speakers once. Utterances without features (skipped by the extraction) are left out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t = table[table["id"].isin(feats.audio) & table["id"].isin(feats.video)].reset_index(drop=True)
    ids = t["id"].tolist()
    x = {m: speaker_standardized(pooled(feats, ids, m), t["speaker"]) for m in ("audio", "video")}
    x["both"] = np.hstack([x["audio"], x["video"]])
    row = {u: k for k, u in enumerate(ids)}
    label, speaker = t["label"].to_numpy(), t["speaker"].to_numpy()
    classes = sorted(set(label))

    def fitted(c: float, rows: list[int], name: str):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000,
                                                                 random_state=seed))
        return clf.fit(x[name][rows], label[rows])

    out, tried = [], []
    for name in ("audio", "video", "both"):
        for fold in folds:
            train, val, test = ([row[u] for u in part if u in row] for part in (fold.train, fold.val, fold.test))
            scores = {c: metrics.scores(label[val], fitted(c, train, name).predict(x[name][val]), classes)["UA"]
                      for c in PROBE_CS}
            best = max(PROBE_CS, key=lambda c: (scores[c], -c))
            tried += [{"model": f"probe: {name}", "fold": fold.number, "C": c, "val_UA": v, "chosen": c == best}
                      for c, v in scores.items()]
            clf = fitted(best, train + val, name)
            prob = clf.predict_proba(x[name][test])
            fitted_classes = list(clf.classes_)
            frame = pd.DataFrame({"id": [ids[k] for k in test], "fold": fold.number, "seed": seed,
                                  "model": f"probe: {name}", "speaker": speaker[test], "true": label[test],
                                  "pred": np.asarray(fitted_classes)[prob.argmax(1)]})
            for j, c in enumerate(fitted_classes):
                frame[f"p_{c}"] = prob[:, j]
            out.append(frame)
    return pd.concat(out, ignore_index=True), pd.DataFrame(tried)


def predictions(session, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both references on the session's folds: (the large-draw oracle's (synthetic corpus only) and the probes'
    test predictions, the probes' settings tried on validation speakers)."""
    probes, tried = probe_predictions(session.table, session.folds, session.feats, seed)
    return pd.concat([large_draw_predictions(session.cfg, session.table, session.folds, seed=seed), probes],
                     ignore_index=True), tried


def is_reference(model: str) -> bool:
    return model.startswith("probe: ") or model in LARGE.values() or oracle.is_oracle(model)


HUMAN_OF = {"audio": "voice", "video": "face"}  # the raters a model is set beside; every other model: audio-visual


def human_of(model: str) -> str:
    return HUMAN_OF.get(model.split("[")[0].split(" ")[0], "audio-visual")


def table(summary: pd.DataFrame, refs: pd.DataFrame, ceilings: pd.DataFrame | None = None,
          human: pd.DataFrame | None = None, metric: str = "UA") -> pd.DataFrame:
    """Per model of `summary` (metrics.summarize of the models): its score, the study's oracle (`ceilings`,
    metrics.summarize of oracle.predictions; optional), the large-draw oracle and the probe of its inputs
    (`refs`: metrics.summarize of `predictions`), and its distance to each (reference - model, in the
    metric's fraction): what its inputs allow, and what a simple learner already gets from them.
    `human` (mmlib.analysis.ceilings.ceilings; optional): the raters' score under the strict rule over all the
    run's rated clips, as column `human`: on CREMA-D the voice raters beside the audio model, the face raters
    beside the video model, the audio-visual raters beside fusion; on IEMOCAP (and the synthetic corpus) the
    evaluators' agreement beside every model."""
    value = pd.concat([refs, ceilings if ceilings is not None else None]).set_index("model")[f"{metric}_mean"]
    out = summary[["model", f"{metric}_mean", f"{metric}_lo", f"{metric}_hi"]].copy()
    out = out[~out["model"].map(is_reference)]
    m = out["model"]
    out["oracle"] = m.map(lambda x: value.get(oracle.ceiling_of(x), np.nan))
    out["oracle_large_draw"] = m.map(lambda x: value.get(large_draw_of(x), np.nan))
    out["probe"] = m.map(lambda x: value.get(probe_of(x), np.nan))
    if human is not None and len(human):
        rated = human[(human["fold"].astype(str) == "all") & (human["rule"] == "strict")].set_index("modality")[metric]
        out["human"] = m.map(lambda x: rated.get(human_of(x), rated.get("audio-visual", np.nan)))
    out["below_large_draw"] = out["oracle_large_draw"] - out[f"{metric}_mean"]
    out["above_probe"] = out[f"{metric}_mean"] - out["probe"]
    return out.reset_index(drop=True)
