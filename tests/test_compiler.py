"""The pattern language: every construct compiles to what it says, every error points home."""

import pytest

from facewave.firmware import bytecode as bc
from facewave.firmware.profile import Profile
from facewave.firmware.verifier import unpack_insn
from facewave.lang import CompileError, compile_file, compile_source
from facewave.playback import play


def ops(prog):
    return [unpack_insn(prog.data, i) for i in range(prog.info.count)]


def src(*lines):
    return "\n".join(('pattern t "test"',) + lines) + "\n"


def errors(text, **kw):
    with pytest.raises(CompileError) as exc:
        compile_source(text, "t.fw", **kw)
    return [(line, col, msg) for _, line, col, msg, _ in exc.value.errors]


def test_hold_levels_and_durations():
    prog = compile_source(src("hold 40% 2s", "hold 12.5% 1.5s", "hold 250ms", "off 1min"))
    assert [(op, a, t) for op, _, a, _, _, t in ops(prog)] == [
        (bc.OP_HOLD, 400, 2000),
        (bc.OP_HOLD, 125, 1500),
        (bc.OP_HOLD, 125, 250),
        (bc.OP_HOLD, 0, 60000),
    ]
    assert prog.info.duration == 2000 + 1500 + 250 + 60000
    assert prog.elements == 4


def test_ramp_forms_and_easings():
    prog = compile_source(
        src(
            "ramp 0% -> 50% over 1s",
            "ramp -> 20% over 2s ease-in-out",
            "ramp 20% -> 60% over 1s ease-in",
            "ramp -> 0% over 1s ease-out",
        )
    )
    assert [(x, a, b, t) for _, x, a, b, _, t in ops(prog)] == [
        (bc.EASE_LINEAR, 0, 500, 1000),
        (bc.EASE_IN_OUT, 500, 200, 2000),
        (bc.EASE_IN, 200, 600, 1000),
        (bc.EASE_OUT, 600, 0, 1000),
    ]


@pytest.mark.parametrize("shape", ["sine", "triangle", "square", "saw"])
def test_wave_shapes(shape):
    prog = compile_source(
        src(
            "ramp 0% -> 30% over 1s",
            "wave %s 30%%..60%% period 2s for 10s" % shape,
            "ramp -> 0% over 1s",
        )
    )
    op, x, a, b, c, t = ops(prog)[1]
    assert (op, bc.WAVE_NAMES[x], a, b, c, t) == (bc.OP_WAVE, shape, 300, 600, 2000, 10000)
    levels = [lv for ms, lv in play(prog, Profile()).points if 1000 <= ms < 11000]
    assert min(levels) == 300 and 590 <= max(levels) <= 600  # sampled every 10 ms


def test_pulse_is_a_loop_of_on_and_off():
    prog = compile_source(src("pulse 70% on 80ms off 120ms x 10"))
    assert [(op, a, t) for op, _, a, _, _, t in ops(prog)] == [
        (bc.OP_LOOP, 10, 0),
        (bc.OP_HOLD, 700, 80),
        (bc.OP_HOLD, 0, 120),
        (bc.OP_END, 0, 0),
    ]
    trace = play(prog, Profile())
    assert trace.changes()[:4] == [(0, 700), (80, 0), (200, 700), (280, 0)]
    assert trace.duration == 2000


def test_nested_repeat():
    prog = compile_source(
        src(
            "repeat 3",
            "  repeat 2",
            "    hold 20% 100ms",
            "    off 50ms",
            "  end",
            "  hold 30% 1s",
            "end",
        )
    )
    assert prog.info.duration == 3 * (2 * 150 + 1000)
    trace = play(prog, Profile())
    assert [lv for _, lv in trace.changes()].count(300) == 3


def test_seeded_variation_is_reproducible_and_bounded():
    text = src("seed 42", "pulse 50% on 100ms off 100ms x 50 vary 10%")
    a = play(compile_source(text), Profile()).points
    b = play(compile_source(text), Profile()).points
    assert a == b
    on = {lv for _, lv in a if lv}
    assert len(on) > 10 and min(on) >= 400 and max(on) <= 600
    other = play(compile_source(text.replace("seed 42", "seed 43")), Profile()).points
    assert other != a


def test_cues():
    prog = compile_source(src("hold 30% 1s", "cue", "cue double", "cue triple 70%"))
    cues = [(x, a, b, c) for op, x, a, b, c, _ in ops(prog) if op == bc.OP_CUE]
    assert cues == [(1, 600, 200, 100), (2, 600, 100, 100), (3, 700, 80, 80)]
    assert play(prog, Profile()).cues == [1000, 1300, 1700]


def test_zones_cue_at_each_change_exactly():
    prog = compile_source(
        src(
            "zone forehead 30s",
            "  wave sine 10%..30% period 4s for 8s",
            "end",
            "zone cheeks 30s",
            "  hold 30% 7s",
            "end",
            "zone neck 20s",
            "  ramp 10% -> 40% over 3s",
            "end",
        )
    )
    trace = play(prog, Profile())
    assert prog.info.zones == ["forehead", "cheeks", "neck"]
    assert trace.zones == [(0, "forehead"), (30000, "cheeks"), (60000, "neck")]
    assert trace.cues == [30000, 60000]
    assert trace.duration == prog.info.duration == 80000


def test_comments_blank_lines_and_freq():
    prog = compile_source(
        '# a file comment\n\npattern t "x # not a comment"  # trailing\n'
        "freq 180hz   # motor\nhold 20% 1s\n"
    )
    assert prog.info.description == "x # not a comment"
    assert ops(prog)[0][:3] == (bc.OP_FREQ, 0, 180)


def test_play_includes_pattern_beside_the_file(tmp_path):
    (tmp_path / "base.fw").write_text(src("hold 20% 1s"))
    (tmp_path / "top.fw").write_text('pattern top "t"\nplay base\nplay relax\n')
    prog = compile_file(tmp_path / "top.fw")
    assert (
        prog.info.duration
        == 1000
        + compile_file(tmp_path.parent / tmp_path.name / "base.fw").info.duration
        - 1000
        + 66000
    )


def test_256_elements_and_60s_segments():
    lines = ["hold %d%% 100ms" % (10 + i % 50) for i in range(300)] + ["hold 10% 60s", "off 90s"]
    prog = compile_source(src(*lines))
    assert prog.elements == 302
    assert prog.info.duration == 300 * 100 + 150000


@pytest.mark.parametrize(
    "line,col,message",
    [
        ("hold 40%", 10, "'hold' needs a duration"),
        ("hold 140% 1s", 6, "above 100%"),
        ("hold 40 1s", 6, "40 needs a unit: a level is 40%"),
        ("hold 40% 1.0005s", 10, "whole number of milliseconds"),
        ("hold 40% 0ms", 10, "more than 0"),
        ("ramp 10% 50% over 1s", 10, "expected '->'"),
        ("ramp 10% -> 50% in 1s", 17, "expected 'over'"),
        ("ramp 10% -> 50% over 1s bouncy", 25, "unknown easing 'bouncy'"),
        ("wave blob 10%..20% period 1s for 2s", 6, "unknown wave shape"),
        ("wave sine 30%..20% period 1s for 2s", 11, "goes down"),
        ("wave sine 10%..20% period 70s for 80s", 27, "at most 65.535s"),
        ("wave sine 10%..2x0% period 1s for 2s", 16, "expected a level"),
        ("wave sine 10% period 1s for 2s", 11, "expected a range like 30%..60%, got '10%'"),
        ("pulse 50% on 10ms off 10ms x 0", 30, "whole number 1..65535"),
        ("cue quadruple", 5, "unknown cue"),
        ("seed 0", 6, "1..65535"),
        ("freq fast", 6, "motor frequency"),
        ("jump 3", 1, "unknown statement 'jump'"),
        ("hold 10% 1s extra", 13, "unexpected 'extra'"),
        ("end", 1, "'end' without"),
        ("play nosuch", 6, "no pattern 'nosuch'"),
        ('pattern x "y', 11, "unterminated string"),
    ],
)
def test_error_positions(line, col, message):
    found = errors(src("hold 10% 1s", line, "off 1s"))
    assert len(found) == 1, found
    assert found[0][0] == 3 and found[0][1] == col and message in found[0][2]


def test_all_errors_of_a_file_in_one_run():
    found = errors(src("hold 10%", "hold 10% 1s", "ramp x", "wave", "repeat 2", "  off 1s"))
    assert [line for line, _, _ in found] == [2, 4, 5, 6]
    assert "never closed" in found[-1][2]


def test_error_text_has_file_line_col_and_caret():
    with pytest.raises(CompileError) as exc:
        compile_source(src("hold 10% 1s", "hold 10% 2x"), "mine.fw")
    assert str(exc.value).splitlines() == [
        "mine.fw:3:10: unknown unit 'x' (units: ms, s, min)",
        "    hold 10% 2x",
        "             ^",
    ]


def test_header_errors():
    assert errors("hold 10% 1s\n")[0][:2] == (1, 1)
    assert "empty pattern file" in errors("# nothing\n")[0][2]
    assert "plays nothing" in errors('pattern t "x"\n')[0][2]
    assert errors('pattern Bad "x"\nhold 1% 1s\n')[0][:2] == (1, 9)


def test_block_errors():
    assert "empty 'repeat'" in errors(src("repeat 2", "end"))[0][2]
    found = errors(src("repeat 2", "  zone a 10s", "    hold 10% 1s", "  end", "end"))
    assert (3, 3) == found[0][:2] and "top level" in found[0][2]


def test_play_cycle(tmp_path):
    (tmp_path / "a.fw").write_text('pattern a "a"\nplay b\n')
    (tmp_path / "b.fw").write_text('pattern b "b"\nplay a\n')
    with pytest.raises(CompileError) as exc:
        compile_file(tmp_path / "a.fw")
    assert "play cycle a -> b -> a" in str(exc.value)


def test_errors_of_a_played_file_of_its_own_name_that_file(tmp_path):
    (tmp_path / "inc.fw").write_text('pattern inc "i"\nhold 10% 1x\n')
    (tmp_path / "top.fw").write_text('pattern top "t"\nplay inc\n')
    with pytest.raises(CompileError) as exc:
        compile_file(tmp_path / "top.fw")
    assert str(exc.value).startswith(str(tmp_path / "inc.fw") + ":2:10:")


@pytest.mark.parametrize(
    "line,message",
    [
        ("hold 90% 1s", "above this device's cap of 85%"),
        ("hold 5% 1s vary 10%", "below 0"),
        ("ramp 0% -> 80% over 10ms", "steeper than"),
        ("wave sine 0%..80% period 20ms for 1s", "changes faster"),
        ("pulse 50% on 1s off 1s x 700", "session cap"),
        ("hold 80% 11min", "without a rest"),
    ],
)
def test_caps_are_judged_by_the_device_verifier_at_the_source_line(line, message):
    found = errors(src("ramp 0% -> 10% over 1s", line, "ramp 0% -> 10% over 1s"))
    assert found[0][0] == 3 and message in found[0][2], found


def test_step_limit_and_thermal_budget():
    found = errors(src("hold 80% 1s"), profile=Profile({"max_step": 500}))
    assert "jumps by 80%" in found[0][2]
    found = errors(
        src("ramp 0% -> 80% over 2s", "hold 80% 9min", "ramp -> 0% over 2s"),
        profile=Profile({"thermal": 100000000}),
    )
    assert "thermal budget" in found[0][2]


def test_deep_nesting_rejected():
    lines = ["repeat 2"] * 9 + ["hold 10% 10ms"] + ["end"] * 9
    found = errors(src(*lines))
    assert found[0][0] == 10 and "nested deeper than 8" in found[0][2]
