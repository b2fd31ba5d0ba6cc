"""Import haptic patterns people already have: Apple AHAP and Android waveforms.

Both become pattern source text (not bytecode), so the result can be read, edited and checked
like any other pattern. What has no equivalent on one vibration motor is refused with a
reason, never silently dropped: overlapping events, sharpness curves, endless repeats.
"""

import json
import re

from . import files
from .errors import FacewaveError
from .lang.lexer import MAX_MS

TRANSIENT_MS = 30  # an AHAP transient is a tap: 30 ms at its intensity


def convert(path, name=None, repeat=None):
    """Pattern source for an .ahap or Android waveform .json file."""
    raw = files.read(path, 1 << 20, "a haptic pattern")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise FacewaveError("%s: not JSON (%s)" % (path, e)) from None
    name = name or _name_from(path.stem)
    if isinstance(doc, dict) and "Pattern" in doc:
        steps = _ahap(doc, path)
        kind = "Apple AHAP"
    elif isinstance(doc, dict) and "timings" in doc:
        steps = _android(doc, path, repeat)
        kind = "Android waveform"
    else:
        raise FacewaveError(
            '%s: neither AHAP (a "Pattern" list) nor an Android waveform '
            '("timings" and "amplitudes")' % path
        )
    lines = ['pattern %s "Imported from %s (%s)"' % (name, path.name.replace('"', "'"), kind)]
    lines += steps
    return "\n".join(lines) + "\n"


def _name_from(stem):
    name = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_") or "imported"
    if not name[0].isalpha():
        name = "p-" + name
    return name[:32]


def _real(value):
    """Whether a JSON value is a number (JSON's true is not one; NaN and Infinity, which
    Python's json reads, fail every comparison below)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _level(value, path, where):
    if not _real(value) or not 0 <= value <= 1:
        raise FacewaveError("%s: %s: intensity %r is not between 0 and 1" % (path, where, value))
    return "%.1f%%" % (round(value * 1000) / 10)


def _seconds(value, path, where, what):
    """An AHAP time in seconds, as whole milliseconds (at least 1 where it is not 0)."""
    if not _real(value) or not 0 <= value <= MAX_MS / 1000:
        raise FacewaveError(
            "%s: %s: %s %r is not a time from 0 to %g s"
            % (path, where, what, value, MAX_MS / 1000)
        )
    return max(1, round(value * 1000)) if value else 0


def _ahap(doc, path):
    """Events in time order; a continuous event with an intensity curve becomes ramps."""
    events, curves = [], []
    for i, item in enumerate(doc.get("Pattern") or []):
        where = "Pattern[%d]" % i
        if not isinstance(item, dict):
            raise FacewaveError("%s: %s is not an object" % (path, where))
        if "Event" in item:
            ev = item["Event"]
            params = {
                p.get("ParameterID"): p.get("ParameterValue")
                for p in ev.get("EventParameters", [])
            }
            kind = ev.get("EventType")
            if kind not in ("HapticContinuous", "HapticTransient"):
                raise FacewaveError(
                    "%s: %s: event type %r has no motor equivalent (only HapticContinuous and "
                    "HapticTransient do)" % (path, where, kind)
                )
            start = _seconds(ev.get("Time", 0), path, where, "Time")
            dur = (
                _seconds(ev.get("EventDuration", 0), path, where, "EventDuration")
                if kind == "HapticContinuous"
                else TRANSIENT_MS
            )
            if kind == "HapticContinuous" and not dur:
                dur = 1
            intensity = params.get("HapticIntensity", 1.0)
            _level(intensity, path, where)
            events.append((start, dur, intensity, where))
        elif "ParameterCurve" in item:
            curve = item["ParameterCurve"]
            if curve.get("ParameterID") != "HapticIntensityControl":
                raise FacewaveError(
                    "%s: %s: curve %r does not map: a vibration motor has "
                    "intensity only" % (path, where, curve.get("ParameterID"))
                )
            t0 = _seconds(curve.get("Time", 0), path, where, "Time")
            points = curve.get("ParameterCurveControlPoints", [])
            if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
                raise FacewaveError(
                    "%s: %s: control points must be a list of objects" % (path, where)
                )
            curves.append(
                [
                    (t0 + _seconds(p.get("Time"), path, where, "Time"), p.get("ParameterValue"))
                    for p in points
                ]
            )
        elif "Parameter" in item:
            raise FacewaveError(
                "%s: %s: dynamic parameters do not map; use an intensity curve" % (path, where)
            )
    if not events:
        raise FacewaveError("%s: no haptic events" % path)
    events.sort()
    out, now = [], 0
    for start, dur, intensity, where in events:
        if start < now:
            raise FacewaveError(
                "%s: %s starts at %d ms, before the previous event ends "
                "(%d ms): one motor cannot play overlapping events" % (path, where, start, now)
            )
        if start > now:
            out.append("off %dms" % (start - now))
        points = [(t, v) for c in curves for t, v in c if start <= t <= start + dur]
        level = _level(intensity, path, where)
        if points:
            out += _curve(start, dur, intensity, points, path, where)
        else:
            out.append("hold %s %dms" % (level, dur))
        now = start + dur
    return out


def _curve(start, dur, intensity, points, path, where):
    """Ramps between the control points of an intensity curve (a scale on the event)."""
    out, t, v = [], start, None
    for pt, pv in sorted(points, key=lambda point: point[0]):
        lv = _level(intensity * pv if _real(pv) else pv, path, where)
        if v is None:  # the event's own level until the curve's first point
            if pt > start:
                out.append("hold %s %dms" % (_level(intensity, path, where), pt - start))
        elif pt > t:
            out.append("ramp %s -> %s over %dms" % (v, lv, pt - t))
        t, v = max(t, pt), lv
    if start + dur > t:
        out.append("hold %s %dms" % (v, start + dur - t))
    return out


def _android(doc, path, repeat):
    timings = doc.get("timings")
    amps = doc.get("amplitudes")
    index = doc.get("repeat", -1)
    if (
        not isinstance(timings, list)
        or not timings
        or not all(_real(t) and 0 <= t <= MAX_MS and t == int(t) for t in timings)
    ):
        raise FacewaveError(
            "%s: timings must be a list of whole milliseconds 0..%d" % (path, MAX_MS)
        )
    if amps is None:
        amps = [0 if i % 2 == 0 else 255 for i in range(len(timings))]  # on/off pairs
    if (
        not isinstance(amps, list)
        or len(amps) != len(timings)
        or not all(_real(a) and a in range(256) for a in amps)
    ):
        raise FacewaveError("%s: amplitudes must be one 0..255 value per timing" % path)
    if type(index) is not int or not -1 <= index < len(timings):
        raise FacewaveError("%s: repeat index %r is outside the timings" % (path, index))
    steps = [
        "hold %.1f%% %dms" % (round(a * 1000 / 255) / 10, t) if a else "off %dms" % t
        for t, a in zip(timings, amps)
        if t
    ]
    if index < 0:
        return steps
    if repeat is None:
        raise FacewaveError(
            "%s: the waveform repeats forever from index %d; a facewave "
            "pattern must end: pass --repeat N" % (path, index)
        )
    if repeat < 1:
        raise FacewaveError("--repeat must be at least 1", 2)
    head = [
        "hold %.1f%% %dms" % (round(a * 1000 / 255) / 10, t) if a else "off %dms" % t
        for t, a in zip(timings[:index], amps[:index])
        if t
    ]
    tail = steps[len(head) :]
    return head + ["repeat %d" % repeat] + ["  " + s for s in tail] + ["end"]
