"""mmlib.config.provenance: the results lock keys on code, not on comments or docstrings.

    .venv/bin/python -m pytest -q tests/test_provenance.py
"""

import shutil

import pytest

from mmlib.config import provenance


@pytest.fixture
def copy(tmp_path):
    """A copy of what shapes a run (mmlib/, notebooks/, pyproject.toml) whose hash equals the checkout's."""
    for name in provenance.STUDY_SOURCES:
        src = provenance.REPO / name
        if src.is_dir():
            # kernel-ipc-*: the sockets a killed notebook kernel leaves behind, which copytree cannot copy
            shutil.copytree(src, tmp_path / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "kernel-ipc-*"))
        else:
            shutil.copy(src, tmp_path / name)
    assert provenance.study_source_hash(tmp_path) == provenance.study_source_hash()
    return tmp_path


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_comment_and_docstring_edits_leave_the_hash(copy):
    before = provenance.study_source_hash(copy)
    stats = copy / "mmlib" / "analysis" / "stats.py"
    _edit(stats, '"""', '"""A docstring edit.\n\n')  # the module's docstring
    stats.write_text(stats.read_text() + "\n# a comment at the end\n\n\n")
    _edit(copy / "mmlib" / "config" / "__init__.py", "import dataclasses\n", "import dataclasses  # a comment\n")
    assert provenance.study_source_hash(copy) == before


def test_a_code_edit_changes_the_hash(copy):
    before = provenance.study_source_hash(copy)
    _edit(copy / "mmlib" / "config" / "__init__.py", "n_sessions: int = 5", "n_sessions: int = 6")
    assert provenance.study_source_hash(copy) != before


def test_a_notebook_edit_changes_the_hash(copy):
    before = provenance.study_source_hash(copy)
    nb = sorted((copy / "notebooks").glob("*.ipynb"))[0]
    _edit(nb, '"cells": [', '"cells": [ ')
    assert provenance.study_source_hash(copy) != before


def test_code_text_drops_docstrings_and_comments_only(tmp_path):
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('"""Module."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    b.write_text('def f(x):\n\n    # a comment\n    return x + 1\n')
    c.write_text('def f(x):\n    return x + 2\n')
    assert provenance.code_text(a) == provenance.code_text(b) != provenance.code_text(c)
    only_doc = tmp_path / "d.py"
    only_doc.write_text('def g():\n    """Only a docstring."""\n')
    assert b"Pass" in provenance.code_text(only_doc)  # a body that was only a docstring stays a valid body
