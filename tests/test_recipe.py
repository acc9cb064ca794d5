"""mmlib.runner.recipe: the training recipe chosen on validation speakers, the record, and the profile that carries it."""

import json

import pandas as pd
import pytest

from mmlib.config import load_config
from mmlib.config.provenance import REPO
from mmlib.runner import recipe

RECORD = REPO / "results" / "recipe-default"


def test_validation_scores_are_the_kept_epochs(quick_session, tmp_path):
    from mmlib.training import fit as training

    s = quick_session
    fitted = training.fit(s.spec("audio", s.folds[0], 42), s.recordings, s.feats, tmp_path, progress=False)
    v = recipe.validation_scores(fitted.checkpoint)
    kept = fitted.history[fitted.history["epoch"] == fitted.best_epoch].iloc[0]
    assert v == {"val_ua": pytest.approx(kept["val_ua"]), "val_ce": pytest.approx(kept["val_ce"]),
                 "kept_epoch": fitted.best_epoch, "epochs_run": len(fitted.history)}


def test_selection_picks_the_best_validation_ua_and_never_a_test_score(quick_session, tmp_path, monkeypatch):
    from dataclasses import replace

    s = replace(quick_session, results_dir=tmp_path, ckpt_dir=tmp_path / "ckpt", used={},
                cfg=quick_session.cfg.with_overrides({"run.executor": "sequential", "train.max_epochs": 1}))
    monkeypatch.setattr(recipe, "STAGES", (("from scratch", ("audio",), [{"train.lr": 1e-3}, {"train.lr": 3e-3}]),
                                           ("fine-tuning", ("concat",), [{"train.finetune_lr": 1e-4}])))
    record = recipe.select(s)
    summary = record["summary"]
    scratch = summary[summary["stage"] == "from scratch"]
    assert scratch["chosen"].sum() == 1
    assert scratch.loc[scratch["chosen"], "val_ua"].item() == scratch["val_ua"].max()
    assert record["choice"]["train.finetune_lr"] == 1e-4 and "train.lr" in record["choice"]
    tried = record["tried"]
    assert set(tried.columns) >= {"val_ua", "val_ce", "val_speakers"} and not any("test" in c for c in tried.columns)
    assert set(tried["val_speakers"]) == {",".join(s.folds[0].val_speakers)}
    out = recipe.write(record, tmp_path / "rec", "quick")
    assert json.loads((out / "choice.json").read_text())["choice"] == record["choice"]
    assert "Settings tried" in recipe.sentence(out) and "(chosen)" in recipe.sentence(out)


@pytest.mark.skipif(not (RECORD / "choice.json").exists(), reason="no committed recipe record")
def test_the_default_profile_carries_the_recorded_choice():
    choice = json.loads((RECORD / "choice.json").read_text())["choice"]
    cfg = load_config("default")
    for key, value in choice.items():
        section, name = key.split(".")
        assert getattr(getattr(cfg, section), name) == value, key
    summary = pd.read_csv(RECORD / "summary.csv")
    assert summary.groupby("stage")["chosen"].sum().eq(1).all()  # one winner per stage, every setting recorded
