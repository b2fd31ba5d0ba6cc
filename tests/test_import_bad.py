"""Haptic files that are not what they say, as a careless or hostile person makes them: not
JSON, JSON of no haptic format, nested 100,000 deep, lists that are not lists, 100,000
events, times that are NaN, infinite or negative, a wrong type anywhere. Each is one line
naming the file and the place in it, exit status 1, never a traceback; and any document at
all gives Events that keep the Event contract or that one line (hypothesis).

Tried before this (formats.read as first laid out): a 100,000-breakpoint .haptic took 82 s
in json5 and a 100,000-timing waveform 17 s; a comment with an apostrophe (`// it's`) hid the
nesting after it from the depth check. The first draft of the readers: a primitive given as a
list raised TypeError (this file's hypothesis test found it), and json5's message for an
unexpected newline was two lines (20,000 randomly mutated files found it).
"""

import json
import math
import os
import subprocess
import sys
from importlib.util import find_spec

import json5
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facewave.errors import FacewaveError
from facewave.haptics import formats
from facewave.haptics.events import Notes

AMPLITUDE = "signals.continuous.envelopes.amplitude"
PRIMITIVES = "NOOP, CLICK, TICK, LOW_TICK, THUD, SPIN, QUICK_RISE, SLOW_RISE, QUICK_FALL"


def refused(tmp_path, name, content, repeat=None):
    """The one line formats.read gives for `content` (str or bytes) saved as `name`."""
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    with pytest.raises(FacewaveError) as e:
        formats.read(path, Notes(str(path)), repeat)
    line = str(e.value)
    assert "\n" not in line and line.startswith(str(path) + ":")
    assert e.value.code == 1
    return line[len(str(path)) :]


def haptic(amplitude):
    return json.dumps(
        {
            "version": {"major": 1},
            "signals": {"continuous": {"envelopes": {"amplitude": amplitude}}},
        }
    )


def bp(time, amplitude=0.5):
    return {"time": time, "amplitude": amplitude}


# -- not JSON, no format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("hello", ':1:1: not JSON: Unexpected "h"'),
        ('{"timings": [1, 2', ":1:18: not JSON: Unexpected end of input"),
        ('{\n  "timings": [1,, 2]}', ':2:17: not JSON: Unexpected ","'),
        (" \n", ": empty: not a haptic file"),
        (b"\xff\xfe{}", ": not text (byte 0 is not UTF-8)"),
    ],
    ids=["text", "cut", "two-commas", "empty", "binary"],
)
def test_not_json(tmp_path, content, line):
    assert refused(tmp_path, "wave.json", content) == line


@pytest.mark.parametrize("doc", ["[0, 100, 50]", '{"events": []}', '"Pattern"', "null", "17"])
def test_json_of_no_haptic_format(tmp_path, doc):
    assert refused(tmp_path, "x.json", doc) == (
        ': JSON, but no haptic format facewave reads: AHAP has a "Pattern" list, a .haptic '
        'file "signals", an Android VibrationEffect "timings" or "primitives"'
    )


def test_an_integer_of_more_digits_than_python_reads(tmp_path):
    line = refused(tmp_path, "big.json", '{"timings": [%s]}' % ("9" * 5000))
    assert line.startswith(": not JSON: ") and "4300" in line


# -- nesting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"signals": ' * 100_000 + "1" + "}" * 100_000,
        "// it's a comment with an apostrophe\n" + "[" * 100_000,
        '/* "quoted" */ {\'a\': "\\" [", b: ' + "[" * 100_000,
    ],
    ids=["lists", "objects", "after-a-line-comment", "after-strings-and-a-block-comment"],
)
def test_nested_100000_deep(tmp_path, text):
    line = 2 if text.startswith("//") else 1
    assert refused(tmp_path, "deep.haptic", text) == (
        ":%d: nested more than 64 deep: no haptic format is" % line
    )


def test_brackets_in_comments_and_strings_do_not_count(tmp_path):
    text = "// %s\n/* %s */\n{'timings': [0, 10], 'x': \"%s\"}" % ("[" * 100, "{" * 100, "[" * 100)
    path = tmp_path / "ok.json"
    path.write_text(text)
    assert formats.read(path, Notes(str(path)))[0] == "Android VibrationEffect"


# -- lists that are not lists, objects that are not objects --------------------------------------


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        ({"timings": {"0": 100}}, ": timings: an object, not a list"),
        ({"timings": "100,200"}, ': timings: "100,200", not a list'),
        ({"timings": None}, ": timings: missing or null, not a list"),
        ({"timings": [100], "amplitudes": 255}, ": amplitudes: 255, not a list"),
        ({"primitives": {"primitive": "CLICK"}}, ": primitives: an object, not a list"),
        ({"primitives": ["CLICK"]}, ': primitives[0]: "CLICK", not an object'),
        ({"signals": []}, ": signals: a list, not an object"),
        (
            {"signals": {"continuous": {}}},
            ": signals.continuous.envelopes: missing or null, not an object",
        ),
        (json.loads(haptic({"time": 0})), ": %s: an object, not a list" % AMPLITUDE),
        (json.loads(haptic([bp(0), 7])), ": %s[1]: 7, not an object" % AMPLITUDE),
        (
            json.loads(haptic([])),
            ": %s: empty: Lofelt's players refuse a clip without one" % AMPLITUDE,
        ),
    ],
)
def test_an_event_list_that_is_not_a_list(tmp_path, doc, line):
    assert refused(tmp_path, "wave.haptic", json.dumps(doc)) == line


# -- 100,000 events ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"timings": [10] * 100_000}, "timings"),
        (json.loads(haptic([bp(i / 1000) for i in range(100_000)])), AMPLITUDE),
        ({"primitives": [{"primitive": "TICK"}] * 100_000}, "primitives"),
    ],
    ids=["waveform", "haptic", "composition"],
)
def test_a_100000_event_file_is_one_line_with_the_limit(tmp_path, doc, where):
    assert refused(tmp_path, "many.haptic", json.dumps(doc)) == (
        ": %s: 100000 entries, more than the 50000 facewave imports" % where
    )


def test_a_large_file_that_is_not_strict_json_is_not_read_for_minutes(tmp_path):
    """json5 reads about 150 KB a second: a file over 256 KB is read as strict JSON only."""
    text = json.dumps({"timings": [10] * 100_000})[:-1] + ",}"
    assert refused(tmp_path, "many.json", text) == (
        ":1:400014: not JSON: Expecting property name enclosed in double quotes "
        "(JSON5's comments and trailing commas are read up to 256.0 KB)"
    )


def test_turns_of_a_long_waveform_are_held_to_the_limit_before_they_are_made(tmp_path):
    doc = {"timings": [10] * 20_000, "amplitudes": [255] * 20_000, "repeat": 0}
    assert refused(tmp_path, "loop.json", json.dumps(doc), repeat=65535) == (
        ": repeat: 65535 turns of 20000 timings: more than the 100000 points facewave imports"
    )


def test_emphases_are_held_to_the_limit_of_points(tmp_path):
    """45,000 breakpoints each with an emphasis: a dip and a peak each, past 100,000 points."""
    emphasis = {"amplitude": 1, "frequency": 1}
    doc = haptic([{**bp(i / 10), "emphasis": emphasis} for i in range(45_000)])
    line = refused(tmp_path, "taps.haptic", doc)
    assert line.endswith(" envelope points, more than the 100000 facewave imports")


# -- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("NaN", "nan"),
        ("Infinity", "inf"),
        ("-Infinity", "-inf"),
        ("-0.5", "-0.5"),
        ("1e400", "inf"),
    ],
)
def test_haptic_times_that_are_not_times(tmp_path, value, said):
    text = haptic([bp(0), bp(0.1), bp(0.2), {"time": 9, "amplitude": 0.5}]).replace("9", value)
    assert refused(tmp_path, "wave.haptic", text) == (
        ": %s[3].time: %s is not a time in seconds from 0 to 4294967.295" % (AMPLITUDE, said)
    )


def test_haptic_times_out_of_order(tmp_path):
    assert refused(tmp_path, "wave.haptic", haptic([bp(0), bp(0.5), bp(0.2)])) == (
        ": %s[2].time: 0.2 s is before the breakpoint before it" % AMPLITUDE
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [("NaN", "nan"), ("Infinity", "inf"), ("-5", "-5"), ("1.5", "1.5"), ("true", "true")],
)
def test_android_timings_that_are_not_times(tmp_path, value, said):
    assert refused(tmp_path, "wave.json", '{"timings": [0, 100, %s]}' % value) == (
        ": timings[2]: %s is not whole milliseconds from 0 to 4294967295" % said
    )


def test_android_timings_past_what_a_pattern_holds(tmp_path):
    doc = {"timings": [4_000_000_000, 4_000_000_000], "amplitudes": [255, 255]}
    assert refused(tmp_path, "wave.json", json.dumps(doc)) == (
        ": timings: longer than a pattern can be (4294967295 ms)"
    )


def test_a_negative_delay(tmp_path):
    doc = {"primitives": [{"primitive": "CLICK", "delay": -10}]}
    assert refused(tmp_path, "c.json", json.dumps(doc)) == (
        ": primitives[0].delay: -10 is not milliseconds from 0 to 4294967295"
    )


# -- wrong types and values anywhere -------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        (
            {"timings": [10, 20], "amplitudes": [255]},
            ": amplitudes: 1 of them for 2 timings: Android needs one for each",
        ),
        (
            {"timings": [10], "amplitudes": [256]},
            ": amplitudes[0]: 256 is not an amplitude from -1 to 255",
        ),
        (
            {"timings": [10], "amplitudes": ["max"]},
            ': amplitudes[0]: "max" is not an amplitude from -1 to 255',
        ),
        (
            {"timings": [10], "amplitudes": [-2]},
            ": amplitudes[0]: -2 is not an amplitude from -1 to 255",
        ),
        ({"timings": [10, 10], "repeat": 2}, ": repeat: 2 is not an index from -1 to 1"),
        ({"timings": [10], "repeat": "0"}, ': repeat: "0" is not an index from -1 to 0'),
        (
            {"timings": [10], "primitives": []},
            ': both "timings" (a waveform) and "primitives" (a composition): which?',
        ),
        (
            {"primitives": [{"primitive": "BUZZ"}]},
            ': primitives[0].primitive: "BUZZ" is not one of ' + PRIMITIVES,
        ),
        (
            {"primitives": [{"primitive": 1}]},
            ": primitives[0].primitive: 1 is not one of " + PRIMITIVES,
        ),
        (
            {"primitives": [{"primitive": "CLICK", "scale": 1.5}]},
            ": primitives[0].scale: 1.5 is not a number from 0 to 1",
        ),
        (
            {"primitives": [{"primitive": "CLICK", "delayType": "LATER"}]},
            ': primitives[0].delayType: "LATER" is not one of PAUSE, RELATIVE_START_OFFSET',
        ),
        (
            json.loads(haptic([bp(0, "loud")])),
            ': %s[0].amplitude: "loud" is not a number from 0 to 1' % AMPLITUDE,
        ),
        (
            json.loads(haptic([bp(0, 1.01)])),
            ": %s[0].amplitude: 1.01 is not a number from 0 to 1" % AMPLITUDE,
        ),
        (
            json.loads(haptic([{**bp(0), "emphasis": "x"}])),
            ': %s[0].emphasis: "x", not an object' % AMPLITUDE,
        ),
        (
            json.loads(haptic([{**bp(0), "emphasis": {"amplitude": 1}}])),
            ": %s[0].emphasis.frequency: missing or null is not a number from 0 to 1" % AMPLITUDE,
        ),
        ({"version": {"major": 2}, "signals": {}}, ": version.major: 2: facewave reads version 1"),
        (
            {"version": {"major": "1"}, "signals": {}},
            ': version.major: "1" is not a whole number from 0 to 2147483648',
        ),
        (
            {
                "signals": {
                    "continuous": {
                        "envelopes": {
                            "amplitude": [bp(0), bp(1)],
                            "frequency": [{"time": 0, "frequency": True}],
                        }
                    }
                }
            },
            ": signals.continuous.envelopes.frequency[0].frequency: true is not a number from 0 "
            "to 1",
        ),
        ({"timings": [0, 0], "amplitudes": [255, 255]}, ": nothing in it for a motor to play"),
    ],
)
def test_wrong_types_and_values_are_named_where_they_are(tmp_path, doc, line):
    assert refused(tmp_path, "wave.haptic", json.dumps(doc)) == line


# -- any document at all -------------------------------------------------------------------------

KEYS = ["signals", "continuous", "envelopes", "amplitude", "frequency", "time", "emphasis"]
KEYS += ["version", "major", "timings", "amplitudes", "repeat", "primitives", "primitive"]
KEYS += ["scale", "delay", "delayType"]
if find_spec("facewave.haptics.ahap"):  # the AHAP reader, where it is in the tree
    KEYS += ["Pattern", "Event", "EventType", "Time", "EventDuration", "EventParameters"]
NAMES = st.sampled_from(["CLICK", "THUD", "NOOP", "RELATIVE_START_OFFSET", "PAUSE", "x"])
NUMBERS = (
    st.integers(-300, 300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(0, 1)
    | st.sampled_from([-1, 0, 255, 1e308, 2**53])
)
SCALARS = st.none() | st.booleans() | NUMBERS | NAMES | st.text(max_size=3)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=2), inner, max_size=5)
    ),
    max_leaves=40,
)
BREAKPOINT = st.fixed_dictionaries(
    {"time": st.floats(0, 2) | VALUES, "amplitude": st.floats(0, 1) | VALUES},
    optional={
        "emphasis": st.fixed_dictionaries(
            {"amplitude": st.floats(0, 1), "frequency": st.floats(0, 1)}
        )
        | VALUES
    },
)
HAPTIC = st.builds(
    lambda amp, freq: {"signals": {"continuous": {"envelopes": {"amplitude": amp, **freq}}}},
    st.lists(BREAKPOINT, max_size=8).map(lambda ps: sorted(ps, key=lambda p: str(p["time"]))),
    st.dictionaries(
        st.just("frequency"),
        st.lists(
            st.fixed_dictionaries(
                {"time": st.floats(0, 2), "frequency": st.floats(0, 1) | VALUES}
            ),
            max_size=4,
        ),
    ),
)
WAVEFORM = st.integers(0, 8).flatmap(
    lambda n: st.fixed_dictionaries(
        {"timings": st.lists(st.integers(0, 500) | VALUES, min_size=n, max_size=n)},
        optional={
            "amplitudes": st.lists(st.integers(-1, 255) | VALUES, min_size=n, max_size=n),
            "repeat": st.integers(-1, n),
        },
    )
)
COMPOSITION = st.fixed_dictionaries(
    {
        "primitives": st.lists(
            st.fixed_dictionaries(
                {
                    "primitive": st.sampled_from(
                        [
                            "CLICK",
                            "TICK",
                            "LOW_TICK",
                            "THUD",
                            "SPIN",
                            "QUICK_RISE",
                            "SLOW_RISE",
                            "QUICK_FALL",
                            "NOOP",
                        ]
                    )
                    | VALUES
                },
                optional={
                    "scale": st.floats(0, 1) | VALUES,
                    "delay": st.integers(0, 1000) | VALUES,
                    "delayType": NAMES,
                },
            ),
            max_size=6,
        )
    }
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    doc=HAPTIC | WAVEFORM | COMPOSITION | VALUES,
    repeat=st.none() | st.integers(1, 65535),
    name=st.sampled_from(["x.haptic", "x.json", "x.ahap", "x"]),
    strict=st.booleans(),
    by_hand=st.booleans(),
)
def test_any_document_gives_events_that_keep_the_contract_or_one_line(
    tmp_path_factory, doc, repeat, name, strict, by_hand
):
    """Written as strict JSON, or as JSON5 as a hand writes it (a comment with a quote in it,
    bare keys, trailing commas)."""
    path = tmp_path_factory.mktemp("any") / name
    if by_hand:
        text = "// it's [a] {test}\n" + json5.dumps(doc, trailing_commas=True, quote_keys=False)
    else:
        text = json.dumps(doc)
    path.write_text(text)
    try:
        kind, events = formats.read(path, Notes(str(path), strict), repeat)
    except FacewaveError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path) + ":")
        assert e.code == 1
        return
    assert events and sum(len(e.points) for e in events) <= formats.MAX_POINTS
    for event in events:
        assert len(event.points) >= 2
        times = [t for t, _ in event.points]
        assert times == sorted(times) and times[0] >= 0 and math.isfinite(times[-1])
        assert all(0 <= a <= 1 for _, a in event.points)
        assert event.sharpness is None or 0 <= event.sharpness <= 1
        assert event.where


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        (
            "deep.haptic",
            "[" * 100_000,
            "deep.haptic:1: nested more than 64 deep: no haptic format is",
        ),
        (
            "wave.haptic",
            haptic([bp(0), bp("NaN")]).replace('"NaN"', "NaN"),
            "wave.haptic: %s[1].time: nan is not a time in seconds from 0 to 4294967.295"
            % AMPLITUDE,
        ),
    ],
    ids=["deep", "nan"],
)
def test_the_command_line_says_one_line_and_writes_nothing(tmp_path, name, text, line):
    (tmp_path / name).write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "facewave.cli", "import", name, "-o", "x.fw"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        timeout=120,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", "facewave: %s\n" % line)
    assert sorted(os.listdir(tmp_path)) == [name]
