"""Train one model with PyTorch Lightning: the LightningModule (model, multi-task loss, AdamW) and `fit`.

    from mmlib.training.checkpoints import ModelSpec
    from mmlib.training.fit import fit
    fitted = fit(ModelSpec(cfg, "audio", fold, seed=42), table, feats, ckpt_dir="data/checkpoints")
    fitted.checkpoint, fitted.trained, fitted.best_epoch    # False: an existing checkpoint was reused
    pred = fitted.predict()     # the fold's test utterances: id, fold, seed, model, speaker, true, pred, p_<class>

AdamW, gradient clipping, early stopping and the kept epoch chosen on validation cross-entropy (or UA:
train.select_on), never on a quantity that draws random impostors; seeds from the config,
deterministic on CPU; mixed precision on GPU; devices and strategy (e.g. ddp) from the config. Which
losses train which head is explicit (train.rank_heads: the ranking term trains the matchmap heads
only, as the authors did). A model's identity and checkpoint are mmlib.training.checkpoints'; its inputs
(normalizer, datasets, padding, loader) mmlib.training.inference's. Fusion models can start from the same
fold's unimodal checkpoints, as the authors did.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import pandas as pd
import torch

from mmlib.config import StudyConfig
from mmlib.data import blanking
from mmlib.data.inputs import Inputs, fold_inputs, loader
from mmlib.models.factory import make_model
from mmlib.models.fusion import UNIMODAL
from mmlib.training import checkpoints, inference
from mmlib.training.checkpoints import ModelSpec
from mmlib.training.losses import LossWeights, multitask_loss


def loss_weights(cfg: StudyConfig, head: str) -> LossWeights:
    """The training objective of `head`: cross-entropy, plus w x ranking for the heads in train.rank_heads
    (the authors: the matchmap model only; audio, video and concat are trained with cross-entropy alone)."""
    t = cfg.train
    fused = head not in UNIMODAL
    return LossWeights(
        w_rank=t.rank_weight if head in t.rank_heads else 0.0, w_aux=t.aux_weight if fused else 0.0,
        w_vad=t.vad_weight, margin=t.margin, kind=t.similarity, ranking=t.rank_loss,
        label_aware=t.impostor_other_label,
    )


SELECTION = {"val_ce": "min", "val_ua": "max"}  # model selection criteria: deterministic, validation data only


class EmotionModule(L.LightningModule):
    """The model, the multi-task loss and AdamW; logs every loss part.

    Validation computes the cross-entropy and the UA of the validation set and nothing random: the
    ranking term draws impostors, so it is a training signal, never a selection criterion, and
    validation never consumes the training generator.
    """

    def __init__(self, model: torch.nn.Module, weights: LossWeights, lr: float, weight_decay: float, seed: int,
                 n_classes: int, modality_dropout: float = 0.0, balance: str = "none", balance_alpha: float = 0.5,
                 frozen: torch.nn.Module | None = None):
        super().__init__()
        self.model, self.weights, self.lr, self.wd = model, weights, lr, weight_decay
        self.gen = torch.Generator().manual_seed(seed)  # impostor sampling (training only)
        self.drop_gen = torch.Generator().manual_seed(seed + 1)  # modality dropout (training only)
        self.noise_gen = torch.Generator().manual_seed(seed + 2)  # OGM-GE's gradient noise (training only)
        self.n_classes, self.modality_dropout = n_classes, modality_dropout
        fused = getattr(model, "audio_encoder", None) is not None and getattr(model, "video_encoder", None) is not None
        self.balance = balance if fused else "none"  # a unimodal model has nothing to balance
        self.balance_alpha = balance_alpha
        self._coeff: dict[str, float] = {}
        self._val_cm = torch.zeros(n_classes, n_classes, dtype=torch.long)
        self.frozen = frozen  # an encoder kept as it started (train.freeze): eval mode in every training step

    def on_train_batch_start(self, batch, batch_idx):
        if self.frozen is not None:
            self.frozen.eval()  # Lightning (and OGM-GE's probe) put the whole model back in train mode

    def forward(self, batch: dict) -> dict:
        return self.model(batch.get("audio"), batch.get("video"), batch.get("audio_lengths"))

    def training_step(self, batch, _):
        if self.modality_dropout > 0:
            batch = blanking.modality_dropout(batch, self.modality_dropout, self.drop_gen)
        out = self(batch)
        total, parts = multitask_loss(out, batch["label"], batch["vad"], self.weights, self.gen)
        if self.balance == "ogm_ge":
            ratio, self._coeff = ogm_ge_coefficients(self.model, batch, self.balance_alpha)
            parts = {**parts, "ogm_ratio": torch.tensor(ratio), "ogm_coeff_audio": torch.tensor(self._coeff["audio"]),
                     "ogm_coeff_video": torch.tensor(self._coeff["video"])}
        bs = len(batch["label"])
        for k, v in parts.items():
            self.log(f"train_{k}", v, batch_size=bs, on_epoch=True, on_step=False, prog_bar=(k == "total"))
        return total

    def on_after_backward(self):
        """OGM-GE: the dominant branch's encoder gradients scaled by its coefficient, plus Gaussian noise with the
        standard deviation of each gradient tensor (the paper's generalization enhancement)."""
        if self.balance != "ogm_ge":
            return
        for modality, k in self._coeff.items():
            if k >= 1.0:
                continue
            for p in getattr(self.model, f"{modality}_encoder").parameters():
                if p.grad is None or p.grad.numel() < 2:
                    continue
                sd = float(p.grad.std())
                p.grad.mul_(k).add_(torch.randn(p.grad.shape, generator=self.noise_gen).to(p.grad) * sd)

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


@torch.no_grad()
def ogm_ge_coefficients(model: torch.nn.Module, batch: dict, alpha: float) -> tuple[float, dict[str, float]]:
    """OGM-GE's discrepancy ratio and gradient coefficients on one batch (Peng et al., CVPR 2022).

    Each branch's score is the summed softmax probability of the true class when only that branch is given
    (the other stream blanked, data/blanking.py), from the model in eval mode (no BatchNorm update);
    ratio = score_audio / score_video. The dominant branch (ratio > 1: audio; < 1: video) gets the coefficient
    1 - tanh(alpha x (rho - 1)), rho its score over the other's, the other branch 1: no modulation when the
    branches are balanced (the paper's 1 - tanh(alpha x rho) would cut the dominant branch by 1 - tanh(alpha)
    at the slightest imbalance). Dividing a branch's score by itself, as one public version does, makes the
    ratio 1 always and the method a no-op."""
    was = model.training
    model.eval()
    try:
        y = batch["label"]
        score = {}
        for keep, gone in (("audio", "video"), ("video", "audio")):
            b = blanking.blank(batch, gone)
            logits = model(b.get("audio"), b.get("video"), b.get("audio_lengths"))["logits"].float()
            score[keep] = float(logits.softmax(1).gather(1, y[:, None]).sum())
    finally:
        model.train(was)
    ratio = score["audio"] / max(score["video"], 1e-12)
    coeff = {"audio": 1.0, "video": 1.0}
    if ratio > 1:
        coeff["audio"] = 1.0 - math.tanh(alpha * (ratio - 1.0))
    elif ratio < 1:
        coeff["video"] = 1.0 - math.tanh(alpha * (1.0 / max(ratio, 1e-12) - 1.0))
    return ratio, coeff


def freeze(model: torch.nn.Module, modality: str | None) -> torch.nn.Module | None:
    """train.freeze: the `modality` encoder of a fusion model without gradients and in eval mode (its BatchNorm
    statistics fixed), so it keeps the weights it started from; None when nothing is frozen."""
    if modality is None:
        return None
    encoder = getattr(model, f"{modality}_encoder", None)
    if encoder is None:
        raise ValueError(f"train.freeze={modality!r}: this model has no {modality} encoder")
    return encoder.requires_grad_(False).eval()


def _init_from_unimodal(model, init_from: dict[str, Path], whole: bool = False):
    """Copy the encoders of the unimodal checkpoints (audio_encoder.*, video_encoder.*) into `model`; whole: every
    weight (a unimodal model continuing from its own checkpoint, train.continue_unimodal)."""
    own = model.state_dict()
    for modality, path in init_from.items():
        state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
        prefix = "" if whole else f"{modality}_encoder."
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


@dataclass
class Fitted:
    """A trained (or reused) model of a spec, with the inputs it was trained and is tested on."""

    spec: ModelSpec
    checkpoint: Path
    trained: bool  # False: an existing checkpoint was reused
    history: pd.DataFrame  # per-epoch train/val losses (empty when the checkpoint was reused)
    best_epoch: int | None  # the epoch kept (0-based), as the checkpoint records it
    model: torch.nn.Module  # the kept epoch's model, in eval mode
    inputs: Inputs
    val_ua: float | None = None  # validation UA at the kept epoch (what a choice between models may read)

    def predict(self, **kw) -> pd.DataFrame:
        """Predictions on the fold's test utterances (inference.predict's keywords), on train.threads threads."""
        with inference.torch_threads(self.spec.cfg.train.threads):
            return inference.predict(self.model, self.inputs.test, self.spec, **kw)


def fit(spec: ModelSpec, table: pd.DataFrame, feats, ckpt_dir: str | Path | None = None,
        init_from: dict[str, Path] | None = None, retrain: bool = False, keep: frozenset[str] = frozenset(),
        progress: bool = True) -> Fitted:
    """Train the model of `spec` (or reuse its checkpoint).

    init_from: modality -> the unimodal checkpoint a fusion model's encoder starts from (train.init_from_unimodal).
    retrain: train even when the checkpoint exists, unless its file name is in `keep` (trained earlier in this
    run). The best epoch by train.select_on (validation cross-entropy or UA) is kept; early stopping watches
    the same criterion. Runs on train.threads torch threads (restored afterwards), so every executor gives the
    same numbers.
    """
    cfg = spec.config
    if cfg.train.select_on not in SELECTION:
        raise ValueError(f"train.select_on must be one of {sorted(SELECTION)}, got {cfg.train.select_on!r}")
    init = dict(init_from or {}) if spec.starts_from else {}
    ckpt_dir = Path(ckpt_dir or Path(cfg.data.data_dir) / "checkpoints")
    ckpt = checkpoints.path(spec, ckpt_dir, checkpoints.training_data_digest(spec, table, feats), init)
    data = fold_inputs(spec, table, feats)
    with inference.torch_threads(cfg.train.threads):
        L.seed_everything(spec.seed, workers=True, verbose=False)
        model = make_model(cfg, spec.head)
        history = pd.DataFrame()
        reused = ckpt.exists() and (not retrain or ckpt.name in keep)
        if reused:
            payload = torch.load(ckpt, map_location="cpu", weights_only=False)
            model.load_state_dict(payload["state_dict"])
            kept = payload.get("best_epoch")
            recorded = pd.DataFrame(payload.get("history") or {})
        else:
            if init:
                _init_from_unimodal(model, init, whole=spec.head in UNIMODAL)
            frozen = freeze(model, cfg.train.freeze) if init else None
            lr = cfg.train.finetune_lr if init and cfg.train.finetune_lr is not None else cfg.train.lr
            module = EmotionModule(model, loss_weights(cfg, spec.head), lr, cfg.train.weight_decay,
                                   spec.seed, len(spec.classes), cfg.train.modality_dropout, cfg.train.balance,
                                   cfg.train.balance_alpha, frozen)
            monitor, mode = cfg.train.select_on, SELECTION[cfg.train.select_on]
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="fit-", dir=ckpt_dir) as tmp:
                best = L.pytorch.callbacks.ModelCheckpoint(dirpath=Path(tmp) / "best", monitor=monitor, mode=mode,
                                                           save_top_k=1)
                patience = (cfg.train.finetune_patience if init and cfg.train.finetune_patience is not None
                            else cfg.train.patience)
                stop = L.pytorch.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience)
                with _quiet():
                    trainer = _trainer(cfg, tmp, progress, [best, stop])
                    trainer.fit(module, loader(data.train, spec, shuffle=True),
                                loader(data.val, spec))
                module.load_state_dict(torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"])
                history = _history(tmp)
            kept, recorded = best_epoch(history, monitor, mode), history
            checkpoints.save(ckpt, {"state_dict": model.state_dict(), "config": cfg.to_dict(), "head": spec.head,
                                    "fold": spec.fold.number, "seed": spec.seed, "key": spec.key,
                                    "classes": spec.classes, "best_epoch": kept, "selected_on": monitor,
                                    "init": {m: str(p) for m, p in init.items()}, "history": history.to_dict("list")})
    return Fitted(spec, ckpt, not reused, history, kept, model.eval(), data, kept_value(recorded, kept, "val_ua"))


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


def kept_value(history: pd.DataFrame, kept: int | None, column: str) -> float | None:
    """`column` of a history at the kept epoch; None when either is missing."""
    if kept is None or history.empty or column not in history:
        return None
    row = history.loc[history["epoch"] == kept, column]
    return float(row.iloc[0]) if len(row) else None


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
        warnings.filterwarnings("ignore", message=".*in eval mode at the start of training.*")  # train.freeze

    def __exit__(self, *exc):
        self.warn.__exit__(*exc)
        for n, level in self.levels.items():
            logging.getLogger(n).setLevel(level)
