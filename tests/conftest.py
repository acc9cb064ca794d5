"""Shared fixtures: one quick synthetic corpus with extracted features per test session."""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def quick_study(tmp_path_factory):
    from mmlib import experiments as ex

    root = tmp_path_factory.mktemp("quick")
    return ex.open_study("quick", data_dir=str(root / "data"), results_dir=str(root / "results"), progress=False)
