"""Device root boot.py: put the active firmware slot on sys.path (see host/flash.py).

`facewave flash` installs the firmware in /fw/a or /fw/b and, once every file is verified,
names the slot in /fw/slot. A slot counts only when its manifest exists (written last), so a
broken pointer or an unfinished slot falls back to the other, complete one.
"""
import sys


def slot(root="/fw"):
    """The slot directory to boot from, or None when no slot is complete. Self-contained:
    `facewave flash` runs this very function on the device to find the slot in use."""
    import os

    try:
        with open(root + "/slot") as f:
            name = f.read().strip()
    except OSError:
        name = ""
    for s in (name, "a", "b"):
        if s == "a" or s == "b":
            try:
                os.stat(root + "/" + s + "/manifest.json")
                return root + "/" + s
            except OSError:
                pass
    return None


def motor_off():
    """The motor pin low before anything else runs: a soft reset (mpremote does one) re-runs
    this file but not main.py, and nothing else would touch the pin then. Everything it
    imports is bound to locals only, so the firmware can drop the board data once booted."""
    try:
        import machine
        from facewave import board, boards

        board.motor_off(machine, boards.load(boards.chosen()))
    except Exception:  # no firmware in the slot yet, or no such board: no motor pin known
        pass


_slot = slot()
if _slot:
    sys.path.insert(0, _slot)
motor_off()
