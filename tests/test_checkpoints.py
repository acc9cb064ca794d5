"""mmlib.training.checkpoints: one key per model, checkpoint names by content, the source found by rule, the ledger."""

import json
from dataclasses import replace

import pytest

from mmlib.config import load_config, provenance
from mmlib.data.splits import Fold
from mmlib.training import checkpoints
from mmlib.training.checkpoints import Ledger, ModelSpec

FOLD = Fold(1, ("a1", "a2"), ("v1",), ("t1", "t2"), ("S1",), ("S2",), ("S3",))
OTHER_TEST = replace(FOLD, test=("t1",))


def spec(head="concat", seed=42, fold=FOLD, **over):
    return ModelSpec(load_config("quick", over), head, fold, seed)


def test_one_key_per_model_and_only_what_shapes_it():
    base = spec().key
    assert len(base) == 12 and spec().key == base
    # what shapes the model changes its key
    assert spec(seed=43).key != base
    assert spec("matchmap").key != base
    assert spec(fold=replace(FOLD, number=2)).key != base and spec(fold=OTHER_TEST).key != base
    assert spec(**{"train.lr": 1e-3}).key != base
    # where files live, how the grid runs, which folds/seeds the study runs, the corpus generator: not
    for over in ({"data.data_dir": "/elsewhere"}, {"run.executor": "sequential"}, {"seeds": (1, 2, 3)},
                 {"folds": (1,)}, {"synth.face_expressiveness": 0.0}, {"data.on_error": "skip"}):
        assert spec(**over).key == base, over
    # settings a head cannot see: ranking settings of a head trained without ranking, video settings of audio
    assert spec(**{"train.rank_weight": 0.5}).key == base
    assert spec("matchmap", **{"train.rank_weight": 0.5}).key != spec("matchmap").key
    assert spec("audio", **{"video.n_frames": 8}).key == spec("audio").key
    assert spec("video", **{"video.n_frames": 8}).key != spec("video").key


def test_bad_head_and_starting_points():
    with pytest.raises(ValueError, match="unknown head 'mm'"):
        spec("mm")
    assert spec("audio").starts_from == []
    assert [s.head for s in spec("matchmap").starts_from] == ["audio", "video"]
    assert all(s.seed == 42 and s.fold == FOLD for s in spec("matchmap").starts_from)
    assert spec("concat", **{"train.init_from_unimodal": False}).starts_from == []
    # the controls of the face-0 question: a frozen encoder is a different fusion model, not a different unimodal one
    frozen = spec("matchmap", **{"train.freeze": "audio"})
    assert frozen.key != spec("matchmap").key and [s.key for s in frozen.starts_from] == [
        s.key for s in spec("matchmap").starts_from]
    # a continued audio model starts from the ordinary one and carries the fine-tuning recipe in its key
    cont = spec("audio", **{"train.continue_unimodal": True, "train.finetune_lr": 1e-3})
    assert [s.key for s in cont.starts_from] == [spec("audio").key]
    assert cont.key != spec("audio", **{"train.continue_unimodal": True}).key != spec("audio").key
    assert spec("audio", **{"train.finetune_lr": 1e-3}).key == spec("audio").key  # not continued: unused
    assert spec("matchmap", **{"train.continue_unimodal": True}).key == spec("matchmap").key


def test_code_digest_covers_every_module_training_imports():
    modules = provenance.import_closure("mmlib.training.fit")
    # the modules a hand-kept list used to name are all found by following the imports
    for m in ("models.audio", "models.video", "models.fusion", "models.matchmap", "models.factory", "training.losses",
              "training.fit", "data.dataset", "data.inputs", "data.blanking", "data.chunks", "training.inference",
              "training.checkpoints"):
        assert f"mmlib.{m}" in modules, m
    # these do not shape a model
    assert not {"mmlib.figures.plots", "mmlib.runner.report", "mmlib.runner.study", "mmlib.runner.session"} & modules


def test_a_new_module_on_the_training_path_changes_the_code_digest(monkeypatch):
    before = checkpoints.code_digest.__wrapped__()
    real = provenance.import_closure
    monkeypatch.setattr(provenance, "import_closure", lambda *m: real(*m) | {"mmlib.figures.plots"})
    assert checkpoints.code_digest.__wrapped__() != before


def test_checkpoint_path_names_the_model_and_hashes_data_and_init(tmp_path):
    s = spec()
    p = checkpoints.path(s, tmp_path, "d1")
    assert p.parent == tmp_path and p.name.startswith("concat-fold01-seed42-") and p.suffix == ".pt"
    assert checkpoints.path(s, tmp_path, "d1") == p and checkpoints.path(s, tmp_path, "d2") != p


def test_ledger_rows_trained_and_summary(tmp_path):
    ledger = Ledger(tmp_path)
    assert ledger.rows() == [] and ledger.trained() == frozenset() and ledger.summary() == []
    a, m = spec("audio"), spec("matchmap")
    ledger.record(a, tmp_path / "audio.pt", "w1", True, 4.5, 3, {})
    ledger.record(m, tmp_path / "mm.pt", "w2", True, 9.0, 2, {"audio": tmp_path / "audio.pt"})
    ledger.record(a, tmp_path / "audio.pt", "w1", False, 0.1, None, {})  # reused later in the run
    rows = [json.loads(line) for line in ledger.file.read_text().splitlines()]
    assert rows[0] == {"checkpoint": "audio.pt", "weights_sha256": "w1", "trained": True, "seconds": 4.5,
                       "head": "audio", "fold": 1, "seed": 42, "key": a.key, "best_epoch": 3, "init": {}}
    assert rows[1]["init"] == {"audio": "audio.pt"}
    assert ledger.trained() == {"audio.pt", "mm.pt"}
    summary = ledger.summary()
    assert [r["checkpoint"] for r in summary] == ["audio.pt", "mm.pt"]
    assert summary[0]["trained"] is True and summary[0]["seconds"] == 4.5 and summary[0]["best_epoch"] == 3


@pytest.fixture(scope="module")
def fitted(quick_session, tmp_path_factory):
    from mmlib.training import fit as training

    s, ckpt = quick_session, tmp_path_factory.mktemp("ckpt")
    fold = s.folds[0]
    uni = {h: training.fit(s.spec(h, fold, 42), s.table, s.feats, ckpt, progress=False) for h in ("audio", "video")}
    fused = training.fit(s.spec("concat", fold, 42), s.table, s.feats, ckpt,
                         {h: f.checkpoint for h, f in uni.items()}, progress=False)
    return s, ckpt, uni, fused


def test_locate_finds_what_fit_wrote_and_names_what_is_missing(fitted):
    s, ckpt, uni, fused = fitted
    fold = s.folds[0]
    assert checkpoints.locate(s.spec("audio", fold, 42), s.table, s.feats, ckpt) == uni["audio"].checkpoint
    assert checkpoints.locate(s.spec("concat", fold, 42), s.table, s.feats, ckpt) == fused.checkpoint
    with pytest.raises(FileNotFoundError, match=r"no checkpoint of audio fold 1 seed 43 \(config [0-9a-f]{12}\)"):
        checkpoints.locate(s.spec("audio", fold, 43), s.table, s.feats, ckpt)
    # the matchmap was never trained, though its starting points were: not found either
    with pytest.raises(FileNotFoundError, match="no checkpoint of matchmap fold 1 seed 42"):
        checkpoints.locate(s.spec("matchmap", fold, 42), s.table, s.feats, ckpt)


def test_load_gives_back_the_trained_model(fitted):
    import torch

    s, ckpt, uni, fused = fitted
    model, payload = checkpoints.load(fused.checkpoint)
    assert payload["head"] == "concat" and payload["seed"] == 42 and payload["key"] == fused.spec.key
    assert payload["init"] == {h: str(f.checkpoint) for h, f in uni.items()}
    for k, v in fused.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_training_data_digest_follows_training_labels_not_test_labels(fitted):
    s = fitted[0]
    a = s.spec("audio", s.folds[0], 42)
    base = checkpoints.training_data_digest(a, s.table, s.feats)
    flip = lambda uid: s.table.assign(label=s.table["label"].where(s.table["id"] != uid, "zzz"))  # noqa: E731
    assert checkpoints.training_data_digest(a, flip(s.folds[0].train[0]), s.feats) != base
    assert checkpoints.training_data_digest(a, flip(s.folds[0].test[0]), s.feats) == base
