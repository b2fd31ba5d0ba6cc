"""Helpers for the device tests: a board profile, patterns in memory, a device under a clock."""
import copy

from facewave.firmware import boards, ticks
from facewave.firmware import bytecode as bc
from facewave.firmware import device as dv
from facewave.firmware.program import Image
from facewave.firmware.settings import Settings


def profile(name="pico", **changes):
    """A board profile; changes are "section.key" or top-level fields."""
    data = copy.deepcopy(boards.load(name))
    for path, value in changes.items():
        node = data
        parts = path.split("__")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return boards.profile(data)


def hold(level, ms, name="hold"):
    return bc.pack([bc.pack_insn(bc.OP_RAMP, 0, 0, level, 0, 200),
                    bc.pack_insn(bc.OP_HOLD, 0, level, 0, 0, ms),
                    bc.pack_insn(bc.OP_RAMP, 0, level, 0, 0, 200)], [name, "test"])


def zoned(zone_ms=30000, zones=2, level=500):
    insns = []
    for z in range(zones):
        base = len(insns)
        insns.append(bc.pack_insn(bc.OP_ZONE, 0, 2 + z, base + 1, base + 2, zone_ms))
        insns.append(bc.pack_insn(bc.OP_HOLD, 0, level, 0, 0, 1000))
        insns.append(bc.pack_insn(bc.OP_END, 0, 0, 0, base, 0))
    # zone END's c is the ZONE index; its b is the start of the repeating part
    return bc.pack(insns, ["zoned", "test"] + ["z%d" % z for z in range(zones)])


class Patterns:
    """names()/open() over a dict, like store.Store."""

    def __init__(self, programs):
        self.programs = dict(programs)

    def names(self):
        return sorted(self.programs)

    def open(self, name):
        if name not in self.programs:
            raise OSError(2, "no such pattern")
        return Image(self.programs[name])


def stored(store, name):
    """The bytes of stored pattern `name` (store.Store), as the device reads them."""
    src = store.open(name)
    try:
        return src.read(0, src.size)
    finally:
        src.close()


def make(now=0, programs=None, prof=None, settings_path=None, **changes):
    """A booted device. A test that saves settings passes settings_path (under tmp_path):
    the firmware's default, "settings.json", is relative to the current directory."""
    prof = prof or profile(**changes)
    if programs is None:
        programs = {"a": hold(500, 4600, "a"), "b": hold(300, 1600, "b")}
    settings = Settings(str(settings_path or "settings.json"), session_ms=prof.session_default_ms,
                        cue_ms=prof.session_cue_ms)
    d = dv.Device(prof, Patterns(programs), settings)
    d.boot(now)
    return d


class Clock:
    """Drives a device from deadline to deadline, as the board shell does."""

    def __init__(self, device, now=0):
        self.d = device
        self.now = now
        self.trace = []  # (tick, level) whenever the level changed

    def at(self, t):
        self.now = t
        level = self.d.tick(t)
        if not self.trace or self.trace[-1][1] != level:
            self.trace.append((t, level))
        return level

    def run(self, ms, jitter=None):
        """Advance ms, waking at each deadline (late by jitter() ms if given)."""
        end = ticks.add(self.now, ms)
        while True:
            nxt = self.d.next
            if nxt == dv.NEVER or ticks.diff(nxt, end) > 0:
                break
            t = nxt if ticks.diff(nxt, self.now) > 0 else self.now
            if jitter:
                t = ticks.add(t, jitter())
                if ticks.diff(t, end) > 0:
                    t = end
            self.at(t)
        self.at(end)

    def event(self, kind, arg=0, after=0):
        self.now = ticks.add(self.now, after)
        self.d.event(self.now, kind, arg)
        return self.at(self.now)

    def press(self, held, after=0):
        """A clean press of `held` ms, `after` ms from now."""
        self.run(after)
        self.event(dv.BUTTON, 1)
        self.run(held)
        self.event(dv.BUTTON, 0)


class LoopPort:
    """Collects what the console writes; the test feeds the console directly."""

    def __init__(self):
        self.out = bytearray()

    def write(self, data):
        self.out += data

    def read_available(self):
        return b""

    def take(self):
        data = bytes(self.out)
        del self.out[:]
        return data
