"""The VM board (sim/vm_board.py): the genuine firmware in MicroPython's WebAssembly VM, whose
own REPL takes the console when the firmware hands it over. Byte for byte on the wire: the
hand-over and back, soft resets in the REPL that asked (raw stays raw, only the friendly REPL's
runs main.py), raw-paste (which the board serves around the raw REPL, see vm_board.mjs), the
flash kept in its folder, the filesystem's errors and size as a board's, and a watchdog that
runs on through a soft reset, as on rp2."""

import os
import time

import pytest
import serial

from device_kit import flashed
from facewave.link import Link
from facewave.sim.vm_board import VMBoard

pytestmark = [
    pytest.mark.usefixtures("vm"),  # the MicroPython VM, see conftest
    pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals"),
]

RAW = b"raw REPL; CTRL-B to exit\r\n>"


class Wire:
    """The host's end of the board's console."""

    def __init__(self, board):
        self.ser = serial.serial_for_url(board.url, timeout=0.05)

    def say(self, data, until=b"", quiet_s=0.1, timeout_s=10):
        """Send `data`; answer what comes back: up to and including `until`, and then whatever
        else comes within quiet_s (so that an answer that goes on is seen whole)."""
        self.ser.write(data)
        got = b""
        deadline = time.monotonic() + timeout_s
        while not got.endswith(until) and time.monotonic() < deadline:
            got += self.ser.read(4096)
        quiet = time.monotonic() + quiet_s
        while time.monotonic() < quiet:
            more = self.ser.read(4096)
            got += more
            if more:
                quiet = time.monotonic() + quiet_s
        return got

    def close(self):
        self.ser.close()


@pytest.fixture
def flash(tmp_path):
    return tmp_path / "flash"


@pytest.fixture
def plain(flash):
    """A board with plain MicroPython, its host at the raw REPL."""
    with VMBoard(flash) as board:
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)
        yield board, wire
        wire.close()


def test_the_firmware_hands_the_console_to_the_repl_and_takes_it_back_at_a_soft_reset(flash):
    with VMBoard(flash, files=flashed()) as board:
        with Link.open(board.url) as link:
            assert link.status()["state"] == "idle"
        wire = Wire(board)
        out = wire.say(b"\r\x03", b">>> ")  # mpremote's interrupt, between frames
        assert out.startswith(b"Traceback (most recent call last):\r\n")
        assert b"\r\nKeyboardInterrupt: \r\n" in out and board.handovers == 1
        assert b'Type "help()" for more information.\r\n>>> ' in out
        assert wire.say(b"6*7\r", b">>> ") == b"6*7\r\n42\r\n>>> "
        assert wire.say(b"\x04", b"soft reboot\r\n") == b"\r\nMPY: soft reboot\r\n"
        wire.close()
        with Link.open(board.url) as link:  # main.py ran: the firmware has the console again
            assert link.status()["state"] == "idle"
        assert board.boots == ["power", "soft"] and board.query()["mode"] == "firmware"


def test_the_firmware_runs_from_its_sources_too(flash):
    with VMBoard(flash, files=flashed(mpy=False)) as board:
        with Link.open(board.url) as link:
            assert link.status()["state"] == "idle"
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)
        out = wire.say(b"import facewave\nprint(facewave.__file__)\x04", b">")
        assert out == b"OK/fw/a/facewave/__init__.py\r\n\x04\x04>"
        wire.close()


def test_a_soft_reset_in_the_raw_repl_stays_raw_and_runs_boot_py_only(flash):
    flash.mkdir()
    (flash / "boot.py").write_text("print('boot')\n")
    (flash / "main.py").write_text("print('main')\n")
    with VMBoard(flash) as board:
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)
        assert wire.say(b"\x04", RAW) == b"OK\r\nMPY: soft reboot\r\nboot\r\n" + RAW
        assert wire.say(b"print('a')\nprint('b')\x04", b">") == b"OKa\r\nb\r\n\x04\x04>"
        assert wire.say(b"import nothing\x04", b"\x04>") == (
            b"OK\x04Traceback (most recent call last):\r\n"
            b'  File "<stdin>", line 1, in <module>\r\n'
            b"ImportError: no module named 'nothing'\r\n\x04>"
        )
        assert wire.say(b"\r\x02", b">>> ").startswith(b"\r\nMicroPython v1.27.0 on ")
        assert wire.say(b"\x04", b">>> ").startswith(b"\r\nMPY: soft reboot\r\nboot\r\nmain\r\n")
        wire.close()


def test_main_py_does_not_run_after_a_boot_py_that_raised(flash):
    """As rp2's main.c: main.py runs only when boot.py ran to its end."""
    flash.mkdir()
    (flash / "boot.py").write_text("1/0\n")
    (flash / "main.py").write_text("print('main')\n")
    with VMBoard(flash) as board:
        wire = Wire(board)
        wire.say(b"\r\x03", b">>> ")
        out = wire.say(b"\x04", b">>> ")
        assert b'  File "boot.py", line 1, in <module>\r\nZeroDivisionError' in out
        assert b"main" not in out
        wire.close()


def test_raw_paste_answers_with_its_window_and_runs_the_code_in_the_raw_repl(plain):
    _, wire = plain
    assert wire.say(b"\x05A\x01", b"\x01") == b"R\x01\x80\x00\x01"  # window 128, a second free
    code = b"x = '" + b"y" * 300 + b"'\nprint(len(x))"
    assert wire.say(code[:128], b"\x01") == b"\x01"
    assert wire.say(code[128:256], b"\x01") == b"\x01"
    assert wire.say(code[256:] + b"\x04", b">") == b"\x04300\r\n\x04\x04>"
    assert wire.say(b"\x05A\x01", b"\x01") == b"R\x01\x80\x00\x01"
    assert wire.say(b"1/0\x04", b">").endswith(b"ZeroDivisionError: divide by zero\r\n\x04>")


def test_raw_paste_ended_by_ctrl_c_runs_nothing(plain):
    _, wire = plain
    wire.say(b"\x05A\x01", b"\x01")
    assert wire.say(b"print('never')\x03") == b"\x04"
    assert wire.say(b"print('next')\x04", b">") == b"OKnext\r\n\x04\x04>"


def test_an_unknown_raw_paste_command_is_refused_by_the_raw_repl(plain):
    _, wire = plain
    assert wire.say(b"\x05B\x01", b">") == b"R\x00>"


def test_the_flash_is_written_back_at_every_soft_reset_and_at_close(flash):
    with VMBoard(flash) as board:
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)
        wire.say(b"open('kept.txt', 'w').write('kept')\x04", b">")
        assert not (flash / "kept.txt").exists()  # still only in the VM
        wire.say(b"\x04", RAW)
        assert (flash / "kept.txt").read_text() == "kept"
        wire.say(b"import os\nos.remove('kept.txt')\nos.mkdir('d')\x04", b">")
        wire.close()
    assert os.listdir(flash) == ["d"]
    with VMBoard(flash) as board:  # another run on the same folder
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)
        assert wire.say(b"import os\nprint(os.listdir())\x04", b">") == b"OK['d']\r\n\x04\x04>"
        wire.close()


def test_a_full_flash_says_so_as_a_board_does(flash):
    with VMBoard(flash, size=64 * 1024) as board:
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)
        out = wire.say(b"import os\nv = os.statvfs('/')\nprint(v[0], v[2], v[3])\x04", b">")
        assert out == b"OK4096 16 14\r\n\x04\x04>"  # 16 blocks, 2 of them the root directory
        out = wire.say(b"f = open('big', 'wb')\nf.write(bytes(60000))\x04", b">")
        assert out.endswith(b"OSError: 28\r\n\x04>")  # ENOSPC, which MicroPython does not name
        wire.close()


def test_a_watchdog_left_running_runs_on_through_a_soft_reset_and_resets_the_board(flash):
    """As on rp2: a soft reset removes every timer that could feed a started watchdog, and
    the watchdog runs on."""
    with VMBoard(flash) as board:
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)
        wire.say(b"import machine\nw = machine.WDT(timeout=1500)\x04", b">")
        wire.say(b"\x04", RAW)
        deadline = time.monotonic() + 5
        while "watchdog" not in board.boots and time.monotonic() < deadline:
            time.sleep(0.05)
        assert board.boots == ["power", "soft", "watchdog"]
        wire.close()


def test_the_firmware_stops_the_watchdog_when_it_hands_the_console_over(flash):
    """So mpremote's soft resets, which remove the timers, never reset a board that ran the
    firmware (machine.hw is the VM's virtual hardware)."""
    with VMBoard(flash, files=flashed()) as board:
        wire = Wire(board)
        wire.say(b"\r\x03\r\x01", RAW)  # mpremote: the interrupt, then the raw REPL
        out = wire.say(b"import machine\nprint(machine.hw.wdt.left(0))\x04", b">")
        assert out == b"OK-1\r\n\x04\x04>"  # started by the firmware, stopped at the hand-over
        wire.say(b"\x04", RAW)
        out = wire.say(b"import machine\nprint(machine.hw.wdt)\x04", b">")
        assert out == b"OKNone\r\n\x04\x04>"  # nothing ran on through the soft reset
        wire.close()
