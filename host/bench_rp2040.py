"""`facewave bench --rp2040`: the figures docs quote, measured on the emulated Pico (the genuine
MicroPython UF2 in rp2040js, facewave.sim.rp2040) in board time: what a person with a board
would see, not what this machine's CPU does. Firmware RAM as the real port holds it, the
status round trip, upload throughput beside `mpremote fs cp` of the same bytes to the same
board, and how long the board takes to verify the largest program.

Board time is the emulated chip's clock. While the board computes it counts cycles (the
emulator runs them at 0.2-0.5x a real Pico); each time the board wakes from a sleep it catches
up with the wall clock, so a busy stretch ends up counted at the emulator's speed. A figure
here is therefore what this board takes at most; a real Pico computes the busy parts faster.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .bench import BIG, ROUTINE, big_program
from .errors import FacewaveError

STATUS_ROUNDS = 50
# The emulator runs busy code at 0.2-0.5x a Pico: the seconds of silence a command tolerates
# (5 s by default, in which a Pico verifies the largest program) are 30 on it
_ENV = dict(os.environ, FACEWAVE_TIMEOUT="30")

# Run on the board with `mpremote run`: the firmware booted as main.py boots it, one loop pass,
# then what it holds; back to the REPL with the watchdog stopped.
_RAM = """
import gc, machine, time
gc.collect()
base = gc.mem_alloc()
from facewave.shell import start
shell = start(machine, time, None)
shell.once()
gc.collect()
held = gc.mem_alloc() - base
shell.interrupted()
print(held, gc.mem_free())
"""


def _facewave(board, *args):
    return _timed(board, ["facewave.cli", *args, "--port", board.port])


def _mpremote(board, *args):
    return _timed(board, ["mpremote", "connect", board.port, *args])


def _timed(board, args):
    """(board milliseconds, output) of one command run against the board; raises
    FacewaveError with its last line if it fails."""
    start = board.board_ms()
    proc = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=900, env=_ENV
    )
    took = board.board_ms() - start
    if proc.returncode:
        last = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
        raise FacewaveError("%s failed on the emulated Pico: %s" % (args[0], last[-1]))
    return took, proc.stdout


def run_rp2040_bench(print_fn, uf2=None):
    from .link import Link
    from .scenarios.runner import compile_for
    from .sim import rp2040

    try:
        board = rp2040.Rp2040Board(uf2=uf2)
    except rp2040.Rp2040Error as e:
        raise FacewaveError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="facewave-bench-") as tmp, board:
        booted = board.board_ms()
        flashed, _ = _facewave(board, "flash")
        script = Path(tmp, "ram.py")
        script.write_text(_RAM)
        _, out = _mpremote(board, "run", str(script))
        held, free = (int(v) for v in out.split()[-2:])
        _mpremote(board, "reset")  # the firmware runs again
        board.wait_usb()
        big = big_program(BIG)
        Path(tmp, "big.fwb").write_bytes(big)
        with Link.open(board.port, timeout=30) as link:  # first wait 2 s: an emulated Pico is slow
            answered = board.board_ms() - board.reset_log[-1][0]
            daily = compile_for(link, ROUTINE).data
            t0 = board.board_ms()
            link.upload(ROUTINE, daily)
            daily_ms = board.board_ms() - t0
            t0 = board.board_ms()
            link.upload("big", big)
            big_ms = board.board_ms() - t0
            t0 = board.board_ms()
            link.play("big")
            play_ms = board.board_ms() - t0
            link.stop()
            t0 = board.board_ms()
            for _ in range(STATUS_ROUNDS):
                link.status()
            status_ms = (board.board_ms() - t0) / STATUS_ROUNDS
            resent = link.resent
        cp_ms, _ = _mpremote(board, "fs", "cp", str(Path(tmp, "big.fwb")), ":big.bin")
        _mpremote(board, "rm", ":big.bin")
    kb = 1024
    print_fn("the emulated Pico (MicroPython v1.28.0 UF2 in rp2040js), board time:")
    print_fn("  boot to USB enumerated                  %8.0f ms" % booted)
    print_fn("  `facewave flash` onto a plain board     %8.1f s" % (flashed / 1000))
    print_fn(
        "  firmware RAM held after boot (real port) %7.1f KB  (%.1f KB of heap left)"
        % (held / kb, free / kb)
    )
    print_fn(
        "  reset to the firmware's first answer    %8.0f ms  (boot.py's SHA-256 check of"
        " the firmware, imports, boot)" % answered
    )
    print_fn("  status round trip, mean of %d          %8.1f ms" % (STATUS_ROUNDS, status_ms))
    print_fn("  upload %s (%d B)                     %8.0f ms" % (ROUTINE, len(daily), daily_ms))
    print_fn(
        "  upload %d KB (verified at commit)        %8.0f ms  %6.0f B/s"
        % (BIG // kb, big_ms, BIG / big_ms * 1000)
    )
    print_fn(
        "  `mpremote fs cp` of the same %d KB       %8.0f ms  %6.0f B/s: facewave is %.1fx"
        % (BIG // kb, cp_ms, BIG / cp_ms * 1000, cp_ms / big_ms)
    )
    print_fn(
        "  play of the %d KB program (verified first) %6.0f ms  (%d frames resent in all)"
        % (BIG // kb, play_ms, resent)
    )
