"""pytest plugin (entry point `pytest11`): a `virtual_board` fixture for routine authors' tests.

import pytest
from facewave.scenarios.fixture import CommandRefused

def test_my_routine_ends_on_time(virtual_board):
    virtual_board.upload("my-routine.fw")
    virtual_board.command("set routine my-routine")
    virtual_board.command("set session 5min")
    virtual_board.press("short")
    virtual_board.advance("10s")
    assert virtual_board.command("status")["state"] == "running"
    virtual_board.advance("5min")
    assert [text for _, text in virtual_board.events("end")] == ["end my-routine"]
    assert virtual_board.peak() <= 700
    with pytest.raises(CommandRefused, match="no pattern"):
        virtual_board.command("play nosuch")
"""

import shlex

import pytest

from ..lang.lexer import Token, duration
from ..sim.virtual_board import VirtualBoard
from . import runner
from .runner import CommandRefused

__all__ = ["BoardHandle", "CommandRefused", "virtual_board"]


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
        """Compile a pattern file or built-in routine against the board's caps and store it,
        as `facewave upload` does; answers the device's summary (name, duration, size)."""
        return self.command("upload", str(pattern))

    def command(self, *words):
        """A device command as `facewave` takes it, in one string split as a shell splits it
        (`command("set session 20min")`) or word by word (`command("upload", path)`): play,
        stop, pause, resume, status, set, upload, delete, info, list. Answers the device's
        reply, what `facewave VERB --json` prints of it (status: the status dict); a refusal
        raises CommandRefused, a usage problem a FacewaveError."""
        from ..device_cmds import parse

        split = shlex.split(words[0]) if len(words) == 1 else [str(w) for w in words]
        return runner.send(self.board, self.link, parse(split), " ".join(split))

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

    def events(self, kind=None):
        """(ms, text) of the events so far, of `kind` if given (start, end, cue, zone, error,
        ...), in time order: [(3000, "start daily"), (45000, "zone cheeks"), (48500, "cue")]."""
        return [
            (t, ev)
            for t, _, _, ev in self.trace()
            if ev and (kind is None or ev == kind or ev.startswith(kind + " "))
        ]

    def trace(self):
        """The rows so far: (ms, level permille, led, event)."""
        return sorted(self.board.rows, key=lambda r: r[0])


def _ms(text):
    return duration(Token(str(text), 1, 1))


@pytest.fixture
def virtual_board(tmp_path):
    """A fresh virtual facewave board (Pico profile) with an empty flash, in virtual time."""
    return BoardHandle(tmp_path / "flash")
