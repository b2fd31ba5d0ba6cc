"""The simulator: the real firmware on the virtual board, scenarios and their expectations,
power cuts, the virtual port opened by real pyserial and real mpremote, and `facewave demo`."""

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import serial

from device_kit import facewave_sim, mpremote
from facewave.firmware import device as dv
from facewave.library import builtin_names
from facewave.link import Link
from facewave.scenarios import runner
from facewave.scenarios import spec as sc
from facewave.sim.virtual_board import SimSerial, VirtualBoard

SCENARIOS = sc.builtin()
GOLDEN = Path(__file__).parent / "golden" / "scenarios"


def cli(*args, cwd=None, timeout=120):
    proc = subprocess.run(
        [sys.executable, "-m", "facewave.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_builtin_scenario_holds_and_matches_its_golden_trace(path):
    run = runner.play(sc.load(path))
    assert run.failures == []
    golden = GOLDEN / (path.stem + ".csv")
    if os.environ.get("FACEWAVE_UPDATE_GOLDEN"):
        golden.write_text(run.board.csv())
    assert run.board.csv() == golden.read_text()


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_routine_through_the_whole_board_matches_its_golden_trace(name, tmp_path):
    """Upload, play to the session's end: the PWM the firmware drives, to the millisecond."""
    board, link = _board(tmp_path)
    prog = runner.compile_for(link, name)
    link.upload(prog.name, prog.data)
    link.play(name)
    board.run_for(prog.info.duration + 185000)  # a session is 3 min unless a routine says
    assert board.device_events("end")
    golden = GOLDEN.parent / "board" / (name + ".csv")
    if os.environ.get("FACEWAVE_UPDATE_GOLDEN"):
        golden.write_text(board.csv())
    assert board.csv() == golden.read_text()


def test_every_scenario_has_a_golden_trace():
    assert sorted(p.stem for p in GOLDEN.glob("*.csv")) == [p.stem for p in SCENARIOS]


def test_a_failing_expectation_exits_1_and_names_it(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'patterns = ["relax"]\nuntil = "30s"\n\n[[at]]\ntime = "1s"\n'
        'command = "play relax"\n\n[[expect]]\nmax_level = "10%"\n\n'
        '[[expect]]\ncue = "12s"\n'
    )
    code, out, err = cli("sim", "run", bad)
    assert code == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("%s:8: expected max_level 10%%: the motor reached" % bad)
    assert (
        lines[1] == "%s:11: expected cue 12s: no cue within 0 ms of 12000 ms "
        "(no cues at all)" % bad
    )


def test_sim_run_writes_trace_and_plot(tmp_path):
    code, out, _ = cli(
        "sim",
        "run",
        SCENARIOS[0],
        "--trace",
        tmp_path / "t.csv",
        "--plot",
        tmp_path / "t.png",
        "--json",
    )
    assert code == 0 and json.loads(out)["failed"] == []
    assert (tmp_path / "t.csv").read_text().startswith("ms,level,led,event\n")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "text,message",
    [
        ("until = \n", ":1:"),
        ('[[at]]\ntime = "1s"\njump = 3\n', ":1: unknown event 'jump'"),
        (
            '[[at]]\ntime = "5s"\npress = "short"\n\n[[at]]\ntime = "2s"\npress = "short"\n',
            ":5: time 2000 ms goes backwards",
        ),
        ('[[at]]\ntime = "1s"\nfault = "meteor"\n', ":1: unknown fault 'meteor'"),
        (
            '[[at]]\ntime = "1x"\npress = "short"\n',
            ":1: time: unknown unit 'x' (units: ms, s, min)",
        ),
        ('[[at]]\ntime = 500\npress = "short"\n', ':1: time = 500 has no unit: write "500ms" or'),
        (
            '[[at]]\ntime = "1s"\nlink = {drop = 2}\n',
            ":1: link drop = 2: a rate is a number from 0 to 1",
        ),
        ('[[expect]]\nmotor = "0%"\n', ":1: motor needs by"),
        ('colour = "red"\n', "unknown setting 'colour'"),
        ("patterns = [\n", ":1: Invalid value (at end of document)"),
        ('board = "toaster"\n', "unknown board 'toaster'"),
        (
            '[[at]]\ntime = "1s"\ncommand = "play"\n',
            ":1: command 'play': the following arguments are required: NAME; "
            "write 'play NAME [--tethered] [--default]'",
        ),
        (
            '[[at]]\ntime = "1s"\ncommand = "upload"\n',
            ":1: command 'upload': the following arguments are required: FILE|ROUTINE; "
            "write 'upload FILE|ROUTINE [--name NAME]'",
        ),
        (
            '[[at]]\ntime = "1s"\ncommand = "set cue"\n',
            ":1: command 'set cue': the following arguments are required: VALUE; "
            "write 'set KEY VALUE'",
        ),
        (
            '[[at]]\ntime = "1s"\ncommand = "stop now"\n',
            ":1: command 'stop now': unrecognized arguments: now; write 'stop'",
        ),
        (
            '[[at]]\ntime = "1s"\ncommand = "jump"\n',
            ":1: command 'jump': unknown command 'jump' (the commands: play, stop, pause,",
        ),
        (
            '\n[[at]]\ntime = "1s"\ncommand = "set session 20"\n',
            ":2: command 'set session 20': session must be a duration from",
        ),
        (
            '[[at]]\ntime = "1s"\ncommand = "play x --port /dev/ttyACM0"\n',
            ":1: command 'play x --port /dev/ttyACM0': --port has no place here",
        ),
        (
            '[[at]]\ntime = "1s"\npress = "short"\nexpect = "refused"\n',
            ":1: expect and reason go with a command, not with press",
        ),
        (
            '[[at]]\ntime = "1s"\ncommand = "stop"\nexpect = "accepted"\n',
            ":1: expect = 'accepted': a command can only expect = \"refused\"",
        ),
        (
            '[[at]]\ntime = "1s"\ncommand = "stop"\nreason = "busy"\n',
            ':1: reason goes with expect = "refused"',
        ),
    ],
    ids=[
        "syntax",
        "unknown-event",
        "backwards",
        "unknown-fault",
        "bad-time",
        "bare-time",
        "rate-above-1",
        "no-by",
        "unknown-key",
        "syntax-at-end",
        "unknown-board",
        "play-no-name",
        "upload-no-name",
        "set-no-value",
        "stop-extra-word",
        "unknown-command",
        "set-bad-value",
        "command-port",
        "expect-on-press",
        "expect-not-refused",
        "reason-alone",
    ],
)
def test_bad_scenarios_say_where_and_what(tmp_path, text, message):
    path = tmp_path / "s.toml"
    path.write_text(text)
    code, _, err = cli("sim", "run", path)
    assert code == 2 and err.startswith("facewave: %s" % path) and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "text,line,message",
    [
        ("until = 200\n", 1, 'until = 200 has no unit: write "200ms" or "200s"'),
        (
            'name = "x"\nuntil = "200"\n',
            2,
            "until: 200 needs a unit: write 200ms, 200s or 200min",
        ),
        ('[[at]]\ntime = 1.5\npress = "short"\n', 1, 'time = 1.5 has no unit: write "1.5s"'),
        (
            '[[at]]\ntime = true\npress = "short"\n',
            1,
            'time must be a string with a unit, like "500ms", "1.5s" or "2min"',
        ),
        ('[[at]]\ntime = -5\npress = "short"\n', 1, "time must be a string with a unit"),
        (
            '[[at]]\ntime = "1s"\npress = "hold 20"\n',
            1,
            "press hold: 20 needs a unit: write 20ms, 20s or 20min",
        ),
        (
            '[[at]]\ntime = "1s"\npress = "hold 0s"\n',
            1,
            "press hold: duration must be more than 0",
        ),
        (
            '\n[[at]]\ntime = "1s"\nlink = {delay = 5}\n',
            2,
            'link delay = 5 has no unit: write "5ms" or "5s"',
        ),
        (
            '[[at]]\ntime = "1s"\nlink = {flip = 1.5}\n',
            1,
            "link flip = 1.5: a rate is a number from 0 to 1 (0.01 is one byte in a hundred)",
        ),
        ('[[at]]\ntime = "1s"\nlink = {dup = -0.1}\n', 1, "link dup = -0.1: a rate is a number"),
        ('[[at]]\ntime = "1s"\nlink = {drop = "1%"}\n', 1, "link drop = '1%': a rate is a number"),
        ('[[at]]\ntime = "1s"\nlink = {drop = true}\n', 1, "link drop = True: a rate is a number"),
        (
            '[[at]]\ntime = "1s"\npress = "short"\n\n[[expect]]\ncue = 45000\n',
            5,
            'cue = 45000 has no unit: write "45000ms" or "45000s"',
        ),
        ('[[expect]]\nmotor = "0%"\nby = 3\n', 1, "by = 3 has no unit"),
        ('[[expect]]\nmotor = "0%"\nby = "3s"\nuntil = 9\n', 1, "until = 9 has no unit"),
        ('[[expect]]\nstate = "idle"\nat = 80000\n', 1, "at = 80000 has no unit"),
        ('[[expect]]\nevent = "cue"\nat = "3s"\ntolerance = 5\n', 1, "tolerance = 5 has no unit"),
    ],
    ids=[
        "until-bare",
        "until-no-unit",
        "time-float",
        "time-bool",
        "time-negative",
        "hold-no-unit",
        "hold-zero",
        "delay-bare",
        "rate-above-1",
        "rate-negative",
        "rate-percent-string",
        "rate-bool",
        "cue-bare",
        "by-bare",
        "until-in-expect-bare",
        "at-bare",
        "tolerance-bare",
    ],
)
def test_times_need_a_unit_and_rates_are_0_to_1(tmp_path, text, line, message):
    """Each bad form: one line naming the file, the line of its table (or setting) and the
    field; a number is never silently taken as milliseconds."""
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(sc.ScenarioError) as e:
        sc.load(path)
    assert str(e.value).startswith("%s:%d: %s" % (path, line, message)), str(e.value)
    assert "\n" not in str(e.value) and e.value.code == 2


def test_zero_times_bare_counts_and_the_documented_forms_are_accepted():
    """ "0s" is a moment (power-on) and "0ms" a tolerance; millivolts and start_tick stay bare
    numbers; the example of docs/simulator.md parses as written."""
    s = sc.parse(
        'start_tick = 1000\n\n[[at]]\ntime = "0s"\nbattery = 3600\n\n[[at]]\n'
        'time = "0.5s"\nlink = {drop = 0, flip = 1, dup = 0.01, delay = "0ms"}\n\n'
        '[[expect]]\nevent = "start"\nat = "1min"\ntolerance = "0ms"\n',
        "s.toml",
    )
    assert [(e.at, e.kind, e.value) for e in s.events] == [
        (0, "battery", 3600),
        (500, "link", {"drop": 0, "flip": 1, "dup": 0.01, "delay": 0}),
    ]
    assert s.expects[0].options == {"at": 60000, "tolerance": 0} and s.start_tick == 1000
    doc = (Path(__file__).parent.parent / "docs" / "simulator.md").read_text()
    example = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    assert sc.parse(example, "example.toml").until == 240000


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ("demo", "--board", "toaster"),
            "facewave: unknown board 'toaster': choose one of esp32c3, pico",
        ),
        (
            ("sim", "--board", "toaster"),
            "facewave: unknown board 'toaster': choose one of esp32c3, pico",
        ),
        (("sim", "--flash", "afile"), "facewave: --flash afile: not a folder"),
        (("sim", "--vm", "--flash", "afile"), "facewave: --flash afile: not a folder"),
        (
            ("sim", "--vm", "--board", "toaster"),
            "facewave: unknown board 'toaster': choose one of esp32c3, pico",
        ),
        (("sim", "--vm", "--baud", "9600"), "facewave: --baud does not go with --vm"),
        (("sim", "--vm", "--rp2040"), "facewave: --vm or --rp2040, not both"),
        (("sim", "--trace", "nodir/t.csv"), "facewave: nodir/t.csv: no such folder nodir"),
        (
            ("sim", "run", "morning", "--plot", "nodir/m.png"),
            "facewave: nodir/m.png: no such folder nodir",
        ),
        (
            ("sim", "--json"),
            "facewave: --json does not go with a live board (they go with `sim run`)",
        ),
        (("sim", "--vm", "--trace", "t.csv"), "facewave: --trace does not go with --vm"),
    ],
    ids=[
        "demo-board",
        "sim-board",
        "flash-is-a-file",
        "vm-flash-is-a-file",
        "vm-board",
        "vm-baud",
        "vm-and-rp2040",
        "live-trace-folder",
        "run-plot-folder",
        "live-json",
        "vm-trace",
    ],
)
def test_bad_sim_options_are_one_line_usage_errors(tmp_path, args, message):
    (tmp_path / "afile").write_text("")
    code, _, err = cli(*args, cwd=tmp_path)
    assert code == 2 and err.strip() == message, err


def test_a_scenario_naming_a_pattern_that_does_not_exist(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('patterns = ["nope"]\n')
    code, _, err = cli("sim", "run", path)
    assert code == 2 and err.startswith("facewave: %s:1: pattern 'nope': " % path)


def test_missing_scenario_file(tmp_path):
    code, _, err = cli("sim", "run", tmp_path / "nope.toml")
    assert code == 2 and "no such scenario file" in err


def _board(tmp_path, **kw):
    board = VirtualBoard(tmp_path / "flash", **kw)
    board.power_on()
    link = Link(SimSerial(board, timeout=0.5), name="sim", clock=board.seconds)
    link.handshake()
    return board, link


def test_power_cut_at_every_write_of_a_settings_save_leaves_old_or_new(tmp_path):
    """Cut the power at the 1st, 2nd, ... filesystem operation of saving the settings."""

    def saved_once(where):
        board, link = _board(where)
        link.set("intensity", 2)
        board.run_for(200)  # saved: this is the "old" state on the flash
        return board, link

    board, link = saved_once(tmp_path / "probe")
    before = board.fs.writes
    link.set("intensity", 5)
    board.run_for(200)
    ops = board.fs.writes - before
    assert ops >= 2  # a temporary file and a rename at least
    for k in range(1, ops + 1):
        board, link = saved_once(tmp_path / str(k))
        board.fs.cut_at = board.fs.writes + k
        link.set("intensity", 5)
        board.run_for(500)  # the cut happens, the board boots again from its flash
        assert board.boots == 2
        link = Link(SimSerial(board, timeout=0.5), name="sim", clock=board.seconds)
        link.handshake()
        assert link.status()["intensity"] in (2, 5)
        notes = [e[3] for e in board.rows if e[3].startswith("settings ")]
        assert "using defaults" not in notes[-1], notes[-1]


def test_stop_reaches_motor_zero_in_the_same_loop_iteration(tmp_path):
    board, link = _board(tmp_path)
    prog = runner.compile_for(link, "circulation")
    link.upload(prog.name, prog.data)
    link.play("circulation")
    board.run_for(3000)
    assert board.level() > 0
    link.stop()
    assert board.level() == 0


def test_virtual_time_costs_no_wall_time(tmp_path):
    import time

    board, link = _board(tmp_path)
    wall = time.perf_counter()
    board.run_for(30 * 60 * 1000)  # half an hour idle
    assert board.ms >= 30 * 60 * 1000
    assert board.shell.device.state in (dv.IDLE, dv.OFF)
    assert time.perf_counter() - wall < 30  # generous: the point is minutes in moments


@pytest.fixture
def served(tmp_path):
    """`facewave sim` in a subprocess, as a person runs it; answers the port it printed."""
    proc, port = facewave_sim(tmp_path, "sim")
    yield port, tmp_path / "flash"
    proc.terminate()
    proc.wait(timeout=10)


def test_pyserial_opens_the_virtual_port_and_gets_an_answer(served):
    port, _ = served
    with Link(serial.serial_for_url(port, baudrate=115200, timeout=0.5), name=port) as link:
        link.handshake()
        assert link.hello["board"] == "pico" and link.status()["state"] == "idle"


def test_host_cli_end_to_end_against_facewave_sim(served):
    port, _ = served
    code, out, err = cli("upload", "daily", "--port", port)
    assert code == 0, err
    code, out, err = cli("list", "--port", port, "--json")
    assert code == 0 and "daily" in out
    code, out, _ = cli("info", "--port", port, "--json")
    assert json.loads(out)["board"] == "pico"


@pytest.fixture
def served_vm(vm, tmp_path):
    """`facewave sim --vm --flash DIR`, as a person runs it; answers the port it printed and
    stop(), which ends it as Ctrl-C does."""
    proc, port = facewave_sim(tmp_path, "sim", "--vm")

    def stop():
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "VM board stopped after" in out, err

    yield port, stop
    if proc.poll() is None:
        stop()


def test_mpremote_reaches_the_repl_of_a_board_running_the_firmware(served_vm, tmp_path):
    port, _ = served_vm
    assert cli("status", "--port", port)[0] == 0  # the firmware has the console
    assert mpremote(port, "exec", "print(1+1)").strip() == "2"
    data = os.urandom(3000)
    (tmp_path / "blob.bin").write_bytes(data)
    mpremote(port, "fs", "cp", str(tmp_path / "blob.bin"), ":blob.bin")
    mpremote(port, "fs", "cp", ":blob.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    assert (tmp_path / "flash" / "blob.bin").read_bytes() == data  # written back at the reset
    out = mpremote(port, "fs", "ls")
    assert "blob.bin" in out and "main.py" in out


def test_after_mpremote_reset_the_firmware_answers_again(served_vm):
    port, _ = served_vm
    assert mpremote(port, "exec", "print(3)").strip() == "3"
    mpremote(port, "reset")
    code, out, err = cli("status", "--port", port, "--json")
    assert code == 0, err
    assert json.loads(out)["state"] == "idle"


def test_facewave_sim_vm_keeps_patterns_and_firmware_in_its_flash(served_vm, tmp_path):
    port, stop = served_vm
    assert cli("upload", "daily", "--port", port)[0] == 0
    code, out, err = cli("flash", "--port", port, "--board", "esp32c3")
    assert code == 0 and "installed in /fw/b" in out, err
    stop()
    proc = subprocess.Popen(
        [sys.executable, "-m", "facewave.cli", "sim", "--vm", "--flash", str(tmp_path / "flash")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().split()[-1]
        code, out, err = cli("info", "--port", port, "--json")
        assert code == 0 and json.loads(out)["board"] == "esp32c3", err
        assert "daily" in cli("list", "--port", port)[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_ctrl_c_stops_facewave_sim_and_removes_its_temporary_flash(sig):
    """Ctrl-C at the terminal ends the simulator; it is not mpremote's interrupt, which sends
    the board to its REPL and keeps it running. So does a kill."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "facewave.cli", "sim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    port = proc.stdout.readline().split()[-1]
    flash = proc.stdout.readline().split()[-1]
    assert cli("status", "--port", port)[0] == 0
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "virtual board stopped after" in out and not Path(flash).exists()


def test_facewave_sim_writes_its_trace_and_plot_when_it_stops(tmp_path):
    """The live board's --trace and --plot cover power-on to the stop (here SIGTERM), with what
    a host did to it in between."""
    trace, plot = tmp_path / "live.csv", tmp_path / "live.png"
    proc, port = facewave_sim(tmp_path, "sim", "--trace", trace, "--plot", plot)
    try:
        assert cli("upload", "relax", "--port", port)[0] == 0
        assert cli("play", "relax", "--port", port)[0] == 0
        assert not trace.exists()  # written when the board stops, not before
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.endswith("trace: %s\nplot:  %s\n" % (trace, plot))
    rows = trace.read_text().splitlines()
    assert rows[0] == "ms,level,led,event"
    events = [r.split(",")[-1] for r in rows[1:]]
    assert events[0] == "power on" and "start relax" in events
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_scenarios_and_the_demo_leave_no_temporary_flash_behind(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert runner.play(sc.load(SCENARIOS[0])).failures == []
    assert runner.session("daily").ended > 0
    assert list(tmp_path.iterdir()) == []


def test_demo_runs_on_a_fresh_install_and_writes_a_png(tmp_path):
    code, out, err = cli("demo", cwd=tmp_path, timeout=300)
    assert code == 0, err
    assert (
        "zones      forehead at 0 s, cheeks at 45 s, jaw-line at 1 min 30 s, neck at 2 min 15 s"
    ) in out
    assert re.search(r"speed .* \d+x real time", out)
    assert (tmp_path / "facewave-demo.png").read_bytes()[:4] == b"\x89PNG"


def test_the_pytest_plugin_fixture_as_a_routine_author_uses_it(virtual_board, tmp_path):
    routine = tmp_path / "gentle.fw"
    routine.write_text(
        'pattern gentle "Gentle"\nramp 0% -> 30% over 2s\n'
        "wave sine 20%..40% period 4s for 20s\nramp -> 0% over 2s\n"
    )
    virtual_board.upload(routine)
    virtual_board.command("play", "gentle")
    virtual_board.advance("2min")
    [(start, text)] = virtual_board.events("start")
    assert text == "start gentle"
    assert virtual_board.events("end") == []  # a pattern repeats for the whole session
    virtual_board.advance("65s")
    # the default session: 3 minutes
    assert virtual_board.events("end") == [(start + 180000, "end gentle")]
    assert virtual_board.peak() <= 850  # the Pico's cap, kick to start the motor included
    cues = [t for t, _ in virtual_board.events("cue")]
    assert cues == [start + k * 30000 for k in range(1, 6)]  # the session's zone cues
    rows = [(t, lv) for t, lv, _, _ in virtual_board.trace()]
    held = [
        lv
        for (t0, lv), (t1, _) in itertools.pairwise(rows)
        if t1 - t0 > 30 and not any(c <= t0 < c + 500 for c in cues)
    ]
    assert 0 < max(held) <= 400  # above that: cues, and the 30 ms kicks that start the motor
    assert virtual_board.level() == 0
