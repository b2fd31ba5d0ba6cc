"""Android `VibrationEffect`s written as JSON, read as Android plays them:

- a waveform, `{"timings": [ms, ...], "amplitudes": [0..255 or -1, ...], "repeat": index}`,
  the arguments of `VibrationEffect.createWaveform`: each timing plays its amplitude for that
  long, 255 is the vibrator's full scale, -1 is `DEFAULT_AMPLITUDE` (played at full scale: the
  device's intensity setting scales it, as a phone's does), 0 is off. `repeat` (default -1,
  none) is the index the waveform repeats from forever; a pattern ends, so it needs --repeat N
  turns of that part.
- the on/off form, `{"timings": [...]}` (`createWaveform(timings, repeat)`): the timings
  alternate off, on, off, ..., on at the default amplitude.
- a composition, `{"primitives": [{"primitive": "CLICK", "scale": 0..1, "delay": ms}, ...]}`,
  the calls of `VibrationEffect.startComposition().addPrimitive(...)`: each primitive starts
  `delay` ms after the previous one ends (`"delayType": "RELATIVE_START_OFFSET"`: after the
  previous one starts), at `scale` (default 1) of its own intensity. Android leaves each
  primitive's envelope and length to the phone's vibrator; PRIMITIVES is facewave's reading of
  Android's one-line description of each, and using it is said (a note).
"""

from ..lang.lexer import MAX_MS
from . import fields, formats
from .events import Event

DEFAULT_AMPLITUDE = -1
# name: (its envelope as (ms, level 0..1) points, its sharpness 0..1), from Android's words
PRIMITIVES = {
    # "No haptic effect. Used to generate extended delays between primitives."
    "NOOP": ([], None),
    # "a sharp, crisp click sensation": a tap at full scale, as long as an AHAP transient's
    "CLICK": ([(0, 1.0), (30, 1.0)], 1.0),
    # "very short ... a light crisp sensation intended to be used repetitively"
    "TICK": ([(0, 0.5), (15, 0.5)], 1.0),
    # "very short low frequency ... a light crisp sensation"
    "LOW_TICK": ([(0, 0.5), (15, 0.5)], 0.2),
    # "downwards movement with gravity ... followed by extra energy of hitting and
    # reverberation": a heavy hit that dies away
    "THUD": ([(0, 1.0), (40, 1.0), (150, 0.0)], 0.1),
    # "simulates spinning momentum": a swell and its fading
    "SPIN": ([(0, 0.3), (75, 1.0), (150, 0.3)], 0.5),
    # "quick upward movement against gravity"
    "QUICK_RISE": ([(0, 0.0), (100, 1.0)], 0.5),
    # "slow upward movement against gravity"
    "SLOW_RISE": ([(0, 0.0), (400, 1.0)], 0.3),
    # "quick downwards movement with gravity"
    "QUICK_FALL": ([(0, 1.0), (100, 0.0)], 0.5),
}
DELAY_TYPES = ("PAUSE", "RELATIVE_START_OFFSET")


def read(doc, path, notes, repeat):
    """The Events of a waveform, an on/off waveform or a composition."""
    if "timings" in doc and "primitives" in doc:
        raise fields.refuse(
            path, "", 'both "timings" (a waveform) and "primitives" (a composition): which?'
        )
    if "primitives" in doc:
        return _composition(doc["primitives"], path, notes)
    return _waveform(doc, path, repeat)


def _waveform(doc, path, repeat):
    timings = [
        fields.whole(t, path, "timings[%d]" % i, 0, MAX_MS, "whole milliseconds")
        for i, t in enumerate(fields.items(doc["timings"], path, "timings"))
    ]
    if doc.get("amplitudes") is None:  # on/off
        levels = [i % 2 and 1.0 for i in range(len(timings))]
    else:
        amplitudes = fields.items(doc["amplitudes"], path, "amplitudes")
        if len(amplitudes) != len(timings):
            raise fields.refuse(
                path,
                "amplitudes",
                "%d of them for %d timings: Android needs one for each"
                % (len(amplitudes), len(timings)),
            )
        levels = [
            _level(fields.whole(a, path, "amplitudes[%d]" % i, -1, 255, "an amplitude"))
            for i, a in enumerate(amplitudes)
        ]
    index = fields.whole(doc.get("repeat", -1), path, "repeat", -1, len(timings) - 1, "an index")
    if index < 0:
        return _segments(timings, levels, range(len(timings)), path)
    if repeat is None:
        raise fields.refuse(
            path,
            "repeat",
            "the waveform repeats forever from timings[%d]; a pattern ends: "
            "pass --repeat N (turns of that part)" % index,
        )
    head, tail = range(index), range(index, len(timings))
    if (len(head) + len(tail) * repeat) * 2 > formats.MAX_POINTS:
        raise fields.refuse(
            path,
            "repeat",
            "%d turns of %d timings: more than the %d points facewave imports"
            % (repeat, len(tail), formats.MAX_POINTS),
        )
    return _segments(timings, levels, list(head) + list(tail) * repeat, path)


def _level(amplitude):
    return 1.0 if amplitude == DEFAULT_AMPLITUDE else amplitude / 255


def _segments(timings, levels, order, path):
    """An Event for each timing played (in `order`) that is on."""
    events, now = [], 0
    for i in order:
        if timings[i] and levels[i]:
            events.append(
                Event([(now, levels[i]), (now + timings[i], levels[i])], None, "timings[%d]" % i)
            )
        now += timings[i]
        if now > MAX_MS:
            raise fields.refuse(path, "timings", "longer than a pattern can be (%d ms)" % MAX_MS)
    return events


def _composition(value, path, notes):
    events, start, end = [], 0, 0
    for i, item in enumerate(fields.items(value, path, "primitives")):
        at = "primitives[%d]" % i
        item = fields.obj(item, path, at)
        name = item.get("primitive")
        if not isinstance(name, str) or name not in PRIMITIVES:
            raise fields.refuse(
                path,
                at + ".primitive",
                "%s is not one of %s" % (fields.describe(name), ", ".join(PRIMITIVES)),
            )
        scale = fields.number(item.get("scale", 1.0), path, at + ".scale", 0, 1)
        delay = fields.whole(item.get("delay", 0), path, at + ".delay", 0, MAX_MS, "milliseconds")
        kind = item.get("delayType", "PAUSE")
        if not isinstance(kind, str) or kind not in DELAY_TYPES:
            raise fields.refuse(
                path,
                at + ".delayType",
                "%s is not one of %s" % (fields.describe(kind), ", ".join(DELAY_TYPES)),
            )
        start = (end if kind == "PAUSE" else start) + delay
        envelope, sharpness = PRIMITIVES[name]
        if envelope:
            notes.approximated(
                "composition primitives",
                "played as facewave's envelope of each (a phone plays its own)",
                at,
            )
            events.append(Event([(start + t, a * scale) for t, a in envelope], sharpness, at))
        end = start + (envelope[-1][0] if envelope else 0)
        if end > MAX_MS:
            raise fields.refuse(path, at, "ends later than a pattern can (%d ms)" % MAX_MS)
    return events
