"""Learning curves and the convergence summary the study writes (mmlib.training.checkpoints, mmlib.runner.study)."""

import pandas as pd
import pytest

from mmlib.training import checkpoints


def curves(kept_and_run):
    rows = []
    for i, (head, kept, run) in enumerate(kept_and_run):
        rows += [{"checkpoint": f"c{i}.pt", "head": head, "fold": 1, "seed": 42, "epoch": e, "kept": e == kept,
                  "max_epochs": 10, "val_ce": 1.0 - 0.01 * e} for e in range(run)]
    return pd.DataFrame(rows)


def test_convergence_shares_of_first_and_last_kept_epochs():
    c = curves([("audio", 0, 4), ("audio", 2, 6), ("audio", 5, 6), ("audio", 9, 10), ("video", 3, 7)])
    conv = checkpoints.convergence(c).set_index("head")
    assert conv.loc["audio", "trainings"] == 4 and conv.loc["video", "trainings"] == 1
    assert conv.loc["audio", "kept_first"] == pytest.approx(0.25)  # c0 kept epoch 0
    assert conv.loc["audio", "kept_last"] == pytest.approx(0.5)  # c2 and c3 kept the last epoch they ran
    assert conv.loc["audio", "hit_max_epochs"] == pytest.approx(0.25)  # c3 ran all 10
    assert conv.loc["audio", "median_kept_epoch"] == pytest.approx(3.5)
    assert conv.loc["video", "kept_first"] == 0.0 and conv.loc["video", "median_epochs_run"] == 7


def test_the_study_warns_when_training_has_not_converged(tmp_path, monkeypatch, capsys):
    from mmlib.runner import study

    c = curves([("audio", 0, 4), ("audio", 0, 4), ("video", 3, 7), ("video", 4, 8)])
    monkeypatch.setattr(checkpoints, "learning_curves", lambda ledger, ckpt_dir: c)
    warnings = study.write_convergence(tmp_path, tmp_path / "ckpt")
    assert warnings == ["audio: 100% of 2 trainings kept their first epoch, 0% their last"]
    assert "training has not converged for audio" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "metrics" / "learning_curves.csv")) == len(c)
    assert pd.read_csv(tmp_path / "tables" / "convergence.csv")["head"].tolist() == ["audio", "video"]


def test_learning_curves_come_from_the_checkpoints_the_run_used(quick_session, tmp_path):
    from mmlib.training import fit as training
    from mmlib.training.checkpoints import Ledger

    s = quick_session
    fitted = training.fit(s.spec("audio", s.folds[0], 42), s.recordings, s.feats, tmp_path / "ckpt", progress=False)
    ledger = Ledger(tmp_path / "run")
    ledger.record(fitted.spec, fitted.checkpoint, "w", True, 1.0, fitted.best_epoch, {})
    c = checkpoints.learning_curves(ledger, tmp_path / "ckpt")
    assert c["epoch"].tolist() == list(range(len(fitted.history))) and c["kept"].sum() == 1
    assert int(c.loc[c["kept"], "epoch"].iloc[0]) == fitted.best_epoch and {"val_ce", "val_ua"} <= set(c.columns)
