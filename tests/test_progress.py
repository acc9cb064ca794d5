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
        return SimpleNamespace(job=SimpleNamespace(spec=SimpleNamespace(label=lambda: label)), trained=trained)

    bar.update(outcome("audio fold 1 seed 42", False))  # reused: no rate yet, so no ETA
    bar.t0 -= 10.0  # 10 s later, one training has finished
    bar.update(outcome("concat fold 1 seed 42", True))
    lines = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert lines[0]["eta"] is None and lines[0]["done"] == 1 and not lines[0]["trained"]
    assert lines[1]["done"] == 2 and lines[1]["eta"] == pytest.approx(2 * 10.0, abs=0.5)
