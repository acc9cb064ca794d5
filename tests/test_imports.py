"""Arrows one way: mmlib's modules import each other without a cycle, and the config imports none of them.

    .venv/bin/python -m pytest -q tests/test_imports.py

Reads the sources with mmlib.config.provenance's import reader (ast, nothing imported), so it takes well under a second.
"""

import subprocess
import sys
import textwrap

import pytest

from mmlib.config import provenance
from mmlib.config.provenance import PACKAGE, find_cycle, import_closure, module_file, module_imports


@pytest.fixture(scope="module")
def graph():
    return module_imports()


def test_no_import_cycle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle among mmlib modules: " + " -> ".join(cycle)


def test_config_imports_no_mmlib_module(graph):
    assert not any(m.startswith("mmlib.data") for m in graph["mmlib.config"]), graph["mmlib.config"]
    assert graph["mmlib.config"] == set(), f"mmlib.config imports {sorted(graph['mmlib.config'])}"
    assert import_closure("mmlib.config", graph=graph) == {"mmlib.config"}


def test_config_loads_neither_data_nor_opencv():
    """The same at run time: importing the config loads no mmlib.data module and no OpenCV."""
    code = ("import sys, mmlib.config; print(sorted(m for m in sys.modules "
            "if m.startswith(('mmlib.', 'cv2')) and m != 'mmlib.config'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]", out.stdout


def test_reader_sees_the_real_edges(graph):
    assert "mmlib.data.corpus" in graph["mmlib.data.iemocap"]
    assert {"mmlib.data.iemocap", "mmlib.data.ravdess", "mmlib.data.cremad"} <= graph["mmlib.data.loaders"]
    assert graph["mmlib.data.corpus"] == set()  # the contract depends on no loader
    assert "mmlib.data.ravdess" not in graph["mmlib.data.cremad"]  # shared helpers live in corpus_files
    assert "mmlib.data.synthetic" in graph  # a package under its own name
    assert module_file("mmlib.data.synthetic") == PACKAGE / "data" / "synthetic" / "__init__.py"
    assert module_file("mmlib.config.provenance") == PACKAGE / "config" / "provenance.py"
    assert "mmlib.config" in import_closure("mmlib.data.synthetic.plan", graph=graph)


def _write(root, files: dict[str, str]):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_reader_on_a_made_up_package(tmp_path):
    pkg = tmp_path / "fake"
    _write(pkg, {
        "__init__.py": "from fake.sub import helper\n",
        "a.py": """
            import os
            import fake.b
            from fake import sub, c          # sub: a subpackage; c: a module
            from fake import VERSION         # a name of fake/__init__.py
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from fake import d           # annotations only: no edge
            else:
                import fake.e
            """,
        "b.py": """
            def later():
                from .c import thing         # inside a function, relative
                import importlib
                return importlib.import_module("fake.d")
            """,
        "c.py": "import fake.nothing_here.deeper  # resolves to the deepest existing module: fake\n",
        "d.py": "from . import e\n",
        "e.py": "x = 1\n",
        "sub/__init__.py": "from .helper import helper\nfrom .. import e\n",
        "sub/helper.py": "from ..b import later\nfrom . import *\n",
    })
    g = module_imports(pkg, "fake")
    assert set(g) == {"fake", "fake.a", "fake.b", "fake.c", "fake.d", "fake.e", "fake.sub", "fake.sub.helper"}
    assert g["fake"] == {"fake.sub.helper"}
    assert g["fake.a"] == {"fake.b", "fake.sub", "fake.c", "fake", "fake.e"}
    assert g["fake.b"] == {"fake.c", "fake.d"}
    assert g["fake.c"] == {"fake"}
    assert g["fake.d"] == {"fake.e"}
    assert g["fake.e"] == set()
    assert g["fake.sub"] == {"fake.sub.helper", "fake.e"}
    assert g["fake.sub.helper"] == {"fake.b", "fake.sub"}
    assert import_closure("fake.d", root=pkg, package="fake") == {"fake.d", "fake.e"}
    assert module_file("fake.sub", pkg, "fake") == pkg / "sub" / "__init__.py"
    with pytest.raises(KeyError):
        import_closure("fake.nope", graph=g)

    # fake -> fake.sub.helper -> fake.b -> fake.c -> fake: a real cycle, reported as a closed path
    cycle = find_cycle(g)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) > 2
    assert all(b in g[a] for a, b in zip(cycle, cycle[1:])), cycle
    assert find_cycle({k: v - {"fake"} for k, v in g.items() if k != "fake.sub"}) is None


def test_cycle_detection_on_hand_made_graphs():
    assert find_cycle({}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None  # a diamond is no cycle
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y2"}, "y2": {"y"}}) == ["y", "y2", "y"]
    assert provenance.find_cycle({"a": {"a"}}) == ["a", "a"]


# The package's listing is the architecture: stages in the order the data flows, each importing only earlier ones.
STAGES = ("config", "data", "models", "training", "analysis", "figures", "runner")


def test_top_level_lists_the_stages():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name not in ("__pycache__",) and not p.name.startswith("."))
    assert entries == sorted(["__init__.py", *STAGES]), entries
    assert len(entries) <= 8


def test_arrows_point_one_way(graph):
    """A stage imports only the stages before it (config < data < models < training < analysis < figures <
    runner); the runner alone opens sessions, so statistics never train."""
    def stage(module: str) -> int:
        return STAGES.index(module.split(".")[1])

    upward = sorted((m, d) for m, deps in graph.items() if m.count(".") >= 1 and m != "mmlib"
                    for d in deps if d.count(".") >= 1 and stage(d) > stage(m))
    assert upward == [], upward
