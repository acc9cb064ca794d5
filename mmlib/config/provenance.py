"""Content hashes that say what produced what: the source of a run, a corpus, the features, a checkpoint.

    from mmlib.config import provenance
    provenance.study_source_hash()                 # mmlib/**/*.py (code) + notebooks/*.ipynb + pyproject.toml
    provenance.source_hash("data/synthetic")       # files or folders under mmlib/ (a generator's code)
    provenance.tree_hash("data/synthetic-.../IEMOCAP_full_release")   # every file's path and bytes
    provenance.code_text(path)                     # what of a .py file counts: its syntax tree, no docstrings

Hashes read file contents (never modification times), so a fresh clone gives the same values. A Python source
counts by its code only: the syntax tree without docstrings, so a comment, a docstring or a line break never
changes a hash (and never forces a rerun of the study); a changed name, literal or statement does. Notebooks
and pyproject.toml count byte for byte (a notebook's prose is part of what a run prints).

    provenance.module_imports()["mmlib.data.loaders"]   # {"mmlib.config", "mmlib.data.iemocap", ...}
    provenance.import_closure("mmlib.training.fit")         # every mmlib module it reaches, itself included
    provenance.find_cycle(provenance.module_imports())  # None, or a cycle ["a", "b", "a"]

The import reader parses the sources (ast), it imports nothing: an import anywhere in a file counts
(module level or inside a function), except under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # mmlib/
REPO = PACKAGE.parent
STUDY_SOURCES = ("mmlib", "notebooks", "pyproject.toml")  # what shapes results/<run>/


def _files(path: Path, patterns: tuple[str, ...]) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for pat in patterns for p in path.rglob(pat) if p.is_file() and "__pycache__" not in p.parts)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_text(path: str | Path) -> bytes:
    """What of a source file counts for a hash: for a .py file, its syntax tree without docstrings (ast.dump holds
    no line numbers, and the parser drops comments); any other file, its bytes."""
    path = Path(path)
    if path.suffix != ".py":
        return path.read_bytes()
    tree = ast.parse(path.read_bytes(), filename=str(path))
    return ast.dump(_without_docstrings(tree)).encode()


def _digest(files: list[Path], base: Path, n: int = 16) -> str:
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.relative_to(base).as_posix()):
        h.update(f.relative_to(base).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(code_text(f)).digest())
    return h.hexdigest()[:n]


def source_hash(*paths: str) -> str:
    """Hash of the Python sources at `paths` (files or folders, relative to mmlib/)."""
    files = [f for p in paths for f in _files(PACKAGE / p, ("*.py",))]
    if not files:
        raise FileNotFoundError(f"no source files at {paths} under {PACKAGE}")
    return _digest(files, PACKAGE)


def study_source_hash(root: str | Path = REPO) -> str:
    """Hash of everything that shapes a study run's results: mmlib's code (code_text), the notebooks, pyproject."""
    root = Path(root)
    files = [f for p in STUDY_SOURCES for f in _files(root / p, ("*.py", "*.ipynb"))]
    return _digest([f for f in files if ".ipynb_checkpoints" not in f.parts], root)


def tree_hash(root: str | Path) -> str:
    """Hash of every file under `root` (relative path and bytes, .py files included), e.g. a corpus."""
    root = Path(root)
    h = hashlib.sha256()
    for f in sorted(_files(root, ("*",)), key=lambda p: p.relative_to(root).as_posix()):
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- imports between mmlib's modules

def _module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file for every .py under root (a package's __init__.py names the package)."""
    out = {}
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        parts = [package, *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def module_file(name: str, root: str | Path | None = None, package: str | None = None) -> Path:
    """The source file of module `name` ("mmlib.data.corpus" -> mmlib/data/corpus.py; a package: its __init__.py)."""
    root = Path(root) if root is not None else PACKAGE
    head, *parts = name.split(".")
    base = root.joinpath(*parts)
    for f in (base / "__init__.py", base.with_name(base.name + ".py") if parts else None):
        if head == (package or root.name) and f is not None and f.is_file():
            return f
    raise KeyError(f"no module {name!r} under {root}")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """What a module's imports name: (module, the names of a from-import or None, relative level)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, tuple[str, ...] | None, int]] = []  # (module, names of a from-import, level)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):  # annotations only: not an import at run time
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, None, 0) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append((node.module or "", tuple(alias.name for alias in node.names), node.level))

    def visit_Call(self, node: ast.Call) -> None:  # importlib.import_module("mmlib.x") with a literal name
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and not node.args[0].value.startswith("."):
            self.found.append((node.args[0].value, None, 0))
        self.generic_visit(node)


def module_imports(root: str | Path | None = None, package: str | None = None) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports, for every module under root (default: mmlib/).

    `from a.b import c` resolves to a.b.c when c is a submodule, else to a.b; `import a.b.c` to the
    deepest existing module of a.b.c; relative imports resolve against the importing module's package.
    The parent packages an import runs implicitly (a.b's __init__) are not edges, nor a module itself.
    """
    root = Path(root) if root is not None else PACKAGE
    package = package or root.name
    files = _module_names(root, package)

    def known(dotted: str) -> str | None:  # deepest existing module of a dotted name inside the package
        parts = dotted.split(".")
        if parts[0] != package:
            return None
        while parts and ".".join(parts) not in files:
            parts.pop()
        return ".".join(parts) if parts else None

    graph: dict[str, set[str]] = {}
    for name, f in files.items():
        visitor = _Imports()
        visitor.visit(ast.parse(f.read_bytes(), filename=str(f)))
        is_pkg = f.name == "__init__.py"
        targets: set[str] = set()
        for module, names, level in visitor.found:
            if level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (level - 1)] if level > 1 else base
                module = ".".join(base + ([module] if module else []))
            if names is None:
                hit = known(module)
                targets |= {hit} if hit else set()
                continue
            for n in names:
                hit = known(f"{module}.{n}") if n != "*" else None
                if hit != f"{module}.{n}":  # not a submodule: a name defined in the module itself
                    hit = known(module)
                targets |= {hit} if hit else set()
        graph[name] = targets - {name}
    return graph


def import_closure(*modules: str, root: str | Path | None = None, package: str | None = None,
                   graph: dict[str, set[str]] | None = None) -> set[str]:
    """Every module of the package reachable through imports from `modules`, the modules included."""
    graph = graph if graph is not None else module_imports(root, package)
    unknown = [m for m in modules if m not in graph]
    if unknown:
        raise KeyError(f"unknown module(s) {unknown}; known: {sorted(graph)}")
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += sorted(graph.get(m, ()))
    return seen


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as a path [a, b, ..., a], or None when the graph has none (DFS)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None
