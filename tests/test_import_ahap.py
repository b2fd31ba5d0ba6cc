"""`facewave import` of Apple AHAP files, hand-made from Apple's "Representing haptic patterns
in AHAP files" and the Core Haptics headers: every construct and quirk Core Haptics accepts,
what it comes out as, the one summary line per approximation, and bad input."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facewave.cli import main

# Apple's own style: a comment, trailing commas, a null where a key has no value
APPLE = """// A tap, then a buzz that fades under an intensity curve, and a sound beside them
{
  "Version": 1.0,
  "Metadata": {"Project": "Test", "Description": "hand-made"},
  "Pattern": [
    {"Event": {"Time": 0.0, "EventType": "HapticTransient",
               "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 0.8},]}},
    {"Event": {"Time": 0.2, "EventType": "HapticContinuous", "EventDuration": 1.0,
               "EventWaveformPath": null,
               "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 1.0},]}},
    {"Event": {"Time": 0.2, "EventType": "AudioCustom", "EventWaveformPath": "boing.caf"}},
    {"ParameterCurve": {"ParameterID": "HapticIntensityControl", "Time": 0.2,
                        "ParameterCurveControlPoints": [
                          {"Time": 0, "ParameterValue": 1.0},
                          {"Time": 1.0, "ParameterValue": 0.0},
                        ]}},
  ],
}
"""


def event(kind, time, duration=None, **params):
    ev = {"Time": time, "EventType": kind}
    if duration is not None:
        ev["EventDuration"] = duration
    if params:
        ev["EventParameters"] = [
            {"ParameterID": k, "ParameterValue": v} for k, v in params.items()
        ]
    return {"Event": ev}


def tap(time, intensity=1.0):
    return event("HapticTransient", time, HapticIntensity=intensity)


def buzz(time, duration, intensity=1.0, **params):
    return event("HapticContinuous", time, duration, HapticIntensity=intensity, **params)


def ahap(*items):
    return json.dumps({"Version": 1.0, "Pattern": list(items)})


def imported(tmp_path, capsys, text, *args):
    """(exit status, the pattern's lines after its first but for its comments (the summary
    again), stderr) of importing `text`."""
    src = tmp_path / "in.ahap"
    src.write_text(text)
    out = tmp_path / "in.fw"
    out.unlink(missing_ok=True)
    code = main(["import", str(src), "-o", str(out), *map(str, args)])
    _, err = capsys.readouterr()
    lines = out.read_text().splitlines()[1:] if out.exists() else None
    if lines:
        assert [line[2:] for line in lines if line.startswith("#")] == summary(err)
        lines = [line for line in lines if not line.startswith("#")]
    return code, lines, err


def checks(tmp_path, capsys, board="pico"):
    code = main(["check", str(tmp_path / "in.fw"), "--board", board])
    out, err = capsys.readouterr()
    return code == 0 and "ok" in out


def summary(err):
    """The summary lines on stderr, without the file name before them."""
    return [line.split(": ", 2)[2] for line in err.splitlines() if line.startswith("facewave: ")]


def test_apple_style_trailing_commas_comments_nulls_and_an_audio_event(tmp_path, capsys):
    code, lines, err = imported(tmp_path, capsys, APPLE)
    assert code == 0, err
    assert lines == [
        "hold 68% 30ms",  # 0.8 of the board's cap, 85%
        "off 170ms",
        "ramp 85% -> 0% over 1s",  # intensity 1.0 under a curve from 1.0 to 0.0
    ]
    assert summary(err) == ["left out: 1 AudioCustom event"]
    assert checks(tmp_path, capsys)


def test_full_scale_is_the_board_s_cap_or_max(tmp_path, capsys):
    """An intensity of 1.0 was 100 % and failed check against the 85 % cap."""
    doc = ahap(buzz(0, 0.5))
    assert imported(tmp_path, capsys, doc)[1] == ["hold 85% 500ms"]
    assert checks(tmp_path, capsys)
    assert imported(tmp_path, capsys, doc, "--max", "60%")[1] == ["hold 60% 500ms"]
    assert imported(tmp_path, capsys, doc, "--board", "esp32c3")[1] == ["hold 85% 500ms"]
    assert checks(tmp_path, capsys, "esp32c3")


@pytest.mark.parametrize("value", ["90%", "0%", "60", "sixty", "\u0666\u0660%"])
def test_a_max_the_board_cannot_play_is_a_usage_error(tmp_path, capsys, value):
    code, lines, err = imported(tmp_path, capsys, ahap(buzz(0, 0.5)), "--max", value)
    assert (code, lines) == (2, None)
    assert (
        err == "facewave: --max: expected a level 0.1%%..85%% (the cap of pico), got %r\n" % value
    )


def test_audio_events_and_parameters_are_left_out_one_line_per_kind(tmp_path, capsys):
    doc = ahap(
        buzz(0, 0.3, AudioVolume=0.5),
        event("AudioCustom", 0),
        event("AudioCustom", 0.1),
        event("AudioContinuous", 0, 0.3),
        {"Parameter": {"ParameterID": "AudioVolumeControl", "Time": 0, "ParameterValue": 1}},
    )
    code, lines, err = imported(tmp_path, capsys, doc)
    assert code == 0
    assert summary(err) == [
        "left out: 1 AudioVolume parameter",
        "left out: 2 AudioCustom events",
        "left out: 1 AudioContinuous event",
        "left out: 1 AudioVolumeControl parameter",
    ]
    assert lines[-1] == "hold 85% 300ms"


def test_strict_makes_each_approximation_an_error_and_writes_nothing(tmp_path, capsys):
    code, lines, err = imported(tmp_path, capsys, APPLE, "--strict")
    assert (code, lines) == (1, None)
    assert err.endswith("in.ahap: Pattern[2].Event: AudioCustom event: left out (--strict)\n")
    assert err.count("\n") == 1


def test_sharpness_is_ignored_on_a_board_of_fixed_frequency(tmp_path, capsys):
    sharp = {
        "ParameterCurve": {
            "ParameterID": "HapticSharpnessControl",
            "Time": 0,
            "ParameterCurveControlPoints": [{"Time": 0, "ParameterValue": -0.3}],
        }
    }
    for doc in (ahap(buzz(0, 0.5, HapticSharpness=0.9)), ahap(buzz(0, 0.5), sharp)):
        code, lines, err = imported(tmp_path, capsys, doc)
        assert code == 0 and lines[-1] == "hold 85% 500ms"
        assert summary(err) == ["sharpness ignored: this board has a fixed frequency"]
        code, _, err = imported(tmp_path, capsys, doc, "--strict")
        assert code == 1 and "sharpness ignored: this board has a fixed frequency" in err


def test_an_intensity_curve_scales_every_event_playing_then(tmp_path, capsys):
    curve = {
        "ParameterCurve": {
            "ParameterID": "HapticIntensityControl",
            "Time": 0.5,
            "ParameterCurveControlPoints": [
                {"Time": 0, "ParameterValue": 1.0},
                {"Time": 0.5, "ParameterValue": 0.5},
                {"Time": 1.5, "ParameterValue": 0.5},
            ],
        }
    }
    code, lines, err = imported(tmp_path, capsys, ahap(buzz(0, 2.0), curve, tap(1.8)))
    assert code == 0, err
    assert lines == [
        "hold 85% 500ms",
        "ramp 85% -> 42.5% over 500ms",
        "hold 42.5% 800ms",
        "hold 85% 30ms",  # the tap (0.5 under the curve) on the buzz (0.5): their sum
        "hold 42.5% 170ms",
    ]


def test_a_dynamic_parameter_steps_the_intensity_from_its_time(tmp_path, capsys):
    half = {
        "Parameter": {"ParameterID": "HapticIntensityControl", "Time": 1.0, "ParameterValue": 0.5}
    }
    code, lines, _ = imported(tmp_path, capsys, ahap(buzz(0, 2.0), half))
    assert code == 0 and lines == ["hold 85% 1s", "hold 42.5% 1s"]


def test_envelope_controls_are_left_out_and_said(tmp_path, capsys):
    attack = {
        "Parameter": {"ParameterID": "HapticAttackTimeControl", "Time": 0, "ParameterValue": 0.5}
    }
    code, _, err = imported(tmp_path, capsys, ahap(buzz(0, 1.0), attack))
    assert code == 0 and summary(err) == ["left out: 1 HapticAttackTimeControl parameter"]


def test_attack_sustain_release_and_attack_decay(tmp_path, capsys):
    code, lines, err = imported(
        tmp_path, capsys, ahap(buzz(0, 2.0, AttackTime=0.5, ReleaseTime=0.5))
    )
    assert code == 0
    assert lines == [
        "ramp 0% -> 85% over 500ms",
        "hold 85% 1s",
        "ramp 85% -> 0% over 500ms",
    ]
    assert summary(err) == [
        "envelope: AttackTime, DecayTime and ReleaseTime read as seconds (Core Haptics does "
        "not publish its curve)"
    ]
    code, lines, _ = imported(
        tmp_path, capsys, ahap(buzz(0, 2.0, AttackTime=0.2, DecayTime=0.6, Sustained=0))
    )
    assert code == 0
    assert lines == ["ramp 0% -> 85% over 200ms", "ramp 85% -> 0% over 600ms"]


def test_overlapping_events_are_summed_within_full_scale(tmp_path, capsys):
    """Two events at 0.5 at once are 1.0, as Core Haptics' mixer adds them (Apple's
    Oscillate.ahap plays two such at once); above full scale the sum is held there, said."""
    code, lines, err = imported(tmp_path, capsys, ahap(buzz(0, 1.0, 0.5), buzz(0.5, 1.0, 0.5)))
    assert code == 0 and summary(err) == []
    assert lines == ["hold 42.5% 500ms", "hold 85% 500ms", "hold 42.5% 500ms"]
    code, lines, err = imported(tmp_path, capsys, ahap(buzz(0, 1.0, 0.8), buzz(0.5, 1.0, 0.8)))
    assert lines == ["hold 68% 500ms", "hold 85% 500ms", "hold 68% 500ms"]
    assert summary(err) == [
        "overlapping events: summed as Core Haptics mixes them; above full scale for 500 ms, "
        "held there"
    ]


def test_what_repeats_becomes_a_loop_and_taps_a_pulse(tmp_path, capsys):
    taps = [tap(i * 0.2, 0.5) for i in range(50)]
    code, lines, _ = imported(tmp_path, capsys, ahap(*taps))
    assert code == 0 and lines == ["pulse 42.5% on 30ms off 170ms x 49", "hold 42.5% 30ms"]
    beat = [x for i in range(8) for x in (tap(i, 1.0), buzz(i + 0.2, 0.3, 0.4))]
    code, lines, _ = imported(tmp_path, capsys, ahap(*beat))
    assert code == 0
    assert lines == [
        "repeat 7",
        "  hold 85% 30ms",
        "  off 170ms",
        "  hold 34% 300ms",
        "  off 500ms",
        "end",
        "hold 85% 30ms",
        "off 170ms",
        "hold 34% 300ms",
    ]
    assert checks(tmp_path, capsys)


def test_a_transient_s_duration_pads_the_pattern(tmp_path, capsys):
    code, lines, _ = imported(tmp_path, capsys, ahap(event("HapticTransient", 0, 1.0)))
    assert code == 0 and lines == ["hold 85% 30ms", "off 970ms"]


def test_out_of_range_values_are_clamped_as_core_haptics_clamps_them(tmp_path, capsys):
    code, lines, err = imported(tmp_path, capsys, ahap(buzz(0, 45, 1.7)))
    assert code == 0 and lines == ["hold 85% 30s"]  # a continuous event lasts 30 s at most
    assert summary(err) == ["out-of-range values: clamped as Core Haptics clamps them"]


# ---- bad input ------------------------------------------------------------------------------
def _transient_at(time):
    return '{"Pattern": [%s, {"Event": {"EventType": "HapticTransient", "Time": %s}}]}' % (
        json.dumps(tap(0)),
        time,
    )


@pytest.mark.parametrize(
    "text, line",
    [
        (_transient_at("NaN"), "Pattern[1].Event.Time: nan is not a time from 0 to"),
        (_transient_at("Infinity"), "Pattern[1].Event.Time: inf is not a time from 0 to"),
        (_transient_at("-Infinity"), "Pattern[1].Event.Time: -inf is not a time from 0 to"),
        (_transient_at("-0.5"), "Pattern[1].Event.Time: -0.5 is not a time from 0 to"),
        (_transient_at("1e400"), "Pattern[1].Event.Time: inf is not a time"),
        (_transient_at('"soon"'), "Pattern[1].Event.Time: 'soon' is not a time"),
        (ahap(buzz(0, float("nan"))), "Pattern[0].Event.EventDuration: nan is not a time"),
        (ahap(buzz(0, 1, float("inf"))), "EventParameters[0].ParameterValue: inf is not a number"),
        (
            ahap(
                {
                    "ParameterCurve": {
                        "ParameterID": "HapticIntensityControl",
                        "Time": 0,
                        "ParameterCurveControlPoints": [{"Time": -1, "ParameterValue": 1}],
                    }
                }
            ),
            "Pattern[0].ParameterCurve.ParameterCurveControlPoints[0].Time: -1 is not a time",
        ),
        ('{"Pattern": {"Event": {}}}', '"Pattern" is an object, not a list of events'),
        ('{"Pattern": null}', '"Pattern" is null, not a list of events'),
        ('{"Pattern": [3]}', "Pattern[0]: a number, not an object"),
        ('{"Pattern": [{"Event": []}]}', "Pattern[0].Event: a list, not an object"),
        (
            '{"Pattern": [{"Event": {"EventType": "HapticTransient", "EventParameters": 1}}]}',
            "Pattern[0].Event.EventParameters: a number, not a list",
        ),
        ('{"Pattern": [{"Event": {"Time": 0}}]}', "Pattern[0].Event.EventType: None is not"),
        ('{"Pattern": []}', "nothing in it for a motor to play"),
        pytest.param(
            '{"Pattern": [' + "[" * 100_000 + "]" * 100_001 + "}",
            "nested more than 64 deep",
            id="100000-deep",
        ),
        ("[1, 2", "not JSON"),
    ],
)
def test_bad_input_is_one_line_exit_1_and_nothing_written(tmp_path, capsys, text, line):
    code, lines, err = imported(tmp_path, capsys, text)
    assert (code, lines) == (1, None)
    assert err.startswith("facewave: %s" % (tmp_path / "in.ahap")) and line in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_hundred_thousand_events(tmp_path, capsys):
    """More than a haptic file's size limit: refused at once, one line."""
    text = ahap(*[tap(i * 0.2) for i in range(100_000)])
    code, lines, err = imported(tmp_path, capsys, text)
    assert (code, lines) == (1, None)
    assert "a haptic pattern is at most" in err and err.count("\n") == 1


def test_a_file_whose_pattern_no_board_allows_is_refused_naming_the_cap(tmp_path, capsys):
    code, lines, err = imported(tmp_path, capsys, ahap(*[buzz(i * 30, 30) for i in range(25)]))
    assert (code, lines) == (1, None)
    assert "its pattern does not pass check against pico: " in err
    assert "over this device's motor-on cap of 10 min" in err and err.count("\n") == 1


# ---- any file the importer accepts checks -------------------------------------------------
_unit = st.floats(0, 1)
_param = st.sampled_from(
    ["HapticIntensity", "HapticSharpness", "AttackTime", "DecayTime", "ReleaseTime", "Sustained"]
)
_event = st.builds(
    lambda kind, t, d, params: event(kind, t, d, **params),
    st.sampled_from(["HapticTransient", "HapticContinuous", "AudioCustom"]),
    st.floats(0, 5),
    st.one_of(st.none(), st.floats(0, 3)),
    st.dictionaries(_param, st.floats(-0.5, 1.5)),
)
_curve = st.builds(
    lambda pid, t, points: {
        "ParameterCurve": {
            "ParameterID": pid,
            "Time": t,
            "ParameterCurveControlPoints": [{"Time": pt, "ParameterValue": v} for pt, v in points],
        }
    },
    st.sampled_from(["HapticIntensityControl", "HapticSharpnessControl"]),
    st.floats(0, 5),
    st.lists(st.tuples(st.floats(0, 2), _unit), max_size=6),
)
_parameter = st.builds(
    lambda t, v: {
        "Parameter": {"ParameterID": "HapticIntensityControl", "Time": t, "ParameterValue": v}
    },
    st.floats(0, 5),
    _unit,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=st.lists(st.one_of(_event, _event, _curve, _parameter), min_size=1, max_size=20),
    board=st.sampled_from(["pico", "esp32c3"]),
    top=st.one_of(st.none(), st.integers(1, 850)),
)
def test_any_file_the_importer_accepts_checks_against_its_board(
    tmp_path, capsys, items, board, top
):
    args = ["--board", board] + (["--max", "%d.%d%%" % divmod(top, 10)] if top else [])
    code, lines, err = imported(tmp_path, capsys, ahap(*items), *args)
    assert code in (0, 1) and err.count("\n") == (len(summary(err)) if code == 0 else 1), err
    if code == 0:
        assert checks(tmp_path, capsys, board)
    else:
        assert lines is None and "nothing in it for a motor to play" in err
