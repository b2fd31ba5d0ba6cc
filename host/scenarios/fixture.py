"""pytest plugin (entry point `pytest11`): a `virtual_board` fixture for routine authors' tests.

def test_my_routine_ends_on_time(virtual_board):
    virtual_board.upload("my-routine.fw")
    virtual_board.command("set", "routine", "my-routine")
    virtual_board.press("short")
    virtual_board.advance("200s")
    assert virtual_board.events("end")
    assert virtual_board.peak() <= 700
"""

import pytest

from ..lang.lexer import Token, duration
from ..sim.virtual_board import VirtualBoard
from . import runner


class BoardHandle:
    """A virtual board in fast mode, with the few verbs a test needs."""

    def __init__(self, flash_dir, board="pico"):
        self.board = VirtualBoard(flash_dir, board=board)
        self.board.power_on()
        self._link = None

    @property
    def link(self):
        """The host link (facewave.link.Link) in the board's virtual time."""
        if self._link is None:
            self._link = runner.host(self.board)
        return self._link

    def upload(self, pattern):
        """Compile a pattern file or built-in routine against the board's caps; store it."""
        prog = runner.compile_for(self.link, str(pattern))
        self.link.upload(prog.name, prog.data)
        return prog

    def command(self, verb, *args):
        """A host command, as `facewave VERB ARGS` would send it (play, stop, set, ...)."""
        runner.command(self.board, self.link, [verb, *map(str, args)])

    def press(self, kind="short"):
        """Press the button: short, long, double, or a hold time like "3s"."""
        how = kind if kind in ("short", "long", "double") else ("hold", _ms(kind))
        runner.press(self.board, how)
        self.board.run_for(1)

    def advance(self, time):
        """Let time pass: milliseconds, or "10s", "2min"."""
        self.board.run_for(time if isinstance(time, int) else _ms(time))

    @property
    def ms(self):
        return self.board.ms

    def level(self):
        return self.board.level()

    def peak(self):
        return max((lv for _, lv in runner.levels(self.board)), default=0)

    def events(self, kind):
        """Times (ms) of events of `kind` so far: start, end, cue, zone, error, ..."""
        return self.board.device_events(kind)

    def trace(self):
        """The rows so far: (ms, level permille, led, event)."""
        return sorted(self.board.rows, key=lambda r: r[0])


def _ms(text):
    return duration(Token(str(text), 1, 1))


@pytest.fixture
def virtual_board(tmp_path):
    """A fresh virtual facewave board (Pico profile) with an empty flash, in virtual time."""
    return BoardHandle(tmp_path / "flash")
