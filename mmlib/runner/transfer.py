"""Cross-corpus transfer: train on one acted corpus (CREMA-D or RAVDESS), test on the other, on the emotions they share.

    from mmlib.runner.transfer import transfer
    result = transfer("cremad", "ravdess", "/data/CREMA-D", "/data/RAVDESS", results_dir="results/transfer")
    result.summary        # per model: within-corpus WA / UA beside the transfer WA / UA (mean over folds x seeds)
    result.scores         # per model, fold, seed and split ("within": the source's test actors; "transfer": the target)
    result.excluded       # what each corpus leaves out: RAVDESS's calm and surprised clips

    mmlib transfer --source cremad --source-root /data/CREMA-D --target ravdess --target-root /data/RAVDESS

The shared emotions are CREMA-D's six: neutral, happy, sad, angry, fearful, disgust (SHARED, class order of label set
cremad6, which the trained models' config names); RAVDESS's calm and surprised clips are left out and counted in
`excluded` (they still enter their speakers' normalization statistics, which read every recording, labelled or not).

Each model family given (`heads`) is trained as the study trains it, by a `Session` on the source corpus (its
profile's protocol and folds, its seeds; fusion heads start from their fold's unimodal checkpoints, which are reused
when they exist): its own test predictions are the within-corpus score. The same checkpoint then predicts every
labelled clip of the target corpus, whose speakers are all new to it. Features: each corpus's are extracted as its
profile declares (its face crop and fallback box); the target's at the model's input sizes (the source's audio
section, frames and face size), since one model reads both. Normalization: each corpus as its profile declares
(data.speaker_norm: every speaker standardized with its own recordings; otherwise the model's own statistics, from
the source's training clips). `overrides` apply to both profiles.

Written to `results_dir`: transfer_scores.csv, transfer_summary.csv, transfer_excluded.csv,
predictions/transfer.csv (within and transfer predictions, column `split`), and the figure
figures/transfer_<source>_<target>.png/.pdf (mmlib.figures.plots style).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from mmlib.analysis import metrics
from mmlib.config import StudyConfig, load_config, paths
from mmlib.data.corpus import class_names, labelled
from mmlib.data.dataset import SpeakerNormalizer
from mmlib.data.features import FeatureSet, extract_features
from mmlib.data.inputs import dataset, normalizer
from mmlib.data.loaders import prepare_corpus
from mmlib.data.splits import Fold, make_folds, select_folds
from mmlib.figures import plots
from mmlib.runner.session import Session
from mmlib.training import inference

SHARED_SET = "cremad6"  # the label set whose classes both corpora have
SHARED = class_names(SHARED_SET)  # ['neu', 'hap', 'sad', 'ang', 'fea', 'dis']
NATIVE = {"cremad": "cremad6", "ravdess": "ravdess8"}  # profile -> the label set its corpus is loaded with
NAMES = {"cremad": "CREMA-D", "ravdess": "RAVDESS"}
HEADS = ("audio", "video", "concat", "matchmap")
SPLITS = ("within", "transfer")


@dataclass
class Corpus:
    """One side of a transfer: its config, every recording with features (labels outside SHARED set to None)."""

    name: str
    cfg: StudyConfig  # the profile's config, the corpus loaded with its native label set
    recordings: pd.DataFrame  # every recording with features, labelled or not (speaker statistics read them all)
    feats: FeatureSet
    excluded: pd.DataFrame  # corpus, label, clips: labelled recordings outside the shared set

    @property
    def table(self) -> pd.DataFrame:
        """The recordings with a shared label: what is trained and scored."""
        return labelled(self.recordings)


@dataclass
class Transfer:
    source: str
    target: str
    scores: pd.DataFrame  # model, split, tested_on, fold, seed, n, WA, UA, macro_f1, recall_<class>
    summary: pd.DataFrame  # model, within_WA, within_UA, transfer_WA, transfer_UA, UA_drop, runs
    predictions: pd.DataFrame  # inference.predict's columns + split
    excluded: pd.DataFrame  # corpus, label, clips
    folds: list[Fold]  # the source's folds (the transfer test set is every target clip, whatever the fold)
    target_ids: tuple[str, ...]  # the target clips every model is tested on
    results_dir: Path


def shared_labels(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with labels outside SHARED set to None (they leave the labelled rows, not the recordings)."""
    return table.assign(label=table["label"].where(table["label"].isin(SHARED), None))


def load_side(name: str, cfg: StudyConfig, data_dir: str | Path, progress: bool, workers: int | None = None
              ) -> Corpus:
    """The corpus of `cfg` (native labels), its features (cached under data_dir/cache; `workers` extraction
    processes, default one per core), labels cut to SHARED."""
    corpus = prepare_corpus(cfg, progress=progress)
    feats = extract_features(corpus, cfg, cache_dir=Path(data_dir) / "cache", progress=progress, workers=workers)
    recordings = corpus[~corpus["id"].isin(feats.skipped)].reset_index(drop=True)
    native = labelled(recordings)
    outside = native[~native["label"].isin(SHARED)]
    excluded = outside.groupby("label", sort=False).size().rename("clips").reset_index().assign(corpus=name)
    return Corpus(name, cfg, shared_labels(recordings), feats, excluded[["corpus", "label", "clips"]])


def configs(source: str, target: str, source_root: str, target_root: str, overrides: dict[str, Any] | None,
            data_dir: str) -> tuple[StudyConfig, StudyConfig]:
    """(source config, target feature config): each profile with `overrides`, its root and native label set; the
    target's audio section, frame count and face size are the source's (the model's inputs)."""
    for name in (source, target):
        if name not in NATIVE:
            raise ValueError(f"transfer runs between {' and '.join(NATIVE)}; got {name!r}")
    if source == target:
        raise ValueError(f"source and target are both {source!r}: the within-corpus score is the study itself")
    over = dict(overrides or {})
    if "data.label_set" in over:
        raise ValueError(f"transfer uses the emotions both corpora share ({', '.join(SHARED)}); drop data.label_set")
    src = load_config(source, {**over, "data.root": source_root, "data.data_dir": data_dir,
                               "data.label_set": NATIVE[source]})
    tgt = load_config(target, {**over, "data.root": target_root, "data.data_dir": data_dir,
                               "data.label_set": NATIVE[target]})
    return src, replace(tgt, audio=src.audio, video=replace(tgt.video, n_frames=src.video.n_frames,
                                                               size=src.video.size))


def transfer(source: str, target: str, source_root: str, target_root: str, heads=HEADS,
             overrides: dict[str, Any] | None = None, data_dir: str = "data", results_dir: str = "results/transfer",
             progress: bool = True, workers: int | None = None) -> Transfer:
    """Train `heads` on `source` (its profile's folds and seeds), score each on the source's test actors (within)
    and on every shared-label clip of `target` (transfer); write the tables and the figure under results_dir.
    `workers`: feature extraction processes (default one per core; 1 extracts in this process)."""
    source_root = str(paths.resolve(source_root, "source root", may_leave=True))
    target_root = str(paths.resolve(target_root, "target root", may_leave=True))
    data_dir, out = str(paths.resolve(data_dir, "data_dir")), paths.resolve(results_dir, "results_dir")
    src_cfg, tgt_cfg = configs(source, target, source_root, target_root, overrides, data_dir)
    src = load_side(source, src_cfg, data_dir, progress, workers)
    tgt = load_side(target, tgt_cfg, data_dir, progress, workers)
    train_cfg = src_cfg.with_overrides({"data.label_set": SHARED_SET})
    folds = select_folds(make_folds(src.table, train_cfg.data.protocol), train_cfg.folds)
    out.mkdir(parents=True, exist_ok=True)
    session = Session(train_cfg, src.recordings, src.table, src.recordings, src.feats, folds, SHARED, out,
                      Path(data_dir) / "checkpoints", Path(data_dir) / "cache", progress)
    within = session.run_models(list(heads)).assign(split="within")
    across = predict_target(session, tgt, list(heads)).assign(split="transfer")
    pred = pd.concat([within, across], ignore_index=True)
    tested_on = {"within": NAMES[source], "transfer": NAMES[target]}
    scores = pd.concat([metrics.per_fold(p).assign(split=s, tested_on=tested_on[s]) for s, p in pred.groupby(
        "split", sort=False)], ignore_index=True)
    front = ["model", "split", "tested_on", "fold", "seed"]
    scores = scores[front + [c for c in scores.columns if c not in front]]
    summary = summarize(scores)
    excluded = pd.concat([src.excluded, tgt.excluded], ignore_index=True)
    session.save(scores, "transfer_scores.csv")
    session.save(summary, "transfer_summary.csv")
    session.save(excluded, "transfer_excluded.csv")
    session.save(pred, "predictions/transfer.csv")
    fig = transfer_figure(scores, NAMES[source], NAMES[target])
    plots.save(fig, f"transfer_{source}_{target}", session.figures)
    plt.close(fig)
    return Transfer(source, target, scores, summary, pred, excluded, folds, tuple(tgt.table["id"]), out)


def predict_target(session: Session, tgt: Corpus, heads: list[str]) -> pd.DataFrame:
    """Every trained model of `session` (head x fold x seed) on every shared-label clip of `tgt`, normalized as the
    target's profile declares."""
    ids = list(tgt.table["id"])
    speaker_norm = {}  # modalities -> the target speakers' statistics (computed once per modality set)
    frames = []
    for head in heads:
        for fold in session.folds:
            for seed in session.cfg.seeds:
                spec = session.spec(head, fold, seed)
                model, _ = session.load_model(spec)
                if tgt.cfg.data.speaker_norm:
                    key = spec.modalities
                    if key not in speaker_norm:
                        speaker_norm[key] = SpeakerNormalizer(tgt.recordings, tgt.feats, key, tgt.cfg.data.video_scale)
                    norm = speaker_norm[key]
                else:  # global statistics: the model's own, fitted on the source's training clips
                    norm = normalizer(spec, session.recordings, session.feats)
                with inference.torch_threads(session.cfg.train.threads):
                    frames.append(inference.predict(model, dataset(spec, ids, tgt.table, tgt.feats, norm), spec,
                                                    name=head))
    return pd.concat(frames, ignore_index=True)


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean WA / UA over folds x seeds within the source and on the target, side by side, and the UA lost
    in transfer (within_UA - transfer_UA)."""
    mean = scores.groupby(["model", "split"], sort=False)[["WA", "UA"]].mean().unstack("split")
    wide = pd.DataFrame({f"{s}_{m}": mean[(m, s)] for s in SPLITS for m in ("WA", "UA")})
    wide["UA_drop"] = wide["within_UA"] - wide["transfer_UA"]
    wide["runs"] = scores[scores["split"] == "transfer"].groupby("model").size()
    return wide.loc[plots.model_order(wide.index)].rename_axis("model").reset_index()


def transfer_figure(scores: pd.DataFrame, source: str, target: str) -> plt.Figure:
    """WA and UA of each model within the source corpus (its test actors) and on the target corpus: bars are means
    over folds x seeds, chance (one over the shared classes) dashed."""
    where = {"within": f"within {source}\n(test actors)", "transfer": f"{source} \u2192 {target}"}
    data = scores.assign(where=scores["split"].map(where))
    models = plots.model_order(data["model"])
    fig, axes = plt.subplots(1, 2, figsize=(plots.PAGE, 2.3), sharey=True, layout="constrained")
    for ax, m in zip(axes, ("WA", "UA")):
        sns.barplot(data=data, x="where", y=m, hue="model", hue_order=models, order=list(where.values()), ax=ax,
                    errorbar=None, palette=plots.model_palette(models), saturation=1)
        ax.axhline(1 / len(SHARED), ls="--", color="gray", lw=1, zorder=0)
        ax.set(ylim=(0, 1), title=m, xlabel="", ylabel="score" if ax is axes[0] else "")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        ax.get_legend().remove()
    fig.legend(handles, labels, title="model", loc="outside right upper")
    fig.suptitle(f"Cross-corpus transfer on the {len(SHARED)} shared emotions ({source} \u2192 {target})")
    return fig
