"""constraints.txt, the tested library versions: it pins every dependency exactly, within pyproject.toml's ranges,
and it agrees with the versions each committed run in results/ records in its manifest."""

import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one specifier per line, and it is ==
        assert spec.operator == "==", line
        name = canonicalize_name(req.name)
        assert name not in pins, f"{req.name} pinned twice"
        pins[name] = spec.version
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def _makefile_pin(package: str) -> str:
    (version,) = re.findall(rf"'{package}==([^']+)'", (REPO / "Makefile").read_text())
    return version


def test_every_dependency_is_pinned_within_its_pyproject_range():
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (pyproject.toml) has no pin in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} is outside {req}"


def test_the_lock_names_the_versions_every_committed_run_recorded():
    pins = _pins()
    pins["facenet-pytorch"] = _makefile_pin("facenet-pytorch")  # installed --no-deps by the Makefile, not the lock
    manifests = sorted(REPO.glob("results/*/manifest.json"))
    assert {m.parent.name for m in manifests} >= {"default", "claim1", "claim2"}
    for manifest in manifests:
        versions = json.loads(manifest.read_text())["versions"]
        assert {"torch", "numpy", "av", "lightning"} <= versions.keys()
        for package, version in versions.items():
            if package == "python":
                continue
            pinned = pins[canonicalize_name(package)]
            assert pinned == version, f"{manifest.parent.name} ran {package} {version}; constraints.txt pins {pinned}"


def test_make_setup_installs_with_the_lock():
    makefile = (REPO / "Makefile").read_text()
    assert "pip install -q -c constraints.txt -e '.[dev]'" in makefile
    assert "- -c constraints.txt" in (REPO / "environment.yml").read_text()
