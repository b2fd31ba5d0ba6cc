"""The device commands as a person runs them: the real `facewave` in a subprocess, talking over
a real serial port (pyserial on a pty) to the simulator's virtual board running the firmware
(its own board shell, device core and protocol). Output, --json, exit codes, tethered playback,
and every kind of bad connection.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from facewave.firmware import messages as m

FAST = ("--timeout", "0.3")  # for the cases where nothing useful answers

# `facewave` with a made-up set of USB serial ports, for autodetection and `ports`
FAKE_USB = """
import json, sys
from serial.tools import list_ports, list_ports_common

def comports(include_links=False):
    out = []
    for d in json.loads(sys.argv[1]):
        p = list_ports_common.ListPortInfo(d["device"], skip_link_detection=True)
        p.vid, p.pid, p.description = d.get("vid"), d.get("pid"), d.get("description", "n/a")
        out.append(p)
    return out

list_ports.comports = comports
from facewave.cli import main
sys.exit(main(sys.argv[2:]))
"""
PICO = {"vid": 0x2E8A, "pid": 0x0005, "description": "Board in FS mode"}


def _env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEWAVE_")}
    env.update(extra or {})
    return env


def run(*args, env=None, usb=None):
    """`facewave ARGS` in a subprocess: (exit status, stdout, stderr)."""
    cmd = [sys.executable, "-m", "facewave.cli"]
    if usb is not None:
        cmd = [sys.executable, "-c", FAKE_USB, json.dumps(usb)]
    proc = subprocess.run(
        cmd + [str(a) for a in args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=_env(env),
    )
    return proc.returncode, proc.stdout, proc.stderr


def run_json(*args, **kw):
    code, out, err = run(*args, "--json", **kw)
    assert code == 0, err
    return json.loads(out)


def one_line_error(err, *words):
    """A user error: one line starting `facewave:`, naming what and what to do."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facewave: "), err
    for word in words:
        assert word in lines[0], err
    return lines[0]


class Running:
    """A long-running `facewave` (play --tethered, watch) whose output lines arrive as they
    are printed."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facewave.cli", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def line(self, wait=10):
        return self.lines.get(timeout=wait)

    def finish(self, sig=None):
        if sig is not None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=10)
        return code, self.proc.stderr.read()


@pytest.fixture
def uploaded(device_port):
    """A device holding the built-in `daily` routine."""
    assert run("upload", "daily", "--port", device_port)[0] == 0
    return device_port


# ---- every verb, human and --json -------------------------------------------------------


def test_info(device_port):
    code, out, err = run("info", "--port", device_port)
    assert code == 0 and err == ""
    for label in (
        "firmware",
        "protocol %d" % m.PROTOCOL,
        "board",
        "storage",
        "caps",
        "settings",
        "idle",
    ):
        assert label in out
    info = run_json("info", "--port", device_port)
    assert info["protocol"] == m.PROTOCOL and info["board"] and info["firmware"]
    assert "tethered" in info["capabilities"] and info["free"] > 0
    assert info["caps"]["max_level"] > 0 and info["status"]["state"] == "idle"
    assert info["port"] == device_port


def test_upload_list_delete(device_port, tmp_path):
    code, out, _ = run("upload", "daily", "--port", device_port)
    assert code == 0 and out.startswith("uploaded daily to %s: 3 min" % device_port)
    mine = tmp_path / "mine.fw"
    mine.write_text('pattern mine "A test"\nramp 0% -> 40% over 1s\nhold 2s\nramp -> 0% over 1s\n')
    summary = run_json("upload", mine, "--name", "evening", "--port", device_port)
    assert summary["name"] == "evening" and summary["duration"] == 4000
    assert run("compile", mine, "-o", tmp_path / "mine.fwb")[0] == 0
    assert run_json("upload", tmp_path / "mine.fwb", "--port", device_port)["name"] == "mine"
    code, out, _ = run("list", "--port", device_port)
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == [
        "daily",
        "evening",
        "mine",
    ]
    assert "A test" in out
    code, out, _ = run("delete", "evening", "--port", device_port)
    assert code == 0 and out.strip() == "deleted evening"
    assert run_json("delete", "mine", "--port", device_port)["deleted"] == "mine"
    listed = run_json("list", "--port", device_port)["patterns"]
    assert [p["name"] for p in listed] == ["daily"] and listed[0]["duration"] == 180000
    changes = [
        e["arg"].split(" (")[0]
        for e in run_json("log", "--port", device_port)["entries"]
        if e["event"] == "pattern"
    ]
    assert changes == [
        "stored daily",
        "stored evening",
        "stored mine",
        "deleted evening",
        "deleted mine",
    ]


def test_upload_says_the_compilers_warnings_as_check_does(device_port, tmp_path):
    """What compiles but misleads is said at upload too (one line each; `check` shows the
    caret), on stderr, and in --json; the pattern is stored all the same."""
    path = tmp_path / "cued.fw"
    path.write_text(
        'pattern cued "a cue in a zone"\nzone cheeks 20s\n  hold 30% 2s\n  cue double\nend\n'
    )
    line = "%s:4:3: warning: a cue inside a zone: a person who moves on at each cue" % path
    code, out, err = run("upload", path, "--port", device_port)
    assert code == 0 and err.startswith(line) and err.count("\n") == 1
    assert out.startswith("uploaded cued to ")
    summary = run_json("upload", path, "--port", device_port)
    assert len(summary["warnings"]) == 1 and summary["warnings"][0].startswith(line)
    assert run_json("upload", "daily", "--port", device_port)["warnings"] == []


def test_upload_says_how_long_a_session_of_it_lasts(device_port, tmp_path):
    assert run("set", "session", "2min", "--port", device_port)[0] == 0
    long = tmp_path / "long.fw"
    long.write_text('pattern long "259 s"\nhold 40% 259s\n')
    code, out, _ = run("upload", long, "--port", device_port)
    assert (
        code == 0
        and "longer than the device's 2 min session: a session plays it once, whole" in out
    )
    short = tmp_path / "short.fw"
    short.write_text('pattern short "50 s"\nhold 40% 50s\n')
    summary = run_json("upload", short, "--port", device_port)
    assert summary["session"].startswith("repeats to fill the device's 2 min session (2.4 turns")
    code, out, _ = run("upload", "daily", "--port", device_port)
    assert "a routine with zones: a session plays its own 3 min" in out


def test_play_changes_the_buttons_routine_only_with_default(uploaded, tmp_path):
    mine = tmp_path / "mine.fw"
    mine.write_text('pattern mine "A test"\nhold 40% 20s\n')
    assert run("upload", mine, "--port", uploaded)[0] == 0
    assert run("set", "routine", "daily", "--port", uploaded)[0] == 0
    assert run_json("play", "mine", "--port", uploaded)["routine"] == "mine"
    assert run_json("info", "--port", uploaded)["settings"]["routine"] == "daily"
    assert run("play", "mine", "--default", "--port", uploaded)[0] == 0
    assert run_json("info", "--port", uploaded)["settings"]["routine"] == "mine"
    assert run("stop", "--port", uploaded)[0] == 0


def test_list_columns_line_up(uploaded, tmp_path):
    """Names, durations (right-aligned, however long), sizes and descriptions in columns."""
    long = tmp_path / "long.fw"
    long.write_text(
        'pattern a-longer-name "Ten minutes and more"\nramp 0% -> 20% over 1s\nhold 9min\n'
        "off 1min\nhold 20% 34s\nramp -> 0% over 1s\n"
    )
    assert run("upload", long, "--port", uploaded)[0] == 0
    code, out, _ = run("list", "--port", uploaded)
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == ["a-longer-name", "daily"]
    assert "10 min 36 s" in lines[0] and "3 min" in lines[1]
    ends = {line.index(unit) + len(unit) for line, unit in zip(lines, ("36 s", "3 min"))}
    starts = {line.index(text) for line, text in zip(lines, ("Ten minutes", "Daily routine"))}
    assert len(ends) == 1 and len(starts) == 1, out


def test_upload_is_judged_by_the_device_caps(device_port, tmp_path):
    hot = tmp_path / "hot.fw"
    hot.write_text(
        'pattern hot "too strong"\nramp 0% -> 95% over 1s\nhold 2s\nramp -> 0% over 1s\n'
    )
    max_level = run_json("info", "--port", device_port)["caps"]["max_level"]
    assert max_level < 950
    code, _, err = run("upload", hot, "--port", device_port)
    assert code == 1 and "%s:2:" % hot in err and "Traceback" not in err
    assert run_json("list", "--port", device_port)["patterns"] == []
    code, _, err = run("upload", tmp_path / "absent.fw", "--port", device_port)
    assert code in (1, 2) and "absent.fw" in err and "Traceback" not in err


def test_play_pause_resume_stop_status(uploaded):
    code, out, _ = run("play", "daily", "--port", uploaded)
    assert code == 0 and out.startswith("running daily, zone forehead, 3 min left")
    st = run_json("status", "--port", uploaded)
    assert st["state"] == "running" and st["routine"] == "daily" and st["zone"] == "forehead"
    assert 0 < st["left_ms"] <= 180000 and not st["tethered"] and "battery" in st
    code, out, _ = run("status", "--port", uploaded)
    assert code == 0
    for label in ("state", "playing", "zone", "time left", "intensity", "battery"):
        assert label in out
    assert run_json("pause", "--port", uploaded)["state"] == "paused"
    code, out, _ = run("pause", "--port", uploaded)
    assert code == 0 and out.startswith("paused daily, zone forehead")
    code, out, _ = run("status", "--port", uploaded)
    assert code == 0 and "played" in out and "time left  0 s" not in out, out
    assert run_json("resume", "--port", uploaded)["state"] == "running"
    assert run("pause", "--port", uploaded)[0] == 0
    code, out, _ = run("resume", "--port", uploaded)
    assert code == 0 and out.startswith("running daily")
    assert run_json("stop", "--port", uploaded)["state"] == "idle"
    assert run_json("play", "daily", "--port", uploaded)["state"] == "running"
    code, out, _ = run("stop", "--port", uploaded)
    assert code == 0 and out.startswith("idle")
    st = run_json("status", "--port", uploaded)
    assert st["state"] == "idle" and st["level"] == 0


def test_set(uploaded):
    code, out, _ = run("set", "intensity", "5", "--port", uploaded)
    assert code == 0 and out.strip() == "intensity set to 5"
    assert run_json("set", "session", "2min", "--port", uploaded)["session_ms"] == 120000
    assert run_json("set", "cue", "0", "--port", uploaded)["cue_ms"] == 0
    code, out, _ = run("set", "routine", "daily", "--port", uploaded)
    assert code == 0 and out.strip() == "routine set to daily"
    settings = run_json("info", "--port", uploaded)["settings"]
    assert settings["intensity"] == 5 and settings["session_ms"] == 120000


@pytest.mark.parametrize(
    "key, value, code, words",
    [
        ("colour", "red", 2, ("no setting 'colour'", "intensity", "session", "routine")),
        ("intensity", "9", 2, ("intensity must be a whole number 1..5",)),
        ("intensity", "high", 2, ("intensity must be",)),
        ("session", "5", 2, ("session must be a duration", "3min")),
        ("session", "3h", 2, ("session must be",)),
        ("session", "30min", 1, ("session must be at most 1200 s on this board (its cap)",)),
        ("routine", "../main.py", 2, ("routine:",)),
        ("routine", "nothing", 1, ("no pattern 'nothing'", "facewave list")),
    ],
)
def test_set_refuses_bad_values_plainly(uploaded, key, value, code, words):
    got, out, err = run("set", key, value, "--port", uploaded)
    assert got == code and out == ""
    one_line_error(err, *words)


def test_log(uploaded):
    run("play", "daily", "--port", uploaded)
    run("stop", "--port", uploaded)
    code, out, _ = run("log", "--port", uploaded)
    events = [line.split()[1] for line in out.splitlines()]
    assert code == 0 and events[0] == "boot" and events[-3:] == ["start", "zone", "stop"]
    assert out.splitlines()[0][2] == ":"  # a time of day, HH:MM:SS
    entries = run_json("log", "--port", uploaded)["entries"]
    assert [e["event"] for e in entries[-3:]] == ["start", "zone", "stop"]
    assert entries[-2]["arg"] == "forehead"  # the routine's first zone
    assert entries[-1]["arg"] == "daily" and "time" in entries[-1]
    assert 0 <= entries[-1]["ago_s"] <= entries[0]["ago_s"]
    size = run_json("list", "--port", uploaded)["patterns"][0]["size"]
    stored = [e["arg"] for e in entries if e["event"] == "pattern"]
    assert stored == ["stored daily (%d bytes)" % size]  # the host's change, named


def test_watch(uploaded):
    run("play", "daily", "--port", uploaded)
    code, out, _ = run("watch", "--json", "--count", "3", "--interval", "0.05", "--port", uploaded)
    states = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(states) == 3
    assert all(s["state"] == "running" for s in states)
    assert states[0]["elapsed_ms"] < states[2]["elapsed_ms"]
    watch = Running("watch", "--interval", "0.05", "--port", uploaded)
    assert watch.line().startswith("running daily")
    code, err = watch.finish(signal.SIGINT)  # Ctrl-C is the way to end it
    assert code == 0 and err == ""


def test_device_refusals_exit_1(uploaded):
    code, _, err = run("play", "nothing", "--port", uploaded)
    assert code == 1
    one_line_error(err, "no pattern called 'nothing'")
    code, _, err = run("delete", "../main.py", "--port", uploaded)
    assert code == 1
    one_line_error(err)


def test_port_before_the_verb_and_from_the_environment(device_port):
    assert run("--port", device_port, "info", "--json")[0] == 0
    assert run("status", "--json", env={"FACEWAVE_PORT": device_port})[0] == 0


def test_socket_url(tmp_path):
    from conftest import SerialBoard

    board = SerialBoard(tmp_path / "flash", kind="socket")
    try:
        assert board.url.startswith("socket://")
        assert run_json("info", "--port", board.url)["protocol"] == m.PROTOCOL
    finally:
        board.stop()


# ---- live control safety ----------------------------------------------------------------


def test_tethered_play_stops_when_the_host_is_killed(uploaded):
    heartbeat_ms = run_json("info", "--port", uploaded)["heartbeat_ms"]
    launched = time.monotonic()
    host = Running("play", "daily", "--tethered", "--json", "--port", uploaded)
    first = json.loads(host.line())
    assert first["state"] == "running" and first["tethered"]
    for _ in range(2):  # heartbeats keep it going
        assert json.loads(host.line())["state"] == "running"
    host.proc.kill()  # no chance to say goodbye: like a pulled cable or a sleeping laptop
    host.proc.wait()
    alive_ms = (time.monotonic() - launched) * 1000
    time.sleep(heartbeat_ms / 1000 + 0.3)  # silence: any request would count as a heartbeat
    st = run_json("status", "--port", uploaded)
    assert st["state"] == "idle" and st["level"] == 0 and not st["tethered"]
    entries = run_json("log", "--port", uploaded)["entries"]
    start = [e for e in entries if e["event"] == "start"][-1]
    stop = [e for e in entries if e["event"] == "stop"][-1]
    ran_ms = stop["ms"] - start["ms"]
    print(
        "\ntethered playback ran %d ms on the device; the host lived %.0f ms; heartbeat"
        " timeout %d ms" % (ran_ms, alive_ms, heartbeat_ms)
    )
    assert stop["seq"] > start["seq"] and ran_ms <= alive_ms + heartbeat_ms + 100


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_tethered_play_stops_with_the_command(uploaded, sig):
    host = Running("play", "daily", "--tethered", "--port", uploaded)
    assert host.line().startswith("running daily")
    code, err = host.finish(sig)
    assert code == 0 and "Traceback" not in err
    st = run_json("status", "--port", uploaded)
    assert st["state"] == "idle" and st["level"] == 0


def test_ordinary_playback_needs_no_host(uploaded):
    heartbeat_ms = run_json("info", "--port", uploaded)["heartbeat_ms"]
    assert run("play", "daily", "--port", uploaded)[0] == 0
    time.sleep(heartbeat_ms / 1000 + 0.3)
    assert run_json("status", "--port", uploaded)["state"] == "running"


# ---- finding the device -----------------------------------------------------------------


def test_ports_marks_the_boards(device_port):
    usb = [
        dict(PICO, device=device_port),
        {"device": "/dev/ttyUSB7", "vid": 0x1A86, "pid": 0x7523},
        {"device": "/dev/ttyS0"},
    ]
    code, out, _ = run("ports", usb=usb)
    lines = {line[2:].split()[0]: line for line in out.splitlines()[:3]}  # port: line
    assert code == 0 and lines[device_port].startswith("* ") and "2E8A:0005" in out
    assert lines["/dev/ttyUSB7"].startswith("? ") and lines["/dev/ttyS0"].startswith("  ")
    ports = run_json("ports", "--probe", *FAST, usb=usb)["ports"]
    kinds = {p["port"]: p["kind"] for p in ports}
    assert kinds == {device_port: "micropython", "/dev/ttyUSB7": "maybe", "/dev/ttyS0": None}
    probes = {p["port"]: p.get("probe") for p in ports}
    assert probes[device_port]["facewave"] and probes[device_port]["protocol"] == m.PROTOCOL
    assert (
        not probes["/dev/ttyUSB7"]["facewave"]
        and "no serial port" in probes["/dev/ttyUSB7"]["error"]
    )
    assert probes["/dev/ttyS0"] is None


def test_the_one_device_plugged_in_is_found(device_port):
    usb = [dict(PICO, device=device_port), {"device": "/dev/ttyS0"}]
    assert run_json("info", usb=usb)["port"] == device_port


def test_no_device():
    code, out, err = run("info", usb=[{"device": "/dev/ttyS0"}])
    assert code == 2 and out == ""
    one_line_error(err, "no device found", "--port", "facewave ports")


def test_two_devices_and_no_port():
    usb = [dict(PICO, device="/dev/ttyACM0"), dict(PICO, device="/dev/ttyACM1")]
    code, _, err = run("status", usb=usb)
    assert code == 2
    line = one_line_error(err)
    assert line == "facewave: two devices found (/dev/ttyACM0, /dev/ttyACM1): pass --port"


# ---- bad connections: one line, exit 2 --------------------------------------------------


def test_no_such_port(tmp_path):
    code, _, err = run("info", "--port", tmp_path / "ttyACM9")
    assert code == 2
    one_line_error(err, "no serial port", "plugged in")


def test_a_port_where_nothing_answers():
    from facewave.sim import serial_port

    with serial_port.open_port("pty") as port:
        code, _, err = run("info", "--port", port.path, *FAST)
    assert code == 2
    one_line_error(err, "no answer from %s" % port.path, "facewave flash")


def test_a_board_with_plain_micropython(vm, tmp_path):
    from facewave.sim.vm_board import VMBoard

    with VMBoard(tmp_path / "flash") as board:  # MicroPython's own REPL
        code, _, err = run("list", "--port", board.url, *FAST)
    assert code == 2
    one_line_error(err, "MicroPython prompt", "facewave flash --port %s" % board.url)


def test_a_socket_nobody_listens_on():
    import socket

    with socket.socket() as s:  # a free port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        url = "socket://127.0.0.1:%d" % s.getsockname()[1]
    code, _, err = run("status", "--port", url, *FAST)
    assert code == 2
    one_line_error(err, "nothing answers at %s" % url)


def test_a_busy_port(device_port):
    import serial

    held = serial.serial_for_url(device_port, exclusive=True)
    try:
        code, _, err = run("info", "--port", device_port)
    finally:
        held.close()
    assert code == 2
    one_line_error(err, "busy", "close it")


def test_older_firmware(serial_board, monkeypatch):
    from conftest import set_version
    from facewave.firmware import messages

    # the board's firmware speaks protocol 0 (this process is the board; the host is not)
    monkeypatch.setattr(messages, "PROTOCOL", 0)
    serial_board.call(lambda b: (set_version(b, "0.0.1"), b.power_cut()))
    code, _, err = run("info", "--port", serial_board.url)
    assert code == 2
    one_line_error(err, "older firmware 0.0.1", "facewave flash")


def test_cable_pulled_mid_command(serial_board):
    watch = Running(
        "watch", "--json", "--interval", "0.05", "--timeout", "0.5", "--port", serial_board.url
    )
    assert json.loads(watch.line())["state"] == "idle"
    serial_board.unplug()
    code, err = watch.finish()
    assert code == 2
    one_line_error(err, serial_board.url)
    assert "lost the connection" in err or "stopped answering" in err


def test_cable_pulled_during_tethered_play(serial_board):
    port = serial_board.url
    assert run("upload", "daily", "--port", port)[0] == 0
    host = Running("play", "daily", "--tethered", "--timeout", "0.5", "--port", port)
    assert host.line().startswith("running daily")
    serial_board.unplug()
    code, err = host.finish()
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]  # after the line that says how tethering works
    assert last.startswith("facewave: lost the connection to %s" % port)
    assert last.endswith("the device stops a tethered playback by itself within 2 s")
