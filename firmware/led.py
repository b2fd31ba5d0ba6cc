"""The status LED: one distinct blink pattern (and colour, on an RGB LED) per device state.

Plain LEDs tell states apart by rhythm alone, so every rhythm differs; the colour only helps.
Phases are counted from the moment the state began, so the blink never drifts.
"""

from micropython import const

from . import ticks

_NEVER = const(-1)

# per mode (device state order: off, idle, running, paused, uploading, charging, low, error):
# colour 0xRRGGBB, then on, off, on, off (ms) of one period; a 0 on-time skips that half
_PATTERNS = (
    0x000000,
    0,
    1000,
    0,
    0,  # off: dark
    0x303030,
    60,
    2940,
    0,
    0,  # idle: a heartbeat every 3 s
    0x00FF00,
    1000,
    0,
    0,
    0,  # running: steady
    0xFFA000,
    500,
    500,
    0,
    0,  # paused: slow blink
    0x0040FF,
    100,
    100,
    0,
    0,  # uploading: fast blink
    0xFF6000,
    1500,
    500,
    0,
    0,  # charging: long on, short off
    0xFF0000,
    100,
    150,
    100,
    1650,  # low battery: double blink every 2 s
    0xFF0000,
    50,
    50,
    50,
    350,  # error: rapid bursts
)
MODES = const(8)


class Led:
    def __init__(self):
        self.mode = -1
        self.on = 0
        self.rgb = 0
        self.next = _NEVER
        self._t0 = 0

    def update(self, now, mode):
        """Set .on, .rgb and .next for `mode` at `now`."""
        if mode != self.mode:
            self.mode = mode
            self._t0 = now
        i = mode * 5
        p = _PATTERNS
        on1 = p[i + 1]
        off1 = p[i + 2]
        on2 = p[i + 3]
        period = on1 + off1 + on2 + p[i + 4]
        e = ticks.diff(now, self._t0)
        if e >= period:  # keep the anchor recent so diff() never wraps
            self._t0 = ticks.add(self._t0, e - e % period)
            e = e % period
        if e < on1:
            self.on, edge = 1, on1
        elif e < on1 + off1:
            self.on, edge = 0, on1 + off1
        elif e < on1 + off1 + on2:
            self.on, edge = 1, on1 + off1 + on2
        else:
            self.on, edge = 0, period
        if on1 == period or on1 == 0:  # steady on, or dark: nothing will change
            self.on = 1 if on1 else 0
            self.next = _NEVER
        else:
            self.next = ticks.add(self._t0, edge)
        self.rgb = p[i] if self.on else 0
