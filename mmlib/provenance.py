"""Content hashes that say what produced what: the source of a run, a corpus, the features, a checkpoint.

    from mmlib import provenance
    provenance.study_source_hash()                 # mmlib/**/*.py + notebooks/*.ipynb + pyproject.toml
    provenance.source_hash("data/synthetic.py")    # files or folders under mmlib/ (a generator's code)
    provenance.tree_hash("data/synthetic-.../IEMOCAP_full_release")   # every file's path and bytes

Hashes read file contents (never modification times), so a fresh clone gives the same values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # mmlib/
REPO = PACKAGE.parent
STUDY_SOURCES = ("mmlib", "notebooks", "pyproject.toml")  # what shapes results/<run>/


def _files(path: Path, patterns: tuple[str, ...]) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for pat in patterns for p in path.rglob(pat) if p.is_file() and "__pycache__" not in p.parts)


def _digest(files: list[Path], base: Path, n: int = 16) -> str:
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.relative_to(base).as_posix()):
        h.update(f.relative_to(base).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()[:n]


def source_hash(*paths: str) -> str:
    """Hash of the Python sources at `paths` (files or folders, relative to mmlib/)."""
    files = [f for p in paths for f in _files(PACKAGE / p, ("*.py",))]
    if not files:
        raise FileNotFoundError(f"no source files at {paths} under {PACKAGE}")
    return _digest(files, PACKAGE)


def study_source_hash() -> str:
    """Hash of everything that shapes a study run's results: mmlib's Python files, the notebooks, pyproject."""
    files = [f for p in STUDY_SOURCES for f in _files(REPO / p, ("*.py", "*.ipynb"))]
    return _digest([f for f in files if ".ipynb_checkpoints" not in f.parts], REPO)


def tree_hash(root: str | Path) -> str:
    """Hash of every file under `root` (relative path and bytes), e.g. a corpus."""
    root = Path(root)
    return _digest(_files(root, ("*",)), root)
