"""Progress bars say what they do when everything comes from the cache."""

import json
from types import SimpleNamespace

import pytest

from mmlib.data.features import _run
from mmlib.training.grid import _Progress


def test_all_cached_bar_says_so(capsys):
    assert list(_run([], None, 1, True, "log-mel", 0, 521)) == []
    assert capsys.readouterr().err.strip("\r\n ").split("\r")[-1] == "log-mel: 521 cached"


def test_partly_cached_bar_counts_both(capsys):
    assert list(_run([1, 2], lambda t: t * 10, 1, True, "face clips", 2, 519)) == [10, 20]
    last = capsys.readouterr().err.strip("\r\n ").split("\r")[-1]
    assert last.startswith("face clips: 100%") and "2/2" in last and last.endswith("519 cached]")


def test_training_eta_ignores_reused_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("MMLIB_PROGRESS_FILE", str(tmp_path / "progress.jsonl"))
    bar = _Progress(4, "trainings", show=False)

    def outcome(label, trained):
        return SimpleNamespace(job=SimpleNamespace(spec=SimpleNamespace(label=lambda: label)), trained=trained,
                               seconds=9.0)

    bar.update(outcome("audio fold 1 seed 42", False))  # reused: no rate yet, so no ETA
    bar.t0 -= 10.0  # 10 s later, one training has finished
    bar.update(outcome("concat fold 1 seed 42", True))
    lines = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert lines[0]["eta"] is None and lines[0]["done"] == 1 and not lines[0]["trained"]
    assert lines[1]["done"] == 2 and lines[1]["eta"] == pytest.approx(2 * 10.0, abs=0.5)


def test_a_finished_grid_reports_its_core_use_to_the_console_and_the_manifest(tmp_path, monkeypatch, capsys):
    from mmlib.runner.study import _clock, _ConsoleProgress

    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv("MMLIB_PROGRESS_FILE", str(path))
    bar = _Progress(3, "sweep", show=False)

    def outcome(trained, seconds):
        return SimpleNamespace(job=SimpleNamespace(spec=SimpleNamespace(label=lambda: "x")), trained=trained,
                               seconds=seconds)

    for trained, seconds in ((False, 0.5), (True, 30.0), (True, 50.0)):  # a reused checkpoint costs no training
        bar.update(outcome(trained, seconds))
    bar.t0 -= 50.0  # the grid took 50 s of wall time
    bar.close()
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["grid_done"] and last["trained"] == 2 and last["training_s"] == 80.0
    assert last["wall"] == pytest.approx(50.0, abs=0.5)
    watcher = _ConsoleProgress(path, workers=2)
    watcher.notebook = "05_reliability_sweep"
    watcher.poll()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[0].startswith("[study 0:00] 05_reliability_sweep: sweep 1/3, ETA ?")
    assert out[-1].endswith("sweep done: 2 of 3 trained, 80 training-s in 50 s (80 % of 2 cores)")
    assert watcher.grids == [{"notebook": "05_reliability_sweep", "desc": "sweep", "total": 3, "trained": 2,
                              "wall": last["wall"], "training_s": 80.0, "core_use": pytest.approx(0.8, abs=0.01)}]
    assert [_clock(s) for s in (5, 65, 3599, 3661)] == ["0:05", "1:05", "59:59", "1:01:01"]
