"""Hostile scenario files for `facewave sim run FILE`: whatever a file says, the answer is exit 0
(or 1: an expectation that does not hold), or exit 2 with one line that starts `FILE:LINE:`;
never a traceback, and nothing left in the temporary folder.

Valid TOML with a hostile value in every key the format knows (and some it does not), and the
built-in scenarios with one line replaced, dropped or repeated. Before issue 15's fixes, 400
generated files (these strategies) gave 3 tracebacks and 30 usage errors without a line, and
one valid `until` of 10^20 minutes ran for ever; of the explicit cases below, 2 were tracebacks
(ValueError from `power-cut-at-write x`, OverflowError from `1e308V`), 5 ran although they are
wrong (`power-cut-at-write 0`, `-1`, `٣`, `exception engine.Engine`, `power-cut extra`), 3 were
refused only at run time, without a line (`exception os.system`), and 14 had no line or took a
value of the wrong type. After: none of either.
"""

import contextlib
import io
import json
import math
import re
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facewave.cli import main
from facewave.scenarios import spec

_UNTIL = "20s"  # every scenario that runs stays this short: the suite stays fast


def _toml(value):
    """A value as TOML writes it (floats: nan, inf; strings: JSON's escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[%s]" % ", ".join(_toml(v) for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s = %s" % (k, _toml(v)) for k, v in value.items())
    return value  # already TOML: a date


_WORDS = [
    "",
    " ",
    "-1",
    "0",
    "5",
    "nan",
    "inf",
    "1e308s",
    "-5s",
    "0ms",
    "5ms",
    "1.5s",
    "25h",
    "4294967296ms",
    "99999999999999999999min",
    "٤٠%",
    "\uff14\uff10%",  # full-width digits
    "40%",
    "150%",
    "hold",
    "hold -1s",
    "hold 0s",
    "hold 1e400s",
    "short",
    "power-cut",
    "power-cut-at-write",
    "power-cut-at-write -1",
    "power-cut-at-write 0",
    "power-cut-at-write x",
    "power-cut-at-write 1e3",
    "power-cut-at-write ٣",
    "power-cut-at-write 99999999999999999999",
    "exception",
    "exception nosuch.thing",
    "exception engine",
    "exception engine.Engine",
    "exception engine.VERSION",
    "exception engine.Engine.step.x",
    "exception .",
    "exception ..x",
    "exception os.system",
    "exception engine.Engine.__class__",
    "exception store.os.remove",
    "3.6V",
    "nanV",
    "infV",
    "-1V",
    "1e308V",
    "\\x00\\xff",
    "play",
    "play ../../x",
    "play relax",
    "upload ../nosuch.fw",
    "set session 0",
    "set intensity ²",
    "'",
    '"',
    "a" * 300,
    "idle",
    "error",
    "refused",
]
_VALUES = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from([0, -1, 1, 7, 2**63 - 1, -(2**63), 10**6]),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5]),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from([[], [1], ["relax"], ["nosuch"], [[]], ["../../x.fw"], ["relax", 3]]),
    st.sampled_from(
        [
            {},
            {"drop": 2},
            {"drop": "x"},
            {"flip": math.nan},
            {"delay": -1},
            {"delay": "1e308s"},
            {"delay": "5ms", "dup": 0.5},
            {"other": 1},
        ]
    ),
    st.just("1979-05-27T07:32:00Z"),  # a TOML date
)
_TOP = ["name", "board", "patterns", "until", "start_tick", "tempo"]
_EVENTS = ["press", "battery", "charger", "command", "serial", "link", "fault", "colour"]
_EXPECT = ["motor", "cue", "max_level", "event", "state", "by", "until", "at", "tolerance", "x"]
_TIMES = st.sampled_from(["1s", "2s", "500ms", "5s"])


@st.composite
def hostile_files(draw):
    """A TOML scenario, each of its keys drawn with a hostile value now and then."""
    lines = []
    for key in draw(st.lists(st.sampled_from(_TOP), unique=True, max_size=3)):
        if key != "until":
            lines.append("%s = %s" % (key, _toml(draw(_VALUES))))
    lines.append(
        'until = "%s"' % _UNTIL if draw(st.booleans()) else "until = %s" % _toml(draw(_VALUES))
    )
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[at]]")
        time = draw(st.one_of(_TIMES, _VALUES)) if draw(st.booleans()) else draw(_TIMES)
        lines.append("time = %s" % _toml(time))
        kind = draw(st.sampled_from(_EVENTS))
        lines.append("%s = %s" % (kind, _toml(draw(_VALUES))))
        if kind == "command" and draw(st.booleans()):
            lines.append("expect = %s" % _toml(draw(st.one_of(st.just("refused"), _VALUES))))
            if draw(st.booleans()):
                lines.append("reason = %s" % _toml(draw(_VALUES)))
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[expect]]")
        keys = [draw(st.sampled_from(_EXPECT[:5]))]
        keys += draw(st.lists(st.sampled_from(_EXPECT[5:]), unique=True, max_size=2))
        for key in keys:
            value = draw(st.one_of(_TIMES, _VALUES)) if key in _EXPECT[5:] else draw(_VALUES)
            lines.append("%s = %s" % (key, _toml(value)))
    return "\n".join(lines) + "\n"


@st.composite
def mutated_builtins(draw):
    """A built-in scenario with one value replaced by a hostile one, or a line dropped or
    repeated."""
    path = draw(st.sampled_from(spec.builtin()))
    lines = path.read_text().splitlines()
    i = draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(["value", "drop", "repeat"]))
    if how == "value" and " = " in lines[i]:
        key = lines[i].split(" = ")[0]
        value = draw(_VALUES)
        if key in ("time", "until") and isinstance(value, str) and value.endswith(("h", "min")):
            value = "1s"  # a valid long time runs long: the limits are tried in their own test
        lines[i] = "%s = %s" % (key, _toml(value))
    elif how == "drop":
        del lines[i]
    else:
        lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


def _sim_run(path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sim", "run", str(path)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A scenario's folder, and an empty temporary folder that must stay empty."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return tmp_path


def _judged(folder, text):
    """Run the scenario `text`; assert the answer is one of the allowed ones."""
    path = folder / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    code, _, err = _sim_run(path)
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        count = len(text.splitlines()) or 1
        m = re.match(r"facewave: %s:(\d+)(:\d+)?: \S" % re.escape(str(path)), err)
        assert m, err
        assert 1 <= int(m.group(1)) <= count, err
        assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert list((folder / "temp").iterdir()) == []
    return code, err


_FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FUZZ
@given(text=hostile_files())
def test_a_hostile_scenario_file_runs_or_is_refused_at_its_line(folder, text):
    _judged(folder, text)


@_FUZZ
@given(text=mutated_builtins())
def test_a_mutated_built_in_scenario_runs_or_is_refused_at_its_line(folder, text):
    _judged(folder, text)


_HEAD = 'until = "10s"\n\n[[at]]\ntime = "1s"\n'


@pytest.mark.parametrize(
    "line, message",
    [
        ('fault = "power-cut-at-write x"', "power-cut-at-write x: the count of flash writes"),
        ('fault = "power-cut-at-write -1"', "power-cut-at-write -1: the count of flash writes"),
        ('fault = "power-cut-at-write 0"', "power-cut-at-write 0: the count of flash writes"),
        ('fault = "power-cut-at-write ٣"', "power-cut-at-write ٣: the count of flash writes"),
        ('fault = "exception engine"', "exception engine: not a firmware function"),
        ('fault = "exception os.system"', "exception os.system: not a firmware function"),
        ('fault = "exception engine.VERSION"', "exception engine.VERSION: not a firmware"),
        ('fault = "exception store.os.remove"', "exception store.os.remove: not a firmware"),
        ('fault = "exception engine.Engine"', "exception engine.Engine: not a firmware"),
        ("fault = 3", "unknown fault '3'"),
        ('fault = "power-cut extra"', "fault power-cut takes no argument"),
        ("press = 5", "press must be short, long, double"),
        ('press = "hold 1e400s"', "press hold: "),
        ("battery = nan", "battery must be 0..6000 mV"),
        ('battery = "nanV"', "battery voltage 'nanV'"),
        ('battery = "1e308V"', "battery voltage '1e308V'"),
        ("serial = 7", "serial must be a string"),
        ('link = {delay = "1e308s"}', "link delay: "),
        ("command = 3", "command must be a string"),
        ('time = "1441min"\npress = "short"', "time: 1441min is past the longest scenario"),
        ('serial = "\\\\x0"', "serial: truncated \\xXX escape"),
        ('serial = "\\\\u0100"', "serial: ordinal not in range(256)"),
        ("battery = true", "battery must be 0..6000 mV"),
        ('colour = "red"', "unknown event 'colour'"),
    ],
)
def test_each_malformed_event_value_is_one_line_at_its_table(folder, line, message):
    text = _HEAD.replace('time = "1s"\n', "") if line.startswith("time") else _HEAD
    code, err = _judged(folder, text + line + "\n")
    assert code == 2
    assert err.startswith("facewave: %s:3: %s" % (folder / "hostile.toml", message)), err


@pytest.mark.parametrize(
    "text, line, message",
    [
        ('tempo = 3\nuntil = "10s"\n', 1, "unknown setting 'tempo'"),
        ('until = "10s"\npatterns = "relax"\n', 2, "patterns must be a list"),
        ('until = "10s"\npatterns = [3]\n', 2, "patterns must be a list"),
        ("until = 1e308\n", 1, "until = 1e+308 has no unit"),
        ('until = "1441min"\n', 1, "until: 1441min is past the longest scenario, 24 h"),
        ('until = "%s0s"\n' % ("9" * 5000), 1, "until: '99999"),
        ('until = "10s"\npatterns = ["../../nosuch.fw"]\n', 2, "pattern "),
        ('until = "10s"\n[tempo]\nx = 1\n', 2, "unknown setting 'tempo'"),
        ('until = "1s"\n\n[[at]]\ntime = "2s"\npress = "short"\n', 1, "until (1000 ms) is"),
        ('until = "10s"\nstart_tick = -1\n', 2, "start_tick must be 0..2**30-1"),
        ('until = "10s"\nstart_tick = "0"\n', 2, "start_tick must be 0..2**30-1"),
        ('until = "10s"\nboard = "nosuch"\n', 2, "unknown board"),
        ('until = "10s"\nname = 1979-05-27T07:32:00Z\n', 2, "name must be a string"),
        ('until = "10s"\nat = 3\n', 2, "at must be written as [[at]] tables"),
        ('until = "10s"\nat = [{time = "1s", press = 5}]\n', 2, "press must be short"),
        ('until = "10s"\n\n[[expect]]\nmotor = 40\nby = "1s"\n', 3, "motor must be a string"),
        ('until = "10s"\n\n[[expect]]\ncue = "1s"\ntolerance = nan\n', 3, "tolerance must be"),
        ('until = "10s"\n\n[[expect]]\nstate = 3\nat = "1s"\n', 3, "state must be"),
        ('until = "10s"\n\n[[expect]]\nevent = []\n', 3, "event must be"),
    ],
)
def test_each_malformed_setting_is_one_line_at_its_line(folder, text, line, message):
    code, err = _judged(folder, text)
    assert code == 2
    assert err.startswith("facewave: %s:%d: %s" % (folder / "hostile.toml", line, message)), err


def test_a_scenario_file_that_is_not_a_regular_file_is_refused(folder):
    """A FIFO would block the read for ever; a folder has no text."""
    import os

    os.mkfifo(folder / "pipe.toml")
    (folder / "dir.toml").mkdir()
    for name, kind in (("pipe.toml", "a FIFO (named pipe)"), ("dir.toml", "a folder")):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["sim", "run", str(folder / name)])
        assert code == 2
        assert err.getvalue() == "facewave: %s: %s, not a scenario file\n" % (
            folder / name,
            kind,
        )
    assert list((folder / "temp").iterdir()) == []
