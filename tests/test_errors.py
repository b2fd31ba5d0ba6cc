"""Errors that teach and warnings: each fault said once, at its line and column, in the units a
person writes, with what would pass; warnings that leave the exit status alone."""

import bisect
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facewave.firmware import bytecode as bc
from facewave.firmware.profile import Profile
from facewave.lang import CompileError, compile_file, compile_source
from facewave.lang.lexer import Token, duration, written
from facewave.library import builtin_names, builtin_path
from facewave.playback import pattern as play
from facewave.programs import board_profile


def src(*lines):
    return "\n".join(('pattern t "test"',) + lines) + "\n"


def errors(text, **kw):
    """(line, col, message) of every error of a compile that must fail."""
    with pytest.raises(CompileError) as exc:
        compile_source(text, "t.fw", **kw)
    return [(line, col, msg) for _, line, col, msg, _ in exc.value.errors]


def run(*args, cwd=None):
    """The real `facewave` in a subprocess: (exit status, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "facewave.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    return proc.returncode, proc.stdout, proc.stderr


# ---- one error per fault, where it is, saying how to write it ------------------------------


@pytest.mark.parametrize(
    "lines,expected",
    [
        (["hold 30 2s"], [(2, 6, "30 needs a unit: a level is 30%")]),
        (["hold 30% 5 sec"], [(2, 10, "write 5s (units: ms, s, min)")]),
        (["hold 30% 5 s"], [(2, 10, "write 5s (units: ms, s, min)")]),
        (["hold 30% 5sec"], [(2, 10, "write 5s (units: ms, s, min)")]),
        (["hold 30% 250 MS"], [(2, 10, "write 250ms (units: ms, s, min)")]),
        (["hold 30% 2h"], [(2, 10, "unknown unit 'h' (units: ms, s, min)")]),
        (["hold 30% 5"], [(2, 10, "5 needs a unit: write 5ms, 5s or 5min")]),
        (["hold 30 %"], [(2, 6, "write 30% (no space before %)")]),
        (["pulse 50 on 1s off 1s"], [(2, 7, "50 needs a unit: a level is 50%")]),
        (["hold 30.05% 2s"], [(2, 6, "levels go in steps of 0.1%: write 30% or 30.1%")]),
        (["hold 12.25% 2s"], [(2, 6, "levels go in steps of 0.1%: write 12.2% or 12.3%")]),
        (
            ["zone cheeks", "  hold 30% 2s", "end", "zone neck 10s", "  hold 20% 2s", "end"],
            [(2, 13, "'zone' needs a length: write `zone cheeks 45s`")],
        ),
        (
            ["zone forehead 45", "  hold 30% 2s", "end"],
            [(2, 15, "45 needs a unit: write 45ms, 45s or 45min")],
        ),
        (
            ["repeat x", "  hold 10% 1s", "end", "off 1s"],
            [(2, 8, "expected a whole number 1..65535, got 'x'")],
        ),
        (
            ["repeat 2", "  zone a 10s", "    hold 10% 1s", "  end", "end"],
            [(3, 3, "a zone must be at the top level of a pattern file, not inside 'repeat'")],
        ),
        (["repeat 2", "  hold 10% 1s", "end 2"], [(4, 5, "unexpected '2'")]),
        (["hodl 30% 2s"], [(2, 1, "unknown statement 'hodl': did you mean 'hold'?")]),
        (
            ["rpeat 3", "  hold 30% 2s", "end"],
            [(2, 1, "unknown statement 'rpeat': did you mean 'repeat'?")],
        ),
        (
            ["repeat 3", "  hold 30% 2s", "endd"],
            [(4, 1, "unknown statement 'endd': did you mean 'end'?")],
        ),
        (
            ["ramp 0% -> 50% over 1s eas-in"],
            [(2, 24, "unknown easing 'eas-in': did you mean 'ease-in'?")],
        ),
        (["hold 30% 2s vray 5%"], [(2, 13, "unexpected 'vray': did you mean 'vary'?")]),
        (
            ["wave sin 10%..20% period 1s for 2s"],
            [(2, 6, "unknown wave shape 'sin': did you mean 'sine'?")],
        ),
        (["cue dubble"], [(2, 5, "unknown cue 'dubble': did you mean 'double'?")]),
        (
            ["hold 30% 21min"],
            [
                (
                    2,
                    1,
                    "the pattern lasts 21 min by here, over this device's session cap of 20 min;"
                    " also the motor runs 21 min without a rest by here, over this device's"
                    " motor-on cap of 10 min: add an `off`",
                )
            ],
        ),
        (
            ["hold 85% 11min"],
            [
                (
                    2,
                    1,
                    "over the motor's thermal budget by here: as much drive as 46.8% for 20 min,"
                    " where this device allows 45% for 20 min: lower the levels or shorten the"
                    " strong parts; also the motor runs 11 min without a rest by here, over"
                    " this device's motor-on cap of 10 min: add an `off`",
                )
            ],
        ),
        (
            ["ramp 0% -> 80% over 100ms ease-in"],
            [
                (
                    2,
                    1,
                    "ramp 0% -> 80% over 100ms is steeper than this device allows (1000% per s):"
                    " ease-in needs at least 160ms (linear 80ms, ease-out 160ms,"
                    " ease-in-out 120ms)",
                )
            ],
        ),
    ],
)
def test_each_fault_is_one_error_that_says_how_to_write_it(lines, expected):
    assert errors(src(*lines)) == expected


def test_every_cap_comes_from_the_profile():
    """The same pattern against other caps: the numbers are the profile's, in minutes."""
    prof = Profile({"max_on_ms": 300000, "session_max_ms": 900000, "thermal": 270000000})
    ((line, col, message),) = errors(src("ramp 0% -> 30% over 1s", "hold 16min"), profile=prof)
    assert (line, col) == (3, 1)
    assert "lasts 16 min 1 s by here, over this device's session cap of 15 min" in message
    assert "as much drive as 32.1% for 15 min, where this device allows 30% for 15 min" in message
    assert "motor-on cap of 5 min" in message
    assert "1200" not in message and "900 s" not in message


_NEEDS = re.compile(r"(\S+) needs at least (\S+) \((.*)\)$")


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 850),
    st.integers(0, 850),
    st.sampled_from(bc.EASE_NAMES),
    st.integers(200, 20000),
)
def test_a_steep_ramp_names_the_shortest_time_that_passes_for_every_easing(a, b, ease, slew):
    """Each figure the message gives is exact: that time passes, one millisecond less fails."""
    prof = Profile({"slew": slew})

    def ramp(ease, over):
        return src(
            "ramp %d.%d%% -> %d.%d%% over %s %s" % (a // 10, a % 10, b // 10, b % 10, over, ease)
        )

    try:
        compile_source(ramp(ease, "1ms"), profile=prof)
        return  # a ramp that may take a millisecond: nothing to teach
    except CompileError as e:
        ((_, line, col, message, _),) = e.errors
    assert (line, col) == (2, 1)
    found = _NEEDS.search(message)
    assert found and found.group(1) == ease, message
    shortest = {ease: found.group(2)}
    shortest.update(part.split(" ") for part in found.group(3).split(", "))
    assert sorted(shortest) == sorted(bc.EASE_NAMES)
    for name, over in shortest.items():
        ms = compile_source(src("off " + over), profile=prof).info.duration
        assert compile_source(ramp(name, over), profile=prof).info.duration == ms
        if ms > 1:
            with pytest.raises(CompileError, match="steeper than this device allows"):
                compile_source(ramp(name, "%dms" % (ms - 1)), profile=prof)


@given(st.integers(1, 24 * 3600 * 1000))
def test_a_suggested_duration_reads_back_as_itself(ms):
    assert duration(Token(written(ms), 1, 1)) == ms


def test_a_block_opened_in_a_played_file_is_closed_there(tmp_path):
    """A played pattern's stray `end` is its own error: it does not close the caller's block."""
    (tmp_path / "inc.fw").write_text('pattern inc "i"\nhold 10% 1s\nend\n')
    (tmp_path / "top.fw").write_text('pattern top "t"\nrepeat 2\n  play inc\nend\n')
    with pytest.raises(CompileError) as exc:
        compile_file(tmp_path / "top.fw")
    assert [(e[0], e[1], e[2], e[3]) for e in exc.value.errors] == [
        (str(tmp_path / "inc.fw"), 3, 1, "'end' without an open 'repeat' or 'zone'")
    ]


# ---- a played pattern that fails where it is played: one error at the `play` line ----------


def test_playing_a_routine_with_zones_is_one_error_at_the_play_line(tmp_path):
    mine = tmp_path / "mine.fw"
    mine.write_text('pattern mine "m"\nramp 0% -> 20% over 1s\nrepeat 2\n  play daily\nend\n')
    with pytest.raises(CompileError) as exc:
        compile_file(mine)
    assert exc.value.errors == [
        (
            str(mine),
            4,
            8,
            "daily has zones (daily.fw:4: `zone forehead 45s`), and a played pattern cannot:"
            " zones stand only in the file being compiled",
            "  play daily",
        )
    ]


def test_a_play_cycle_is_one_error_that_names_the_chain(tmp_path):
    (tmp_path / "a.fw").write_text('pattern a "a"\nhold 10% 1s\nplay b\n')
    (tmp_path / "b.fw").write_text('pattern b "b"\nplay c\n')
    (tmp_path / "c.fw").write_text('pattern c "c"\nplay a\n')
    with pytest.raises(CompileError) as exc:
        compile_file(tmp_path / "a.fw")
    assert [e[1:4] for e in exc.value.errors] == [
        (
            3,
            6,
            "play cycle a -> b -> c -> a: a pattern cannot play itself, directly or through"
            " others",
        )
    ]
    (tmp_path / "top.fw").write_text('pattern top "t"\nplay b\n')
    with pytest.raises(CompileError) as exc:
        compile_file(tmp_path / "top.fw")
    assert [e[1:4] for e in exc.value.errors] == [
        (
            2,
            6,
            "play cycle b -> c -> a -> b: a pattern cannot play itself, directly or"
            " through others",
        )
    ]


def test_a_cap_broken_inside_a_played_pattern_is_said_at_the_play_line(tmp_path):
    mine = tmp_path / "mine.fw"
    mine.write_text('pattern mine "m"\noff 19min\nplay relax\n')
    with pytest.raises(CompileError) as exc:
        compile_file(mine)
    ((filename, line, col, message, text),) = exc.value.errors
    assert (filename, line, col, text) == (str(mine), 3, 6, "play relax")
    assert message.startswith("in relax (relax.fw:7): the pattern lasts 20 min")
    assert message.endswith("over this device's session cap of 20 min")


def test_a_file_saved_with_a_bom_is_accepted(tmp_path):
    text = 'pattern bom "Saved by Notepad"\nramp 0% -> 20% over 1s\nramp -> 0% over 1s\n'
    (tmp_path / "bom.fw").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "top.fw").write_bytes(b'\xef\xbb\xbfpattern top "t"\nplay bom\n')
    assert compile_file(tmp_path / "bom.fw").data == compile_source(text).data
    assert compile_file(tmp_path / "top.fw").info.duration == 2000
    code, out, err = run("check", tmp_path / "bom.fw")
    assert (code, err) == (0, "") and "ok, 2 s" in out


# ---- warnings ------------------------------------------------------------------------------

CUE_IN_ZONE = (
    "a cue inside a zone: a person who moves on at each cue takes it for the zone's change;"
    " leave it out, or start a new zone here"
)
ZONED = src("zone cheeks 20s", "  hold 30% 2s", "  cue double", "end")


def test_a_cue_written_inside_a_zone_warns_and_still_plays():
    prog = compile_source(ZONED, "z.fw")
    assert prog.warnings == [(4, 3, CUE_IN_ZONE)]
    assert prog.warning_text().splitlines() == [
        "z.fw:4:3: warning: " + CUE_IN_ZONE,
        "      cue double",
        "      ^",
    ]
    assert play(prog, Profile()).cues == [2000, 4400, 6800, 9200, 11600, 14000, 16400, 18800]
    assert compile_source(src("hold 30% 2s", "cue double")).warnings == []
    prog.warnings.append((0, 0, "about the whole file"))  # as a command may add one
    assert prog.warning_text().splitlines()[-1] == "z.fw: warning: about the whole file"


def test_inside_a_zone_a_played_patterns_cues_are_rests_of_their_length():
    """daily plays lymph (which cues before its last ramp) in its cheeks zone: the only cues
    are the zone changes, and lymph keeps its timing, its cue silent."""
    daily = compile_file(builtin_path("daily"))
    trace = play(daily, Profile())
    assert trace.cues == [45000, 90000, 135000]
    alone = play(compile_file(builtin_path("lymph")), Profile())
    (cue,) = alone.cues
    cheeks = 45000 + 400  # after the zone change's own cue
    assert alone.duration < 90000 - cheeks  # then the zone plays lymph from its start
    for ms in range(0, alone.duration, 10):
        silent = cue <= ms < cue + 400
        assert level_at(trace, cheeks + ms) == (0 if silent else level_at(alone, ms)), ms


def level_at(trace, ms):
    return trace.points[bisect.bisect_right(trace.points, (ms, 1 << 30)) - 1][1]


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("board", [None, "pico", "esp32c3"])
def test_no_builtin_routine_warns(name, board):
    assert compile_file(builtin_path(name), board_profile(board)).warnings == []


def test_a_start_from_rest_below_what_the_motor_starts_at_warns_with_the_boards_figure():
    """The Pico's coin ERM may not start below 57 %: a level whose kick cannot reach it, or a
    ramp from rest that stays below it, warns; a level the kick lifts past it does not."""
    pico = board_profile("pico")
    assert pico.motor_start_level == 570
    text = src(
        "pulse 5% on 30ms off 70ms x 10",
        "ramp 0% -> 30% over 2s",
        "hold 2s",
        "off 1s",
        "hold 30% 1s",
        "off 1s",
        "ramp 0% -> 60% over 1s",
    )
    warnings = compile_source(text, "t.fw", pico).warnings
    assert warnings == [
        (
            2,
            1,
            "this plays 5% from rest: this board's motor may not start below 57% (its"
            " start_level), even at intensity 5: start at 28.5% or more (a start kick lifts a"
            " level to twice itself at most)",
        ),
        (
            3,
            1,
            "this starts the motor from rest and rises to 30% only: this board's motor may not"
            " start below 57% (its start_level), even at intensity 5: reach 57% before the next"
            " rest, or start with a hold of 28.5% or more",
        ),
    ]
    assert compile_source(text, "t.fw").warnings == []  # the generic caps know no motor


def test_check_compile_and_preview_print_warnings_and_exit_0(tmp_path):
    path = tmp_path / "z.fw"
    path.write_text(ZONED)
    warning = "%s:4:3: warning: %s\n      cue double\n      ^\n" % (path, CUE_IN_ZONE)
    code, out, err = run("check", path)
    assert (code, err) == (0, warning)
    assert out == (
        "%s: ok, 20 s, 3 elements, 79 bytes of bytecode\n"
        "  a routine with zones: a session plays its own 20 s\n" % path
    )
    code, out, err = run("compile", path, "-o", tmp_path / "z.fwb")
    assert (code, err) == (0, warning) and out.startswith("wrote ")
    code, out, err = run("preview", path, "-o", tmp_path / "z.png")
    assert (code, err) == (0, warning) and (tmp_path / "z.png").stat().st_size > 0
    code, out, err = run("check", *builtin_names())
    assert (code, err) == (0, "")


def test_counts_agree_with_their_nouns(tmp_path):
    path = tmp_path / "one.fw"
    path.write_text('pattern one "o"\nramp 0% -> 10% over 1s\n')
    code, out, _ = run("check", path)
    assert out.splitlines()[0] == "%s: ok, 1 s, 1 element, 35 bytes of bytecode" % path
    code, out, _ = run("preview", path, "-o", tmp_path / "one.png")
    assert "  pattern    1 s, 1 element, 1 instruction, 35 bytes of bytecode\n" in out
