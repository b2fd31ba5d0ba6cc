"""Numbers from any source, as a hostile or careless person writes them: huge, NaN, infinite,
negative, zero, in digits that are not ASCII. Pattern text gets errors as file:line:col, the
command line a usage error (exit 2) that says the limit, the device a refusal code; nothing
raises a traceback, nothing hangs, nothing on the device or on disk changes."""

import contextlib
import io
import json
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_kit import board_link
from facewave.cli import main
from facewave.firmware import bytecode as bc
from facewave.firmware import frame
from facewave.firmware import messages as m
from facewave.firmware.profile import Profile
from facewave.firmware.verifier import verify
from facewave.lang import CompileError, compile_source
from facewave.link import Link, LinkError, Refused

ROUTINES = sorted((Path(__file__).parent.parent / "host" / "routines").glob("*.fw"))
# What int() and float() take or choke on and a person never means: huge, NaN, infinities,
# exponents, signs, zero, Arabic-Indic, full-width and superscript digits, underscores, spaces
HOSTILE = [
    "0",
    "-1",
    "-0",
    "4294967296",
    "4294967295",
    "65536",
    "99999999999999999999",
    "9" * 5000,
    "0." + "0" * 5000 + "1",
    "1e308",
    "1e400",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "\u0664\u0660",  # Arabic-Indic 40
    "\uff14\uff10",  # full-width 40
    "\u00b2",  # superscript two: str.isdigit() says yes, int() raises
    "1_000",
    " 5",
    "0x10",
    "1.",
    ".5",
    "",
]
UNITS = ["", "%", "ms", "s", "min", "hz"]
_POSITION = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # every number in a routine's text
_HEAD = re.compile(r"^(.*):(\d+):(\d+): \S|^(.*): \S")


def hostile_number():
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(alphabet=st.characters(categories=("N",)), min_size=1, max_size=6),
    )


def short(value):
    """A test id that stays readable for a value of 5,000 digits."""
    return value[:24] + "..." if isinstance(value, str) and len(value) > 24 else None


def assert_compiles_or_points(text, filename="hostile.fw"):
    """The compiler's whole contract with bad text: a program the verifier accepts, or errors
    each at file:line:col (line 0: the whole file), never another exception."""
    try:
        prog = compile_source(text, filename)
    except CompileError as e:
        assert e.errors
        for file, line, col, message, _ in e.errors:
            assert file == filename and message and "\n" not in message
            assert (line >= 1 and col >= 1) or (line == 0 and col == 0)
            assert _HEAD.match(str(e).splitlines()[0])
        return "refused"
    verify(prog.data, Profile())
    return "compiled"


def cli(*args):
    """main() as the console entry point runs it: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse's usage errors
            code = e.code
    return code, out.getvalue(), err.getvalue()


def assert_one_clear_line(code, err):
    """Exit 0, or 1 or 2 with one line that says why (argparse's: its usage, then the line)."""
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err
    if code:
        lines = err.strip().splitlines()
        if lines[0].startswith("usage:"):
            lines = [line for line in lines if not line.startswith(("usage:", " "))]
        assert len(lines) == 1 and lines[0].startswith("facewave"), err


# ---- pattern text -------------------------------------------------------------------------
STATEMENTS = [
    "hold {n}{u} 1s",
    "hold 40% {n}{u}",
    "off {n}{u}",
    "ramp {n}{u} -> 40% over 1s",
    "ramp 0% -> 40% over {n}{u} ease-in",
    "wave sine {n}{u}..40% period 2s for 4s",
    "wave sine 10%..40% period {n}{u} for 4s",
    "wave sine 10%..40% period 2s for {n}{u}",
    "pulse 40% on {n}{u} off 100ms x 3",
    "pulse 40% on 100ms off 100ms x {n}{u}",
    "pulse 40% on 100ms off 100ms x 3 vary {n}{u}",
    "hold 40% 1s vary {n}{u}",
    "cue double {n}{u}",
    "seed {n}{u}",
    "freq {n}{u}",
    "repeat {n}{u}\nhold 40% 100ms\nend",
    "zone chin {n}{u}\nhold 40% 1s\nend",
]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statement=st.sampled_from(STATEMENTS), n=hostile_number(), unit=st.sampled_from(UNITS))
def test_every_numeric_position_takes_any_number(statement, n, unit):
    text = 'pattern hostile "numbers"\nhold 30% 300ms\n' + statement.format(n=n, u=unit) + "\n"
    assert_compiles_or_points(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    routine=st.sampled_from(ROUTINES),
    data=st.data(),
    mutations=st.integers(min_value=1, max_value=4),
)
def test_built_in_routines_with_their_numbers_mutated(routine, data, mutations):
    text = routine.read_text()
    for _ in range(mutations):
        spots = list(_POSITION.finditer(text))
        if data.draw(st.booleans()) and spots:  # a number replaced by a hostile one
            spot = data.draw(st.sampled_from(spots))
            text = text[: spot.start()] + data.draw(hostile_number()) + text[spot.end() :]
        else:  # any character inserted, replaced or deleted
            at = data.draw(st.integers(min_value=0, max_value=len(text)))
            cut = data.draw(st.integers(min_value=0, max_value=3))
            text = text[:at] + data.draw(st.text(max_size=3)) + text[at + cut :]
    assert_compiles_or_points(text, routine.name)


@pytest.mark.parametrize(
    "statement, words",
    [
        ("hold 40% 4294967296ms", "at most 4294967295ms (1193 h 2 min)"),
        ("hold 40% " + "9" * 5000 + "ms", "at most 4294967295ms"),
        ("ramp 0% -> 40% over 71583min", "at most 4294967295ms"),
        ("zone chin 4294967296ms\nhold 40% 1s\nend", "at most 4294967295ms"),
        ("hold 40% 1." + "0" * 5000 + "1s", "not a whole number of milliseconds"),
        ("wave sine 10%..40% period 65536ms for 4s", "wave period must be at most 65.535s"),
        ("repeat 65536\nhold 40% 1s\nend", "expected a whole number 1..65535, got '65536'"),
        ("pulse 40% on 1s off 1s x 0", "expected a whole number 1..65535, got '0'"),
        ("repeat \u00b2\nhold 40% 1s\nend", "expected a whole number 1..65535"),
        ("seed \u00b2", "expected a whole number 1..65535"),
        ("repeat \u0664\nhold 40% 1s\nend", "expected a whole number 1..65535"),
        ("hold \u0664\u0660% 1s", "expected a level like 40%"),
        ("hold \uff14\uff10% 1s", "expected a level like 40%"),
        ("freq \u0664\u0660hz", "expected a motor frequency like 200hz (1..40000)"),
        ("hold 40% 1e308s", "expected a duration"),
        ("hold 40% nan", "expected a duration"),
        ("hold 40% infs", "expected a duration"),
        ("hold 40% -1s", "expected a duration"),
        ("hold 40% 0s", "duration must be more than 0"),
    ],
    ids=short,
)
def test_each_hostile_number_gets_one_error_that_says_the_limit(statement, words):
    with pytest.raises(CompileError) as e:
        compile_source('pattern p "d"\nhold 30% 300ms\n' + statement + "\n", "p.fw")
    (error,) = e.value.errors
    assert error[1] == 3 and error[2] > 1 and words in error[3], error


def test_more_instructions_than_a_program_holds_are_said_at_the_statement():
    """70,000 statements, far past 2,048 instructions (and the u16 count of the header)."""
    text = 'pattern p "d"\n' + "hold 40% 1ms\n" * 70000
    with pytest.raises(CompileError) as e:
        compile_source(text, "p.fw")
    (error,) = e.value.errors
    assert error[1:3] == (2 + bc.MAX_INSNS, 1)
    assert "over the limit of 2,048 instructions" in error[3]


def test_a_body_over_32_kb_is_said_in_those_words():
    """2,048 instructions and 245 zones of 32-character names: over 32 KB of body."""
    lines = ['pattern p "%s"' % ("d" * 250), "hold 30% 300ms"]
    for i in range(245):
        lines.append("zone %s%03d 1s" % ("z" * 29, i))
        lines += ["hold 30% 1ms"] * (6 if i < 80 else 5)
        lines.append("end")
    with pytest.raises(CompileError) as e:
        compile_source("\n".join(lines) + "\n", "p.fw")
    (error,) = e.value.errors
    assert error[1:3] == (1, 1)
    assert "over the limit of 32 KB (32,768 bytes)" in error[3]


@pytest.mark.parametrize(
    "count, length, words",
    [
        (bc.MAX_INSNS + 1, (bc.MAX_INSNS + 1) * bc.INSN_SIZE + 3, "over the limit of 2048"),
        (65535, 70000, "over the limit of 32 KB"),
    ],
)
def test_a_compiled_file_over_the_limits_is_said_in_those_words(tmp_path, count, length, words):
    body = bytes(length)
    data = struct.pack(bc.HEADER_STRUCT, bc.MAGIC, bc.VERSION, 0, count, length, bc.crc32(body))
    data += body
    path = tmp_path / "big.fwb"
    path.write_bytes(data)
    code, out, err = cli("check", path)
    assert code == 1 and words in err and "does not match" not in err
    assert err.count("\n") == 1 and path.read_bytes() == data


# ---- the command line -----------------------------------------------------------------------
def _numeric_options(tmp_path):
    """(argv before the value, argv after it) of every number an option or argument takes,
    for a port that is not there: a refused value never reaches it, a good one fails there."""
    port = str(tmp_path / "ttyACM9")
    haptic = tmp_path / "tap.ahap"
    haptic.write_text(json.dumps({"Pattern": [{"Event": {"EventType": "HapticTransient"}}]}))
    device = [(["ports", "--timeout"], [])]
    for verb in ("info", "list", "stop", "status", "log", "delete x", "play x", "upload relax"):
        device.append((verb.split() + ["--port", port, "--timeout"], []))
    device += [
        (["watch", "--port", port, "--interval"], []),
        (["watch", "--port", port, "--count"], []),
        (["set", "intensity"], ["--port", port]),
        (["set", "session"], ["--port", port]),
        (["set", "cue"], ["--port", port]),
        (["import", haptic, "-o", tmp_path / "out.fw", "--repeat"], []),
    ]
    return device


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_numeric_option_takes_any_text(tmp_path, data):
    before, after = data.draw(st.sampled_from(_numeric_options(tmp_path)))
    value = data.draw(st.one_of(hostile_number(), st.text(max_size=8)))
    code, _, err = cli(*before, value, *after)
    assert_one_clear_line(code, err)


@pytest.mark.parametrize(
    "args, words",
    [
        (["info", "--timeout", "nan"], "--timeout: expected seconds 0.1..3600, got 'nan'"),
        (["info", "--timeout", "inf"], "--timeout: expected seconds 0.1..3600, got 'inf'"),
        (["info", "--timeout", "1e308"], "--timeout: expected seconds 0.1..3600"),
        (["info", "--timeout", "0"], "--timeout: expected seconds 0.1..3600, got '0'"),
        (["info", "--timeout", "\u0664\u0660"], "--timeout: expected seconds 0.1..3600"),
        (["ports", "--probe", "--timeout", "nan"], "--timeout: expected seconds 0.1..3600"),
        (["watch", "--count", "0"], "--count: expected a whole number 1..1000000, got '0'"),
        (["watch", "--count", "-3"], "--count: expected a whole number 1..1000000, got '-3'"),
        (["watch", "--count", "\uff14"], "--count: expected a whole number 1..1000000"),
        (["watch", "--interval", "nan"], "--interval: expected seconds 0.05..3600, got 'nan'"),
        (["watch", "--interval", "inf"], "--interval: expected seconds 0.05..3600"),
        (["watch", "--interval", "0"], "--interval: expected seconds 0.05..3600, got '0'"),
        (["watch", "--interval", "1e308"], "--interval: expected seconds 0.05..3600"),
        (["sim", "--socket", "99999"], "--socket: expected a whole number 0..65535, got '99999'"),
        (["sim", "--baud", "0"], "--baud: expected a whole number 50..4000000, got '0'"),
        (["sim", "--baud", "\u00b2"], "--baud: expected a whole number 50..4000000"),
        (["import", "x.json", "-o", "x.fw", "--repeat", "0"], "--repeat: expected a whole"),
        (["import", "x.json", "-o", "x.fw", "--repeat", "65536"], "number 1..65535"),
        (["preview", "relax", "--intensity", "\u00b2"], "intensity must be a whole number 1..5"),
        (["preview", "relax", "--intensity", "9" * 5000], "intensity must be a whole number"),
        (["preview", "relax", "--session", "4294967296ms"], "session must be a duration"),
    ],
)
def test_hostile_options_are_usage_errors_that_say_the_limit(tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert_one_clear_line(code, err)
    assert words in err.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "key, value",
    [
        ("intensity", "\u00b2"),
        ("intensity", "\u0664"),
        ("intensity", "\uff14"),
        ("intensity", "9" * 5000),
        ("intensity", "nan"),
        ("intensity", "0"),
        ("session", "4294967296ms"),
        ("session", "9" * 5000 + "s"),
        ("session", "\u0664min"),
        ("cue", "inf"),
    ],
    ids=short,
)
def test_hostile_settings_are_refused_before_a_device_is_asked(tmp_path, key, value):
    code, out, err = cli("set", key, value, "--port", tmp_path / "ttyACM9")
    assert code == 2 and out == ""
    assert_one_clear_line(code, err)
    assert err.startswith("facewave: %s must be " % key)


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "1e308", "\u0664", ""])
def test_a_hostile_timeout_in_the_environment(tmp_path, monkeypatch, value):
    monkeypatch.setenv("FACEWAVE_TIMEOUT", value)
    code, _, err = cli("info", "--port", tmp_path / "ttyACM9")
    assert code == 2
    assert_one_clear_line(code, err)
    words = "no serial port" if value == "" else "FACEWAVE_TIMEOUT: expected seconds 0.1..3600"
    assert words in err


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"Pattern": [{"Event": {"EventType": "HapticTransient", "Time": 1e308}}]}, "Time"),
        ({"Pattern": [{"Event": {"EventType": "HapticTransient", "Time": -1}}]}, "Time"),
        ({"Pattern": [{"Event": {"EventType": "HapticTransient", "Time": True}}]}, "Time"),
        (
            {"Pattern": [{"Event": {"EventType": "HapticContinuous", "EventDuration": 5e9}}]},
            "EventDuration",
        ),
        (
            {
                "Pattern": [
                    {"Event": {"EventType": "HapticContinuous", "EventDuration": 1}},
                    {
                        "ParameterCurve": {
                            "ParameterID": "HapticIntensityControl",
                            "ParameterCurveControlPoints": [{"Time": 0, "ParameterValue": "loud"}],
                        }
                    },
                ]
            },
            "ParameterValue: 'loud' is not a number",
        ),
        ({"timings": [0, 4294967296], "amplitudes": [0, 255]}, "4294967296 is not whole"),
        ({"timings": [0, 1e308], "amplitudes": [0, 255]}, "1e+308 is not whole milliseconds"),
        ({"timings": [0, 100], "amplitudes": [0, 255.5]}, "amplitudes"),
        ({"timings": [0, 100], "amplitudes": [0, 255], "repeat": 1.0}, "pass --repeat N"),
        ({"timings": [0, 100], "amplitudes": [0, 255], "repeat": -7}, "not an index from -1"),
    ],
)
def test_imported_files_with_hostile_numbers(tmp_path, doc, words):
    source = tmp_path / "in.json"
    source.write_text(json.dumps(doc))
    code, out, err = cli("import", source, "-o", tmp_path / "out.fw")
    assert code == 1 and out == ""
    assert_one_clear_line(code, err)
    assert words in err and not (tmp_path / "out.fw").exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_json_s_own_non_numbers_are_refused_on_import(tmp_path, number):
    """Python's json reads NaN and Infinity (and 1e400 as infinity), which JSON has not."""
    source = tmp_path / "in.ahap"
    source.write_text(
        '{"Pattern": [{"Event": {"EventType": "HapticContinuous", "Time": 0, '
        '"EventDuration": %s}}]}' % number
    )
    code, _, err = cli("import", source, "-o", tmp_path / "out.fw")
    assert code == 1
    assert_one_clear_line(code, err)
    assert "EventDuration" in err and not (tmp_path / "out.fw").exists()


# ---- the device ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value",
    [
        ("intensity", "\u00b2"),
        ("intensity", "\u0664"),
        ("intensity", "\uff14"),
        ("intensity", "-\u00b2"),
        ("intensity", "9" * 900),
        ("session_ms", "\u00b2"),
        ("session_ms", "\u0664\u0660\u0660\u0660\u0660"),
        ("cue_ms", "-1"),
    ],
    ids=short,
)
def test_the_device_refuses_hostile_digits_with_a_code(tmp_path, key, value):
    """On CPython '²'.isdigit() is True and int('²') raises: the device must say E_SETTING,
    not go to its error state."""
    board, link = board_link(tmp_path)
    before = link.info()["settings"]
    with pytest.raises(Refused) as e:
        link.set(key, value)
    assert e.value.code == m.E_SETTING and "\n" not in str(e.value)
    assert link.status()["state"] == "idle"
    assert link.info()["settings"] == before
    assert board.level() == 0


# ---- --timeout T means T -------------------------------------------------------------------
class SilentDevice:
    """A pyserial-like port to a device that never answers (or answers the first frame, a
    HELLO, and then falls silent, as when a cable is pulled), on a virtual clock: each read
    waits its whole timeout. It keeps the time of every frame sent."""

    def __init__(self, hello=False):
        self.t = 0.0
        self.timeout = 0.5
        self.hello = hello
        self.rx = b""
        self.sent = []  # when each frame was sent
        self.gave_up = None  # when the link asked for a REPL's prompt: it had given up

    def clock(self):
        return self.t

    def write(self, data):
        if data == b"\r\x02":  # the CR and Ctrl-B that ask a REPL for its prompt
            self.gave_up = self.t
            return 1
        self.sent.append(self.t)
        if self.hello:
            self.hello = False
            dec = frame.Decoder()
            dec.feed(data)
            self.rx = frame.encode(m.ACK, dec.seq, m.pack_json({"protocol": m.PROTOCOL}))
        return len(data)

    @property
    def in_waiting(self):
        return len(self.rx)

    def read(self, n=1):
        if not self.rx:
            self.t += self.timeout or 0
        out, self.rx = self.rx[:n], self.rx[n:]
        return out

    def close(self):
        pass


@pytest.mark.parametrize("timeout", [0.3, 2, 5, 60, 600])
def test_a_silent_device_is_waited_for_exactly_the_timeout(timeout):
    port = SilentDevice()
    link = Link(port, name="silent", timeout=timeout, clock=port.clock)
    with pytest.raises(LinkError) as e:
        link.handshake()
    assert "no answer from silent" in str(e.value)
    assert port.gave_up == pytest.approx(timeout, abs=1e-3)
    waits = [b - a for a, b in zip(port.sent, port.sent[1:] + [port.gave_up])]
    assert len(waits) >= 4  # a lost frame is sent again within the timeout, three times or more
    assert all(w <= max(timeout / 15, 8.0) + 1e-9 for w in waits)  # and soon


def test_a_60_s_timeout_tolerates_60_s_of_silence():
    """It used to give up after 28 s: every wait capped at 8 s, three resends in all."""
    port = SilentDevice()
    link = Link(port, name="silent", timeout=60, clock=port.clock)
    with pytest.raises(LinkError):
        link.handshake()
    assert port.sent == pytest.approx([0, 4, 12, 20, 28, 36, 44, 52])
    assert port.gave_up == pytest.approx(60)


def test_requests_the_device_verifies_first_wait_within_the_timeout_too():
    """PLAY waits 3 s at first (a Pico verifies a large program in 2.2 s), but never past T."""
    port = SilentDevice(hello=True)
    link = Link(port, name="silent", timeout=5, clock=port.clock)
    link.handshake()
    with pytest.raises(LinkError) as e:
        link.play("x")
    assert "stopped answering" in str(e.value)
    assert port.sent == pytest.approx([0, 0, 3])  # HELLO, then PLAY and its resend
    assert port.t == pytest.approx(5)


def test_the_cli_timeout_reaches_the_link(tmp_path):
    """--timeout T on a port where nothing answers: no answer, a usage-level exit, one line."""
    from facewave.sim import serial_port

    silent = serial_port.open_port("pty")
    try:
        code, _, err = cli("info", "--port", silent.path, "--timeout", "0.3")
    finally:
        silent.close()
    assert code == 2
    assert_one_clear_line(code, err)
    assert "no answer from" in err
