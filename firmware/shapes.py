"""Integer curves shared by the engine and the verifier: easing of ramps and periodic waves.

Pure integer arithmetic whose intermediate values stay below 2**30, so MicroPython never
allocates, and CPython and MicroPython give identical levels.
"""

from micropython import const

from . import bytecode as bc

_H = const(256)  # half a wave period in phase units
_H5 = const(327680)  # 5 * _H * _H, Bhaskara I's sine approximation


def ease(kind, f):
    """Progress f in 0..1000 mapped through an easing curve, 0..1000."""
    if kind == bc.EASE_IN:
        return f * f // 1000
    if kind == bc.EASE_OUT:
        g = 1000 - f
        return 1000 - g * g // 1000
    if kind == bc.EASE_IN_OUT:
        return (f * f // 1000) * (3000 - 2 * f) // 1000
    return f


def ramp(kind, a, b, dur, e):
    """Level of a ramp from a to b of dur ms, e ms in."""
    if e >= dur:
        return b
    f = e * 1000 // dur if dur < 1000000 else e // (dur // 1000)
    return a + (b - a) * ease(kind, f) // 1000


def wave(shape, lo, hi, period, e):
    """Level of a periodic wave e ms in; every shape starts at lo."""
    p = (e % period) * (2 * _H) // period  # phase 0 .. 2H-1
    span = hi - lo
    if shape == bc.WAVE_SINE:
        # (1 - cos) / 2 rises from lo to hi over the first half: a sine arch shifted by a quarter
        q = p + _H // 2
        if q >= 2 * _H:
            q -= 2 * _H
        if q < _H:
            u = q * (_H - q)
            s = 16000 * u // (_H5 - 4 * u)  # sin of the arch, 0..1000
            v = 500 + s // 2
        else:
            q -= _H
            u = q * (_H - q)
            s = 16000 * u // (_H5 - 4 * u)
            v = 500 - s // 2
        return lo + span * (1000 - v) // 1000
    if shape == bc.WAVE_TRIANGLE:
        v = p * 1000 // _H if p < _H else (2 * _H - p) * 1000 // _H
        return lo + span * v // 1000
    if shape == bc.WAVE_SQUARE:
        return lo if p < _H else hi
    return lo + span * p // (2 * _H)  # saw
