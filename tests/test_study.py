"""End to end: the study's notebooks through papermill on the quick profile, notebook parameters from the runner,
and clean notebooks."""

import json

import nbformat
import pandas as pd
import pytest

from mmlib.config import load_config
from mmlib.runner.study import NOTEBOOKS, notebooks_dir, run_study


def test_notebooks_are_committed_clean():
    for name in NOTEBOOKS:
        nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name} carries outputs"
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and code[0] is params[0], f"{name}: the first code cell must be the parameters cell"
        assert "def " not in "".join(c.source for c in code), f"{name} defines a function: it belongs in mmlib"


@pytest.mark.slow
def test_quick_study_end_to_end(tmp_path):
    cfg = load_config("quick", {"data.data_dir": str(tmp_path / "data")})
    stale = tmp_path / "results" / ".tmp-quick-99999999"  # left by a killed run (no such process)
    stale.mkdir(parents=True)
    params = {"dropout": 0.25}  # a notebook parameter, as `mmlib study -p dropout 0.25` passes it
    run = run_study(cfg, run_name="quick", results_dir=tmp_path / "results", progress=False, parameters=params)
    assert run == (tmp_path / "results" / "quick").resolve()
    for name in NOTEBOOKS:
        text = (run / f"{name}.ipynb").read_text()
        assert str(notebooks_dir().parent) not in text and '"name": "stderr"' not in text, f"{name}: path or stderr"
    m = pd.read_csv(run / "metrics.csv")
    assert set(m["model"]) == {"audio", "video", "concat", "matchmap", "matchmap_attn"}
    assert m["WA"].between(0, 1).all() and m["UA"].between(0, 1).all() and (m["n"] > 0).all()
    pred = pd.read_csv(run / "predictions" / "fusion.csv")
    assert {"id", "fold", "seed", "model", "true", "pred", "p_neu", "p_hap", "p_sad", "p_ang"} <= set(pred.columns)
    probs = pred[["p_neu", "p_hap", "p_sad", "p_ang"]].sum(axis=1)
    assert probs.between(0.999, 1.001).all()
    for fig in ("class_balance", "unimodal_fold_scores", "model_comparison_ua", "matchmap_heatmaps",
                "normalization_ua", "ablation_similarity_weight", "claims_paired_differences", "confusion_normalized"):
        assert (run / "figures" / f"{fig}.png").exists() and (run / "figures" / f"{fig}.pdf").exists()
    assert "\\begin{table}" in (run / "tables" / "results_table.tex").read_text()
    manifest = json.loads((run / "manifest.json").read_text())
    for key in ("git", "config", "versions", "seeds", "wall_seconds", "skipped", "parameters", "source_hash",
                "normalization", "corpus", "features", "checkpoints"):
        assert key in manifest
    from mmlib.config.provenance import study_source_hash

    assert manifest["source_hash"] == study_source_hash() and manifest["executor"]["executor"] == "ray"
    ckpts = {c["checkpoint"]: c for c in manifest["checkpoints"]}
    assert all(c["trained"] for c in ckpts.values()) and len(ckpts) == len(list((tmp_path / "data" / "checkpoints").glob("*.pt")))
    assert {c["head"] for c in ckpts.values()} == {"audio", "video", "concat", "matchmap", "matchmap_attn"}
    # the ablation shows each setting once: the main model stands for SIMA and w = 0.078
    abl = pd.read_csv(run / "tables" / "ablation_summary.csv")
    assert abl["setting"].is_unique and (abl["model"] == "matchmap").sum() == 1
    assert abl.loc[abl["model"] == "matchmap", "setting"].item() == "train.similarity=SIMA, train.rank_weight=0.078"
    # every interval contains its own point estimate
    for name in ("results_summary", "normalization", "ablation_summary"):
        t = pd.read_csv(run / "tables" / f"{name}.csv")
        for m in ("WA", "UA", "macro_f1"):
            assert (t[f"{m}_lo"] <= t[f"{m}_mean"] + 1e-12).all() and (t[f"{m}_mean"] <= t[f"{m}_hi"] + 1e-12).all()
    # the parameter reached notebook 05 (its dropout models) and no other notebook, and the manifest says so
    assert manifest["notebook_parameters"]["05_when_fusion_helps"] == {"dropout": 0.25}
    assert all(v == {} for nb, v in manifest["notebook_parameters"].items() if nb != "05_when_fusion_helps")
    miss = pd.read_csv(run / "tables" / "missing_modality.csv")
    assert "matchmap[train.modality_dropout=0.25]" in set(miss["model"])
    assert not miss["model"].str.contains("modality_dropout=0.5").any()
    # a rerun reuses every checkpoint and reproduces the metrics byte for byte
    again = run_study(cfg, run_name="quick2", results_dir=tmp_path / "results", progress=False, parameters=params)
    assert (again / "metrics.csv").read_bytes() == (run / "metrics.csv").read_bytes()
    assert not any(c["trained"] for c in json.loads((again / "manifest.json").read_text())["checkpoints"])
    assert set(NOTEBOOKS) <= set(manifest["wall_seconds"])
    assert manifest["config"]["profile"] == "quick" and manifest["versions"]["torch"] == "2.14.1"
    assert manifest["removed_stale"] == [".tmp-quick-99999999"] and not stale.exists()
    assert manifest["face_crop"] == {"method": "box", "frames_on_box": 0, "frames_undetected": 0,
                                     "utterances_on_box": 0, "utterances": {}}
    assert not list((tmp_path / "results").glob(".tmp-*"))


def test_failed_run_keeps_previous_results(tmp_path, monkeypatch):
    import mmlib.runner.study as study

    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    good, bad = nbformat.v4.new_notebook(), nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "quick"\nresults_dir = "."')
    params.metadata["tags"] = ["parameters"]
    good.cells = [params, nbformat.v4.new_code_cell('open(f"{results_dir}/ok.txt", "w").write("ok")')]
    bad.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    for nb in (good, bad):
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                       "language_info": {"name": "python"}}
    nbformat.write(good, nbdir / "good.ipynb")
    nbformat.write(bad, nbdir / "bad.ipynb")
    monkeypatch.setattr(study, "notebooks_dir", lambda: nbdir)
    cfg = load_config("quick", {"data.data_dir": str(tmp_path / "data"), "run.executor": "sequential"})
    first = run_study(cfg, "r", tmp_path / "results", progress=False, notebooks=("good",))
    assert (first / "ok.txt").read_text() == "ok"
    with pytest.raises(study.StudyError, match=r"notebook bad failed in cell \[4\] \(ValueError: boom\)"):
        run_study(cfg, "r", tmp_path / "results", progress=False, notebooks=("good", "bad"))
    assert (first / "ok.txt").exists() and (first / "manifest.json").exists()  # previous run untouched
    assert (tmp_path / "results" / "r.failed" / "bad.ipynb").exists()


def test_notebooks_are_chosen_by_prefix_in_the_study_order():
    from mmlib.runner.study import NOTEBOOKS, select_notebooks

    assert select_notebooks(None) == select_notebooks([]) == NOTEBOOKS
    assert select_notebooks(["03", "01", "02_unimodal"]) == NOTEBOOKS[:3]
    with pytest.raises(ValueError, match="'0' matches \\['01_data_exploration'"):
        select_notebooks(["0"])
    with pytest.raises(ValueError, match="'06' matches no notebook"):
        select_notebooks(["06"])


@pytest.mark.parametrize("precision, native, said", [("bf16-mixed", False, True), ("bf16-mixed", True, False),
                                                       ("32-true", False, False)])
def test_a_bf16_profile_on_a_cpu_that_emulates_bf16_says_so_before_anything_runs(tmp_path, monkeypatch, capsys,
                                                                                   precision, native, said):
    # native: the manifest's cpu_bf16, whether oneDNN runs bf16 natively here; the run is stopped at the corpus
    from mmlib.data import loaders
    from mmlib.runner import study

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(study, "cpu_identity", lambda *a: {"cpu_model": "x", "cpu_capability": "AVX2",
                                                           "cpu_bf16": native})
    monkeypatch.setattr(study.LoadSampler, "start", lambda self: self)  # no sampling thread left behind
    monkeypatch.setattr(loaders, "prepare_corpus", stop)
    cfg = load_config("quick", {"data.data_dir": str(tmp_path / "data"), "train.precision": precision})
    with pytest.raises(Stop):
        run_study(cfg, results_dir=tmp_path / "results", progress=False)
    out = capsys.readouterr().out
    note = (f"[study] note: profile quick trains under bf16 autocast (train.precision {precision}), which this CPU "
            "emulates: expect the trainings to be slower than in fp32; `-o train.precision=32-true` trains in fp32 "
            "(other numbers, other checkpoints)")
    assert (note in out) is said
