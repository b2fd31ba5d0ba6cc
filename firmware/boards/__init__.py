"""Board profiles: one data module per board, each defining PROFILE (see ../profile.py).

Adding a board is adding a file here; nothing else names the boards. `load()` picks the board
named in the file /board on the device (one word, written by `facewave flash --board`), else
the default for the port MicroPython runs on.
"""
import sys

_DEFAULT = {"rp2": "pico", "esp32": "esp32c3"}  # sys.platform -> board


def chosen(path="/board"):
    """The board name this device should use."""
    try:
        with open(path) as f:
            name = f.read().strip()
        if name:
            return name
    except OSError:
        pass
    return _DEFAULT.get(sys.platform, "pico")


def load(name):
    """The PROFILE dict of board `name`; ImportError if there is no such board."""
    for c in name or "-":
        if not (c.isalpha() or c.isdigit() or c == "_"):
            raise ImportError("no board called %r" % name)
    full = __name__ + "." + name
    __import__(full)
    return sys.modules[full].PROFILE
