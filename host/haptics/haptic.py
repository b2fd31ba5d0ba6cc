"""Meta Haptics Studio (formerly Lofelt Studio) `.haptic` files, read as Lofelt's published
data model (version 1) describes them: `signals.continuous.envelopes` holds an `amplitude`
envelope of breakpoints `{time (s), amplitude 0..1, emphasis?: {amplitude, frequency}}` and an
optional `frequency` envelope of `{time (s), frequency 0..1}`, linear between breakpoints.

- The amplitude envelope is the motor's drive, as Lofelt's own Android player plays it on a
  phone's motor: linearly, full scale at 1.
- An emphasis is a transient on the breakpoint it belongs to. A motor has no transients, so it
  is played as Lofelt's player plays one where there are none: the envelope is dropped to 0
  for EMPHASIS_MS before the breakpoint and for EMPHASIS_MS after the peak, and the peak is an
  Event of its own, EMPHASIS_MS at the emphasis's amplitude with its frequency as sharpness (as
  Lofelt's converter to Core Haptics makes it a transient of that sharpness), so that it is
  felt as a tap however events are mixed. (Lofelt's player peaks at full scale whatever the
  emphasis's amplitude; the file's own amplitude keeps a soft emphasis soft.)
- The frequency envelope is a sharpness: the square root of its normalised frequency, as
  Lofelt's converter to Core Haptics maps it. An Event has one sharpness, so a frequency that
  changes is played at its mean over time, and that is said (a note).
"""

import math
from itertools import pairwise

from . import fields
from .events import Event

EMPHASIS_MS = 30  # Lofelt's player: 30 ms dip before, 30 ms peak, 30 ms dip after
ENVELOPES = "signals.continuous.envelopes"


def read(doc, path, notes, repeat):
    """The Events of a .haptic document (`repeat` is for Android's waveforms: unused)."""
    version = doc.get("version")
    if version is not None:
        major = fields.obj(version, path, "version").get("major")
        if fields.whole(major, path, "version.major", 0, 1 << 31) != 1:
            raise fields.refuse(path, "version.major", "%d: facewave reads version 1" % major)
    signals = fields.obj(doc.get("signals"), path, "signals")
    continuous = fields.obj(signals.get("continuous"), path, "signals.continuous")
    envelopes = fields.obj(continuous.get("envelopes"), path, ENVELOPES)
    points, peaks = _amplitude(envelopes.get("amplitude"), path, ENVELOPES + ".amplitude")
    sharpness = None
    if envelopes.get("frequency") is not None:
        sharpness = _sharpness(envelopes["frequency"], path, ENVELOPES + ".frequency", notes)
    gaps = [(max(0, t - EMPHASIS_MS), t + 2 * EMPHASIS_MS) for t, _, _, _ in peaks]
    events = [
        Event(piece, sharpness, "%s.amplitude" % ENVELOPES) for piece in _pieces(points, gaps)
    ]
    events += [Event([(t, a), (t + EMPHASIS_MS, a)], f, where) for t, a, f, where in peaks]
    return events


def _breakpoints(value, path, where, key):
    """(ms, value of `key`, the breakpoint, its place) of an envelope, times in order."""
    out, before = [], 0
    for i, point in enumerate(fields.items(value, path, where)):
        at = "%s[%d]" % (where, i)
        point = fields.obj(point, path, at)
        ms = fields.seconds(point.get("time"), path, at + ".time")
        if ms < before:
            raise fields.refuse(
                path, at + ".time", "%g s is before the breakpoint before it" % (ms / 1000)
            )
        level = fields.number(point.get(key), path, "%s.%s" % (at, key), 0, 1)
        out.append((ms, level, point, at))
        before = ms
    return out


def _amplitude(value, path, where):
    """The amplitude envelope's points, and its emphases as (ms, amplitude, frequency, place)."""
    points, peaks = [], []
    for ms, level, point, at in _breakpoints(value, path, where, "amplitude"):
        points.append((ms, level))
        if point.get("emphasis") is not None:
            at += ".emphasis"
            emphasis = fields.obj(point["emphasis"], path, at)
            peaks.append(
                (
                    ms,
                    fields.number(emphasis.get("amplitude"), path, at + ".amplitude", 0, 1),
                    fields.number(emphasis.get("frequency"), path, at + ".frequency", 0, 1),
                    at,
                )
            )
    if not points:
        raise fields.refuse(path, where, "empty: Lofelt's players refuse a clip without one")
    return points, peaks


def _sharpness(value, path, where, notes):
    """The one sharpness of a frequency envelope: its mean over time, square-rooted."""
    points = [(ms, f) for ms, f, _, _ in _breakpoints(value, path, where, "frequency")]
    if not points:
        return None
    span = points[-1][0] - points[0][0]
    if span:
        mean = sum((t1 - t0) * (f0 + f1) / 2 for (t0, f0), (t1, f1) in pairwise(points))
        mean /= span
    else:
        mean = points[0][1]
    if any(f != points[0][1] for _, f in points):
        notes.approximated(
            "frequency envelope", "played at one sharpness, its mean over time", where
        )
    return math.sqrt(mean)


def _pieces(points, gaps):
    """The piecewise-linear envelope through `points`, less the (start, end) `gaps` (in time
    order), as runs of at least two points with times increasing: a gap or a step (two
    breakpoints at one time) ends a run."""
    pieces, piece, g = [], [], 0
    for (t0, a0), (t1, a1) in pairwise(points):
        start = t0
        while start < t1:
            while g < len(gaps) and gaps[g][1] <= start:
                g += 1
            if g < len(gaps) and gaps[g][0] <= start:  # in a gap: the run ends
                piece = _close(pieces, piece)
                start = min(gaps[g][1], t1)
                continue
            end = min(t1, gaps[g][0]) if g < len(gaps) else t1
            level = _at(t0, a0, t1, a1, end)
            if piece and piece[-1][0] == start:
                piece.append((end, level))
            else:
                _close(pieces, piece)
                piece = [(start, _at(t0, a0, t1, a1, start)), (end, level)]
            start = end
        if t1 == t0:
            piece = _close(pieces, piece)
    _close(pieces, piece)
    return pieces


def _at(t0, a0, t1, a1, t):
    """The level at `t` on the line from (t0, a0) to (t1, a1), exact at its ends."""
    if t == t0:
        return a0
    return a1 if t == t1 else a0 + (a1 - a0) * (t - t0) / (t1 - t0)


def _close(pieces, piece):
    """Keep a run that has two points; start the next one empty."""
    if len(piece) >= 2:
        pieces.append(piece)
    return []
