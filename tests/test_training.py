"""Training on the quick synthetic corpus: every head learns, predictions are per utterance,
checkpoints are reused, reruns are identical, chunked audio is combined per utterance."""


import numpy as np
import pandas as pd
import pytest

from mmlib.analysis import metrics
from mmlib.data import inputs
from mmlib.data.dataset import collate
from mmlib.models.fusion import HEADS
from mmlib.training import fit as training
from mmlib.training.checkpoints import ModelSpec


def fit(st, head, tmp_path, init_from=None, **over):
    cfg = st.cfg.with_overrides({"train.max_epochs": 4, "train.patience": 10, **over})
    return training.fit(ModelSpec(cfg, head, st.folds[0], 42), st.table, st.feats, tmp_path / "ckpt", init_from,
                        progress=False)


@pytest.mark.parametrize("head", HEADS)
def test_each_head_learns_and_predicts(quick_session, tmp_path, head):
    st = quick_session
    res = fit(st, head, tmp_path, **({"train.rank_weight": 0.1} if head not in ("audio", "video") else {}))
    loss = res.history["train_total"].to_numpy()
    # seeds 42-46: loss[-1] / loss[0] 0.25-0.74 over the heads (video 0.50-0.74, matchmap_attn 0.66-0.72); bound 1
    assert len(loss) == 4 and loss[-1] < loss[0], f"{head}: training loss did not fall: {loss}"
    pred = res.predict()
    fold = st.folds[0]
    assert sorted(pred["id"]) == sorted(fold.test) and pred["id"].is_unique
    assert (pred[["fold", "seed", "model"]].drop_duplicates().values.tolist() == [[1, 42, head]])
    probs = pred[[f"p_{c}" for c in st.classes]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert (pred["pred"] == np.array(st.classes)[probs.argmax(1)]).all()
    truth = st.table.set_index("id").loc[pred["id"], "label"].to_numpy()
    assert (pred["true"].to_numpy() == truth).all()
    s = metrics.scores(pred["true"], pred["pred"], st.classes)
    assert 0 <= s["UA"] <= 1 and s["n"] == len(fold.test)


def test_checkpoint_reuse_and_determinism(quick_session, tmp_path):
    st = quick_session
    first = fit(st, "concat", tmp_path)
    assert first.trained and first.checkpoint.exists()
    again = fit(st, "concat", tmp_path)
    assert not again.trained
    pd.testing.assert_frame_equal(first.predict(), again.predict())
    retrained = training.fit(ModelSpec(st.cfg.with_overrides({"train.max_epochs": 4, "train.patience": 10}), "concat",
                                       st.folds[0], 42), st.table, st.feats, tmp_path / "other", progress=False)
    pd.testing.assert_frame_equal(first.predict(), retrained.predict())  # same seed, same numbers on CPU
    other_seed = training.fit(ModelSpec(st.cfg.with_overrides({"train.max_epochs": 4}), "concat", st.folds[0], 7),
                              st.table, st.feats, tmp_path / "ckpt", progress=False)
    assert other_seed.checkpoint != first.checkpoint


def test_fusion_starts_from_unimodal_checkpoints(quick_session, tmp_path):
    import torch

    st = quick_session
    uni = {m: fit(st, m, tmp_path).checkpoint for m in ("audio", "video")}
    cfg = st.cfg.with_overrides({"train.max_epochs": 1})
    from mmlib.models.factory import make_model
    from mmlib.training.fit import _init_from_unimodal

    model = make_model(cfg, "matchmap")
    _init_from_unimodal(model, uni)
    audio_state = torch.load(uni["audio"], weights_only=False)["state_dict"]
    k = next(k for k in audio_state if k.startswith("audio_encoder.") and k.endswith("weight"))
    torch.testing.assert_close(model.state_dict()[k], audio_state[k])


def test_frozen_encoder_keeps_its_start_and_a_continued_model_starts_from_its_own(quick_session, tmp_path):
    """train.freeze: every audio-encoder tensor of the fine-tuned matchmap, BatchNorm statistics included, equals
    the unimodal checkpoint's; the video encoder moved. train.continue_unimodal: the audio model restarts from the
    ordinary audio model's whole state and trains on (its weights move away from it)."""
    import torch

    st = quick_session
    uni = {m: fit(st, m, tmp_path).checkpoint for m in ("audio", "video")}
    res = fit(st, "matchmap", tmp_path, uni, **{"train.freeze": "audio"})
    fused = torch.load(res.checkpoint, weights_only=False)
    assert fused["init"] == {m: str(p) for m, p in uni.items()}
    state = {m: torch.load(p, weights_only=False)["state_dict"] for m, p in uni.items()}
    audio = [k for k in state["audio"] if k.startswith("audio_encoder.")]
    assert any("running_mean" in k for k in audio)
    for k in audio:
        torch.testing.assert_close(fused["state_dict"][k], state["audio"][k], rtol=0, atol=0)
    video = [k for k in state["video"] if k.startswith("video_encoder.") and k.endswith("weight")]
    assert any(not torch.equal(fused["state_dict"][k], state["video"][k]) for k in video)

    cont = fit(st, "audio", tmp_path, {"audio": uni["audio"]},
               **{"train.continue_unimodal": True, "train.finetune_lr": 1e-3})
    assert cont.checkpoint != uni["audio"] and [s.head for s in cont.spec.starts_from] == ["audio"]
    moved = torch.load(cont.checkpoint, weights_only=False)
    assert moved["init"] == {"audio": str(uni["audio"])}
    assert any(not torch.equal(moved["state_dict"][k], state["audio"][k]) for k in audio if k.endswith("weight"))
    with pytest.raises(ValueError, match="train.freeze must be None, 'audio' or 'video', got 'face'"):
        st.cfg.with_overrides({"train.freeze": "face"})


def test_chunked_audio_is_scored_per_utterance(quick_session, tmp_path):
    st = quick_session
    res = fit(st, "audio", tmp_path, **{"audio.chunk_seconds": 0.5, "train.max_epochs": 1})
    assert sorted(res.predict()["id"]) == sorted(st.folds[0].test)  # one row per utterance, not per chunk
    assert len(res.inputs.test) > len(st.folds[0].test)  # there were more chunks than utterances


def test_which_losses_train_which_head(quick_session):
    from mmlib.training.checkpoints import canonical_config
    from mmlib.training.fit import loss_weights

    cfg = quick_session.cfg
    assert {h: loss_weights(cfg, h).w_rank for h in HEADS} == {
        "audio": 0.0, "video": 0.0, "concat": 0.0, "matchmap": cfg.train.rank_weight,
        "matchmap_attn": cfg.train.rank_weight}
    # a ranking setting cannot change the key of a model that is not trained with it
    other = cfg.with_overrides({"train.rank_weight": 0.5, "train.similarity": "SISA"})
    for head in ("audio", "video", "concat"):
        assert canonical_config(other, head) == canonical_config(cfg, head)
    assert canonical_config(other, "matchmap") != canonical_config(cfg, "matchmap")


def test_concat_gradient_does_not_depend_on_rank_weight(quick_session):
    import torch

    from mmlib.models.factory import make_model
    from mmlib.training.fit import loss_weights
    from mmlib.training.losses import multitask_loss

    st = quick_session
    train_ds = inputs.fold_inputs(ModelSpec(st.cfg, "concat", st.folds[0], st.cfg.train.seed), st.table, st.feats).train
    batch = collate([train_ds[i] for i in range(8)])
    grads = []
    for w in (0.0, 0.078, 5.0):
        cfg = st.cfg.with_overrides({"train.rank_weight": w})
        torch.manual_seed(0)
        model = make_model(cfg, "concat").train()
        out = model(batch["audio"], batch["video"], batch["audio_lengths"])
        total, _ = multitask_loss(out, batch["label"], batch["vad"], loss_weights(cfg, "concat"),
                                  torch.Generator().manual_seed(0))
        total.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    torch.testing.assert_close(grads[0], grads[2], rtol=0, atol=0)


def test_validation_draws_no_impostors_and_selects_on_validation_ce(quick_session, tmp_path):
    import torch

    from mmlib.models.factory import make_model
    from mmlib.training.fit import EmotionModule, loss_weights

    st = quick_session
    val_ds = inputs.fold_inputs(ModelSpec(st.cfg, "matchmap", st.folds[0], st.cfg.train.seed), st.table, st.feats).val
    module = EmotionModule(make_model(st.cfg, "matchmap"), loss_weights(st.cfg, "matchmap"), 1e-3, 0.0, 42, 4)
    before = module.gen.get_state().clone()
    module.log = lambda *a, **k: None  # outside a Trainer
    module.eval()
    with torch.no_grad():
        module.validation_step(collate([val_ds[i] for i in range(len(val_ds))], 301), 0)
    assert torch.equal(module.gen.get_state(), before)  # the training generator was not consumed
    res = fit(st, "matchmap", tmp_path)
    assert {"val_ce", "val_ua"} <= set(res.history.columns) and "val_total" not in res.history.columns
    payload = torch.load(res.checkpoint, weights_only=False)
    assert payload["selected_on"] == "val_ce"
    assert payload["best_epoch"] == int(res.history.loc[res.history["val_ce"].idxmin(), "epoch"])
