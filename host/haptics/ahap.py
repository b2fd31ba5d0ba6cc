"""Apple AHAP, read as Core Haptics reads it (Apple's "Representing haptic patterns in AHAP
files" and the CHHapticEvent and CHHapticParameter headers).

A missing or null key takes Core Haptics' default, an out-of-range value is clamped as Core
Haptics clamps it (and said), a time that is no time (NaN, infinite, negative, not a number)
is one error naming its place. HapticIntensityControl, as a dynamic `Parameter` (a step) or a
`ParameterCurve` (linear between its control points), scales the intensity of every haptic
event playing then, as Core Haptics applies it to "all active and future haptic events"; a
later one takes over from the time it starts. Audio events and parameters, and the envelope
controls whose effect Core Haptics does not publish, are left out and said.
"""

import math

from ..errors import FacewaveError
from ..lang.lexer import MAX_MS
from . import mix
from .events import Event

# A transient is a tap of fixed length that Core Haptics does not publish ("a split-second");
# 30 ms is three engine steps and about the time a coin ERM takes to spin up enough to be
# felt: shorter, the motor would not reach the level asked before it stops.
TRANSIENT_MS = 30
CONTINUOUS_MAX_S = 30  # Core Haptics plays a continuous event for at most 30 s
MAX_S = MAX_MS / 1000  # the longest time a pattern can say

_HAPTIC = ("HapticTransient", "HapticContinuous")
_ENVELOPE = ("AttackTime", "DecayTime", "ReleaseTime", "Sustained")


def read(doc, path, notes, repeat=None):
    """The haptic events of an AHAP document, their intensity scaled by its intensity
    controls. (`repeat` is for formats that loop; an AHAP plays once.)"""
    pattern = doc.get("Pattern")
    if not isinstance(pattern, list):
        raise FacewaveError('%s: "Pattern" is %s, not a list of events' % (path, _kind(pattern)))
    reader = _Reader(path, notes)
    for i, item in enumerate(pattern):
        reader.entry(item, "Pattern[%d]" % i)
    return reader.events()


_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "true or false"}


def _kind(value):
    """What a JSON value is, in JSON's words."""
    return "null" if value is None else _KINDS.get(type(value), "a number")


class _Reader:
    def __init__(self, path, notes):
        self.path = path
        self.notes = notes
        self.found = []  # Events before the intensity controls
        self.controls = []  # (start ms, order, [(ms, value)], is a step)
        self.sharp = False  # a sharpness control: every event's sharpness changes

    def fail(self, where, what):
        raise FacewaveError("%s: %s: %s" % (self.path, where, what))

    def entry(self, item, where):
        if not isinstance(item, dict):
            self.fail(where, "%s, not an object" % _kind(item))
        for key, read in (
            ("Event", self.event),
            ("Parameter", self.parameter),
            ("ParameterCurve", self.curve),
        ):
            if key in item:
                value = item[key]
                if not isinstance(value, dict):
                    self.fail(where + "." + key, "%s, not an object" % _kind(value))
                return read(value, where + "." + key)
        self.notes.left_out("unknown Pattern item", where)

    # -- the parts of an entry ---------------------------------------------------------------
    def number(self, obj, key, where, default, low, high, time=False):
        """obj[key] as a number (`default` when missing or null). A time outside low..high is
        an error; another value is clamped into it, as Core Haptics clamps it."""
        value = obj.get(key)
        if value is None:
            return default
        real = isinstance(value, (int, float)) and not isinstance(value, bool)
        if time and not (real and low <= value <= high):
            self.fail(where + "." + key, "%r is not a time from 0 to %g s" % (value, high))
        if not real or not math.isfinite(value):
            self.fail(where + "." + key, "%r is not a number" % (value,))
        if not low <= value <= high:
            self.notes.approximated(
                "out-of-range values", "clamped as Core Haptics clamps them", where + "." + key
            )
            value = min(max(value, low), high)
        return value

    def time(self, obj, where, key="Time"):
        return self.number(obj, key, where, 0, 0, MAX_S, time=True) * 1000

    def parameters(self, ev, where):
        """{ParameterID: value} of an event's EventParameters; audio ones are left out."""
        params = ev.get("EventParameters")
        if params is None:
            return {}
        if not isinstance(params, list):
            self.fail(where + ".EventParameters", "%s, not a list" % _kind(params))
        out = {}
        for i, p in enumerate(params):
            at = "%s.EventParameters[%d]" % (where, i)
            if not isinstance(p, dict) or not isinstance(p.get("ParameterID"), str):
                self.fail(at, "not an object with a ParameterID")
            pid = p["ParameterID"]
            if pid in ("HapticIntensity", "HapticSharpness") + _ENVELOPE:
                out[pid] = self.number(p, "ParameterValue", at, None, 0, 1)
            else:
                self.notes.left_out("%s parameter" % pid, at)
        return {k: v for k, v in out.items() if v is not None}

    def event(self, ev, where):
        kind = ev.get("EventType")
        if not isinstance(kind, str):
            self.fail(where + ".EventType", "%r is not an event type" % (kind,))
        if kind not in _HAPTIC:
            self.notes.left_out("%s event" % kind, where)
            return
        start = self.time(ev, where)
        params = self.parameters(ev, where)
        level = params.get("HapticIntensity", 1.0)
        if kind == "HapticTransient":
            points = [(start, level), (start + TRANSIENT_MS, level), (start + TRANSIENT_MS, 0)]
            pad = self.number(ev, "EventDuration", where, 0, 0, MAX_S, time=True) * 1000
            if pad > TRANSIENT_MS:  # "the pattern is padded out to the duration specified"
                points.append((start + pad, 0))
        else:
            length = self.number(ev, "EventDuration", where, 0, 0, MAX_S, time=True)
            if length > CONTINUOUS_MAX_S:
                self.notes.approximated(
                    "out-of-range values", "clamped as Core Haptics clamps them", where
                )
                length = CONTINUOUS_MAX_S
            if not length:
                self.notes.left_out("zero-length HapticContinuous event", where)
                return
            points = self.envelope(params, start, length * 1000, level, where)
        sharpness = params.get("HapticSharpness")
        self.found.append(Event(points, sharpness, where))

    def envelope(self, params, start, length, level, where):
        """The attack, sustain or decay, and release of a continuous event. Core Haptics takes
        AttackTime, DecayTime and ReleaseTime (0..1) as adjusters on a curve it does not
        publish; they are read here as seconds, which is what Apple's pages call them."""
        attack, decay, release = (params.get(k, 0) * 1000 for k in _ENVELOPE[:3])
        sustained = params.get("Sustained", 1) >= 0.5
        if attack or decay or release or not sustained:
            self.notes.approximated(
                "envelope",
                "AttackTime, DecayTime and ReleaseTime read as seconds (Core Haptics does not "
                "publish its curve)",
                where,
            )
        if sustained:  # attack, sustain, release: within the event's duration
            if attack + release > length:
                attack, release = (
                    attack * length / (attack + release),
                    release * length / (attack + release),
                )
            points = [(start, 0), (start + attack, level)] if attack else [(start, level)]
            points.append((start + length - release, level))
            if release:
                points.append((start + length, 0))
            return points
        # attack then decay, no sustain: it ends when the decay reaches 0, or at its duration
        decay = decay or TRANSIENT_MS
        points = [(start, 0), (start + attack, level)] if attack else [(start, level)]
        end = start + attack + decay
        if end <= start + length:
            points.append((end, 0))
        else:
            points.append((start + length, level * (end - start - length) / decay))
        return points

    def parameter(self, item, where):
        pid = item.get("ParameterID")
        at = self.time(item, where)
        if pid == "HapticIntensityControl":
            value = self.number(item, "ParameterValue", where, 1.0, 0, 1)
            self.controls.append((at, len(self.controls), [(at, value)], True))
        else:
            self.control_left_out(pid, "parameter", where)

    def curve(self, item, where):
        pid = item.get("ParameterID")
        at = self.time(item, where)
        points = item.get("ParameterCurveControlPoints")
        if not isinstance(points, list):
            self.fail(where + ".ParameterCurveControlPoints", "%s, not a list" % _kind(points))
        if pid != "HapticIntensityControl":
            self.control_left_out(pid, "curve", where)
            return
        curve = []
        for i, p in enumerate(points):
            pw = "%s.ParameterCurveControlPoints[%d]" % (where, i)
            if not isinstance(p, dict):
                self.fail(pw, "%s, not an object" % _kind(p))
            curve.append((at + self.time(p, pw), self.number(p, "ParameterValue", pw, 1.0, 0, 1)))
        if curve:
            curve.sort(key=lambda point: point[0])
            self.controls.append((at, len(self.controls), curve, False))

    def control_left_out(self, pid, what, where):
        if pid == "HapticSharpnessControl":
            self.sharp = True
        else:
            self.notes.left_out("%s %s" % (pid, what), where)

    def events(self):
        control = self.control()
        out = []
        for ev in self.found:
            if control:
                ev.points = mix.product(ev.points, control)
            if self.sharp and ev.sharpness is None:
                ev.sharpness = 0.5  # Core Haptics' own, which the control moves
            out.append(ev)
        return out

    def control(self):
        """The intensity control over time, as points (a step is two points at one time); 1.0
        before the first. Each parameter or curve takes over from the time it starts."""
        points = []
        for start, _, curve, step in sorted(self.controls):
            now = mix.value_at(points, start) if points else 1.0
            points = [p for p in points if p[0] < start]
            points.append((start, now))
            if step:
                points.append(curve[0])
            else:
                points += curve
        return points
