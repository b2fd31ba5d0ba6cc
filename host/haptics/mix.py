"""Overlapping events mixed into the one envelope a single motor plays, as the source's
player mixes them.

Core Haptics renders each event as a waveform and adds them in its mixer, so two events at
0.5 together are stronger than either (Apple's own Oscillate.ahap plays two at once to be
felt as one): their amplitudes are summed here, within full scale, where the mixer's output
stops too. The louder-wins rule would drop the quieter event entirely. Where the sum goes
above full scale it is held there, and that is said.

Sharpness is the felt frequency. Every board profile drives an ERM (firmware/boards:
motor.kind erm), whose vibration frequency follows its speed; its PWM frequency (`freq`,
pwm_freq) is the carrier, not what is felt. So no board can play sharpness: it is left out,
said once.

An envelope is a list of (ms, amplitude) points in time order, linear between them; two
points at one time are a step. An event's envelope is 0 outside its own points.
"""

from bisect import bisect_left, bisect_right

_EPS = 1e-9


def mix(events, notes):
    """The sum of `events` (events.Event) as one envelope from their first start to their
    last end, at most 1.0."""
    if any(ev.sharpness is not None for ev in events):
        notes.approximated("sharpness ignored", "this board has a fixed frequency")
    total = _sum([ev.points for ev in events])
    out, over = _clip(total)
    if over:
        notes.approximated(
            "overlapping events",
            "summed as Core Haptics mixes them; above full scale for %d ms, held there"
            % round(over),
        )
    return out


def _changes(points):
    """(ms, jump, change of slope) of one envelope at each of its times (0 outside it)."""
    out = []
    n = len(points)
    i = 0
    left, slope = 0.0, 0.0  # value and slope just before the current time
    while i < n:
        t = points[i][0]
        j = i
        while j + 1 < n and points[j + 1][0] == t:
            j += 1
        right = points[j][1]
        if j + 1 < n:
            t1, v1 = points[j + 1]
            new = (v1 - right) / (t1 - t)
        else:
            right, new = 0.0, 0.0  # the end: back to 0
        out.append((t, right - left, new - slope))
        if j + 1 < n:
            left = right + new * (points[j + 1][0] - t)
        slope = new
        i = j + 1
    return out


def _sum(envelopes):
    """The sum of envelopes, by one sweep over their changes: O(n log n) in their points, so
    that a hundred thousand events take a moment, however they overlap."""
    changes = sorted(c for points in envelopes for c in _changes(points))
    out = []
    value = slope = 0.0
    last = None
    i = 0
    while i < len(changes):
        t = changes[i][0]
        if last is not None:
            value += slope * (t - last)
        jump = 0.0
        while i < len(changes) and changes[i][0] == t:
            jump += changes[i][1]
            slope += changes[i][2]
            i += 1
        before = max(value, 0.0)
        value += jump
        after = max(value, 0.0)
        if abs(after - before) < _EPS:
            after = before
        out.append((t, before))
        if after != before:
            out.append((t, after))
        last = t
    return _drop_inner(out)


def _drop_inner(points):
    """Points whose removal changes nothing (inside a run at one level)."""
    out = []
    for p in points:
        if len(out) >= 2 and out[-1][1] == out[-2][1] == p[1] and out[-1][0] != out[-2][0]:
            out[-1] = p
        else:
            out.append(p)
    return out


def _clip(points):
    """Points held at most 1.0, a crossing of 1.0 made a point; and the ms spent above it."""
    out, over = [], 0.0
    for i, (t, v) in enumerate(points):
        if i:
            t0, v0 = points[i - 1]
            if t > t0 and (v0 > 1) != (v > 1) and abs(v - v0) > _EPS:
                cross = t0 + (t - t0) * (1 - v0) / (v - v0)
                out.append((cross, 1.0))
                over += (t - cross) if v > 1 else (cross - t0)
            elif v0 > 1 and v > 1:
                over += t - t0
        out.append((t, min(v, 1.0)))
    return out, over


def value_at(points, t):
    """A control's value at `t` (the last one where there is a step; the last point's after
    it, the first's before it)."""
    times = [p[0] for p in points]
    i = bisect_right(times, t)
    if i == 0:
        return points[0][1]
    if i == len(points) or points[i - 1][0] == t:
        return points[i - 1][1]
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


def _limit_before(points, times, t):
    """A control's value just before `t`."""
    i = bisect_left(times, t)
    if i == 0:
        return points[0][1]
    if i < len(points) and times[i] == t:
        (t0, v0) = points[i - 1]
        return v0 if t0 == t else _between(points, i - 1, t)
    return _between(points, i - 1, t) if i < len(points) else points[-1][1]


def _between(points, i, t):
    (t0, v0), (t1, v1) = points[i], points[i + 1]
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1


def product(points, control):
    """An event's envelope scaled by a control over time (1.0 = unchanged): a point at each
    of the event's times and at each of the control's inside it, a step where either steps."""
    times = [p[0] for p in control]
    start, end = points[0][0], points[-1][0]
    inside = times[bisect_right(times, start) : bisect_left(times, end)]
    own = [p[0] for p in points]
    out = []
    for t in sorted(set(own) | set(inside)):
        lo, hi = bisect_left(own, t), bisect_right(own, t)
        if lo < hi:  # the event's own points at t, in order
            values = [v for _, v in points[lo:hi]]
        else:
            values = [_between(points, lo - 1, t)]
        before, after = _limit_before(control, times, t), value_at(control, t)
        if t == start:
            out += [(t, v * after) for v in values]
        elif t == end:
            out += [(t, v * before) for v in values]
        else:
            out.append((t, values[0] * before))
            out += [(t, v * after) for v in values[1:] or values]
    return _dedupe(out)


def _dedupe(points):
    """Consecutive points at one time with one value made one."""
    out = []
    for p in points:
        if not out or out[-1] != p:
            out.append(p)
    return out
