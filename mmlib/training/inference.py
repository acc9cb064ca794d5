"""A model's predictions: the one `predict` that evaluation and every test-time experiment use (its inputs come from
mmlib.data.inputs).

    from mmlib.data import inputs
    from mmlib.training import inference
    parts = inputs.fold_inputs(spec, table, feats)      # normalizer + train / val / test datasets of spec's fold
    pred = inference.predict(model, parts.test, spec)   # id, fold, seed, model, speaker, true, pred, p_<class>
    pred = inference.predict(model, inputs.test, spec, missing="video")   # video zero-filled after normalization

Predictions run under the autocast the model was validated under in training (`autocast`: bf16 for train.precision
"bf16-mixed", else fp32), so the epoch kept on validation scores is the model the test scores see.
A missing stream is zero-filled after normalization (data/blanking.py), i.e. set to the normalizer's mean
(the speaker's mean with data.speaker_norm), MMIN's zero-filling. When audio is cut into chunks, chunk
logits are averaged per utterance before softmax and argmax.
"""

from __future__ import annotations

import pandas as pd
import torch

from mmlib.data import blanking
from mmlib.data.dataset import EmotionDataset
from mmlib.data.inputs import loader
from mmlib.training.checkpoints import ModelSpec


@torch.no_grad()
def predict(model: torch.nn.Module, ds: EmotionDataset, spec: ModelSpec, missing: str | None = None,
            name: str | None = None, extra: dict | None = None, batch_size: int = 64) -> pd.DataFrame:
    """Per-utterance predictions of `model` on `ds`, with the `missing` stream ("audio" | "video") zero-filled.

    Columns: id, fold, seed, model (`name`, default the head), speaker, then `extra` (column -> one value,
    e.g. a degradation level), true, pred, p_<class> (softmax of the chunk-averaged logits).
    """
    model.eval()
    classes = spec.classes
    sums = torch.zeros(len(ds.ids), len(classes))
    counts = torch.zeros(len(ds.ids))
    for batch in loader(ds, spec, batch_size=batch_size):
        batch = blanking.blank(batch, missing)
        with autocast(model, spec.config.train.precision):
            logits = model(batch.get("audio"), batch.get("video"), batch.get("audio_lengths"))["logits"].float()
        sums.index_add_(0, batch["utt_index"], logits)
        counts.index_add_(0, batch["utt_index"], torch.ones(len(logits)))
    probs = torch.softmax(sums / counts[:, None], dim=1).numpy()
    out = pd.DataFrame({"id": ds.ids, "fold": spec.fold.number, "seed": spec.seed, "model": name or spec.head,
                        "speaker": ds.speakers, **(extra or {}),
                        "true": [classes[i] for i in ds.labels], "pred": [classes[i] for i in probs.argmax(1)]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = probs[:, i]
    return out


def autocast(model: torch.nn.Module, precision: str) -> torch.autocast:
    """The autocast a model was validated under during training: bfloat16 autocast for a bf16 train.precision
    (Lightning's "bf16-mixed" autocasts exactly so; "bf16-true" casts the weights instead, which this only
    approximates), on the device of the model's weights; otherwise a disabled context (fp32)."""
    device = next(iter(model.parameters()), torch.empty(0)).device.type  # a model without weights: the CPU
    return torch.autocast(device, dtype=torch.bfloat16, enabled=str(precision).startswith("bf16"))


class torch_threads:
    """Run a block on `n` torch threads and restore the previous number afterwards (a training and its test
    predictions run on train.threads under every executor, so every executor gives the same numbers)."""

    def __init__(self, n: int):
        self.n = max(1, int(n))

    def __enter__(self):
        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)
