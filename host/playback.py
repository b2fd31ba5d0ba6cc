"""Play a compiled program through the firmware engine in virtual time, and describe it.

This is the engine alone (no session, no motor model): what a pattern asks the motor to do.
The simulator plays the same bytes through the whole virtual device.
"""

from .firmware import engine as eng
from .firmware import ticks


class Trace:
    """Levels over time: `points` holds (ms, level) at every engine step; zones and cues too."""

    def __init__(self, name):
        self.name = name
        self.points = []
        self.zones = []  # (start ms, name)
        self.cues = []  # ms
        self.duration = 0

    @property
    def peak(self):
        return max((lv for _, lv in self.points), default=0)

    @property
    def mean(self):
        """Time-weighted mean level, permille."""
        if not self.duration:
            return 0
        total = 0
        for (t0, lv), (t1, _) in zip(self.points, self.points[1:] + [(self.duration, 0)]):
            total += lv * (t1 - t0)
        return total // self.duration

    def changes(self):
        """(ms, level) only where the level changes: the golden-trace form."""
        out = []
        for t, lv in self.points:
            if not out or out[-1][1] != lv:
                out.append((t, lv))
        out.append((self.duration, 0))
        return out

    def rows(self):
        """(ms, level, event) in time order: level changes, zone starts and cues."""
        events = [(t, "zone " + name) for t, name in self.zones] + [(t, "cue") for t in self.cues]
        out = [(t, lv, "") for t, lv in self.changes()] + [(t, None, ev) for t, ev in events]
        out.sort(key=lambda r: (r[0], r[1] is not None))
        return out

    def csv(self):
        lines = ["ms,level,event"]
        lines += ["%d,%s,%s" % (t, "" if lv is None else lv, ev) for t, lv, ev in self.rows()]
        return "\n".join(lines) + "\n"


def play(program, profile, start=0):
    """Run the engine from tick `start` to the end, jumping straight to each deadline."""
    e = eng.Engine(profile.step_ms)
    e.load(program.data, program.info.count)
    zones = program.info.zones
    trace = Trace(program.name)
    now = start
    e.start(now)
    zone, cues = -1, 0
    while e.state == eng.PLAYING:
        t = ticks.diff(now, start)
        trace.points.append((t, e.level))
        if e.zone != zone and e.zone >= 0:
            trace.zones.append((t, zones[e.zone - 2]))
        zone = e.zone
        if e.cues != cues:
            trace.cues.append(t)
            cues = e.cues
        now = e.next
        e.step(now)
    trace.duration = ticks.diff(now, start)
    return trace
