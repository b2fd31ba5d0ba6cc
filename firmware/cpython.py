"""What the firmware takes from MicroPython's `micropython` module, for CPython: the host tool
and the simulator import the unchanged firmware. firmware/__init__.py registers this module as
`micropython` when the interpreter has none; a device never imports it."""
import sys


def const(value):
    """The identity, as on a device for any value its compiler cannot inline."""
    return value


_kbd_intr = 3


def kbd_intr(char):
    """Remember the interrupt character (the CPython REPL of the virtual board reads it)."""
    global _kbd_intr
    _kbd_intr = char


sys.modules.setdefault("micropython", sys.modules[__name__])
