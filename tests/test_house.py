"""The house: the version in one place, the tools' versions in step, the license, the changelog,
and the one-way dependencies firmware <- sim <- host (CONTRIBUTING.md)."""

import ast
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _firmware_version():
    tree = ast.parse((ROOT / "firmware" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["VERSION"]:
            return ast.literal_eval(node.value)
    raise AssertionError("firmware/__init__.py has no VERSION = '...'")


def test_the_version_is_written_once_in_the_firmware():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "facewave.firmware.VERSION"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"]["facewave.firmware"] == "firmware"
    assert re.fullmatch(r"\d+\.\d+\.\d+", _firmware_version())


def test_the_changelog_has_the_version_and_an_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(r"^## Unreleased$", text, re.M)
    assert re.search(r"^## %s - \d{4}-\d\d-\d\d$" % re.escape(_firmware_version()), text, re.M)


def test_the_license_file_is_the_license_pyproject_names():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


@pytest.mark.parametrize("tool", ["ruff", "codespell"])
def test_pre_commit_runs_a_version_the_test_extra_allows(tool):
    """.pre-commit-config.yaml's rev and the test extra's range name the same release."""
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    rev = re.search(r"/%s[-\w]*\n\s+rev: v([\d.]+)" % tool, config)
    assert rev, "no rev for %s in .pre-commit-config.yaml" % tool
    pins = [
        r
        for r in PYPROJECT["project"]["optional-dependencies"]["test"]
        if re.match(r"%s\b" % tool, r)
    ]
    assert len(pins) == 1, pins
    low, high = re.fullmatch(r"%s>=([\d.]+),<([\d.]+)" % tool, pins[0]).groups()
    version = tuple(map(int, rev.group(1).split(".")))
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))


def _imports(path, package):
    """(line, module) for every import in `path`, relative ones resolved against `package`,
    the dotted name of the file's package in the installed layout (facewave.sim, ...)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.lineno, node.module
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            if node.module:
                yield node.lineno, base + "." + node.module
            else:  # `from .. import firmware` imports facewave.firmware
                for alias in node.names:
                    yield node.lineno, base + "." + alias.name


def _package(path, folder, name):
    rel = path.relative_to(ROOT / folder).parent.parts
    return ".".join([name, *rel])


def test_the_firmware_imports_nothing_of_sim_or_host():
    bad = []
    for path in sorted((ROOT / "firmware").rglob("*.py")):
        if "deploy" in path.parts:
            continue  # the device's root files: `facewave` there is the firmware itself
        for line, module in _imports(path, _package(path, "firmware", "facewave.firmware")):
            if module.startswith("facewave") and not module.startswith("facewave.firmware"):
                bad.append("%s:%d: %s" % (path.relative_to(ROOT), line, module))
    assert not bad, "\n".join(bad)


def test_sim_imports_nothing_of_host():
    bad = []
    for path in sorted((ROOT / "sim").rglob("*.py")):
        if "vm" in path.relative_to(ROOT / "sim").parts:
            continue  # what the MicroPython VM runs: `facewave` there is the firmware
        for line, module in _imports(path, _package(path, "sim", "facewave.sim")):
            if module.startswith("facewave") and not module.startswith(
                ("facewave.sim", "facewave.firmware")
            ):
                bad.append("%s:%d: %s" % (path.relative_to(ROOT), line, module))
    assert not bad, "sim/ imports host/ (firmware <- sim <- host):\n" + "\n".join(bad)
