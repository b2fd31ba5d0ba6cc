"""Wrap-aware millisecond arithmetic, the same as MicroPython's time.ticks_add/ticks_diff.

The core is handed `now` from time.ticks_ms(), which wraps every 2**30 ms (12.4 days). Every
intermediate value here stays inside MicroPython's small-int range (-2**30 .. 2**30-1), so the
tick path never allocates a big int.
"""

from micropython import const

_HALF = const(0x20000000)  # 2**29; 2**30 itself is not a small int
MASK = const(0x3FFFFFFF)


def add(t, d):
    """t + d on the ticks circle; |d| < 2**29."""
    r = t - _HALF - _HALF + d if d >= 0 else t + d
    if r < 0:
        r = r + _HALF + _HALF
    return r


def diff(a, b):
    """a - b on the ticks circle, in [-2**29, 2**29): positive when a is later than b."""
    d = a - b
    if d >= _HALF:
        d = d - _HALF - _HALF
    elif d < -_HALF:
        d = d + _HALF + _HALF
    return d


def sooner(d, e):
    """The smaller of two delays in ms, d -1 for none; a past delay e counts as 0."""
    if e < 0:
        e = 0
    return e if d < 0 or e < d else d
