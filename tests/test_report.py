"""The committed results are what the current source produces, and the README quotes them."""

import json

from mmlib.config.provenance import REPO, study_source_hash
from mmlib.runner.report import BEGIN, END, render, update_readme

RUN = REPO / "results" / "default"


def test_committed_results_come_from_the_current_source():
    manifest = json.loads((RUN / "manifest.json").read_text())
    assert manifest["source_hash"] == study_source_hash(), (
        "results/default/ was made by other sources than these (mmlib, notebooks, pyproject): "
        "rerun `make study` and commit its output")
    assert not manifest["git"]["dirty"], "results/default/ was made from uncommitted changes"
    assert len(manifest["seeds"]) >= 3


def test_readme_quotes_the_committed_results():
    assert update_readme(RUN, REPO / "README.md", check=True), "README.md's results block is stale: run `mmlib report`"


def test_report_block_is_generated_from_tables():
    block = render(RUN)
    assert block.startswith(BEGIN) and block.endswith(END)
    assert "matchmap - concat" in block and "[95 % interval" not in block.split("\n")[0]


def test_committed_figures_were_checked_and_have_no_layout_defects():
    # plots.save runs mmlib.figures.figcheck on every figure as the study drew it from its own tables
    checked = json.loads((RUN / "figures" / "layout_check.json").read_text())
    figures = sorted(p.stem for p in (RUN / "figures").glob("*.png"))
    assert sorted(checked) == figures
    assert {name: found for name, found in checked.items() if found} == {}


def test_a_run_is_dirty_only_when_what_made_it_has_uncommitted_changes(tmp_path):
    import subprocess

    from mmlib.runner.study import git_state

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "mmlib").mkdir()
    (tmp_path / "mmlib" / "x.py").write_text("A = 1\n")
    (tmp_path / "README.md").write_text("docs\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "README.md").write_text("docs, edited\n")  # docs and benchmarks do not shape a run
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "mmlib" / "x.py").write_text("A = 2\n")
    assert git_state(tmp_path)["dirty"] is True
