"""mmlib.runner.session: model names, named arms, the notebooks' setup call, finding trained models."""

import pytest

from mmlib.runner.session import arms, model_name, setup


def test_model_names_say_what_differs_and_leave_out_replication():
    assert model_name("matchmap", None) == "matchmap" == model_name("matchmap", {"seeds": [42, 43]})
    assert model_name("concat", {"train.modality_dropout": 0.5, "seeds": [42]}) == "concat[train.modality_dropout=0.5]"
    assert model_name("matchmap", {"train.similarity": "SISA", "train.rank_weight": 0.0}) == \
        "matchmap[train.similarity=SISA,train.rank_weight=0.0]"


def test_arms_name_each_head_once():
    drop = {"train.modality_dropout": 0.5, "seeds": [42, 43]}
    assert arms(["audio", "concat"]) == {"audio": ("audio", None), "concat": ("concat", None)}
    assert arms(["matchmap"], drop) == {"matchmap[train.modality_dropout=0.5]": ("matchmap", drop)}


def test_setup_says_where_and_what(tmp_path, capsys):
    session = setup("quick", None, str(tmp_path / "data"), str(tmp_path / "results"), {"seeds": [5]}, progress=False)
    out = capsys.readouterr().out
    assert "data_dir" in out and "results_dir" in out
    assert f"synthetic: {len(session.table)} labelled utterances, 1 fold(s), seeds (5,)" in out
    assert session.figures == session.results_dir / "figures" and session.cfg.seeds == (5,)
    with pytest.raises(FileNotFoundError, match="no checkpoint of audio fold 1 seed 5"):
        session.checkpoint(session.spec("audio", session.folds[0], 5))


def test_a_notebook_must_build_its_study_runs_one_config(tmp_path, monkeypatch):
    import json

    from mmlib.config import load_config
    from mmlib.runner.session import check_run_config

    run = load_config("quick", {"train.lr": 0.01, "data.data_dir": "/abs/data"})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(run.to_dict(), default=list))
    check_run_config(load_config("quick"), path=None)  # outside a run: nothing to check
    monkeypatch.setenv("MMLIB_RUN_CONFIG", str(path))
    check_run_config(load_config("quick", {"train.lr": 0.01}))  # the same run, data spelt elsewhere: fine
    with pytest.raises(ValueError, match=r"train\.lr, train\.seed differ"):
        check_run_config(load_config("quick", {"train.seed": 1}))
