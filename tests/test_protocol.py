"""The protocol end to end: the host Link against the device Protocol over a wire.

Most tests use a virtual 115200-baud wire in virtual time (deterministic, with injectable
faults), so upload times are computed from bytes on the line, never measured. A few run real
pyserial over the simulator's pty and socket ports, a few the simulator's whole board with its
link faults (a noisy link, a silent one), and one MicroPython's own REPL (the VM board).
"""

import hashlib
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from device_kit import board_link, stored
from facewave.bench import big_program
from facewave.firmware import frame, upload
from facewave.firmware import messages as m
from facewave.firmware.device import RUNNING
from facewave.firmware.profile import Profile
from facewave.link import Link, LinkError, Refused
from facewave.sim.virtual_board import SimSerial
from facewave.sim.vm_board import VMBoard
from virtual_wire import BAUD, VirtualWire, connect, hold_program, make_device, started

LINE_RATE = BAUD / 10  # bytes per second, 8N1
MPREMOTE_CP_EFFICIENCY = 0.34  # fs cp of random binary (repr'd chunks), from the notes


# ---- commands ---------------------------------------------------------------------------


def test_handshake_reports_versions_board_storage_and_caps(tmp_path):
    _, link = connect(make_device(tmp_path))
    hello = link.hello
    assert hello["protocol"] == m.PROTOCOL and hello["board"] == "test-board"
    assert hello["caps"] == Profile().caps() and hello["free"] > 0
    assert hello["patterns"] == 0 and hello["quota_count"] == 32
    assert "tethered" in hello["capabilities"]


def test_every_command_through_the_link(tmp_path):
    proto = make_device(tmp_path)
    wire, link = connect(proto)
    data = hold_program(3, name="lymph")
    summary = link.upload("lymph", data)
    assert summary == {
        "name": "lymph",
        "size": len(data),
        "duration": 1500,
        "description": "test pattern",
    }
    assert "lymph" in proto.device.routines  # the device rescanned after the upload
    assert link.list() == [
        {"name": "lymph", "size": len(data), "duration": 1500, "description": "test pattern"}
    ]
    assert link.play("lymph")["state"] == "running"
    assert link.pause()["state"] == "paused"
    assert link.resume()["state"] == "running"
    assert link.status()["routine"] == "lymph"
    stopped = link.stop()
    assert stopped["state"] == "idle" and proto.device.level == 0
    assert link.set("intensity", 5)["intensity"] == 5
    assert link.set("routine", "lymph")["routine"] == "lymph"
    assert link.info()["settings"]["intensity"] == 5 and proto.device.dirty
    log = link.log()
    assert any(e["event"] == "start" and e["arg"] == "lymph" for e in log)
    assert [e["seq"] for e in log] == list(range(len(log)))
    link.heartbeat()
    link.delete("lymph")
    assert link.list() == []
    assert link.resent == 0


@pytest.mark.parametrize(
    "call, code",
    [
        (lambda link: link.play("nothing"), m.E_NOT_FOUND),
        (lambda link: link.delete("../main.py"), m.E_NAME),
        (lambda link: link.upload("boot", hold_program()), m.E_NAME),
        (lambda link: link.upload("x" * 1000, hold_program()), m.E_NAME),
        (lambda link: link.upload("big", bytes(40000)), m.E_TOO_BIG),
        (lambda link: link.upload("junk", os.urandom(300)), m.E_VERIFY),
        (lambda link: link.set("intensity", 9), m.E_SETTING),
        (lambda link: link.set("colour", "red"), m.E_SETTING),
        (lambda link: link.request(0x5A), m.E_UNKNOWN),
        (lambda link: link.upload_status(), m.E_NO_UPLOAD),
    ],
)
def test_refusals_are_device_errors_with_one_line(tmp_path, call, code):
    _, link = connect(make_device(tmp_path))
    with pytest.raises(Refused) as e:
        call(link)
    assert e.value.code == code and e.value.exit_status == 1
    assert "\n" not in str(e.value) and str(e.value)


def test_many_patterns_list_in_pages(tmp_path):
    _, link = connect(make_device(tmp_path))
    names = ["pattern_%02d" % i for i in range(20)]
    for name in names:
        link.upload(name, hold_program(name=name))
    assert [p["name"] for p in link.list()] == names


def test_a_long_log_comes_in_pages(tmp_path):
    proto = make_device(tmp_path)
    _, link = connect(proto)
    link.upload("a", hold_program())
    for _ in range(40):
        link.play("a")
        link.stop()
    log = link.log()
    assert len(log) == proto.device.log.size and log[-1]["event"] == "stop"
    assert [e["seq"] for e in log] == list(range(log[0]["seq"], proto.device.log.seq))


def test_no_playing_during_an_upload(tmp_path):
    _, link = connect(make_device(tmp_path))
    link.upload("a", hold_program())
    link.request(m.UPLOAD_BEGIN, m.pack_begin(100, bytes(32), "b"))
    with pytest.raises(Refused) as e:
        link.play("a")
    assert e.value.code == m.E_STATE and "upload" in str(e.value)


def test_a_fault_in_the_device_core_stops_the_motor(tmp_path):
    proto = make_device(tmp_path)
    _, link = connect(proto)
    link.upload("a", hold_program())
    link.play("a")

    def broken():
        raise RuntimeError("boom")

    proto.device.zone = broken  # read for the reply, after the stop
    with pytest.raises(Refused) as e:
        link.stop()
    assert e.value.code == m.E_INTERNAL and "motor stopped" in str(e.value)
    assert proto.device.level == 0 and proto.device.state != RUNNING


def test_a_resent_request_is_answered_not_done_twice(tmp_path):
    proto = make_device(tmp_path)
    _, link = connect(proto)
    link.upload("a", hold_program())
    request = frame.encode(m.PLAY, 9, b"\x00" + m.pack_u32(7) + b"a")
    first = proto.feed(100, request)
    assert proto.feed(150, request) == first  # the reply was lost, the host sent it again
    assert started(proto) == ["a"]


# ---- console sharing --------------------------------------------------------------------


def test_mpremote_interrupt_stops_the_motor_and_asks_for_the_repl(tmp_path):
    proto = make_device(tmp_path)
    _, link = connect(proto)
    link.upload("a", hold_program())
    link.play("a", tethered=True)
    half = frame.encode(m.STATUS, 1)[:5]  # a host died mid-frame
    out = proto.feed(5000, half + b"\r\x03\r\x01")
    assert out in (b"", frame.encode(m.NAK, 0))  # at most a NAK for the broken frame
    assert proto.repl and proto.device.level == 0 and proto.device.state != RUNNING
    assert proto.rest == b"\r\x01" and proto.next == -1


def test_a_shell_reading_what_is_wanted_leaves_the_raw_repl_request_unread(tmp_path):
    proto = make_device(tmp_path)
    beat = frame.encode(m.HEARTBEAT, 1, m.pack_u32(7))
    stream = beat + frame.encode(m.STATUS, 2) + b"\r\x03\r\x01"
    pos = reads = 0
    while not proto.repl:
        n = proto.wanted()
        proto.feed(pos, stream[pos : pos + n])
        pos += n
        reads += 1
    assert stream[pos:] == b"\r\x01" and proto.rest == b""
    assert reads < 12  # a byte at a time only between frames


def test_arbitrary_binary_on_the_console_keeps_the_device_answering(tmp_path):
    proto = make_device(tmp_path)
    rng = random.Random(1)
    noise = bytes(rng.randrange(256) for _ in range(20000)).replace(b"\x03", b"")
    noise = noise.replace(b"\x01", b"")
    replies = proto.feed(0, noise)
    assert not proto.repl
    dec = frame.Decoder()
    pos = 0
    while pos < len(replies):  # at most NAKs came back
        pos = dec.feed(replies, pos)
        assert dec.event in (frame.NONE, frame.FRAME) and (dec.event == 0 or dec.type == m.NAK)
    out = proto.feed(10, b"\r" + frame.encode(m.STATUS, 3))
    pos = dec.feed(out)
    assert dec.event == frame.FRAME and dec.type == m.ACK and dec.seq == 3


# ---- tethered playback ------------------------------------------------------------------


def test_tethered_playback_stops_when_the_host_goes_silent(tmp_path):
    proto = make_device(tmp_path)
    wire, link = connect(proto)
    link.upload("a", hold_program())
    link.play("a", tethered=True)
    for _ in range(10):  # a live host keeps it going
        wire.advance(m.HEARTBEAT_MS / 1000.0)
        link.heartbeat()
    assert proto.device.state == RUNNING
    last = wire.t
    wire.advance(5.0)  # cable pulled
    assert proto.device.state != RUNNING and proto.device.level == 0 and proto.timeouts == 1
    stop_ms = [e[1] for e in proto.device.log.entries() if e[2] == "stop"][-1]
    assert stop_ms / 1000.0 - last <= m.HEARTBEAT_TIMEOUT_MS / 1000.0 + 0.01


def test_untethered_playback_needs_no_host(tmp_path):
    proto = make_device(tmp_path)
    wire, link = connect(proto)
    link.upload("a", hold_program())
    link.play("a")
    wire.advance(60.0)
    assert proto.device.state == RUNNING and proto.next == -1


# ---- uploads over a bad link ------------------------------------------------------------


def test_upload_resumes_after_the_cable_is_pulled(tmp_path):
    proto = make_device(tmp_path)
    data = hold_program(1000, pad=8000)
    wire, link = connect(proto, cut_after=9000)
    with pytest.raises(LinkError) as e:
        link.upload("long", data)
    assert "resume" in str(e.value) and e.value.exit_status == 2
    # the device is reset too: a new store and protocol on the same flash
    proto = make_device(tmp_path)
    wire, link = connect(proto)
    assert link.upload("long", data)["size"] == len(data)
    assert wire.sent[0] < len(data)  # only the missing part crossed the wire again
    assert stored(proto.store, "long") == data


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fault", ["drop", "dup", "flip", "stall", "all"])
def test_faulty_link_uploads_verify_or_fail_clearly(tmp_path, seed, fault):
    rate = 2e-3
    args = (
        {"drop": rate, "dup": rate, "flip": rate, "stall": 0.05}
        if fault == "all"
        else {fault: 0.1 if fault == "stall" else rate}
    )
    proto = make_device(tmp_path)
    old = hold_program(4, name="old")
    upload.begin(proto.store, "p", len(old), hashlib.sha256(old).digest())
    upload.write(proto.store, 0, old)
    upload.commit(proto.store, proto.profile)
    new = hold_program(600, name="new", pad=3000)
    wire = VirtualWire(proto, seed=seed, **args)
    link = Link(wire, name="virtual", clock=wire.clock, timeout=63.5, retries=6)  # first 0.5 s
    try:
        link.handshake()
        link.upload("p", new)
        assert stored(proto.store, "p") == new
    except Refused as e:
        assert e.code in (m.E_HASH, m.E_NO_UPLOAD), e
    except LinkError as e:
        assert str(e).startswith(
            (
                "virtual stopped answering",
                "upload to virtual stalled",
                "no answer from virtual",
                "the link to virtual is too noisy",
            )
        )
    assert stored(proto.store, "p") in (old, new)


# ---- the whole virtual board behind a noisy or a silent link ------------------------------


class Cut(SimSerial):
    """The cable goes once the host has written `after` bytes: nothing reaches the board."""

    after = float("inf")

    def write(self, data):
        self.after -= len(data)
        if self.after < 0:
            self.board.console.faults["drop"] = 1
        return super().write(data)


class Garbled(Cut):
    """Once the host has written `after` bytes, every frame from the board comes with its
    bytes changed (its SYNC bytes kept, so the host sees damaged frames, not silence)."""

    def write(self, data):
        self.after -= len(data)
        return SimSerial.write(self, data)

    def read(self, n=1):
        data = super().read(n)
        if self.after < 0:
            data = bytes(b if b == frame.SYNC else b ^ 1 for b in data)
        return data


def test_a_long_upload_over_a_noisy_link_completes(tmp_path):
    """One byte in a thousand to the board flipped or dropped (the scenario event
    `link = {flip = 0.0005, drop = 0.0005}`): most 1 KB chunks arrive damaged, several times
    in a row, and the upload gets there, byte for byte."""
    board, link = board_link(tmp_path)
    data = big_program(32000)
    board.console.faults.update(flip=0.0005, drop=0.0005)
    assert link.upload("big", data)["size"] == len(data)
    with board.flash.open("/patterns/big.fwb", "rb") as f:
        assert f.read() == data
    assert link.naks >= 20  # the link was noisy indeed
    print("\n32 KB through 0.1 %% byte faults: %d go-backs, %d NAKs" % (link.resent, link.naks))


@pytest.mark.parametrize("call", ["upload", "status"])
def test_a_link_gone_silent_is_told_as_a_pulled_cable(tmp_path, call):
    board, link = board_link(tmp_path, Cut, after=9000 if call == "upload" else 0)
    with pytest.raises(LinkError) as e:
        link.upload("big", big_program(32000)) if call == "upload" else link.status()
    text = str(e.value)
    assert "cable pulled or device reset?" in text and "noisy" not in text, text
    if call == "upload":
        assert text.startswith("upload to virtual board stalled at ") and text.endswith(
            "of 32000 bytes: cable pulled or device reset? Run the upload again to resume"
        ), text
    else:
        assert text == "virtual board stopped answering (STATUS): cable pulled or device reset?"


@pytest.mark.parametrize("damaged", ["replies", "requests"])
@pytest.mark.parametrize("call", ["upload", "status"])
def test_a_link_that_damages_every_frame_is_told_as_too_noisy(tmp_path, call, damaged):
    """Replies that all come back damaged, or NAKs for everything the board gets (one byte in
    a hundred to the board flipped: a frame of a few bytes passes, a 1 KB chunk never)."""
    if damaged == "replies":
        board, link = board_link(tmp_path, Garbled, after=9000 if call == "upload" else 0)
    else:
        board, link = board_link(tmp_path)
        board.console.faults["flip"] = 0.01 if call == "upload" else 1
    t0 = board.seconds()
    with pytest.raises(LinkError) as e:
        link.upload("big", big_program(32000)) if call == "upload" else link.status()
    text = str(e.value)
    if call == "upload":
        assert text.startswith("upload to virtual board stalled at ") and text.endswith(
            "of 32000 bytes: the link is too noisy, frames keep arriving damaged;"
            " try another USB cable or port, then run the upload again to resume"
        )
    elif damaged == "replies":
        assert text == (
            "the link to virtual board is too noisy, frames keep arriving damaged"
            " (STATUS): try another USB cable or port"
        )
    else:  # every byte flipped: the board cannot even tell frames, nothing comes back
        assert "cable pulled" in text, text
    print("%s, %s damaged: gave up after %.1f s (virtual)" % (call, damaged, board.seconds() - t0))


# ---- figures ----------------------------------------------------------------------------


def test_upload_time_and_throughput_at_115200_baud(tmp_path):
    proto = make_device(tmp_path)
    wire, link = connect(proto)
    small = hold_program(20, name="daily", pad=200)  # about the size of a routine
    t0 = wire.t
    link.upload("daily", small)
    small_s = wire.t - t0
    t0 = wire.t
    link.status()
    rtt = wire.t - t0
    big = hold_program(2048, name="big", pad=32784 - 16 - 2048 * 12 - 20)
    assert len(big) > 32000
    t0, sent0 = wire.t, wire.sent[0]
    link.upload("big", big)
    big_s = wire.t - t0
    big_wire = wire.sent[0] - sent0
    efficiency = len(big) / (big_s * LINE_RATE)
    # random binary: the worst case of stuffing; the device refuses it only at the commit
    junk = os.urandom(32768)
    t1 = wire.t
    with pytest.raises(Refused):
        link.upload("junk", junk)
    random_eff = len(junk) / ((wire.t - t1) * LINE_RATE)
    mpremote_s = len(junk) / (LINE_RATE * MPREMOTE_CP_EFFICIENCY)
    print(
        "\n%d-byte routine uploaded in %.0f ms (begin, chunk, commit); status round trip"
        " %.1f ms" % (len(small), small_s * 1000, rtt * 1000)
    )
    print(
        "%d-byte program: %.2f s, %.1f%% of line rate (%d bytes on the wire)"
        % (len(big), big_s, efficiency * 100, big_wire)
    )
    print(
        "32 KB random: %.1f%% of line rate (upload with commit); mpremote fs cp wire cost"
        " %.1f s, ratio %.1fx" % (random_eff * 100, mpremote_s, mpremote_s / (wire.t - t1))
    )
    assert small_s < 0.150 and efficiency >= 0.85 and random_eff >= 0.85
    assert mpremote_s / (wire.t - t1) >= 2


# ---- real pyserial over the simulator's ports -------------------------------------------


class Board(threading.Thread):
    """The device protocol serving one of the simulator's ports, in real time."""

    def __init__(self, proto, port):
        super().__init__(daemon=True)
        self.proto, self.port = proto, port
        self.running = True
        self.start()

    def run(self):
        start = time.monotonic()
        while self.running:
            self.port.wait(0.01)
            now = int((time.monotonic() - start) * 1000)
            data = self.port.read_available()
            out = self.proto.feed(now, data) if data else b""
            self.proto.tick(now)
            if out:
                self.port.write(out)

    def close(self):
        self.running = False
        self.join()
        self.port.close()


@pytest.mark.parametrize("kind", ["pty", "socket"])
def test_real_pyserial_session(tmp_path, kind):
    serial_port = pytest.importorskip("facewave.sim.serial_port")
    board = Board(make_device(tmp_path), serial_port.open_port(kind))
    try:
        url = board.port.url if kind == "socket" else board.port.path
        with Link.open(url) as link:
            data = hold_program(50, name="daily", pad=2000)
            assert link.upload("daily", data, progress=False)["size"] == len(data)
            assert link.play("daily")["routine"] == "daily"
            assert link.stop()["state"] == "idle"
    finally:
        board.close()


class Slow(Board):
    """A board that takes `ms` for every frame it answers (a Pico writing flash, or one
    emulated at a third of its speed)."""

    ms = 120

    def run(self):
        start = time.monotonic()
        while self.running:
            self.port.wait(0.01)
            data = self.port.read_available()
            for i in range(len(data)):
                out = self.proto.feed(int((time.monotonic() - start) * 1000), data[i : i + 1])
                if out:
                    time.sleep(self.ms / 1000)
                    self.port.write(out)


def test_an_upload_waits_for_a_slow_board_instead_of_sending_it_everything_again(tmp_path):
    """Each chunk takes longer to answer than the link's first wait: the host learns how long
    answers take and waits, where it used to go back and send the whole window again, and
    again, until it called the link too noisy."""
    serial_port = pytest.importorskip("facewave.sim.serial_port")
    board = Slow(make_device(tmp_path), serial_port.open_port("pty"))
    try:
        with Link.open(board.port.path, timeout=1.5) as link:  # a first wait of 0.1 s
            data = hold_program(50, name="big", pad=12000)
            assert link.upload("big", data, progress=False)["size"] == len(data)
            assert link.resent <= 3
    finally:
        board.close()


def test_port_errors_are_one_plain_line(tmp_path):
    with pytest.raises(LinkError) as e:
        Link.open(str(tmp_path / "ttyACM9"))
    assert "no serial port" in str(e.value) and e.value.exit_status == 2


def test_silent_port_and_repl_prompt_are_told_apart(tmp_path, vm):
    serial_port = pytest.importorskip("facewave.sim.serial_port")
    port = serial_port.open_port("pty")
    try:
        with pytest.raises(LinkError) as e:
            Link.open(port.path, timeout=0.15, retries=1)
        assert "no answer from" in str(e.value)
    finally:
        port.close()
    # plain MicroPython's REPL, answering in real time (through Node.js: give it 0.3 s)
    with VMBoard(tmp_path / "flash") as board:
        with pytest.raises(LinkError) as e:
            Link.open(board.url, timeout=0.9, retries=1)
        assert "MicroPython prompt" in str(e.value) and "facewave flash" in str(e.value)
        # the friendly REPL after `mpremote resume exec`: it echoes our frames, and shows its
        # prompt only after a CR
        subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", board.url, "resume", "exec", "pass"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        with pytest.raises(LinkError) as e:
            Link.open(board.url, timeout=0.9, retries=1)
        assert "MicroPython prompt" in str(e.value)


def test_older_firmware_is_named(tmp_path):
    proto = make_device(tmp_path)
    hello = proto.hello
    proto.hello = lambda: dict(hello(), protocol=0, firmware="0.0.1")
    with pytest.raises(LinkError) as e:
        connect(proto)
    assert "older firmware 0.0.1" in str(e.value) and "facewave flash" in str(e.value)


def test_real_time_figures_over_a_throttled_pty(tmp_path):
    """The same figures in wall-clock time through pyserial and the simulator's 115200-baud
    pty (printed, not asserted: the machine may be busy)."""
    serial_port = pytest.importorskip("facewave.sim.serial_port")
    board = Board(make_device(tmp_path), serial_port.open_port("pty", baud=BAUD))
    try:
        with Link.open(board.port.path) as link:
            small = hold_program(20, name="daily", pad=200)
            t0 = time.perf_counter()
            link.upload("daily", small)
            small_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(5):
                link.status()
            rtt = (time.perf_counter() - t0) / 5
            big = hold_program(2048, name="big", pad=32784 - 16 - 2048 * 12 - 20)
            t0 = time.perf_counter()
            link.upload("big", big)
            big_s = time.perf_counter() - t0
        print(
            "\nreal pty at %d baud: %d-byte routine %.0f ms, status round trip %.1f ms,"
            " %d-byte program %.2f s = %.1f%% of line rate"
            % (
                BAUD,
                len(small),
                small_s * 1000,
                rtt * 1000,
                len(big),
                big_s,
                len(big) / big_s / LINE_RATE * 100,
            )
        )
        assert stored(board.proto.store, "big") == big
    finally:
        board.close()


def test_a_busy_port_is_named(tmp_path):
    serial_port = pytest.importorskip("facewave.sim.serial_port")
    board = Board(make_device(tmp_path), serial_port.open_port("pty"))
    try:
        with Link.open(board.port.path):
            with pytest.raises(LinkError) as e:
                Link.open(board.port.path)
        assert "is busy" in str(e.value) and e.value.exit_status == 2
    finally:
        board.close()
