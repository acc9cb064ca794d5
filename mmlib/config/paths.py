"""Where the study reads and writes: relative paths are taken from the repository root, never the cwd.

    from mmlib.config import paths
    paths.repo_root()                       # the folder that holds mmlib/ and notebooks/
    paths.resolve("data")                   # <repo>/data, from JupyterLab, papermill in any folder, or the CLI
    paths.resolve("../data")                # ValueError: a relative path may not leave the repository
    paths.resolve("/scratch/data")          # absolute paths are taken as given (symlinks resolved)
    paths.study_paths(None, "data", "results/interactive")  # (data_root, data_dir, results_dir) for open_session
    print(paths.describe_study(None, "data", "results/mine"))  # "data_dir     <repo>/data", ... for a notebook

Every path is resolved (symlinks followed), so the feature cache and checkpoint keys, which hold
media paths, do not depend on how a folder was spelled. `shown` prints a path relative to the
repository (`<repo>/...`), so executed notebooks carry no absolute path of the machine that ran them.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = "<repo>"  # how a path inside the repository is printed


def repo_root() -> Path:
    """The checkout this package was imported from (the folder above mmlib/ that has notebooks/).

    An installed (non-editable) package has no repository: then the current directory stands in.
    """
    here = Path(__file__).resolve().parents[2]
    return here if (here / "notebooks").is_dir() and (here / "mmlib").is_dir() else Path.cwd().resolve()


def inside(path: str | Path, root: str | Path | None = None) -> bool:
    """Whether the resolved `path` lies in `root` (default: the repository)."""
    root = Path(root).resolve() if root is not None else repo_root()
    return Path(path).resolve().is_relative_to(root)


def resolve(path: str | Path, what: str = "path", may_leave: bool = False) -> Path:
    """Absolute, symlink-free form of `path`; a relative one is taken from the repository root.

    A relative path that would leave the repository (`../data`) is an error unless `may_leave`
    (for read-only inputs such as a corpus root): written files stay in the repository unless the
    caller names an absolute path on purpose.
    """
    if path is None or str(path) == "":
        raise ValueError(f"{what} is empty: give a folder relative to the repository root {repo_root()} "
                         "or an absolute path")
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute():
        return p.resolve()
    root = repo_root()
    out = (root / p).resolve()
    if not may_leave and not out.is_relative_to(root):
        raise ValueError(f"{what}={str(path)!r} is relative, so it is taken from the repository root {root}, "
                         f"and it would leave the repository ({out}); write it relative to the repository "
                         f"root (e.g. {p.name!r}) or give an absolute path")
    return out


def study_paths(data_root: str | None, data_dir: str, results_dir: str) -> tuple[str | None, str, Path]:
    """open_session's three locations, resolved: (data_root or None, data_dir as str, results_dir)."""
    root = None if data_root in (None, "") else str(resolve(data_root, "data_root", may_leave=True))
    return root, str(resolve(data_dir, "data_dir")), resolve(results_dir, "results_dir")


def shown(path: str | Path) -> str:
    """`path` as printed in notebooks and manifests: `<repo>/...` inside the repository, else as is."""
    p = Path(path).resolve()
    root = repo_root()
    if p.is_relative_to(root):
        rel = p.relative_to(root).as_posix()
        return REPO if rel == "." else f"{REPO}/{rel}"
    return str(p)


def portable(path: str | Path) -> str:
    """`path` as a parameter another run can reuse: relative to the repository root when inside it."""
    p = Path(path).resolve()
    root = repo_root()
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)


def describe(**named: str | Path | None) -> str:
    """One aligned line per named location (None: "-"), e.g. describe(data_dir=..., results_dir=...)."""
    width = max(len(k) for k in named)
    return "\n".join(f"{k:<{width}}  {'-' if v is None else shown(v)}" for k, v in named.items())


def describe_study(data_root: str | None, data_dir: str, results_dir: str) -> str:
    """The lines a notebook's setup cell prints: where it reads the corpus, keeps data, writes results."""
    root, data, results = study_paths(data_root, data_dir, results_dir)
    text = describe(data_root=root, data_dir=data, results_dir=results)
    return text.replace("data_root    -", "data_root    - (the synthetic corpus, generated under data_dir)")


def scrub(text: str) -> str:
    """Replace the repository's absolute path (and the home folder) in `text` by `<repo>` and `~`."""
    root = str(repo_root())
    out = text.replace(root + os.sep, REPO + "/").replace(root, REPO)
    home = os.path.expanduser("~")
    if home not in ("", "/", "~"):
        out = out.replace(home + os.sep, "~/")
    return out
