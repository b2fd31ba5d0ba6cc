"""facewave's firmware on the genuine MicroPython for the Pico, in the emulated RP2040: installed
with `facewave flash`, driven with `facewave` and the real mpremote, its motor read back at the
PWM registers. What only the real port shows: soft resets that remove timers while the watchdog
runs on, a heap that fragments, the board's own speed, littlefs.

Runs when $FACEWAVE_RP2_UF2 names the RPI_PICO UF2 (see tests/test_rp2040.py), else skips with
the reason. One board serves the module, in order: each test leaves it running the firmware.
Times are board time (the emulator's clock), which is what a person with a board would see.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from device_kit import EmulatedPico, emulated_pico, mpremote
from facewave.bench import big_program
from facewave.firmware import store
from facewave.link import Link
from facewave.scenarios import runner
from facewave.sim.virtual_board import VirtualBoard

TIMEOUT_S = 600  # wall time for one command: the emulator runs busy code at 0.2-0.5x
# ... so the seconds of silence a command tolerates (a real Pico's 5 s default, in which it
# verifies the largest program at a commit, a PLAY or a LIST page) are 30 here
ENV = dict(os.environ, FACEWAVE_TIMEOUT="30")
STEP_MS = 10  # the pico profile's engine step
JITTER_MS = 15  # the emulated board's loop wakes late by a few ms under load
START_MS = 400  # a session's start (soft start, kick) begins later on the board: see below
emulated_pico()


class Pico(EmulatedPico):
    """The module's board, and the commands a person runs against it."""

    def facewave(self, *args, check=True):
        done = subprocess.run(
            [sys.executable, "-m", "facewave.cli", *map(str, args), "--port", self.board.port],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=ENV,
        )
        if check and done.returncode:
            raise AssertionError(
                "facewave %s: exit %d\n%s%s"
                % (" ".join(map(str, args)), done.returncode, done.stdout, done.stderr)
            )
        return done

    def json(self, *args):
        return json.loads(self.facewave(*args, "--json").stdout)

    def level(self):
        """The motor's drive now, permille, as the simulator reports it."""
        freq, duty, by_pwm = self.board.pwm()
        return permille(duty) if by_pwm and freq else 0

    def idle_for(self, ms):
        """Let `ms` of board time pass."""
        end = self.board.board_ms() + ms
        while self.board.board_ms() < end:
            time.sleep(0.05)


def starved(board):
    """Watchdog resets so far (mpremote's machine.reset() is a reset too, but no fault)."""
    return sum(1 for _, why in board.reset_log if why == "watchdog")


def permille(duty):
    """The level a duty read back from the registers stands for. At 20 kHz the slice counts to
    6,250, so the duty_u16 written is quantised (level 3 reads back as 199, not 196); the
    nearest permille undoes that."""
    return (int(duty) * 1000 + 32767) // 65535


@pytest.fixture(scope="module")
def pico(tmp_path_factory):
    yield from Pico.for_module(tmp_path_factory)


def test_flash_installs_the_firmware_on_a_plain_board(pico):
    done = pico.facewave("flash")
    assert "no facewave firmware" in done.stdout and "the device answers" in done.stdout
    info = pico.json("info")
    assert info["board"] == "pico" and info["status"]["state"] == "idle"
    assert starved(pico.board) == 0


def test_a_host_that_stops_in_the_middle_of_a_frame_leaves_the_board_answering(pico):
    """The board reads the rest of a frame in one go (firmware/console.py): a host that sends
    half a frame and falls silent costs it a NAK, never its loop, its watchdog or the next
    host."""
    import serial

    from facewave.firmware import frame, messages

    board = pico.board
    wire = frame.encode(messages.STATUS, 1, bytes(900))
    with serial.Serial(board.port, timeout=0) as port:
        port.write(wire[: len(wire) // 2])
        pico.idle_for(1000)
        answer = port.read(4096)
    dec = frame.Decoder()
    assert dec.feed(answer) and dec.event == frame.FRAME and dec.type == messages.NAK
    assert pico.json("info")["status"]["state"] == "idle"
    assert starved(board) == 0


def test_flash_upgrades_a_board_that_runs_the_firmware_and_keeps_its_patterns(pico):
    pico.facewave("upload", "daily")
    pico.facewave("set", "intensity", "2")
    started = pico.board.board_ms()
    summary = json.loads(pico.facewave("flash", "--json").stdout)
    took = pico.board.board_ms() - started
    print("\nflash onto the running firmware: %.1f s of board time" % (took / 1000))
    assert summary["handshake"]["firmware"] and summary["slot"] == "/fw/b"
    assert took > 5000  # longer than the watchdog's period: the watchdog is really stopped
    info = pico.json("info")
    assert info["settings"]["intensity"] == 2
    assert [p["name"] for p in pico.json("list")["patterns"]] == ["daily"]
    assert starved(pico.board) == 0


def test_mpremote_commands_and_soft_resets_never_reset_a_running_board(pico, tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 16)
    assert mpremote(pico.board.port, "exec", "print(6 * 7)") == "42\n"
    mpremote(pico.board.port, "fs", "cp", str(blob), ":blob.bin")
    mpremote(pico.board.port, "soft-reset")
    script = _script(tmp_path, "import os\nprint(os.stat('blob.bin')[6])\n")
    assert mpremote(pico.board.port, "run", str(script)) == "4096\n"
    pico.idle_for(8000)  # the watchdog's 5 s, and more
    assert starved(pico.board) == 0
    mpremote(pico.board.port, "rm", ":blob.bin")
    mpremote(pico.board.port, "reset")  # mpremote's machine.reset(): the firmware runs again
    pico.board.wait_usb()
    assert pico.json("status")["state"] == "idle"


def _script(tmp_path, text):
    path = tmp_path / "script.py"
    path.write_text(text)
    return path


def _fwb(tmp_path, name, size):
    path = tmp_path / (name + ".fwb")
    path.write_bytes(big_program(size, name))
    return path


def test_a_32kb_pattern_stores_and_plays_after_uploads_and_deletes(pico, tmp_path):
    """The history that left a Pico without a 32 KB block (25.6 KB largest of 177 KB free)."""
    for name, size in (("four", 4096), ("sixteen", 16384)):
        pico.facewave("upload", _fwb(tmp_path, name, size))
    for name in ("four", "sixteen"):
        pico.facewave("delete", name)
    pico.facewave("upload", _fwb(tmp_path, "big", 32000))
    mark = pico.board.mark()
    assert pico.json("play", "big")["state"] == "running"
    pico.idle_for(1000)
    assert max(duty for _, _, duty in pico.board.pwm_trace(since_ms=mark)) > 0
    assert pico.json("stop")["state"] == "idle"
    assert pico.level() == 0 and starved(pico.board) == 0


def test_a_board_with_the_whole_quota_of_the_largest_patterns_boots_and_answers(pico, tmp_path):
    for name in pico.json("list")["patterns"]:
        pico.facewave("delete", name["name"])
    sizes = [store.MAX_SIZE] * 3 + [131072 - 3 * store.MAX_SIZE]  # the quota, to the byte
    for i, size in enumerate(sizes):
        pico.facewave("upload", _fwb(tmp_path, "full%d" % i, size))
    assert pico.json("info")["used"] == 131072
    pico.power_cycle()
    with Link.open(pico.board.port, timeout=30) as link:  # first wait 2 s
        link.info()
        answered = pico.board.board_ms()  # paced to the wall: an upper bound of a Pico's
        booted = [e["ms"] for e in link.log() if e["event"] == "boot"][-1]
    print(
        "\nwhole quota stored (4 patterns, 128 KB): the firmware booted at %d ms (its own"
        " clock) and answered info %d ms after power-on" % (booted, answered)
    )
    assert booted < answered < 2000
    before = pico.board.board_ms()
    assert pico.json("play", "full0")["state"] == "running"  # verified before it plays
    print(
        "play of a %d-byte pattern (verified first): %d ms round trip"
        % (store.MAX_SIZE, pico.board.board_ms() - before)
    )
    pico.facewave("stop")
    assert starved(pico.board) == 0
    for i in range(len(sizes)):
        pico.facewave("delete", "full%d" % i)


def _levels(rows):
    """[(ms, level)] at each change of level, from the first drive."""
    out = []
    for ms, level in rows:
        if (out and out[-1][1] == level) or (not out and level == 0):
            continue
        out.append((ms, level))
    return out


def _cpython_daily(flash_dir):
    """The daily session on the simulator's CPython board: [(ms, level)] from its start."""
    board = VirtualBoard(flash_dir)
    board.power_on()
    link = runner.host(board)
    prog = runner.compile_for(link, "daily")
    link.upload(prog.name, prog.data)
    link.set("intensity", 2)
    link.play("daily")
    board.run_for(prog.info.duration + 2000)
    rows = _levels((ms, level) for ms, level, _, _ in board.rows)
    return [(ms - rows[0][0], level) for ms, level in rows]


def _match(pin, want, within):
    """Pair each level the pin drove with the simulator's next change to that level within
    `within` ms: (offsets of the pairs, the simulator's changes the pin never showed). None if a
    level of the pin has no partner: the board drove something the simulator did not."""
    offsets, skipped, j = [], [], 0
    for ms, level in pin:
        k = j
        while k < len(want) and not (want[k][1] == level and abs(want[k][0] - ms) <= within):
            k += 1
        if k == len(want):
            return None
        skipped += want[j:k]
        offsets.append(ms - want[k][0])
        j = k + 1
    return offsets, skipped + want[j:]


def test_a_daily_session_drives_the_pin_as_the_simulator_says(pico, tmp_path):
    """Every level at GP15 is one the CPython board drives, in the same order, within a step
    and the emulator's jitter. A loop pass that comes more than a step late skips a sample of
    a ramp or a wave: the count is printed, and kept under 10 %. Seen: 63 to 238 of 7,332
    (1-3 %), nearly all in the jaw-line zone (`firming`: ramps right after rapid pulses), where
    the board's samples fall behind by half a millisecond a step until one is skipped; with
    the firmware's loop driven by a script on the same board nothing is late there, so the
    cause is not found yet (the protocol loaded, the emulator's USB, the heap: not told apart).
    """
    pico.facewave("upload", "daily")
    duration = pico.json("list")["patterns"][0]["duration"]
    mark = pico.board.mark()
    assert pico.json("play", "daily")["state"] == "running"
    pico.idle_for(duration + 2000)
    assert pico.json("status")["state"] == "idle"
    rows = pico.board.pwm_trace(since_ms=mark, settle_ms=0.1)
    pin = _levels((ms, permille(duty) if freq else 0) for ms, freq, duty in rows)
    want = _cpython_daily(tmp_path / "flash")
    # Aligned at the session's end (an absolute deadline on both). Its start is not compared:
    # the board verifies the program and answers PLAY before its next pass, about 130 ms in,
    # so its soft start and kick begin further along than the simulator's, which wakes at once.
    began = pin[0][0] - pin[-1][0] + want[-1][0]
    assert want[0][0] - STEP_MS <= began <= want[0][0] + START_MS
    pin = [(ms - pin[-1][0] + want[-1][0], level) for ms, level in pin]
    pin = [row for row in pin if row[0] >= START_MS]
    want = [row for row in want if row[0] >= START_MS - STEP_MS - JITTER_MS]
    matched = _match(pin, want, STEP_MS + JITTER_MS)
    assert matched is not None, "the pin drove a level the simulator does not"
    offsets, skipped = matched
    print(
        "\ndaily on the Pico: %d of the simulator's %d level changes over %.1f s, each within"
        " %.1f..%.1f ms of its time; %d skipped by a late pass"
        % (len(pin), len(want), pin[-1][0] / 1000, min(offsets), max(offsets), len(skipped))
    )
    assert len(skipped) <= len(want) // 10
    assert pin[-1][1] == 0


def _zero_since(board, since):
    """Board time from which GP15 has stayed at 0 (None if it is driven now)."""
    rows = board.pwm_trace(since_ms=since)
    if not rows or (rows[-1][1] and rows[-1][2]):
        return None
    at = rows[-1][0]
    for ms, freq, duty in reversed(rows):
        if freq and duty:
            break
        at = ms
    return at


def test_the_pin_goes_to_0_within_one_step_of_a_stop_a_long_press_and_a_lost_host(pico):
    board = pico.board
    # a stop: the motor is at 0 before the device answers
    pico.facewave("play", "daily")
    pico.idle_for(3000)
    assert pico.level() > 0
    before = board.board_ms()
    pico.facewave("stop")
    after = board.board_ms()
    zero = _zero_since(board, before)
    assert zero is not None and before <= zero <= after
    # a long press (1 s) stops it at press + long_ms while the button is still held
    pico.facewave("play", "daily")
    pico.idle_for(3000)
    board.button(True)
    pressed = board.board_ms()
    pico.idle_for(1500)
    board.button(False)
    zero = _zero_since(board, pressed)
    print("\nlong press: motor 0 after %.0f ms held" % (zero - pressed))
    assert zero is not None and 1000 - JITTER_MS <= zero - pressed <= 1000 + STEP_MS + JITTER_MS
    # a tethered host that vanishes: the device stops by itself within its heartbeat timeout
    beat = pico.json("info")["heartbeat_ms"]
    host = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facewave.cli",
            "play",
            "daily",
            "--tethered",
            "--port",
            board.port,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while pico.level() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pico.level() > 0
    finally:
        host.send_signal(signal.SIGKILL)
        host.wait()
    gone = board.board_ms()
    pico.idle_for(beat + 1000)
    zero = _zero_since(board, gone - beat)
    print(
        "lost host: motor 0 %.0f ms after the host died (heartbeat timeout %d ms)"
        % (zero - gone, beat)
    )
    assert zero is not None and zero - gone <= beat + STEP_MS + JITTER_MS
    assert starved(board) == 0


HANG = """
import machine, time
from facewave import shell
s = shell.start(machine, time, None)  # the firmware's own shell, its loop run by hand below
s.device.play(time.ticks_ms(), "daily")


def healthy_until_driving():  # a second of healthy passes at least, until the motor is on
    t = time.ticks_ms()
    while True:
        s.once()
        end = time.ticks_ms()
        if time.ticks_diff(end, t) >= 1000 and s.pwm.duty_u16():
            return end
        time.sleep_ms(5)


last = healthy_until_driving()
drive = s.pwm.duty_u16()
while s.pwm.duty_u16():  # the loop hangs in Python code; the timer zeros the PWM
    pass
zero = time.ticks_diff(time.ticks_ms(), last)
healthy_until_driving()  # healthy passes write the level again
mark = time.ticks_ms()
max(range(300000))  # a hang inside one C call (about 0.7 s, small ints only)
stuck = time.ticks_diff(time.ticks_ms(), mark)
after = s.pwm.duty_u16()
s.guard.deinit()
s.motor_zero()
shell.watchdog_off(machine, s.prof.wdt_off, s.prof.wdt_bits)
print(drive, zero, stuck, after)
"""


def test_a_hung_loop_stops_the_motor_within_250_ms_on_the_real_port(pico, tmp_path):
    """The guard's machine.Timer on rp2's own port: a hard interrupt, so it zeros the PWM in a
    loop stuck in Python code and in one stuck inside a C call alike."""
    if pico.facewave("status", check=False).returncode:  # run alone: a plain board
        pico.facewave("flash")
    if "daily" not in [p["name"] for p in pico.json("list")["patterns"]]:
        pico.facewave("upload", "daily")
    out = mpremote(pico.board.port, "run", str(_script(tmp_path, HANG)))
    drive, zero, stuck, after = map(int, out.split())
    print(
        "\nhung loop on rp2: motor 0 %d ms after the last healthy pass; a %d ms C call"
        % (zero, stuck)
    )
    assert drive > 0
    assert zero <= 250
    assert stuck > 250 and after == 0
    mpremote(pico.board.port, "reset")  # the firmware runs again
    pico.board.wait_usb()
    assert pico.json("status")["state"] == "idle"
    assert starved(pico.board) == 0
