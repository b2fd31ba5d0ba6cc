"""What every haptic format is read into, and what is said about the reading.

A reader (ahap.py, haptic.py, android.py) turns a file into Events: each a stretch of the
motor's drive on the source's own relative scale (0..1, full scale = the source's maximum),
a piecewise-linear envelope in absolute milliseconds, with the sharpness the source asked for.
What a motor cannot play is left out and said once per kind in Notes, never silently dropped;
with --strict each of those notes is an error instead.

mix.py mixes overlapping Events into one envelope; text.py writes that envelope as pattern text
a person can read, at the device's own scale (full scale = the board's cap or --max).
"""

from dataclasses import dataclass, field

from ..errors import FacewaveError
from ..units import plural


@dataclass
class Event:
    """One event of a source file: `points` are (ms from the file's start, amplitude 0..1),
    in time order, at least two, the first at the event's start and the last at its end (a
    transient is a short event of two or more points). `sharpness` is the source's 0..1 (None:
    the source has none). `where` names it in the file for messages ("Pattern[3]")."""

    points: list
    sharpness: float | None = None
    where: str = ""

    @property
    def start(self):
        return self.points[0][0]

    @property
    def end(self):
        return self.points[-1][0]


@dataclass
class Notes:
    """The approximations of one import, by kind: `left_out("AudioCustom event")` counts one
    thing not played; `approximated("sharpness", "this board has a fixed frequency")` says
    once how something was changed. lines() are the summary, one line per kind. With `strict`,
    the first note is an error (FacewaveError, exit 1) naming the file and the place."""

    path: str
    strict: bool = False
    _left: dict = field(default_factory=dict)
    _changed: dict = field(default_factory=dict)

    def left_out(self, kind, where=""):
        if self.strict:
            raise FacewaveError(
                "%s: %s%s: left out (--strict)" % (self.path, where + ": " if where else "", kind)
            )
        self._left[kind] = self._left.get(kind, 0) + 1

    def approximated(self, what, why, where=""):
        if self.strict:
            raise FacewaveError(
                "%s: %s%s: %s (--strict)" % (self.path, where + ": " if where else "", what, why)
            )
        self._changed.setdefault(what, why)

    def lines(self):
        """One line per kind: "left out: 3 AudioCustom events", "sharpness: ignored, ..."."""
        out = ["left out: " + plural(n, kind) for kind, n in self._left.items()]
        out += ["%s: %s" % (what, why) for what, why in self._changed.items()]
        return out
