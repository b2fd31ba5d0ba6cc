"""The emulated Raspberry Pi Pico (sim/rp2040.py): the genuine MicroPython UF2 on rp2040js, met
with the real mpremote over its pty.

Runs when $FACEWAVE_RP2_UF2 names the RPI_PICO UF2 (or a folder holding it and bootrom-b1.bin);
otherwise the module skips with the reason. Under CI, a FACEWAVE_RP2_UF2 that names nothing
usable is a failure, not a skip. One board serves the module (a boot takes about a second).
"""

import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from device_kit import EmulatedPico, emulated_pico, mpremote
from facewave.sim import rp2040

UF2, BOOTROM = emulated_pico()


@pytest.fixture(scope="module")
def pico(tmp_path_factory):
    yield from EmulatedPico.for_module(tmp_path_factory)


def test_boots_to_the_repl_and_mpremote_works(pico):
    board = pico.board
    assert board.boots == 1 and board.resets == 0
    assert os.path.realpath(board.port).startswith("/dev/")
    assert pico.run("print(1+1)") == "2\n"
    banner = pico.run("import sys; print(sys.implementation._machine, sys.version_info[:2])")
    assert banner.startswith("Raspberry Pi Pico with RP2040")
    assert board.board_ms() > 0


def test_a_copied_file_survives_a_restart_with_the_same_flash(pico, tmp_path):
    data = bytes(range(256)) * 40
    src = tmp_path / "kept.bin"
    src.write_bytes(data)
    mpremote(pico.board.port, "fs", "cp", str(src), ":kept.bin")
    pico.power_cycle()
    back = tmp_path / "back.bin"
    mpremote(pico.board.port, "fs", "cp", ":kept.bin", str(back))
    assert back.read_bytes() == data
    assert pico.flash.stat().st_size == 2 * 1024 * 1024


def test_the_watchdog_resets_the_board(pico):
    board = pico.board
    before = board.resets
    pico.run("with open('before-wdt.txt', 'w') as f: f.write('kept')")
    pico.run("import machine; w = machine.WDT(timeout=2000)")  # and nobody feeds it
    board.wait_reset(before + 1, timeout=60)
    assert board.resets == before + 1 and board.reset_log[-1][1] == "watchdog"
    out = pico.run(
        "import machine, os; print(machine.reset_cause() == machine.WDT_RESET, "
        "open('before-wdt.txt').read(), 'kept.bin' in os.listdir())"
    )
    assert out == "True kept True\n"


def test_a_program_that_holds_the_port_through_a_reset_sees_it_go(pico):
    """As with /dev/ttyACM0: the device goes away (EIO), and the path comes back."""
    import serial

    board = pico.board
    with serial.Serial(board.port, timeout=0.2) as s:
        deadline = time.monotonic() + 10
        while not board.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert board.connected
        s.write(b"\r\x03import machine; machine.reset()\r")
        board.wait_reset(timeout=60)
        with pytest.raises(serial.SerialException):
            for _ in range(50):
                s.read(100)
    assert board.reset_log[-1][1] == "forced"
    assert pico.run("print('back')") == "back\n"


def millivolts(u16):
    """The cell behind a read_u16() of ADC3: 3.3 V reference, VSYS/3 (the Pico's divider)."""
    return u16 * 3300 * 3 / 65535


def test_button_charger_and_battery_read_from_micropython(pico):
    board = pico.board
    read = (
        "import machine; print(machine.Pin(14, machine.Pin.IN).value(), "
        "machine.Pin(13, machine.Pin.IN).value(), machine.ADC(3).read_u16())"
    )
    idle = pico.run(read).split()
    assert idle[:2] == ["1", "1"]  # released, not charging
    assert abs(millivolts(int(idle[2])) - 4000) <= 10
    board.button(True)
    board.charger(True)
    board.battery(3400)
    pressed = pico.run(read).split()
    assert pressed[:2] == ["0", "0"]
    assert abs(millivolts(int(pressed[2])) - 3400) <= 10
    board.button(False)
    board.charger(False)
    board.battery(4000)
    assert pico.run(read).split()[:2] == ["1", "1"]


def test_pwm_readback(pico):
    board = pico.board
    mark = board.mark()
    pico.run("import machine; machine.PWM(machine.Pin(15), freq=20000, duty_u16=32768)")
    assert board.pwm() == (20000, 32768, True)
    state = board.pwm_state()
    assert state["top"] + 1 == 125_000_000 // 20000 and state["en"]
    trace = board.pwm_trace(since_ms=mark)
    assert trace and trace[-1][1:] == (20000, 32768)
    assert all(mark <= ms <= board.board_ms() for ms, _, _ in trace)
    pico.run("import machine; machine.PWM(machine.Pin(15), freq=1000, duty_u16=16384)")
    freq, duty, driven = board.pwm()
    assert freq == pytest.approx(1000, abs=0.01) and duty == 16384 and driven  # 1000.002 Hz:
    # the divider is fractional (8 bits . 4 bits), so the real frequency is what the registers say
    pico.run("import machine; machine.Pin(15, machine.Pin.OUT, value=1)")
    assert board.pwm() == (0, 65535, False)
    pico.run("import machine; machine.Pin(15, machine.Pin.OUT, value=0)")
    assert board.pwm() == (0, 0, False)
    # each setup is a few register writes microseconds apart: settled, one row each
    assert [(round(f), d) for _, f, d in board.pwm_trace(since_ms=mark, settle_ms=0.1)] == [
        (20000, 32768),
        (1000, 16384),
        (0, 65535),
        (0, 0),
    ]
    assert len(board.pwm_trace(since_ms=mark)) > 4


def test_facewave_sim_rp2040_serves_the_port_until_sigterm(tmp_path):
    flash = tmp_path / "pico.bin"
    proc = subprocess.Popen(
        [sys.executable, "-m", "facewave.cli", "sim", "--rp2040", "--flash", str(flash)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def say(line):  # a line typed at the simulator: its answer
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    try:
        first = proc.stdout.readline()
        assert "emulated Raspberry Pi Pico" in first, first + proc.stderr.read()
        port = first.split(" on ")[-1].strip()
        assert mpremote(port, "exec", "print(6*7)") == "42\n"
        while "type:" not in proc.stdout.readline():
            pass
        pin = "import machine; print(machine.Pin(14).value())"
        assert say("hold") == "button held" and mpremote(port, "exec", pin) == "0\n"
        assert say("release") == "button released" and mpremote(port, "exec", pin) == "1\n"
        assert say("pwm") == "GP15: not driven"
        assert say("press soon") == "press: expected a whole number 1..60000, got 'soon'"
        assert say("battery 1e9") == "battery: expected a whole number 0..5500, got '1e9'"
        assert say("battery 3700") == "battery at 3700 mV"
        assert say("blink").startswith("say: press [MS]")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out and not os.path.lexists(port)
    assert flash.stat().st_size == 2 * 1024 * 1024  # formatted by MicroPython, saved at exit


# ---- bad input -------------------------------------------------------------------------------


def uf2_block(payload, family=0xE48BFF56, addr=0x10000000, flags=0x2000):
    head = struct.pack("<8I", 0x0A324655, 0x9E5D5157, flags, addr, 256, 0, 1, family)
    return head + payload.ljust(476, b"\0") + struct.pack("<I", 0x0AB16F30)


def start_fails(uf2, **kw):
    board = rp2040.Rp2040Board(uf2=uf2, bootrom=BOOTROM, **kw)
    with pytest.raises(rp2040.Rp2040Error) as info:
        board.start(timeout=30)
    assert not board.running and board._proc.poll() is not None  # nothing left running
    assert not os.path.lexists(board.port)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_missing_uf2_says_where_to_get_one(tmp_path, monkeypatch):
    with pytest.raises(rp2040.Rp2040Error, match=r"no such file.*micropython.org/download/"):
        rp2040.Rp2040Board(uf2=tmp_path / "nope.uf2")
    monkeypatch.delenv("FACEWAVE_RP2_UF2")
    with pytest.raises(rp2040.Rp2040Error, match=r"FACEWAVE_RP2_UF2.*micropython.org"):
        rp2040.Rp2040Board()
    monkeypatch.setenv("FACEWAVE_RP2_UF2", str(tmp_path))
    with pytest.raises(rp2040.Rp2040Error, match=r"no RPI_PICO-.*uf2"):
        rp2040.Rp2040Board()


def test_a_file_that_is_not_a_uf2_is_refused(tmp_path):
    junk = tmp_path / "firmware.uf2"
    junk.write_bytes(b"\x7fELF" + bytes(600))
    assert start_fails(junk).endswith("not a UF2 file")


def test_a_uf2_for_another_chip_or_board_is_refused(tmp_path):
    other = tmp_path / "rp2350.uf2"
    other.write_bytes(uf2_block(b"MicroPython", family=0xE48BFF59))
    assert "a UF2 for RP2350" in start_fails(other)
    pico_w = tmp_path / "pico_w.uf2"
    pico_w.write_bytes(uf2_block(b"MicroPython v1.28.0; Raspberry Pi Pico W with RP2040"))
    message = start_fails(pico_w)
    assert '"Raspberry Pi Pico W with RP2040", not for the Raspberry Pi Pico' in message


def test_a_flash_file_of_the_wrong_size_is_refused(tmp_path):
    flash = tmp_path / "flash.bin"
    flash.write_bytes(bytes(1000))
    assert "not a 2097152-byte Pico flash image" in start_fails(UF2, flash=flash)


def test_facewave_sim_rp2040_bad_uf2_is_one_line_and_exit_2(tmp_path):
    junk = tmp_path / "x.uf2"
    junk.write_text("hello")
    for uf2 in (junk, tmp_path / "missing.uf2"):
        done = subprocess.run(
            [sys.executable, "-m", "facewave.cli", "sim", "--rp2040", "--uf2", str(uf2)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("facewave: ")
