"""facewave firmware: the code that runs on the massager (MicroPython) and, unchanged, in the
host tool and the simulator (CPython). Modules import each other relatively so the package can
be called `facewave` on the device and `facewave.firmware` on a laptop."""

import sys

VERSION = "0.1.0"


def verify(data, prof):
    """verifier.verify(data, prof), with the verifier loaded for this call only on MicroPython.

    A device checks programs at boot, before each play and at an upload's commit; holding the
    verifier in between would cost about 7 KB of RAM for nothing. CPython keeps it: the host
    and the simulator check programs all the time. Raises bytecode.VerifyError."""
    from . import verifier

    try:
        return verifier.verify(data, prof)
    finally:
        if sys.implementation.name == "micropython":
            del sys.modules[verifier.__name__]
            delattr(sys.modules[__name__], "verifier")
