"""Play a compiled program as a device plays it, in virtual time, and keep what it did.

play() feeds the firmware's own Device (engine, session timer, motor model, settings) with a
board's profile, so a preview shows what the motor is driven with: the intensity, the soft
start and kick, the session's length and cues, forced rests and the fade at the end; the
virtual board's trace of the same program is the same, to the millisecond. pattern() is the
engine alone: what the pattern itself asks, which is what the compiler and the verifier judge.
"""

from .firmware import device as dv
from .firmware import engine as eng
from .firmware import log, ticks
from .firmware.program import Image


class Trace:
    """What played, in ms: the motor level at each change (`points`), the pattern's own level
    where the device drives something else (`pattern`, empty when there is none), zones, cues
    by kind and the device's other events ("start daily", "end daily", "rest", "pause"...). A
    virtual board's run comes as one too (scenarios/runner.trace_of), so one plot draws both."""

    def __init__(self, name, cap=1000):
        self.name = name
        self.cap = cap  # the board's max_level, permille
        self.points = []  # (ms, level permille)
        self.pattern = []  # (ms, level): the pattern's, before intensity and motor (and after
        # the end of a session that cuts it short, what it would have asked)
        self.zones = []  # (start ms, name)
        self.cues = []  # ms: the pattern's own cues (the one at a zone's start marks the change)
        self.session_cues = []  # ms: the cues the session lays over a pattern without zones
        self.events = []  # (ms, text): the device's log and the world's, as the trace says them
        self.cut: int | None = None  # ms at which the session cuts the pattern short
        self.duration = 0

    @property
    def peak(self):
        return max((lv for _, lv in self.points), default=0)

    @property
    def mean(self):
        """Time-weighted mean level, permille."""
        if not self.duration:
            return 0
        return _energy(self.points, self.duration) // self.duration

    def changes(self):
        """(ms, level) only where the level changes, from the first point on."""
        out = []
        for t, lv in self.points:
            if not out or out[-1][1] != lv:
                out.append((t, lv))
        return out

    def csv(self):
        """`ms,level` at each change, as the simulator's trace gives the level."""
        return "ms,level\n" + "".join("%d,%d\n" % row for row in self.changes())


def play(program, prof, settings=None):
    """Play `program` on a Device of board profile `prof` (boards.profile) with `settings` (a
    firmware Settings; None: a new device's), from play to the session's end, waking at each
    of the device's deadlines; answers a Trace."""
    d = dv.Device(prof, _Store(program), settings)
    d.boot(0)
    d.play(0, program.name)
    trace = Trace(program.name, prof.max_level)
    seen = 0  # device log entries read
    now = 0
    while True:
        d.tick(now)
        level, asked = d.level, d.engine.level
        if not trace.points or trace.points[-1][1] != level:
            trace.points.append((now, level))
        if not trace.pattern or trace.pattern[-1][1] != asked:
            trace.pattern.append((now, asked))
        if d.log.seq != seen:
            for _, t, kind, arg in d.log.entries(seen):
                _note(trace, t, kind, arg, d.motor.hot)
            seen = d.log.seq
        if d.state != dv.RUNNING:
            break
        now = d.next
    trace.duration = now
    length = program.info.duration
    if now < length or (now % length and not program.info.zones):
        trace.cut = now  # the session ends inside a turn of the pattern
    if now < length:  # and the pattern's end never plays: what it would have asked
        trace.pattern += [(t, lv) for t, lv in pattern(program, prof).changes() if t > now]
        trace.pattern.append((length, 0))
    return trace


def pattern(program, profile, start=0):
    """The engine alone from tick `start` to the pattern's end, jumping straight to each
    deadline: the level at every step, zones and cues, as the pattern asks them."""
    e = eng.Engine(profile.step_ms)
    e.load(program.data, program.info.count)
    zones = program.info.zones
    trace = Trace(program.name, profile.max_level)
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


class _Store:
    """The one program, as the device's pattern store answers for it (names(), open())."""

    def __init__(self, program):
        self.program = program

    def names(self):
        return [self.program.name]

    def open(self, name):
        if name != self.program.name:
            raise OSError(2, "no pattern %s" % name)
        return Image(self.program.data)


def _note(trace, t, kind, arg, hot):
    """A device log entry into the trace (the cue of a session has its count, the pattern's
    has none; a rest, whether the motor was too warm or on too long)."""
    if kind == log.NAMES[log.ZONE]:
        trace.zones.append((t, arg))
    elif kind == log.NAMES[log.CUE]:
        (trace.session_cues if arg else trace.cues).append(t)
    elif kind == log.NAMES[log.REST]:
        trace.events.append((t, "rest: too warm" if hot else "rest: on too long"))
    elif kind != log.NAMES[log.BOOT]:
        trace.events.append((t, kind if arg in (0, None, "") else "%s %s" % (kind, arg)))


def _energy(points, end):
    """Level x ms of a step curve from its first point to `end`."""
    return sum(lv * (t1 - t0) for (t0, lv), (t1, _) in zip(points, points[1:] + [(end, 0)]))
