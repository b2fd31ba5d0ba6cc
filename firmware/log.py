"""The event log: a small ring buffer in RAM, so the host can ask what happened and when.

Entries are (tick, kind, arg); arg is a small int or a string that already exists (a pattern
name, an error message), so adding an entry allocates nothing.
"""

from micropython import const

BOOT = const(0)
START = const(1)
STOP = const(2)
END = const(3)
CUE = const(4)
PAUSE = const(5)
RESUME = const(6)
ERROR = const(7)
LOW = const(8)
CUTOFF = const(9)
CHARGE = const(10)
OFF = const(11)
SETTINGS = const(12)
UPLOAD = const(13)
REST = const(14)
BUTTON = const(15)
PATTERN = const(16)
INTENSITY = const(17)
ZONE = const(18)

NAMES = (
    "boot",
    "start",
    "stop",
    "end",
    "cue",
    "pause",
    "resume",
    "error",
    "low battery",
    "battery cut-off",
    "charger",
    "off",
    "settings",
    "upload",
    "rest",
    "button",
    "pattern",
    "intensity",
    "zone",
)


class Log:
    def __init__(self, size=48):
        self.size = size
        self._t = [0] * size
        self._k = [0] * size
        self._a = [0] * size  # type: list[int | str]
        self.seq = 0  # entries ever added; the host asks for those after the last it saw

    def add(self, t, kind, arg: "int | str" = 0):
        i = self.seq % self.size
        self._t[i] = t
        self._k[i] = kind
        self._a[i] = arg
        self.seq += 1

    def entries(self, since=0):
        """[(seq, tick, kind name, arg)] oldest first, from entry `since` on (allocates)."""
        first = self.seq - self.size if self.seq > self.size else 0
        out = []
        for s in range(since if since > first else first, self.seq):
            i = s % self.size
            out.append((s, self._t[i], NAMES[self._k[i]], self._a[i]))
        return out
