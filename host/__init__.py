"""facewave: the laptop tool of the facewave massager (compile, check, preview, upload, flash).

The firmware package (facewave.firmware) is MicroPython code; on CPython it needs the
`micropython` module, which the simulator provides.
"""
import sys

if "micropython" not in sys.modules:
    try:
        import micropython  # noqa: F401  (a real one, e.g. when running under MicroPython)
    except ImportError:
        from .sim import micropython as _micropython

        sys.modules["micropython"] = _micropython
