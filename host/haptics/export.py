"""A pattern written as AHAP, so that a routine can be felt on an iPhone's Taptic Engine
through any AHAP player, and imported back as the same trace.

What is written is the engine's trace (playback.pattern: the levels the pattern asks, step by
step), not the statements, so loops, waves and pulses come out as they play. It is a run of
HapticContinuous events at intensity 1.0, each at most Core Haptics' 30 s, shaped by
HapticIntensityControl curves: a straight run of samples is one line, a step two control
points 0.1 ms apart. Intensity is relative to the board's full scale (importers.full_scale),
so an import against the same board gives back the same levels.
"""

import json

from .ahap import CONTINUOUS_MAX_S

_EDGE_S = 0.0001  # a step: the old level until 0.1 ms before, the new one from then
_CURVE_POINTS = 16  # control points in one curve (Core Haptics' limit)


def ahap(program, profile, top):
    """The AHAP text (bytes) of a program's trace against `profile`, full scale at `top`."""
    from ..playback import pattern

    trace = pattern(program, profile)
    corners = _corners(trace.points, trace.duration, profile.step_ms)
    events, curves = [], []
    span = CONTINUOUS_MAX_S * 1000
    for start in range(0, trace.duration, span):
        length = min(span, trace.duration - start)
        events.append(
            {
                "Event": {
                    "Time": start / 1000,
                    "EventType": "HapticContinuous",
                    "EventDuration": length / 1000,
                    "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 1.0}],
                }
            }
        )
    for i in range(0, len(corners), _CURVE_POINTS - 1):
        chunk = corners[i : i + _CURVE_POINTS]
        t0 = chunk[0][0]
        curves.append(
            {
                "ParameterCurve": {
                    "ParameterID": "HapticIntensityControl",
                    "Time": round(t0, 4),
                    "ParameterCurveControlPoints": [
                        {"Time": round(t - t0, 4), "ParameterValue": round(lv / top, 6)}
                        for t, lv in chunk
                    ],
                }
            }
        )
    doc = {
        "Version": 1.0,
        "Metadata": {"Project": "facewave", "Description": "%s, as it plays" % program.name},
        "Pattern": events + curves,
    }
    return (json.dumps(doc, indent=1) + "\n").encode()


def _corners(points, end, step):
    """(s, level) corners of the trace's step curve, linear between them: a straight run of
    samples one step apart is its two ends, a step of level two points _EDGE_S apart."""
    changes = []
    for t, lv in points:
        if not changes or changes[-1][1] != lv:
            changes.append((t, lv))
    out = []
    i = 0
    while i < len(changes):
        j = _run(changes, i, step)
        (t0, v0), (t1, v1) = changes[i], changes[j]
        out.append((t0 / 1000, v0))
        if j > i:
            out.append((t1 / 1000, v1))
        i = j + 1
        until = changes[i][0] / 1000 - _EDGE_S if i < len(changes) else end / 1000
        if until > out[-1][0]:
            out.append((until, v1))
    return out


def _run(changes, i, step):
    """The last change of the straight run from change i: samples one step apart on one line
    to 1 permille (the slopes the line may have narrow with each sample it passes)."""
    t0, v0 = changes[i]
    lo, hi = float("-inf"), float("inf")
    j = i
    while j + 1 < len(changes) and changes[j + 1][0] - changes[j][0] == step:
        t, v = changes[j + 1]
        slope = (v - v0) / (t - t0)
        if not lo <= slope <= hi:
            break
        lo = max(lo, (v - 1 - v0) / (t - t0))
        hi = min(hi, (v + 1 - v0) / (t - t0))
        j += 1
    return j
