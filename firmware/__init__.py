"""facewave firmware: the code that runs on the massager (MicroPython) and, unchanged, in the
host tool and the simulator (CPython). Modules import each other relatively so the package can
be called `facewave` on the device and `facewave.firmware` on a laptop."""

import sys

if sys.implementation.name != "micropython":
    from . import cpython  # noqa: F401  (the `micropython` module the firmware imports)

VERSION = "0.1.0"


def drop(name):
    """Forget firmware module `name` (a package with its submodules) on MicroPython once it has
    done its job, so its code leaves the heap at the next collection; a later import loads it
    again. The caller must keep nothing of it but plain data. CPython keeps every module: the
    host and the simulator use them all the time, and memory is not short there."""
    if sys.implementation.name != "micropython":
        return
    full = __name__ + "." + name
    for key in [k for k in sys.modules if k == full or k.startswith(full + ".")]:
        del sys.modules[key]
        dot = key.rfind(".")
        parent = sys.modules.get(key[:dot])
        if parent is not None and hasattr(parent, key[dot + 1 :]):
            delattr(parent, key[dot + 1 :])


def verify(data, prof):
    """verifier.verify(data, prof), with the verifier loaded for this call only: a device
    checks programs at boot, before each play and at an upload's commit, and would hold about
    7 KB of RAM in between for nothing. Raises bytecode.VerifyError."""
    from . import verifier

    try:
        return verifier.verify(data, prof)
    finally:
        drop("verifier")
