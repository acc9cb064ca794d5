"""Relative paths resolve against the repository from any working directory, and cannot leave it."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from mmlib.config import paths
from mmlib.runner.session import open_session

REPO = paths.repo_root()


def test_relative_paths_are_taken_from_the_repository_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.resolve("data") == REPO / "data"
    assert paths.resolve("results/x/../interactive") == REPO / "results" / "interactive"
    assert paths.resolve(tmp_path / "abs") == (tmp_path / "abs").resolve()  # absolute: as given
    assert paths.study_paths(None, "data", "results/interactive") == (None, str(REPO / "data"),
                                                                      REPO / "results" / "interactive")
    assert paths.resolve("../corpus", "data_root", may_leave=True) == REPO.parent / "corpus"  # read-only input


def test_a_relative_path_may_not_leave_the_repository():
    with pytest.raises(ValueError) as err:
        paths.resolve("../results/mine", "results_dir")
    assert str(err.value) == (f"results_dir='../results/mine' is relative, so it is taken from the repository root "
                              f"{REPO}, and it would leave the repository ({REPO.parent / 'results' / 'mine'}); "
                              "write it relative to the repository root (e.g. 'mine') or give an absolute path")
    with pytest.raises(ValueError, match="data_dir is empty"):
        paths.resolve("", "data_dir")


def test_symlinks_are_resolved_and_paths_print_without_the_machine(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert paths.resolve(tmp_path / "link" / "cache") == real / "cache"
    assert paths.shown(REPO / "data" / "cache") == "<repo>/data/cache" and paths.shown(REPO) == "<repo>"
    assert paths.shown(real) == str(real)
    assert paths.portable(REPO / "results" / "quick") == "results/quick" and paths.portable(real) == str(real)
    assert paths.scrub(f"saved to {REPO}/results/a.png") == "saved to <repo>/results/a.png"
    assert paths.describe_study(None, "data", "results/mine").splitlines() == [
        "data_root    - (the synthetic corpus, generated under data_dir)", "data_dir     <repo>/data",
        "results_dir  <repo>/results/mine"]


def test_features_through_a_symlink_hit_the_same_cache(quick_session, tmp_path):
    link = tmp_path / "same-data"
    link.symlink_to(quick_session.cache_dir.parent)
    st = open_session("quick", data_dir=str(link), results_dir=str(tmp_path / "results"), progress=False)
    n = len(st.recordings)  # every recording has features, labelled or not (speaker statistics)
    assert len(st.table) < n and st.cache_dir == quick_session.cache_dir  # resolved before it reaches the cache
    assert st.feats.stats["audio"]["hits"] == n and st.feats.stats["audio"]["built"] == 0
    assert st.feats.stats["video"]["hits"] == n and st.feats.stats["video"]["built"] == 0


def _readme_example() -> list[str]:
    """The batch example of docs/running.md (where the README points for running notebooks): `mkdir -p DIR` then
    one papermill command (continuation lines joined)."""
    text = (REPO / "docs" / "running.md").read_text()
    found = re.search(r"```bash\nmkdir -p (\S+)\n(\.venv/bin/papermill .*?)\n```", text, re.S)
    assert found, "docs/running.md lost its papermill example (```bash / mkdir -p DIR / .venv/bin/papermill ...)"
    return found.group(1), shlex.split(found.group(2).replace("\\\n", " "))


@pytest.mark.slow
def test_readme_papermill_example_writes_only_inside_the_repository(tmp_path):
    folder, argv = _readme_example()
    mine = f"results/.tmp-readme-{os.getpid()}"  # the README's folder, renamed so a user's results/mine is safe
    argv = [a.replace(folder, mine) for a in argv[1:]]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = os.listdir(REPO.parent)
    try:
        for cwd in (REPO, elsewhere):
            (REPO / mine).mkdir(parents=True, exist_ok=True)
            # from elsewhere the notebook paths must name the repository; the parameters stay as written
            args = [str(REPO / a) if cwd != REPO and a.endswith(".ipynb") else a for a in argv]
            run = subprocess.run([sys.executable, "-m", "papermill", *args, "--no-progress-bar"], cwd=cwd, env=env,
                                 capture_output=True, text=True)
            assert run.returncode == 0, run.stderr[-3000:]
            out = REPO / mine
            assert (out / "predictions" / "unimodal.csv").exists() and (out / "figures" / "unimodal_fold_scores.pdf").exists()
            nb = json.loads(next(out.glob("*.ipynb")).read_text())
            printed = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
            assert f"results_dir  <repo>/{mine}" in printed and "data_dir     <repo>/data" in printed
            outputs = json.dumps([c.get("outputs", []) for c in nb["cells"]])
            assert str(REPO) not in outputs and '"stderr"' not in outputs  # no machine path, no warnings
        assert os.listdir(elsewhere) == []  # nothing where papermill ran
        new = set(os.listdir(REPO.parent)) - set(before)  # (other checkouts may come and go next to this one)
        assert not new & {"data", "results", "mine", "cache", "checkpoints"}, new  # nothing next to the repository
    finally:
        shutil.rmtree(REPO / mine, ignore_errors=True)
