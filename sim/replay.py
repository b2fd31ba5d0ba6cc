"""Replays: a run of the CPython virtual board written on a Tape, replayed into the same
firmware on CPython and on the MicroPython VM (facewave.scenarios.compare compares the three).

Record: a VirtualBoard with a Tape writes down, with its virtual time and loop pass,
everything that crosses into the firmware (see replay_driver.py for the list), plus the flash
as it was at the first boot. Replay: replay_driver.py, one source file that both interpreters
run unchanged, boots firmware/shell.py's start() on sim/hardware.py and plays the tape.
"""

import binascii
import importlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import hardware, mpvm
from . import replay_driver as driver

if TYPE_CHECKING:
    from .virtual_board import VirtualBoard

DRIVER = Path(driver.__file__)
HARDWARE = Path(hardware.__file__).read_bytes()
JOB = Path(__file__).with_name("vm") / "replay_job.py"


class Tape:
    """What crosses into the firmware of a VirtualBoard (VirtualBoard(tape=Tape())), each entry
    stamped with its virtual time and the loop passes already run at that time (see
    replay_driver.py for the kinds), plus the flash as it was at the first boot and every byte
    the firmware wrote."""

    def __init__(self):
        self.board: VirtualBoard | None = None  # the board sets itself
        self.entries = []
        self.out = bytearray()
        self.seed = None
        self.problem = None  # why this run cannot be replayed (e.g. the REPL took the console)
        self.in_once = False
        self._once_ms = None
        self._once_n = 0

    def put(self, kind, *args):
        """An entry due before loop pass n + 1 at this ms, n the passes before it; console
        bytes read inside a pass were there before it began."""
        ms = self._board().clock.ms
        n = self._once_n if self._once_ms == ms else 0
        self.entries.append([kind, ms, n - 1 if self.in_once else n, *args])

    def once(self, ms):
        """A loop pass begins (in_once until it ends)."""
        if ms != self._once_ms:
            self._once_ms = ms
            self._once_n = 0
        self._once_n += 1
        self.in_once = True

    def rx(self, data):
        self.put("rx", bytes(data).hex())

    def input(self, kind, pin, value):
        if self._board().shell is not None:  # inputs before the firmware runs are its boot's
            self.put(kind, pin, value)

    def boot(self, name, version, fresh):
        if self.seed is None:
            self.seed = _snapshot(self._board().flash_dir)
        self.put("boot", name, version, fresh)

    def _board(self):
        assert self.board is not None, "a Tape records the VirtualBoard(tape=) it is given to"
        return self.board

    def as_dict(self):
        b = self._board()
        files, dirs = self.seed or ({}, [])
        return {
            "origin": b.origin,
            "flash_size": b.flash.size,
            "files": files,
            "dirs": dirs,
            "cuts": b.fs.cut,
            "tape": self.entries,
        }


def _snapshot(root):
    """({path: hex} of every file, [every folder]) of the flash, paths without a leading /."""
    files, dirs = {}, []
    for folder, subdirs, names in os.walk(root):
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        rel = "" if rel == "." else rel + "/"
        dirs += [rel + d for d in subdirs]
        for name in names:
            files[rel + name] = Path(folder, name).read_bytes().hex()
    return files, sorted(dirs)


class Replayed:
    """A replay's trace rows, console output and the wall time the replay loop took."""

    def __init__(self, rows, out, seconds):
        self.rows = rows
        self.out = out
        self.seconds = seconds


def _firmware(name):
    return importlib.import_module("facewave.firmware." + name)


def replay_cpython(tape):
    """The tape replayed into facewave.firmware on this CPython."""
    started = time.perf_counter()
    r = driver.replay(json.loads(json.dumps(tape)), _firmware, binascii.unhexlify, hardware)
    return Replayed([tuple(row) for row in r.rows], bytes(r.out), time.perf_counter() - started)


def replay_vm(tape, firmware=None, vm=None, files=None):
    """The tape replayed into the firmware in the MicroPython VM (`firmware` and `files` as
    for mpvm.run: the .mpy files a device holds, a changed module...); seconds: the VM's own
    time for the replay loop, boot included."""
    files = {
        "/lib/replay_driver.py": DRIVER.read_bytes(),
        "/lib/hardware.py": HARDWARE,
        "/tape.json": json.dumps(tape),
        **(files or {}),
    }
    out = json.loads(mpvm.run(JOB.read_text(), files, timeout=600, firmware=firmware, vm=vm))
    return Replayed(
        [tuple(row) for row in out["rows"]], bytes.fromhex(out["out"]), out["ms"] / 1000
    )


def frames(out):
    """The firmware's console output as [(frame type, seq, payload)], with JSON payloads
    parsed: MicroPython's dicts keep no insertion order, so its JSON keys come in another
    order, which the host does not care about. Bytes outside frames count as (None, 0,
    bytes)."""
    from ..firmware import frame

    dec = frame.Decoder()
    got, pos = [], 0
    while pos < len(out):
        start, garbage = pos, dec.garbage
        pos = dec.feed(out, pos)
        if dec.garbage > garbage:
            got.append((None, 0, bytes(out[start:pos])))
        if dec.event == frame.FRAME:
            payload = bytes(dec.payload())
            if payload[:1] == b"{":
                try:
                    payload = json.loads(payload)
                except ValueError:
                    pass
            got.append((dec.type, dec.seq, payload))
    return got
