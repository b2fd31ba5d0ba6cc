"""A mixed envelope (mix.py) as pattern text a person can read, at the device's own scale.

Full scale (amplitude 1.0) becomes `top`, the board's cap or --max, so the strongest moment
of the source is the strongest the device may play. Straight runs become one `ramp`, level
runs one `hold` or `off`; a stretch that repeats becomes `repeat N ... end` (nested, as the
source repeats), a repeated tap `pulse`. What the caps forbid is fitted and said: a ramp
steeper than the board's slew becomes a step at its middle (it keeps its time; a step of at
most `top` is within max_step, since top is at most max_step).
"""

from itertools import pairwise

from ..firmware.bytecode import EASE_LINEAR
from ..firmware.verifier import ramp_ms

MAX_PERIOD = 24  # statements in the longest body a loop is looked for in
MAX_DEPTH = 8  # loops nest this deep at most (the language's limit)
MAX_COUNT = 65535


def statements(points, top, profile, notes):
    """The envelope as statements: ("hold", level, ms), ("ramp", from, to, ms), level 0 is a
    rest; levels in permille of full drive, times whole ms."""
    segs = _segments([(round(t), round(v * top)) for t, v in points])
    segs = _fit(segs, profile, notes)
    return _merge(segs)


def _segments(points):
    """(ms, from, to) between consecutive points; a step is two points at one ms. The
    pattern starts at 0 ms, so a first event later than that is a rest first."""
    out = []
    if points and points[0][0] > 0:
        out.append((points[0][0], 0, 0))
    for (t0, v0), (t1, v1) in pairwise(points):
        if t1 > t0:
            out.append((t1 - t0, v0, v1))
    return _straight(out)


def _straight(segs):
    """Consecutive segments on one straight line (to 1 permille: the rounding of levels) made
    one: the feasible slopes from the run's start narrow with each point it passes."""
    out = []
    run = None  # [ms, from, to, lowest slope, highest slope]
    for ms, a, b in segs:
        if run and run[2] == a and (a == b) == (run[1] == run[2]):
            total = run[0] + ms
            lo = max(run[3], (run[2] - 1 - run[1]) / run[0])
            hi = min(run[4], (run[2] + 1 - run[1]) / run[0])
            slope = (b - run[1]) / total
            if lo - 1e-12 <= slope <= hi + 1e-12:
                run[:] = [total, run[1], b, lo, hi]
                continue
        if run:
            out.append(tuple(run[:3]))
        run = [ms, a, b, float("-inf"), float("inf")]
    if run:
        out.append(tuple(run[:3]))
    return out


def _fit(segs, profile, notes):
    """Ramps too steep for the board's slew made steps at their middle; said once."""
    out = []
    steep = 0
    for ms, a, b in segs:
        if a != b and ms < ramp_ms(profile, EASE_LINEAR, a, b):
            steep += 1
            half = ms // 2
            if half:
                out.append((half, a, a))
            out.append((ms - half, b, b))
        else:
            out.append((ms, a, b))
    if steep:
        notes.approximated(
            "steep ramps",
            "%d faster than this board's %g%% per s became steps" % (steep, profile.slew / 10),
        )
    return out


def _merge(segs):
    """Holds of one level made one; the statements."""
    out = []
    for ms, a, b in segs:
        if a == b and out and out[-1][0] == "hold" and out[-1][1] == a:
            out[-1] = ("hold", a, out[-1][2] + ms)
        elif a == b:
            out.append(("hold", a, ms))
        else:
            out.append(("ramp", a, b, ms))
    return out


def loops(items, depth=0):
    """Statements with repeated runs folded into ("repeat", count, body): at each place the
    run that saves the most lines, its body folded in turn."""
    out = []
    i, n = 0, len(items)
    while i < n:
        best = (0, 1, 1)  # (lines saved, period, count)
        if depth < MAX_DEPTH:
            for p in range(1, min(MAX_PERIOD, (n - i) // 2) + 1):
                body = items[i : i + p]
                k = 1
                while k < MAX_COUNT and items[i + k * p : i + (k + 1) * p] == body:
                    k += 1
                saved = p * (k - 1) - 2
                if k > 1 and saved > best[0]:
                    best = (saved, p, k)
        saved, p, k = best
        if saved > 0:
            out.append(("repeat", k, loops(items[i : i + p], depth + 1)))
            i += p * k
        else:
            out.append(items[i])
            i += 1
    return out


def _pulse(body):
    """Whether a loop's body is a tap and a rest (a hold at a level, then one at 0)."""
    return len(body) == 2 and body[0][0] == body[1][0] == "hold" and body[0][1] and not body[1][1]


def source(items, indent=""):
    """Pattern lines of folded statements: a loop of a tap and a rest is a `pulse`."""
    lines = []
    for item in items:
        if item[0] == "repeat":
            _, count, body = item
            if _pulse(body):
                tap, rest = body
                lines.append(
                    "%spulse %s on %s off %s x %d"
                    % (indent, level(tap[1]), duration(tap[2]), duration(rest[2]), count)
                )
            else:
                lines.append("%srepeat %d" % (indent, count))
                lines += source(body, indent + "  ")
                lines.append(indent + "end")
        elif item[0] == "hold":
            _, lv, ms = item
            text = "hold %s %s" % (level(lv), duration(ms)) if lv else "off " + duration(ms)
            lines.append(indent + text)
        else:
            _, a, b, ms = item
            lines.append("%sramp %s -> %s over %s" % (indent, level(a), level(b), duration(ms)))
    return lines


def level(permille):
    """40% or 40.5%."""
    return "%d%%" % (permille // 10) if permille % 10 == 0 else "%d.%d%%" % divmod(permille, 10)


def duration(ms):
    """250ms, 2s, 1.5s, 2min: as a person writes it, exact."""
    if ms % 60000 == 0:
        return "%dmin" % (ms // 60000)
    if ms % 1000 == 0:
        return "%ds" % (ms // 1000)
    if ms >= 1000 and ms % 100 == 0:
        return "%d.%ds" % divmod(ms // 100, 10)
    return "%dms" % ms
