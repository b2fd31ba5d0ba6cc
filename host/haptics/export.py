"""A pattern written as AHAP, so that a routine can be felt on an iPhone's Taptic Engine
through any AHAP player, and imported back as the same trace.

What is written is the engine's trace (playback.pattern: the levels the pattern asks, step by
step), not the statements, so loops, waves and pulses come out as they play. It is a run of
HapticContinuous events at intensity 1.0, each at most Core Haptics' 30 s, shaped by
HapticIntensityControl curves: a ramp's or a wave's samples a line through them (a straight
run one line), a step two control points 0.1 ms apart. Intensity is relative to the board's
full scale (importers.full_scale), so an import against the same board gives back the same
levels.
"""

import json

from .ahap import CONTINUOUS_MAX_S

_EDGE_S = 0.0001  # a step: the old level until 0.1 ms before, the new one from then
_CURVE_POINTS = 16  # control points in one curve (Core Haptics' limit)


def ahap(program, profile, top):
    """The AHAP text (bytes) of a program's trace against `profile`, full scale at `top`."""
    from ..playback import pattern

    trace = pattern(program, profile)
    corners = _corners(trace.points, trace.duration, profile)
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


def _corners(points, end, profile):
    """(s, level) corners of the trace's step curve, linear between them: samples one step
    apart that change by no more than the slew allows in a step are a line through them (a
    straight run of them its two ends), any other change a step, two points _EDGE_S apart."""
    step, most = profile.step_ms, profile.slew * profile.step_ms // 1000
    changes = points  # every sample of a ramp or wave, one of a hold
    out = [(changes[0][0] / 1000, changes[0][1])]
    i = 0
    while i + 1 < len(changes):
        (t0, v0), (t1, v1) = changes[i], changes[i + 1]
        if t1 - t0 == step and abs(v1 - v0) <= most:
            i = _run(changes, i, step, most)
        else:
            if v1 != v0:
                out.append((t1 / 1000 - _EDGE_S, v0))
            i += 1
        out.append((changes[i][0] / 1000, changes[i][1]))
    if end > changes[-1][0]:
        out.append((end / 1000, changes[-1][1]))
    return out


def _run(changes, i, step, most):
    """The last change of the straight run from change i: samples one step apart, each at
    most `most` from the one before, on one line to 1 permille (the slopes the line may have
    narrow with each sample it passes)."""
    t0, v0 = changes[i]
    lo, hi = float("-inf"), float("inf")
    j = i
    while (
        j + 1 < len(changes)
        and changes[j + 1][0] - changes[j][0] == step
        and abs(changes[j + 1][1] - changes[j][1]) <= most
    ):
        t, v = changes[j + 1]
        slope = (v - v0) / (t - t0)
        if not lo <= slope <= hi:
            break
        lo = max(lo, (v - 1 - v0) / (t - t0))
        hi = min(hi, (v + 1 - v0) / (t - t0))
        j += 1
    return j
