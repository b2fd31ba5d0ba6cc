"""Type check of firmware/ against MicroPython's own stubs (the Pico's `machine`, its stdlib).

pyright comes from the project's package.json (npm ci); the stubs from the test extra. The
config is written here because typeshedPath must name this environment's site-packages.
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
    proc = subprocess.run([str(pyright), "-p", str(tmp_path / "pyrightconfig.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "0 errors" in proc.stdout
