"""The button: raw edges in, gestures out (short, long, double press, stuck), with debounce.

Edges carry the tick at which they happened (the shell stamps them in its interrupt handler),
so gestures are timed from the edges themselves, not from when the loop got round to them.
A press counts from its last bounce; it is accepted once the line has been quiet for
debounce_ms. A long press fires while the button is still held, at press + long_ms, so a stop
never waits for the release. A short press waits double_ms for a second press, unless no double
press is mapped, then it fires on release.
"""

from micropython import const

from . import ticks

NONE = const(0)
SHORT = const(1)
LONG = const(2)
DOUBLE = const(3)
STUCK = const(4)  # held far longer than any gesture: ignored until released
NAMES = ("none", "short", "long", "double", "stuck")
_NEVER = const(-1)


class Button:
    def __init__(self, debounce_ms=30, long_ms=1000, double_ms=350, stuck_ms=15000, double=True):
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.double_ms = double_ms
        self.stuck_ms = stuck_ms
        self.double = double  # False: short presses fire on release
        self.raw = 0  # last level seen (1 pressed)
        self.down = 0  # debounced level
        self._t_raw = 0
        self._t_down = 0
        self._t_up = 0
        self._pending = False  # a short press waiting for the double-press window
        self._second = False  # this press began inside that window
        self._long = False  # long (then stuck) already reported for this press
        self._stuck = False

    def edge(self, t, pressed):
        """A raw edge at tick t. Call poll(t) until NONE first, so earlier gestures come out."""
        self.raw = 1 if pressed else 0
        self._t_raw = t

    def poll(self, now):
        """The next gesture due by `now`, or NONE; call again until NONE."""
        if self.raw != self.down and ticks.diff(now, self._t_raw) >= self.debounce_ms:
            g = self._accept(self._t_raw)
            if g:
                return g
        if self.down:
            held = ticks.diff(now, self._t_down)
            if not self._long and held >= self.long_ms:
                self._long = True
                self._pending = self._second = False
                return LONG
            if self._long and not self._stuck and held >= self.stuck_ms:
                self._stuck = True
                return STUCK
        elif self._pending and self.raw == 0 and ticks.diff(now, self._t_up) >= self.double_ms:
            self._pending = False
            return SHORT
        return NONE

    def _accept(self, t):
        self.down = self.raw
        if self.down:
            self._t_down = t
            self._long = self._stuck = False
            self._second = False
            if self._pending:
                self._pending = False
                if ticks.diff(t, self._t_up) <= self.double_ms:
                    self._second = True
                else:
                    return SHORT
            return NONE
        if self._long:
            return NONE
        if self._second:
            self._second = False
            return DOUBLE
        if not self.double:
            return SHORT
        self._pending = True
        self._t_up = t
        return NONE

    def deadline(self, now):
        """Ticks from now until poll() may have something new, or -1 for "only on an edge"."""
        d = _NEVER
        if self.raw != self.down:
            d = ticks.sooner(d, ticks.diff(ticks.add(self._t_raw, self.debounce_ms), now))
        if self.down:
            if not self._long:
                d = ticks.sooner(d, ticks.diff(ticks.add(self._t_down, self.long_ms), now))
            elif not self._stuck:
                d = ticks.sooner(d, ticks.diff(ticks.add(self._t_down, self.stuck_ms), now))
        elif self._pending and self.raw == 0:  # (a bouncing press settles first)
            d = ticks.sooner(d, ticks.diff(ticks.add(self._t_up, self.double_ms), now))
        return d
