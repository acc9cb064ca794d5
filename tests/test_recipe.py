"""mmlib.runner.recipe: the training recipe chosen on validation speakers, the record, and the profile that carries it."""

import json

import pandas as pd
import pytest

from mmlib.config import load_config
from mmlib.config.provenance import REPO
from mmlib.runner import recipe

RECORD = REPO / "results" / "recipe-default-wide"  # the record the default profile carries
PRECISION_RECORD = REPO / "results" / "recipe-default-precision"  # bf16 against fp32, validation speakers only


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


def test_a_tolerant_stage_keeps_its_first_candidate_unless_beaten_by_more_than_the_tolerance():
    assert recipe.chosen_row([0.70, 0.72, 0.72]) == 1  # the highest; a tie goes to the earlier
    assert recipe.chosen_row([0.72, 0.72]) == 0
    assert recipe.chosen_row([0.70, 0.709], tolerance=0.01) == 0  # fp32 better by 0.9 points: bf16 kept
    assert recipe.chosen_row([0.70, 0.711], tolerance=0.01) == 1  # by 1.1 points: fp32 chosen
    assert recipe.chosen_row([0.75, 0.70], tolerance=0.01) == 0
    assert recipe.TOLERANCE["precision"] == 0.01 and recipe.PRECISION[0] == {"train.precision": "bf16-mixed"}
    assert recipe._settings('{"train.precision": "bf16-mixed"}') == "precision bf16-mixed"
    assert (recipe._points(0.01), recipe._points(0.005)) == ("1 point", "0.5 points")


@pytest.mark.skipif(not (PRECISION_RECORD / "choice.json").exists(), reason="no committed precision record")
def test_the_default_profile_trains_in_the_precision_its_record_chose():
    record = json.loads((PRECISION_RECORD / "choice.json").read_text())
    assert load_config("default").train.precision == record["choice"]["train.precision"]
    assert record["grid"] == "precision" and "more than 1 point" in record["criterion"]
    summary = pd.read_csv(PRECISION_RECORD / "summary.csv")
    assert summary.groupby("stage")["chosen"].sum().eq(1).all() and len(summary) == 4  # both precisions, both stages


def test_pending_names_what_a_record_prefers_over_the_carried_recipe(tmp_path):
    s = pd.DataFrame({"stage": ["from scratch", "from scratch", "fine-tuning", "fine-tuning"], "candidate": [0, 1, 0, 1],
                      "setting": ['{"train.lr": 0.001}', '{"train.lr": 0.0005}', '{"train.finetune_lr": 0.005}',
                                  '{"train.finetune_lr": 0.002}'],
                      "val_ua": [0.60, 0.55, 0.789, 0.716], "chosen": [True, False, True, False]})
    s.to_csv(tmp_path / "summary.csv", index=False)
    (tmp_path / "choice.json").write_text(json.dumps({"choice": {"train.lr": 0.001, "train.finetune_lr": 0.005}}))
    assert recipe.pending(tmp_path, {"train.lr": 0.001, "train.finetune_lr": 0.005}) == ""  # carried: nothing to say
    text = recipe.pending(tmp_path, {"train.lr": 0.001, "train.finetune_lr": 0.002}, "results/wide/")
    assert text == ("A wider recipe search ([results/wide/](results/wide/), 4 settings, validation speakers only) "
                    "prefers fine-tuning, finetune_lr 0.005 (validation UA 78.9 against 71.6 for the profile's "
                    "finetune_lr 0.002). The profile does not carry it yet: adopting it retrains every model of "
                    "every run.")


def test_the_wide_grid_keeps_the_first_and_reaches_past_its_edges():
    first, wide = recipe.GRIDS["first"], recipe.GRIDS["wide"]
    assert first == recipe.STAGES
    for (name, heads, a), (name_w, heads_w, b) in zip(first, wide):
        assert (name, heads) == (name_w, heads_w)
        assert all(c in b for c in a)  # every first candidate is tried again (same keys: reused)
    values = lambda grid, stage, key: {c[key] for c in grid[stage][2]}  # noqa: E731
    # past the edges where winners sat: patience 8 and fine-tuning lr 2e-3 (the first grid's largest) and, on
    # today's corpus, lr 5e-4 (the first grid's smallest)
    assert max(values(wide, 0, "train.patience")) > max(values(first, 0, "train.patience")) == 8
    assert max(values(wide, 1, "train.finetune_lr")) > max(values(first, 1, "train.finetune_lr")) == 2e-3
    assert min(values(wide, 0, "train.lr")) < min(values(first, 0, "train.lr")) == 5e-4
