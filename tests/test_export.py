"""`facewave export FILE --ahap OUT`: a pattern's trace as Apple AHAP, and the round trip: an
import of the export plays the same trace, within one engine step, on the same board."""

import json
from bisect import bisect_right

import pytest

from facewave.cli import main
from facewave.firmware import boards
from facewave.lang import compile_file
from facewave.library import builtin_names, builtin_path
from facewave.playback import pattern

PICO = boards.profile(boards.load("pico"))

MIXED = """pattern mixed "Every statement a trace has"
ramp 0% -> 60% over 2s ease-in
hold 1s
pulse 70% on 80ms off 120ms x 10
repeat 3
  ramp 20% -> 45% over 1.5s ease-in-out
  hold 45% 500ms
  off 250ms
end
cue double
hold 30% 300ms vary 10%
ramp -> 0% over 1s ease-out
"""


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def levels(trace):
    """The trace's level at each ms (the engine holds each sample until the next)."""
    times = [p[0] for p in trace.points]
    return [trace.points[bisect_right(times, t) - 1][1] for t in range(trace.duration)]


def assert_same_trace(a, b, step):
    """b plays a's levels: at every ms, b's level is one a has within one step of it, to 2
    permille (0.2 %: the export and the import each draw a line through samples to 1), and
    both last as long, within a step."""
    assert abs(a.duration - b.duration) <= step
    la, lb = levels(a), levels(b)
    for t in range(min(len(la), len(lb))):
        near = la[max(0, t - step) : t + step + 1]
        assert min(near) - 2 <= lb[t] <= max(near) + 2, t


@pytest.mark.parametrize("name", ["mixed", *builtin_names()])
def test_an_import_of_the_export_plays_the_same_trace(tmp_path, capsys, name):
    if name == "mixed":
        source = tmp_path / "mixed.fw"
        source.write_text(MIXED)
    else:
        source = builtin_path(name)
    code, out, err = run(capsys, "export", source, "--ahap", tmp_path / "out.ahap")
    assert (code, err) == (0, "")
    assert out.startswith("wrote %s (" % (tmp_path / "out.ahap"))
    code, _, err = run(capsys, "import", tmp_path / "out.ahap", "-o", tmp_path / "back.fw")
    assert (code, err) == (0, "")
    original = pattern(compile_file(source, PICO), PICO)
    back = pattern(compile_file(tmp_path / "back.fw", PICO), PICO)
    assert_same_trace(original, back, PICO.step_ms)


def test_the_export_is_ahap_that_core_haptics_plays(tmp_path, capsys):
    """Continuous events of at most 30 s at intensity 1.0, shaped by intensity curves of at
    most 16 control points each, times in order, values 0..1."""
    assert run(capsys, "export", "lymph", "--ahap", tmp_path / "l.ahap")[0] == 0
    doc = json.loads((tmp_path / "l.ahap").read_text())
    events = [p["Event"] for p in doc["Pattern"] if "Event" in p]
    curves = [p["ParameterCurve"] for p in doc["Pattern"] if "ParameterCurve" in p]
    assert {e["EventType"] for e in events} == {"HapticContinuous"}
    assert all(0 < e["EventDuration"] <= 30 for e in events)
    lymph = compile_file(builtin_path("lymph"), PICO)
    assert sum(e["EventDuration"] for e in events) == pytest.approx(lymph.info.duration / 1000)
    assert {c["ParameterID"] for c in curves} == {"HapticIntensityControl"}
    for c in curves:
        points = c["ParameterCurveControlPoints"]
        assert 2 <= len(points) <= 16
        times = [p["Time"] for p in points]
        assert times == sorted(times)
        assert all(0 <= p["ParameterValue"] <= 1 for p in points)
    # the strongest moment of lymph is its peak over the board's cap: full scale is the cap
    peak = max(p["ParameterValue"] for c in curves for p in c["ParameterCurveControlPoints"])
    assert peak == pytest.approx(pattern(lymph, PICO).peak / 850)


def test_dash_writes_the_ahap_to_stdout_and_the_message_to_stderr(capsys):
    code, out, err = run(capsys, "export", "lymph", "--ahap", "-")
    assert code == 0 and json.loads(out)["Version"] == 1.0
    assert err.startswith("wrote - (44 s)")


def test_a_pattern_that_does_not_check_is_not_exported(tmp_path, capsys):
    (tmp_path / "hot.fw").write_text('pattern hot "Too strong"\nhold 95% 1s\n')
    code, out, err = run(capsys, "export", tmp_path / "hot.fw", "--ahap", tmp_path / "x.ahap")
    assert code == 1 and out == "" and "above this device's cap" in err
    assert not (tmp_path / "x.ahap").exists()
