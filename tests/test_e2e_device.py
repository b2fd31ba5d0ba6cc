"""End to end through the whole virtual board on a pty: power cuts at every filesystem write
of an upload, a damaged link, a tethered host that goes away. The host is the real `facewave` in
a subprocess; the board is the simulator's (tests/conftest.py SerialBoard). `facewave flash`
meets a real MicroPython REPL: tests/test_flash.py (the VM board) and
tests/test_rp2040_firmware.py (the emulated Pico, the command line)."""

import hashlib
import json
import tempfile
import time

import pytest

from facewave.bench import big_program
from facewave.firmware import bytecode as bc
from facewave.link import Link
from facewave.scenarios import runner
from facewave.sim.virtual_board import VirtualBoard
from test_device_cli import Running, one_line_error, run, run_json


def program(level, hold_ms, name="mine"):
    return bc.pack(
        [
            bc.pack_insn(bc.OP_RAMP, 0, 0, level, 0, 200),
            bc.pack_insn(bc.OP_HOLD, 0, level, 0, 0, hold_ms),
        ],
        [name, "level %d" % level],
    )


OLD = program(300, 1000)
NEW = program(500, 2000)


def stored(board, name):
    """The bytes of a stored pattern on the board's flash (None if there is none)."""
    try:
        with board.flash.open("/patterns/%s.fwb" % name, "rb") as f:
            return f.read()
    except OSError:
        return None


def cut_power_at(board, n):
    """Cut the power at the n-th filesystem operation from now (a write lands half-way)."""
    board.fs.cut_at = board.fs.writes + n


def upload_ops():
    """Filesystem writes, renames and removes of replacing OLD by NEW (a probe upload in the
    board's virtual time)."""
    board = VirtualBoard(tempfile.mkdtemp(prefix="facewave-probe-"))
    board.power_on()
    link = runner.host(board)
    link.upload("mine", OLD)
    before = board.fs.writes
    link.upload("mine", NEW)
    return board.fs.writes - before


UPLOAD_OPS = upload_ops()


def test_an_upload_writes_through_a_temporary_file_and_a_rename():
    assert UPLOAD_OPS >= 3  # the data, the rename into place, and the upload's bookkeeping


@pytest.mark.parametrize("cut", range(1, UPLOAD_OPS + 1))
def test_power_cut_at_every_write_of_an_upload_leaves_old_or_new(serial_board, tmp_path, cut):
    port = serial_board.url
    with Link.open(port) as link:
        link.upload("mine", OLD)
    new = tmp_path / "new.fwb"
    new.write_bytes(NEW)
    serial_board.call(lambda b: cut_power_at(b, cut))
    code, out, err = run("upload", new, "--port", port, "--timeout", "2")
    assert serial_board.call(lambda b: b.boots) == 2, err  # the power went, the board is back
    if code:
        one_line_error(err)  # a clear line, whatever the moment
    listed = run_json("list", "--port", port)["patterns"]
    assert [p["name"] for p in listed] == ["mine"] and "error" not in listed[0]
    data = serial_board.call(lambda b: stored(b, "mine"))
    assert data in (OLD, NEW)
    assert listed[0]["size"] == len(data)
    assert listed[0]["duration"] == (1200 if data == OLD else 2200)
    if code == 0:
        assert data == NEW
    assert run_json("play", "mine", "--port", port)["state"] == "running"
    print(
        "cut at write %d of %d: upload exit %d, stored %s"
        % (cut, UPLOAD_OPS, code, "old" if data == OLD else "new")
    )


@pytest.mark.parametrize(
    "faults",
    [
        {"drop": 0.0003},
        {"flip": 0.0003},
        {"dup": 0.0003},
        {"delay": 80},
        {"drop": 0.0002, "flip": 0.0002, "dup": 0.0002, "delay": 20},
        {"drop": 0.01, "flip": 0.01},  # so bad that uploads fail: they must fail plainly
    ],
    ids=["drop", "flip", "dup", "delay", "all", "awful"],
)
def test_link_faults_never_store_a_corrupt_pattern(serial_board, tmp_path, faults):
    port = serial_board.url
    data = big_program(6000, name="big")
    path = tmp_path / "big.fwb"
    path.write_bytes(data)
    serial_board.call(lambda b: b.console.faults.update(faults))
    results = [
        run("upload", path, "--port", port, "--json", "--timeout", "2") for _ in range(2)
    ]  # a failed upload is run again, as its message says
    serial_board.call(lambda b: b.console.faults.clear())
    for code, out, err in results:
        if code == 0:
            summary = json.loads(out)
            assert summary["name"] == "big" and summary["size"] == len(data)
        else:
            assert code in (1, 2)
            one_line_error(err)
    held = serial_board.call(lambda b: stored(b, "big"))
    assert held is None or held == data
    if any(code == 0 for code, _, _ in results):
        assert hashlib.sha256(held).digest() == hashlib.sha256(data).digest()
    listed = run_json("list", "--port", port)["patterns"]
    assert all("error" not in p for p in listed)
    assert [p["name"] for p in listed] == (["big"] if held else [])
    print(
        "%s: exits %s %s"
        % (faults, [code for code, _, _ in results], [err.strip() for _, _, err in results if err])
    )


def test_under_link_faults_an_upload_run_again_completes(serial_board, tmp_path):
    path = tmp_path / "big.fwb"
    path.write_bytes(big_program(6000, name="big"))
    serial_board.call(
        lambda b: b.console.faults.update({"drop": 0.0002, "flip": 0.0002, "dup": 0.0002})
    )
    for _ in range(4):  # a stalled upload says "run the upload again to resume"
        code, out, err = run("upload", path, "--port", serial_board.url, "--json")
        if code == 0:
            break
        assert "upload again" in one_line_error(err) or "stopped answering" in err
    assert code == 0, err
    assert serial_board.call(lambda b: stored(b, "big")) == path.read_bytes()


# ---- tethered playback: the host goes, the motor stops -------------------------------------


def motor_off_since(board):
    """Board time (ms) from which the motor has been at 0, from the board's trace."""
    rows = sorted(board.rows, key=lambda r: r[0])
    on = [i for i, r in enumerate(rows) if r[1] > 0]
    assert on, "the motor never ran"
    assert on[-1] + 1 < len(rows), "the motor is still running"
    return rows[on[-1] + 1][0]


def tethered(serial_board, go):
    """Play tethered with the real CLI, let `go` end the host, answer (host gone at, motor
    off at, heartbeat timeout), board milliseconds."""
    port = serial_board.url
    assert run("upload", "daily", "--port", port)[0] == 0
    heartbeat_ms = run_json("info", "--port", port)["heartbeat_ms"]
    host = Running("play", "daily", "--tethered", "--json", "--timeout", "0.5", "--port", port)
    for _ in range(3):  # running, and kept alive by heartbeats
        assert json.loads(host.line())["state"] == "running"
    assert serial_board.call(lambda b: b.level()) > 0
    gone = go(host)
    time.sleep(heartbeat_ms / 1000 + 0.5)
    off = serial_board.call(motor_off_since)
    assert serial_board.call(lambda b: b.level()) == 0
    return gone, off, heartbeat_ms


def test_tethered_playback_stops_within_the_heartbeat_timeout_when_the_host_dies(serial_board):
    def kill(host):
        host.proc.kill()
        host.proc.wait()
        return serial_board.call(lambda b: b.ms)

    gone, off, heartbeat_ms = tethered(serial_board, kill)
    print(
        "\nhost killed at %d ms, motor 0 at %d ms (heartbeat timeout %d ms)"
        % (gone, off, heartbeat_ms)
    )
    assert off - gone <= heartbeat_ms + 100
    events = [ev for _, _, _, ev in serial_board.board.rows]
    assert any(ev.startswith("stop") for ev in events)


def test_tethered_playback_stops_when_the_cable_is_pulled(serial_board):
    def pull(host):
        serial_board.unplug()
        gone = serial_board.call(lambda b: b.ms)
        code, err = host.finish()
        assert code == 2 and "lost the connection" in err
        return gone

    gone, off, heartbeat_ms = tethered(serial_board, pull)
    assert off - gone <= heartbeat_ms + 100
