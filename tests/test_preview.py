"""`facewave preview`: what it shows is what the device drives, to the millisecond (its CSV
equals the virtual board's trace of the same program with the same settings), its options,
its summary and its plot."""

import itertools
import tempfile

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from facewave import playback
from facewave.cli import main
from facewave.firmware import boards
from facewave.firmware.settings import Settings
from facewave.lang import CompileError, compile_file, compile_source
from facewave.library import builtin_names, builtin_path
from facewave.scenarios import runner
from facewave.sim.virtual_board import VirtualBoard

PICO = boards.profile(boards.load("pico"))


def preview(capsys, *args):
    """`facewave preview ...` in this process: exit status, what it printed, its errors."""
    code = main(["preview", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def on_board(prog, **changes):
    """The virtual board's trace of `prog` as `--csv` writes one (see played())."""
    return played(prog, **changes)[0]


def played(prog, **changes):
    """`prog` on a virtual board: uploaded through the host link, the settings changed
    (firmware names: intensity, session_ms...), played to the end. Answers `ms,level` at each
    change of the PWM from the moment play starts, the board, and that moment."""
    with tempfile.TemporaryDirectory() as flash:
        board = VirtualBoard(flash, board="pico")
        board.power_on()
        link = runner.host(board)
        link.upload(prog.name, prog.data)
        for key, value in changes.items():
            link.set(key, value)
        link.play(prog.name)
        board.run_for(
            max(prog.info.duration, changes.get("session_ms", PICO.session_default_ms)) + 1000
        )
    assert board.device_events("end"), "the session did not end"
    start = board.device_events("start")[0]
    level, rows = 0, []
    for t, lv, _, event in board.recorder.firmware_rows():
        if event:  # the device's log, not a level of the PWM
            continue
        if t <= start:
            level = lv
            continue
        if not rows:
            rows.append((0, level))
        if rows[-1][1] != lv:
            rows.append((t - start, lv))
    return "ms,level\n" + "".join("%d,%d\n" % row for row in rows), board, start


def new_settings(**changes):
    """A new pico's settings, changed."""
    s = Settings(session_ms=PICO.session_default_ms, cue_ms=PICO.session_cue_ms)
    for key, value in changes.items():
        s.set(key, value)
    return s


# -- preview == board -------------------------------------------------------------------------
@pytest.mark.parametrize("name", builtin_names())
def test_the_csv_of_every_builtin_equals_the_virtual_boards_trace(name, tmp_path, capsys):
    out = tmp_path / "p.csv"
    code, _, err = preview(
        capsys, name, "--intensity", 4, "--session", "2min", "--csv", out, "-o", tmp_path / "p.png"
    )
    assert code == 0, err
    prog = compile_file(builtin_path(name), PICO)
    assert out.read_text() == on_board(prog, intensity=4, session_ms=120000)


LEVEL = st.integers(0, 80)
MS = st.integers(1, 40).map(lambda v: v * 50)
STATEMENT = st.one_of(
    st.tuples(LEVEL, MS).map(lambda a: "hold %d%% %dms" % a),
    MS.map(lambda d: "off %dms" % d),
    st.tuples(LEVEL, LEVEL, MS).map(
        lambda a: "ramp %d%% -> %d%% over %dms" % (a[0], a[1], a[2] + 50)
    ),
    st.tuples(
        st.sampled_from(["sine", "triangle", "square", "saw"]), LEVEL, st.integers(1, 40), MS
    ).map(lambda a: "wave %s %d%%..%d%% period 1s for %dms" % (a[0], a[1], a[1] + a[2], a[3])),
    st.tuples(LEVEL.filter(bool), MS, MS, st.integers(1, 12)).map(
        lambda a: "pulse %d%% on %dms off %dms x %d" % a
    ),
    st.sampled_from(["cue", "cue double", "cue triple 40%"]),
)
BODY = st.lists(STATEMENT, min_size=1, max_size=6)


@st.composite
def programs(draw):
    """A small pattern text: statements, maybe in a repeat, maybe in zones."""
    body = draw(BODY)
    if draw(st.booleans()):
        body = ["repeat %d" % draw(st.integers(2, 4))] + body + ["end"]
    if draw(st.booleans()):
        zones = []
        for i in range(draw(st.integers(1, 3))):
            zones += ["zone z%d %ds" % (i, draw(st.integers(3, 15)))] + body + ["end"]
        body = zones
    return 'pattern gen "generated"\n' + "\n".join(body) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(1, 5), st.integers(10, 60))
def test_the_preview_of_any_program_equals_the_virtual_boards_trace(text, intensity, session_s):
    try:
        prog = compile_source(text, profile=PICO)
    except CompileError:
        reject()
    changes = {"intensity": intensity, "session_ms": session_s * 1000}
    trace = playback.play(prog, PICO, new_settings(**changes))
    assert trace.csv() == on_board(prog, **changes)


def test_forced_rests_fall_on_the_same_ms_as_on_the_board():
    """Held at the cap at intensity 5 for 20 min with no session cues: the on-time cap's rest
    at 10 min, then the thermal budget's."""
    prog = compile_source('pattern hot "Held high"\nhold 85% 30s\n', profile=PICO)
    changes = {"intensity": 5, "session_ms": 1200000, "cue_ms": 0}
    trace = playback.play(prog, PICO, new_settings(**changes))
    rests = [(t, text) for t, text in trace.events if text.startswith("rest")]
    assert [text for _, text in rests] == ["rest: on too long", "rest: too warm"]
    assert rests[0][0] == PICO.step_ms + PICO.max_on_ms  # on from the soft start's 1st step
    assert trace.csv() == on_board(prog, **changes)


# -- the options ------------------------------------------------------------------------------
HOLD = 'pattern steady "One level"\nramp 0% -> 50% over 1s\nhold 50% 8s\nramp -> 0% over 1s\n'


def rows(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "ms,level"
    return [tuple(int(v) for v in line.split(",")) for line in lines[1:]]


def level_at(levels, ms):
    """The level of `ms,level` rows at `ms`."""
    return [lv for t, lv in levels if t <= ms][-1]


@pytest.fixture
def steady(tmp_path):
    path = tmp_path / "steady.fw"
    path.write_text(HOLD)
    return path


def test_csv_is_the_motor_level_at_each_change_from_play_to_the_sessions_end(
    steady, tmp_path, capsys
):
    out = tmp_path / "s.csv"
    code, text, _ = preview(capsys, steady, "--csv", out, "-o", tmp_path / "s.png")
    assert code == 0 and "  csv        %s" % out in text
    levels = rows(out)
    assert levels[0] == (0, 0)
    assert levels[-1][1] == 0 and levels[-1][0] <= PICO.session_default_ms
    assert [t for t, _ in levels] == sorted({t for t, _ in levels})
    assert all(a[1] != b[1] for a, b in itertools.pairwise(levels))
    assert level_at(levels, 5000) == 500 * PICO.intensity[2] // 1000  # the default step: 3


@pytest.mark.parametrize("step", [1, 5])
def test_intensity_scales_the_levels_by_the_boards_step(step, steady, tmp_path, capsys):
    out = tmp_path / "s.csv"
    code, text, _ = preview(
        capsys, steady, "--intensity", step, "--csv", out, "-o", tmp_path / "s.png"
    )
    assert code == 0 and "at intensity %d/5" % step in text
    assert level_at(rows(out), 5000) == 500 * PICO.intensity[step - 1] // 1000


@pytest.mark.parametrize(
    "session,end,said",
    [
        ("20s", 20000, "20 s: the pattern (10 s) plays 2 times, whole"),
        ("1min", 60000, "1 min: the pattern (10 s) plays 6 times, whole"),
        ("95s", 95000, "1 min 35 s: the pattern (10 s) plays 9 times, then 5 s of it, cut"),
    ],
)
def test_session_sets_where_a_pattern_without_zones_ends(
    session, end, said, steady, tmp_path, capsys
):
    out = tmp_path / "s.csv"
    code, text, _ = preview(
        capsys, steady, "--session", session, "--csv", out, "-o", tmp_path / "s.png"
    )
    assert code == 0 and "  session    " + said in text
    levels = rows(out)
    assert level_at(levels, end - 2000) > 0  # still playing 2 s before the end
    assert levels[-1][1] == 0 and end - 1000 < levels[-1][0] <= end


def test_a_pattern_longer_than_the_session_says_so_and_how_to_change_it(tmp_path, capsys):
    long = tmp_path / "long.fw"
    long.write_text(
        'pattern long "Longer than a session"\nramp 0% -> 30% over 4s\n'
        "wave sine 20%..40% period 5s for 250s\nramp -> 0% over 5s\n"
    )
    png = tmp_path / "long.png"
    code, text, _ = preview(capsys, long, "--csv", tmp_path / "l.csv", "-o", png)
    assert code == 0
    assert (
        "  session    4 min 19 s, the pattern's own length: longer than the 3 min session, it"
        " plays once, whole"
    ) in text
    end, level = rows(tmp_path / "l.csv")[-1]
    assert level == 0 and 258000 < end <= 259000  # faded out at its own end, not cut at 3 min
    code, text, _ = preview(capsys, long, "--session", "5min", "-o", png)
    assert "  session    5 min: the pattern (4 min 19 s) plays once, then 41 s of it" in text


def test_the_summary_says_what_the_device_does(capsys, tmp_path):
    code, text, _ = preview(capsys, "lymph", "-o", tmp_path / "l.png")
    assert code == 0
    assert "  device     pico at intensity 3/5 (70% of each level the pattern asks)" in text
    assert "  session    3 min: the pattern (44 s) plays 4 times, then 2.4 s of it" in text
    assert "  motor      peak 80% at 30 s" in text  # the session's cue, kicked from rest
    assert "  rests      none" in text
    assert "  cues       the session's 5: 30 s, 1 min, 1 min 30 s, 2 min, 2 min 30 s" in text
    code, text, _ = preview(capsys, "daily", "-o", tmp_path / "d.png")
    assert "  session    3 min, the routine's own length" in text
    assert (
        "  cues       the pattern's 3: 45 s (next zone), 1 min 30 s (next zone), "
        "2 min 15 s (next zone)"
    ) in text  # and no stray cue at 1 min 26 s


@pytest.mark.parametrize(
    "args,message",
    [
        (("--board", "toaster"), "facewave: unknown board 'toaster': choose one of esp32c3, pico"),
        (("--intensity", "9"), "facewave: intensity must be a whole number 1..5, not '9'"),
        (
            ("--session", "5 sec"),
            "facewave: session must be a duration from 10s to 60min, like 3min or 90s,"
            " not '5 sec'",
        ),
    ],
)
def test_a_wrong_option_is_a_usage_error_of_one_line(args, message, capsys, tmp_path):
    code, out, err = preview(capsys, "daily", *args, "-o", tmp_path / "d.png")
    assert (code, out, err) == (2, "", message + "\n")
    assert not (tmp_path / "d.png").exists()


def test_a_session_above_the_boards_cap_plays_the_cap_and_says_so(steady, tmp_path, capsys):
    out = tmp_path / "s.csv"
    code, text, _ = preview(
        capsys, steady, "--session", "30min", "--csv", out, "-o", tmp_path / "s.png"
    )
    assert code == 0 and PICO.session_max_ms - 1000 < rows(out)[-1][0] <= PICO.session_max_ms
    assert "  session    20 min (the longest session of a pico board):" in text


# -- the plot ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["daily", "lymph"])
def test_the_plot_is_a_png(name, tmp_path, capsys):
    png = tmp_path / "p.png"
    code, text, _ = preview(capsys, name, "-o", png)
    assert code == 0 and text.endswith("  plot       %s\n" % png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_trace_of_a_session_marks_cues_by_kind_and_the_cut():
    trace = playback.play(compile_file(builtin_path("lymph"), PICO), PICO)
    assert trace.session_cues == [30000, 60000, 90000, 120000, 150000]
    assert trace.cues[0] == 41000  # the pattern's own `cue double`
    assert trace.cut == 180000 == trace.duration
    assert trace.events == [(0, "start lymph"), (180000, "end lymph")]
    daily = playback.play(compile_file(builtin_path("daily"), PICO), PICO)
    assert daily.cut is None and [t for t, _ in daily.zones] == [0, 45000, 90000, 135000]


@pytest.mark.parametrize("name", ["lymph", "daily"])
def test_a_boards_trace_for_the_plot_has_the_previews_zones_cues_and_events(name):
    """runner.trace_of (the plot of `facewave demo` and `sim run --plot`) reads the board's
    trace into the preview's Trace: the same zones, cues by kind and events."""
    prog = compile_file(builtin_path(name), PICO)
    _, board, start = played(prog)
    seen = runner.trace_of(board, name, board.ms)
    trace = playback.play(prog, PICO)

    def shifted(times):
        return [t - start for t in times]

    assert shifted(seen.cues) == trace.cues and shifted(seen.session_cues) == trace.session_cues
    assert [(t - start, z) for t, z in seen.zones] == trace.zones
    assert [(t - start, e) for t, e in seen.events] == trace.events
    assert seen.cap == trace.cap == PICO.max_level
