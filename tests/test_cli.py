"""mmlib.runner.cli: `-o key=value` overrides and `-p name value` notebook parameters as YAML values, the
parameter listing, and an unknown notebook parameter failing before anything runs."""

import pytest

from mmlib.config import load_config
from mmlib.runner import cli, study


def test_overrides_are_yaml_values():
    got = cli._overrides(["train.max_epochs=5", "video.face_box=[0, 0, 1, 1]", "audio.snr_db=null",
                          "data.speaker_norm=false", "train.lr=0.001", "video.crop=haar", "data.root=a=b", "x=",
                          "y=none", "z=~"])
    assert got == {"train.max_epochs": 5, "video.face_box": [0, 0, 1, 1], "audio.snr_db": None,
                   "data.speaker_norm": False, "train.lr": 0.001, "video.crop": "haar", "data.root": "a=b",
                   "x": None, "y": "none", "z": None}
    assert cli._overrides([]) == {} and cli._overrides(None) == {}
    # YAML 1.1 reads 1e-3 (no dot) as a string; the config coerces it to the float field
    assert cli._overrides(["train.lr=1e-3"]) == {"train.lr": "1e-3"}
    assert load_config("quick", cli._overrides(["train.lr=1e-3"])).train.lr == 0.001


def test_an_override_without_equals_sign_is_an_error():
    with pytest.raises(SystemExit) as err:
        cli._overrides(["train.max_epochs=5", "train.max_epochs"])
    assert err.value.code == "override 'train.max_epochs' must look like section.key=value"


def test_parameters_are_yaml_values():
    got = cli._parameters([["secondary_seeds", "[42, 43, 44]"], ["sweep_levels", "[0.5, 0.0]"],
                           ["ablation", '{"train.similarity": ["SISA"], "train.rank_weight": [0.0]}'],
                           ["dropout", "0.5"], ["sweep_heads", '["audio", "matchmap"]'], ["name", "x"],
                           ["flag", "true"], ["nothing", "null"]])
    assert got == {"secondary_seeds": [42, 43, 44], "sweep_levels": [0.5, 0.0],
                   "ablation": {"train.similarity": ["SISA"], "train.rank_weight": [0.0]}, "dropout": 0.5,
                   "sweep_heads": ["audio", "matchmap"], "name": "x", "flag": True, "nothing": None}
    assert cli._parameters([]) == {} and cli._parameters(None) == {}


def test_list_parameters_prints_every_notebook_with_its_parameters(capsys):
    cli.main(["study", "--list-parameters"])
    lines = capsys.readouterr().out.splitlines()
    declared = study.notebook_parameters()
    assert list(declared) == list(study.NOTEBOOKS)
    assert lines == [f"{nb}: " + (", ".join(f"{k} = {v}" for k, v in params.items()) or "(none)")
                     for nb, params in declared.items()]
    assert [line.split(":")[0] for line in lines] == list(study.NOTEBOOKS)
    listed = {p for params in declared.values() for p in params}
    assert {"secondary_seeds", "ablation", "sweep_levels", "sweep_heads", "dropout_heads"} <= listed  # README's
    assert not listed & set(study.RUNNER_PARAMETERS)  # what the runner sets is not a -p parameter


def test_an_unknown_notebook_parameter_fails_before_anything_runs(tmp_path, capsys, monkeypatch):
    def ran(*a, **k):
        raise AssertionError("the study started before its parameters were checked")

    import papermill

    from mmlib.data import loaders

    monkeypatch.setattr(study, "clean_stale", ran)
    monkeypatch.setattr(loaders, "prepare_corpus", ran)
    monkeypatch.setattr(papermill, "execute_notebook", ran)
    with pytest.raises(SystemExit) as err:
        cli.main(["study", "--profile", "quick", "--data-dir", str(tmp_path / "data"), "--results-dir",
                  str(tmp_path / "results"), "-p", "no_such_param", "1", "--quiet"])
    assert err.value.code == 2
    known = sorted({p for params in study.notebook_parameters().values() for p in params})
    assert capsys.readouterr().err == (f"mmlib study: error: no notebook of the study takes parameter(s) "
                                       f"['no_such_param']; the notebooks' parameters: {known}\n")
    assert not (tmp_path / "data").exists() and not (tmp_path / "results").exists()
    with pytest.raises(ValueError, match=r"no notebook of the study takes parameter\(s\) \['no_such_param'\]"):
        study.check_parameters({"no_such_param": 1})
