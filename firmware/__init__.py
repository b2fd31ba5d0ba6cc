"""facewave firmware: the code that runs on the massager (MicroPython) and, unchanged, in the
host tool and the simulator (CPython). Modules import each other relatively so the package can
be called `facewave` on the device and `facewave.firmware` on a laptop."""

VERSION = "0.1.0"
