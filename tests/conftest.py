"""Shared fixtures: one quick synthetic session (corpus with extracted features) per test session, and a
hand-made IEMOCAP tree with real media per test (tests/iemocap_trees.py)."""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def quick_session(tmp_path_factory):
    from mmlib.runner.session import open_session

    root = tmp_path_factory.mktemp("quick")
    return open_session("quick", data_dir=str(root / "data"), results_dir=str(root / "results"), progress=False)


@pytest.fixture
def media_tree(tmp_path):
    """Three 1 s utterances of Ses01F_impro01 with a real MJPEG video and wavs (the features' tests)."""
    from tests.iemocap_trees import write_media_tree

    return write_media_tree(tmp_path)
