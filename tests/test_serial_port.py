"""The virtual serial port: pyserial opens the pty and the socket URL and the board answers (the
VM board's REPL, MicroPython's own)."""

import os
import socket
import stat
import termios
import time

import pytest
import serial

from facewave.sim import serial_port
from facewave.sim.serial_port import Line, PortError, PtyPort, SocketPort, line_time, open_port
from facewave.sim.vm_board import VMBoard

needs_pty = pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals")


class FakeClock:
    """Virtual time for the throttle: the tests set it, nothing sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def read_until(ser, ending, limit=4096):
    data = b""
    while not data.endswith(ending) and len(data) < limit:
        byte = ser.read(1)
        if not byte:
            break
        data += byte
    return data


def wait_for(condition, tries=200):
    """Until the port thread has seen what the host did (bounded, never a timing assertion)."""
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("the port never saw it")


def serve_until(port, condition, tries=100):
    """Run the port's loop in this thread until `condition` holds (bounded)."""
    for _ in range(tries):
        if condition():
            return
        port.wait(0.05)
    raise AssertionError("the port never saw it")


@pytest.fixture
def repl(vm, tmp_path):
    """A VM board with plain MicroPython on a pty: the REPL has the console."""
    with VMBoard(tmp_path / "flash") as board:
        yield board


# -- the line-rate throttle ---------------------------------------------------------------


def test_line_time_is_ten_bits_per_byte():
    assert line_time(11520, 115200) == pytest.approx(1.0)
    assert line_time(1, 9600) == pytest.approx(10 / 9600)


def test_line_releases_bytes_at_the_line_rate():
    line = Line(115200)
    line.push(bytes(1152), 0.0)
    assert line.free_at == pytest.approx(0.1)
    assert line.pop(0.0) == b""
    assert line.next_due() == pytest.approx(line_time(1, 115200))
    assert len(line.pop(0.05)) == 576
    assert line.backlog == 576
    assert len(line.pop(0.1)) == 576
    assert line.backlog == 0 and line.next_due() is None


def test_bursts_queue_behind_each_other_and_an_idle_line_starts_afresh():
    line = Line(9600)
    line.push(b"a" * 96, 0.0)  # 0.1 s of line time
    line.push(b"b" * 96, 0.05)  # queued: starts when the first burst is through
    assert line.free_at == pytest.approx(0.2)
    assert line.pop(0.15) == b"a" * 96 + b"b" * 48
    assert line.pop(10.0) == b"b" * 48
    line.push(b"c" * 96, 20.0)  # the line was idle: this burst starts at 20 s
    assert line.free_at == pytest.approx(20.1)
    assert line.pop(20.05) == b"c" * 48


def test_without_a_baud_rate_bytes_pass_at_once():
    line = Line()
    line.push(b"hello", 3.0)
    assert line.pop(3.0) == b"hello"


# -- the pty --------------------------------------------------------------------------------


@needs_pty
def test_pty_is_raw_private_and_pyserial_gets_the_friendly_prompt(repl):
    port = repl.port
    assert port.path.startswith("/dev/")
    assert stat.S_IMODE(os.stat(port.path).st_mode) == 0o600
    with serial.Serial(port.path, 115200, timeout=2) as ser:
        ser.write(b"\r\x03\r\x02")
        data = read_until(ser, b'Type "help()" for more information.\r\n>>> ')
        assert b"MicroPython v1.27.0 on" in data and data.endswith(b">>> ")
        ser.write(b"6*7\r")
        assert b"6*7\r\n42\r\n>>> " in read_until(ser, b"42\r\n>>> ")


@needs_pty
def test_pty_slave_has_no_echo_and_no_newline_translation():
    with PtyPort() as port:
        fd = os.open(port.path, os.O_RDWR | os.O_NOCTTY)
        try:
            iflag, oflag, _, lflag, *_ = termios.tcgetattr(fd)
            assert not lflag & (termios.ECHO | termios.ICANON)
            assert not oflag & termios.OPOST
            assert not iflag & termios.ICRNL
        finally:
            os.close(fd)


@needs_pty
def test_pty_host_can_close_and_reopen(repl):
    port = repl.port
    for _ in range(2):
        with serial.Serial(port.path, 115200, timeout=2) as ser:
            ser.write(b"\r\x03\r\x01")
            assert read_until(ser, b"raw REPL; CTRL-B to exit\r\n>").endswith(
                b"raw REPL; CTRL-B to exit\r\n>"
            )
            ser.write(b"\r\x02")
        wait_for(lambda: not port.connected)
    assert port.connections == 2


@needs_pty
def test_output_with_no_host_is_dropped():
    with PtyPort() as port:
        port.write(b"nobody is listening")
        assert not port.connected
        assert port.pending_output == 0
        with serial.Serial(port.path, 115200, timeout=0.2) as ser:
            port.service()
            assert port.connected
            port.write(b"hello")
            assert ser.read(100) == b"hello"


@needs_pty
def test_a_pty_that_cannot_be_created_is_a_clear_error(monkeypatch):
    def no_pty():
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(serial_port.os, "openpty", no_pty)
    with pytest.raises(PortError, match="cannot create a pseudo-terminal: Too many open files"):
        PtyPort()


# -- the socket ----------------------------------------------------------------------------


def test_socket_url_answers_pyserial(vm, tmp_path):
    with VMBoard(tmp_path / "flash", port="socket") as board:
        port = board.port
        assert port.url.startswith("socket://127.0.0.1:")
        with serial.serial_for_url(port.url, timeout=2) as ser:
            ser.write(b"\r\x03\r\x01")
            assert read_until(ser, b"raw REPL; CTRL-B to exit\r\n>").endswith(b"\r\n>")
            ser.write(b"print(1+1)\x04")
            assert read_until(ser, b">") == b"OK2\r\n\x04\x04>"


def test_socket_port_in_use_is_a_clear_error():
    with SocketPort() as first:
        message = "port %d on 127.0.0.1 is already in use" % first.port
        with pytest.raises(PortError, match=message):
            SocketPort(first.port)


def test_socket_listens_on_loopback_only():
    with pytest.raises(PortError, match="loopback only"):
        SocketPort(host="0.0.0.0")
    with pytest.raises(PortError, match="bad port number"):
        open_port("socket:http")


def test_socket_takes_one_host_at_a_time_and_a_new_one_after_it_leaves():
    with SocketPort() as port:
        first = socket.create_connection(("127.0.0.1", port.port))
        serve_until(port, lambda: port.connected)
        assert port.connections == 1
        second = socket.create_connection(("127.0.0.1", port.port))
        port.wait(0.2)
        second.settimeout(2)
        assert second.recv(10) == b""  # refused: the port is busy
        second.close()
        first.close()
        serve_until(port, lambda: not port.connected)
        third = socket.create_connection(("127.0.0.1", port.port))
        serve_until(port, lambda: port.connected)
        assert port.connections == 2
        third.close()


# -- throttling through a real port, in virtual time ---------------------------------------


@needs_pty
def test_throttled_output_reaches_the_host_at_the_line_rate():
    clock = FakeClock()
    with (
        PtyPort(baud=115200, clock=clock) as port,
        serial.Serial(port.path, 115200, timeout=0.3) as ser,
    ):
        port.service()
        port.write(bytes(1152))  # 0.1 s of line time
        assert port.pending_output == 1152
        assert port.next_deadline() == pytest.approx(line_time(1, 115200))
        clock.now = 0.05
        port.service()
        assert len(ser.read(1152)) == 576
        clock.now = 0.1
        port.service()
        assert len(ser.read(1152)) == 576
        assert port.pending_output == 0


@needs_pty
def test_throttled_input_reaches_the_board_at_the_line_rate():
    clock = FakeClock()
    with PtyPort(baud=9600, clock=clock) as port, serial.Serial(port.path, 9600, timeout=1) as ser:
        ser.write(bytes(100))
        ser.flush()
        for _ in range(50):  # until the kernel has passed the host's bytes on
            if port.rx.backlog:
                break
            port.wait(0.1)
        # the board takes about 20 ms of line time from the host at once: 19 bytes
        assert port.rx.backlog == 9600 // 10 // 50
        assert port.read_available() == b""
        clock.now = line_time(10, 9600)
        assert len(port.read_available()) == 10
        received = 10
        for _ in range(50):
            clock.now += 1.0
            port.wait(0.05)
            received += len(port.read_available())
            if received >= 100:
                break
        clock.now += 1.0
        port.service()
        received += len(port.read_available())
        assert received == 100  # every byte once, none twice


def test_open_port_rejects_unknown_kinds():
    with pytest.raises(PortError, match="unknown port kind"):
        open_port("usb")
