"""What the firmware takes from MicroPython's `micropython` module, for CPython: the host tool
and the simulator import the unchanged firmware. firmware/__init__.py registers this module as
`micropython` when the interpreter has none; a device never imports it."""

import sys


def const(value):
    """The identity, as on a device for any value its compiler cannot inline."""
    return value


def kbd_intr(char):
    """Nothing to arm: on CPython the virtual board's console raises no KeyboardInterrupt of
    its own; the firmware's protocol raises it when mpremote asks for the REPL."""


sys.modules.setdefault("micropython", sys.modules[__name__])
