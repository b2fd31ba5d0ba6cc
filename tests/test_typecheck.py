"""Type checks: firmware/ against MicroPython's own stubs (the Pico's `machine`, its stdlib),
host/ and sim/ against CPython's typeshed.

pyright comes from the project's package.json (npm ci); the stubs from the test extra. The
configs are written here because typeshedPath must name this environment's site-packages, and
because host/ and sim/ only type check laid out as the installed package `facewave`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _stubs_dir():
    """The site-packages folder where the stubs put `stdlib/` and `machine.pyi`."""
    for entry in map(Path, sys.path):
        if (entry / "stdlib" / "VERSIONS").is_file() and (entry / "machine.pyi").is_file():
            return entry
    return None


def test_firmware_type_checks_against_micropython_stubs(tmp_path):
    pyright = ROOT / "node_modules" / ".bin" / "pyright"
    stubs = _stubs_dir()
    if not (pyright.exists() and stubs) and not os.environ.get("CI"):
        pytest.skip("needs `npm ci` (pyright) and the test extra (micropython stubs)")
    assert pyright.exists(), "pyright missing: run `npm ci`"
    assert stubs, "micropython-rp2-rpi-pico-stubs missing: pip install -e '.[test]'"
    # on the device the firmware package is `facewave` (deploy/main.py imports it so)
    (tmp_path / "device").mkdir()
    (tmp_path / "device" / "facewave").symlink_to(ROOT / "firmware", target_is_directory=True)
    config = {
        "include": [os.path.relpath(ROOT / "firmware", tmp_path)],
        "typeshedPath": str(stubs),
        "extraPaths": [str(stubs), str(tmp_path / "device")],
        "reportMissingModuleSource": False,
        "typeCheckingMode": "basic",
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [str(pyright), "-p", str(tmp_path / "pyrightconfig.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "0 errors" in proc.stdout


def _link_tree(src, dst):
    """dst mirrors src: real folders, each file a symlink (pyright does not enter a symlinked
    folder it is told to check)."""
    dst.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            _link_tree(entry, dst / entry.name)
        else:
            (dst / entry.name).symlink_to(entry)


def test_host_and_sim_type_check_against_cpython_typeshed(tmp_path):
    pyright = ROOT / "node_modules" / ".bin" / "pyright"
    if not pyright.exists() and not os.environ.get("CI"):
        pytest.skip("needs `npm ci` (pyright)")
    assert pyright.exists(), "pyright missing: run `npm ci`"
    # the installed package's layout (pyproject: package-dir): host/ is `facewave`, sim/ and
    # firmware/ are its subpackages, so the relative imports between them resolve
    package = tmp_path / "src" / "facewave"
    _link_tree(ROOT / "host", package)
    _link_tree(ROOT / "sim", package / "sim")
    _link_tree(ROOT / "firmware", package / "firmware")
    # on CPython `micropython` is the firmware's stand-in (firmware/cpython.py), not the
    # MicroPython stubs that the test extra puts in site-packages
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "micropython.py").symlink_to(ROOT / "firmware" / "cpython.py")
    config = {
        "include": ["src/facewave"],
        # the firmware is checked by the test above; sim/vm/ holds the scripts the MicroPython
        # VM runs (time.ticks_ms, gc.mem_alloc, `facewave` naming the firmware as on a device)
        "exclude": ["src/facewave/firmware", "src/facewave/sim/vm", "**/__pycache__"],
        "extraPaths": ["shim"],
        "typeCheckingMode": "basic",
        # `except ImportError: import tomli` is for Python 3.10; newer ones have no tomli
        "reportMissingImports": "warning",
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [
            str(pyright),
            "-p",
            str(tmp_path / "pyrightconfig.json"),
            "--pythonpath",
            sys.executable,
            "--outputjson",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["summary"]["filesAnalyzed"] >= 25, report["summary"]
    where = {str(package / "sim"): "sim", str(package): "host"}
    errors = []
    for d in report["generalDiagnostics"]:
        if d["severity"] != "error":
            continue
        path = d["file"]
        for prefix, folder in where.items():
            if path.startswith(prefix + os.sep):
                path = folder + path[len(prefix) :]
                break
        errors.append(
            "%s:%d: %s" % (path, d["range"]["start"]["line"] + 1, d["message"].splitlines()[0])
        )
    assert not errors, "pyright errors:\n" + "\n".join(errors)
    assert report["summary"]["errorCount"] == 0, report["summary"]
    assert proc.returncode == 0, proc.stderr[-3000:]
