"""Train and evaluate one model on one fold with PyTorch Lightning.

    from mmlib.training import fit_fold
    res = fit_fold(cfg, fold, table, feats, head="audio", seed=42, ckpt_dir="data/checkpoints")
    res.predictions      # one row per test utterance: id, fold, seed, model, true, pred, p_<class>
    res.checkpoint       # best epoch's weights + the config that made them

AdamW, gradient clipping, early stopping and the kept epoch chosen on validation cross-entropy (or UA:
train.select_on), never on a quantity that draws random impostors; seeds from the config,
deterministic on CPU; mixed precision on GPU; devices and strategy (e.g. ddp) from the config. Which
losses train which head is explicit (train.rank_heads: the ranking term trains the matchmap heads
only, as the authors did). A checkpoint is keyed by everything that shapes it (config, head, fold,
seed, the modeling source, the content of the training data, the identity of the checkpoints it
starts from), so a rerun reuses it instead of training again (pass retrain=True to refit). Fusion models can start from the same fold's unimodal checkpoints, as the authors did.
When audio is cut into chunks, chunk logits are averaged per utterance before scoring.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from mmlib.config import StudyConfig, TrainConfig, stable_hash
from mmlib.data.corpus import class_names
from mmlib.data import blanking
from mmlib.data.dataset import EmotionDataset, Normalizer, SpeakerNormalizer, collate
from mmlib.data.features import FeatureSet
from mmlib.data.splits import Fold
from mmlib.losses import LossWeights, multitask_loss
from mmlib.models.fusion import build_model

HEADS = ("audio", "video", "concat", "matchmap", "matchmap_attn")


def modalities_of(head: str) -> tuple[str, ...]:
    return {"audio": ("audio",), "video": ("video",)}.get(head, ("audio", "video"))


def fixed_audio_frames(cfg: StudyConfig) -> int:
    """Audio frames every item is padded to: the chunk, or max_seconds (the fixed matchmap head needs it)."""
    a = cfg.audio
    seconds = a.chunk_seconds if a.chunk_seconds is not None else a.max_seconds
    return int(round(seconds * 1000 / a.hop_ms)) + (0 if a.chunk_seconds is not None else 1)


def make_model(cfg: StudyConfig, head: str) -> torch.nn.Module:
    m = cfg.model
    return build_model(
        head=head, n_classes=len(class_names(cfg.data.label_set)), n_mels=cfg.audio.n_mels,
        in_channels=3 if cfg.audio.deltas else 1, audio_width=m.audio_width,
        audio_final_kernel=m.audio_final_kernel, video_arch=m.video_arch, video_width=m.video_width,
        dim=m.dim, keep_time=m.keep_time, pool_hw=m.pool_hw, audio_frames=fixed_audio_frames(cfg),
        aux_heads=m.aux_heads, vad_head=m.vad_head, pretrained_video=m.pretrained_video,
        narrow_downsample=m.narrow_downsample,
    )


def loss_weights(cfg: StudyConfig, head: str) -> LossWeights:
    """The training objective of `head`: cross-entropy, plus w x ranking for the heads in train.rank_heads
    (the authors: the matchmap model only; audio, video and concat are trained with cross-entropy alone)."""
    t = cfg.train
    fused = head not in ("audio", "video")
    return LossWeights(
        w_rank=t.rank_weight if head in t.rank_heads else 0.0, w_aux=t.aux_weight if fused else 0.0,
        w_vad=t.vad_weight, margin=t.margin, kind=t.similarity, ranking=t.rank_loss,
        label_aware=t.impostor_other_label,
    )


def canonical_config(cfg: StudyConfig, head: str) -> StudyConfig:
    """`cfg` with the training settings that cannot affect `head` reset, so that one model has one key: the
    ranking settings of a head trained without the ranking term, the fusion-only settings of a unimodal head.
    (An ablation of the ranking loss then reuses, not retrains, the unimodal models it starts from.)"""
    t, base = cfg.train, TrainConfig()
    changes: dict = {}
    if head in t.rank_heads:
        changes["rank_heads"] = (head,)
    else:
        changes.update(rank_heads=(), rank_weight=0.0, similarity=base.similarity, rank_loss=base.rank_loss,
                       margin=base.margin, impostor_other_label=base.impostor_other_label)
    if head in ("audio", "video"):
        changes.update(aux_weight=0.0, modality_dropout=0.0, init_from_unimodal=base.init_from_unimodal)
    return replace(cfg, train=replace(t, **changes))


SELECTION = {"val_ce": "min", "val_ua": "max"}  # model selection criteria: deterministic, validation data only


class EmotionModule(L.LightningModule):
    """The model, the multi-task loss and AdamW; logs every loss part.

    Validation computes the cross-entropy and the UA of the validation set and nothing random: the
    ranking term draws impostors, so it is a training signal, never a selection criterion, and
    validation never consumes the training generator.
    """

    def __init__(self, model: torch.nn.Module, weights: LossWeights, lr: float, weight_decay: float, seed: int,
                 n_classes: int, modality_dropout: float = 0.0):
        super().__init__()
        self.model, self.weights, self.lr, self.wd = model, weights, lr, weight_decay
        self.gen = torch.Generator().manual_seed(seed)  # impostor sampling (training only)
        self.drop_gen = torch.Generator().manual_seed(seed + 1)  # modality dropout (training only)
        self.n_classes, self.modality_dropout = n_classes, modality_dropout
        self._val_cm = torch.zeros(n_classes, n_classes, dtype=torch.long)

    def forward(self, batch: dict) -> dict:
        return self.model(batch.get("audio"), batch.get("video"), batch.get("audio_lengths"))

    def training_step(self, batch, _):
        if self.modality_dropout > 0:
            batch = blanking.modality_dropout(batch, self.modality_dropout, self.drop_gen)
        out = self(batch)
        total, parts = multitask_loss(out, batch["label"], batch["vad"], self.weights, self.gen)
        bs = len(batch["label"])
        for k, v in parts.items():
            self.log(f"train_{k}", v, batch_size=bs, on_epoch=True, on_step=False, prog_bar=(k == "total"))
        return total

    def validation_step(self, batch, _):
        logits = self(batch)["logits"].float()
        self.log("val_ce", torch.nn.functional.cross_entropy(logits, batch["label"]), batch_size=len(logits),
                 on_epoch=True, on_step=False, prog_bar=True)
        idx = batch["label"].cpu() * self.n_classes + logits.argmax(1).cpu()
        self._val_cm += torch.bincount(idx, minlength=self.n_classes ** 2).reshape(self.n_classes, self.n_classes)

    def on_validation_epoch_end(self):
        cm = self._val_cm.double()
        seen = cm.sum(1) > 0
        self.log("val_ua", (cm.diag()[seen] / cm.sum(1)[seen]).mean().item() if seen.any() else 0.0)
        self._val_cm.zero_()

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.wd)


@dataclass
class FoldResult:
    predictions: pd.DataFrame
    checkpoint: Path
    history: pd.DataFrame  # per-epoch train/val losses (empty when the checkpoint was reused)
    reused: bool
    model: torch.nn.Module  # the best epoch's model, in eval mode
    test_set: EmotionDataset


_TRAINING_CODE = ("models/audio.py", "models/video.py", "models/fusion.py", "matchmap.py", "losses.py",
                  "training.py", "data/dataset.py", "data/blanking.py", "data/chunks.py")


def code_hash() -> str:
    """Hash of the source files that shape a trained model: editing any of them retrains."""
    root = Path(__file__).resolve().parent
    return stable_hash([(f, (root / f).read_text()) for f in _TRAINING_CODE])


def data_key(ids, table: pd.DataFrame, feats: FeatureSet, modalities: tuple[str, ...]) -> str:
    """Content hash of what a model learns from: the utterances' labels, speakers and feature arrays
    (so a changed corpus, feature code or library version can never reuse an old checkpoint)."""
    h = hashlib.blake2b(digest_size=8)
    rows = table.set_index("id").loc[sorted(ids), ["label", "speaker"]]
    h.update(rows.to_csv().encode())
    for uid in sorted(ids):
        for m in modalities:
            h.update(np.ascontiguousarray(getattr(feats, m)[uid]).tobytes())
    return h.hexdigest()


def weights_digest(path: str | Path) -> str:
    """sha256 (16 hex) of a checkpoint's weights only (not where it was made or how it ran)."""
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode() + b"\0" + state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def checkpoint_path(cfg: StudyConfig, head: str, fold: Fold, seed: int, ckpt_dir: str | Path,
                    data: str = "", init: dict[str, Path] | None = None) -> Path:
    """Where the model of (config, head, fold, seed) lives. The key covers everything that shapes it: the
    config (but not where files live or how the grid runs), the fold, the seed, the modeling source, the
    training data's content (`data`, from data_key) and the identity of the checkpoints it starts from."""
    # not in the key: where files live and how the grid runs; the corpus generator's settings (`synth`: what a
    # model learns from is in `data`, by content, so a sweep corpus whose audio is byte-identical reuses the audio
    # models); the feature settings of the modality a unimodal head never sees
    unseen = {"audio": ("video",), "video": ("audio",)}.get(head, ())
    d = {k: v for k, v in cfg.to_dict().items() if k not in ("profile", "folds", "seeds", "run", "synth", *unseen)}
    d["data"] = {k: v for k, v in d["data"].items() if k not in ("data_dir", "root", "on_error")}  # where, not what
    key = stable_hash({"cfg": d, "head": head, "fold": fold.number, "test": fold.test, "seed": seed,
                       "code": code_hash(), "data": data,
                       "init": {m: weights_digest(p) for m, p in sorted((init or {}).items())}})
    return Path(ckpt_dir) / f"{head}-fold{fold.number:02d}-seed{seed}-{key}.pt"


def _loader(ds: EmotionDataset, cfg: StudyConfig, head: str, shuffle: bool, seed: int) -> DataLoader:
    pad_to = fixed_audio_frames(cfg) if (head == "matchmap" or cfg.audio.chunk_seconds is not None) else None
    workers = cfg.train.num_workers
    return DataLoader(
        ds, batch_size=cfg.train.batch_size, shuffle=shuffle, num_workers=workers,
        collate_fn=partial(collate, chunk_frames=pad_to), generator=torch.Generator().manual_seed(seed),
        drop_last=shuffle and len(ds) > cfg.train.batch_size,  # BatchNorm needs > 1 item
        pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,  # keep a GPU fed: 4 batches ready per loader process
    )


def make_normalizer(cfg: StudyConfig, fold: Fold, table: pd.DataFrame, feats: FeatureSet, head: str):
    """The feature standardization of one fold.

    data.speaker_norm=True: every speaker is standardized with the statistics of its own recordings,
    test speakers included: label-free but transductive (the test speakers' unlabelled recordings are
    used at test time). False: the authors' global audio statistics fitted on the training split only.
    """
    mods = modalities_of(head)
    if cfg.data.speaker_norm:
        return SpeakerNormalizer(table, feats, mods)
    return Normalizer.fit([feats.audio[i] for i in fold.train]) if "audio" in mods else Normalizer(0.0, 1.0)


def make_dataset(cfg: StudyConfig, ids, table: pd.DataFrame, feats: FeatureSet, head: str, norm) -> EmotionDataset:
    return EmotionDataset(table, ids, feats, class_names(cfg.data.label_set), cfg.audio, norm, modalities_of(head))


def _datasets(cfg, fold, table, feats, head):
    norm = make_normalizer(cfg, fold, table, feats, head)
    make = lambda ids: make_dataset(cfg, ids, table, feats, head, norm)  # noqa: E731
    return class_names(cfg.data.label_set), make(fold.train), make(fold.val), make(fold.test)


def _init_from_unimodal(model, init_from: dict[str, Path]):
    """Copy the encoders of the unimodal checkpoints (audio_encoder.*, video_encoder.*) into `model`."""
    own = model.state_dict()
    for modality, path in init_from.items():
        state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
        prefix = f"{modality}_encoder."
        picked = {k: v for k, v in state.items() if k.startswith(prefix) and k in own and own[k].shape == v.shape}
        if not picked:
            raise ValueError(f"{path} holds no {prefix}* weights that fit this model")
        own.update(picked)
    model.load_state_dict(own)


def _trainer(cfg: StudyConfig, root: str, progress: bool, callbacks=None) -> L.Trainer:
    t = cfg.train
    gpu = torch.cuda.is_available() and t.accelerator in ("auto", "gpu", "cuda")
    precision = ("16-mixed" if gpu else "32-true") if t.precision == "auto" else t.precision
    return L.Trainer(
        max_epochs=t.max_epochs, gradient_clip_val=t.grad_clip, deterministic=not gpu,
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy, precision=precision,
        callbacks=callbacks or [], logger=L.pytorch.loggers.CSVLogger(root, name="log"),
        default_root_dir=root, enable_progress_bar=progress, enable_model_summary=False,
        enable_checkpointing=bool(callbacks), num_sanity_val_steps=0, log_every_n_steps=1,
    )


def fit_fold(cfg: StudyConfig, fold: Fold, table: pd.DataFrame, feats: FeatureSet, head: str | None = None,
             seed: int | None = None, ckpt_dir: str | Path | None = None, init_from: dict[str, Path] | None = None,
             retrain: bool = False, progress: bool = True) -> FoldResult:
    """Train `head` on `fold` (or reuse its checkpoint) and predict the fold's test utterances.

    The best epoch by train.select_on (validation cross-entropy or UA) is kept; early stopping watches the
    same criterion. Runs on train.threads torch threads (restored afterwards), so every executor gives
    the same numbers.
    """
    head = head or cfg.model.head
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
    if cfg.train.select_on not in SELECTION:
        raise ValueError(f"train.select_on must be one of {sorted(SELECTION)}, got {cfg.train.select_on!r}")
    seed = cfg.train.seed if seed is None else seed
    cfg = canonical_config(replace(cfg, train=replace(cfg.train, seed=seed)), head)
    init = dict(init_from or {}) if cfg.train.init_from_unimodal and head not in ("audio", "video") else {}
    ckpt_dir = Path(ckpt_dir or Path(cfg.data.data_dir) / "checkpoints")
    ckpt = checkpoint_path(cfg, head, fold, seed, ckpt_dir,
                           data_key(fold.train + fold.val, table, feats, modalities_of(head)), init)
    classes, train_ds, val_ds, test_ds = _datasets(cfg, fold, table, feats, head)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cfg.train.threads))
    try:
        L.seed_everything(seed, workers=True, verbose=False)
        model = make_model(cfg, head)
        history = pd.DataFrame()
        reused = ckpt.exists() and not retrain
        if reused:
            model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"])
        else:
            if init:
                _init_from_unimodal(model, init)
            module = EmotionModule(model, loss_weights(cfg, head), cfg.train.lr, cfg.train.weight_decay, seed,
                                   len(classes), cfg.train.modality_dropout)
            monitor, mode = cfg.train.select_on, SELECTION[cfg.train.select_on]
            with tempfile.TemporaryDirectory(prefix="fit-", dir=_mkdir(ckpt_dir)) as tmp:
                best = L.pytorch.callbacks.ModelCheckpoint(dirpath=Path(tmp) / "best", monitor=monitor, mode=mode,
                                                           save_top_k=1)
                stop = L.pytorch.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=cfg.train.patience)
                with _quiet():
                    trainer = _trainer(cfg, tmp, progress, [best, stop])
                    trainer.fit(module, _loader(train_ds, cfg, head, True, seed), _loader(val_ds, cfg, head, False, seed))
                module.load_state_dict(torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"])
                history = _history(tmp)
            payload = {"state_dict": model.state_dict(), "config": cfg.to_dict(), "head": head, "fold": fold.number,
                       "seed": seed, "classes": classes, "best_epoch": best_epoch(history, monitor, mode),
                       "selected_on": monitor, "init": {m: str(p) for m, p in init.items()},
                       "history": history.to_dict("list")}
            tmp_path = ckpt.with_name(f".{ckpt.name}.{os.getpid()}.tmp")
            torch.save(payload, tmp_path)
            os.replace(tmp_path, ckpt)  # a half-written checkpoint never takes the final name
        pred = predict(model, test_ds, cfg, head)
    finally:
        torch.set_num_threads(threads)
    speaker = table.set_index("id")["speaker"]
    pred.insert(1, "fold", fold.number)
    pred.insert(2, "seed", seed)
    pred.insert(3, "model", head)
    pred.insert(4, "speaker", speaker.loc[pred["id"]].to_numpy())
    return FoldResult(pred, ckpt, history, reused, model.eval(), test_ds)


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _history(root: str) -> pd.DataFrame:
    files = sorted(Path(root).glob("log/version_*/metrics.csv"))
    if not files:
        return pd.DataFrame()
    df = pd.read_csv(files[-1])
    return df.groupby("epoch").mean(numeric_only=True).drop(columns=["step"], errors="ignore").reset_index()


def best_epoch(history: pd.DataFrame, monitor: str, mode: str) -> int | None:
    """The epoch a training kept: the best of `monitor` (min or max) in its history; None without one."""
    if history.empty or monitor not in history:
        return None
    col = history[monitor]
    return int(history.loc[col.idxmin() if mode == "min" else col.idxmax(), "epoch"])


class _quiet:
    """Silence Lightning's banner lines and the CPU/worker advice while fitting."""

    names = ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric")

    def __enter__(self):
        self.levels = {n: logging.getLogger(n).level for n in self.names}
        for n in self.names:
            logging.getLogger(n).setLevel(logging.ERROR)
        self.warn = warnings.catch_warnings()
        self.warn.__enter__()
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")

    def __exit__(self, *exc):
        self.warn.__exit__(*exc)
        for n, level in self.levels.items():
            logging.getLogger(n).setLevel(level)


@torch.no_grad()
def predict(model: torch.nn.Module, ds: EmotionDataset, cfg: StudyConfig, head: str,
            batch_size: int = 64) -> pd.DataFrame:
    """Per-utterance predictions: chunk logits averaged per utterance, softmax, argmax."""
    model.eval()
    classes = class_names(cfg.data.label_set)
    sums = torch.zeros(len(ds.ids), len(classes))
    counts = torch.zeros(len(ds.ids))
    loader = _loader(ds, replace(cfg, train=replace(cfg.train, batch_size=batch_size)), head, False, 0)
    for batch in loader:
        logits = model(batch.get("audio"), batch.get("video"), batch.get("audio_lengths"))["logits"].float()
        sums.index_add_(0, batch["utt_index"], logits)
        counts.index_add_(0, batch["utt_index"], torch.ones(len(logits)))
    probs = torch.softmax(sums / counts[:, None], dim=1).numpy()
    out = pd.DataFrame({"id": ds.ids, "true": [classes[i] for i in ds.labels],
                        "pred": [classes[i] for i in probs.argmax(1)]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = probs[:, i]
    return out


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The model stored in a checkpoint (built from the config it records) and the payload."""
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model = make_model(StudyConfig.from_dict(payload["config"]), payload["head"])
    model.load_state_dict(payload["state_dict"])
    return model.eval(), payload
