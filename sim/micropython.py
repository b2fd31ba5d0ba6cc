"""CPython stand-in for MicroPython's `micropython` module, so the unchanged firmware imports.

`const()` is the identity, as it is on the device for any value it cannot inline.
"""

_kbd_intr = 3


def const(value):
    return value


def kbd_intr(char):
    """Remember the interrupt character; the virtual console reads it (see the serial port)."""
    global _kbd_intr
    _kbd_intr = char


def alloc_emergency_exception_buf(size):
    pass


def opt_level(level=None):
    return 0


def mem_info(*args):
    pass


def schedule(func, arg):
    func(arg)
