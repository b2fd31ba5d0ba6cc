"""Helpers for the device tests: a board profile, patterns in memory, a device under a clock,
the firmware as a flash leaves it (for the VM board), and the emulated Pico or the reason there
is none."""

import copy
import functools
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from facewave.firmware import boards, ticks
from facewave.firmware import bytecode as bc
from facewave.firmware import device as dv
from facewave.firmware.program import Image
from facewave.firmware.settings import Settings
from facewave.link import Link
from facewave.sim.virtual_board import SimSerial, VirtualBoard

CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")  # what .ci/run sets


def profile(name="pico", **changes):
    """A board profile; changes are "section.key" or top-level fields."""
    data = copy.deepcopy(boards.load(name))
    for path, value in changes.items():
        node = data
        parts = path.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return boards.profile(data)


def hold(level, ms, name="hold"):
    return bc.pack(
        [
            bc.pack_insn(bc.OP_RAMP, 0, 0, level, 0, 200),
            bc.pack_insn(bc.OP_HOLD, 0, level, 0, 0, ms),
            bc.pack_insn(bc.OP_RAMP, 0, level, 0, 0, 200),
        ],
        [name, "test"],
    )


def zoned(zone_ms=30000, zones=2, level=500):
    insns = []
    for z in range(zones):
        base = len(insns)
        insns.append(bc.pack_insn(bc.OP_ZONE, 0, 2 + z, base + 1, base + 2, zone_ms))
        insns.append(bc.pack_insn(bc.OP_HOLD, 0, level, 0, 0, 1000))
        insns.append(bc.pack_insn(bc.OP_END, 0, 0, 0, base, 0))
    # zone END's c is the ZONE index; its b is the start of the repeating part
    return bc.pack(insns, ["zoned", "test"] + ["z%d" % z for z in range(zones)])


class Patterns:
    """names()/open() over a dict, like store.Store."""

    def __init__(self, programs):
        self.programs = dict(programs)

    def names(self):
        return sorted(self.programs)

    def open(self, name):
        if name not in self.programs:
            raise OSError(2, "no such pattern")
        return Image(self.programs[name])


def stored(store, name):
    """The bytes of stored pattern `name` (store.Store), as the device reads them."""
    src = store.open(name)
    try:
        return src.read(0, src.size)
    finally:
        src.close()


def make(now=0, programs=None, prof=None, settings_path=None, **changes):
    """A booted device. A test that saves settings passes settings_path (under tmp_path):
    the firmware's default, "settings.json", is relative to the current directory."""
    prof = prof or profile(**changes)
    if programs is None:
        programs = {"a": hold(500, 4600, "a"), "b": hold(300, 1600, "b")}
    settings = Settings(
        str(settings_path or "settings.json"),
        session_ms=prof.session_default_ms,
        cue_ms=prof.session_cue_ms,
    )
    d = dv.Device(prof, Patterns(programs), settings)
    d.boot(now)
    return d


class Clock:
    """Drives a device from deadline to deadline, as the board shell does."""

    def __init__(self, device, now=0):
        self.d = device
        self.now = now
        self.trace = []  # (tick, level) whenever the level changed

    def at(self, t):
        self.now = t
        level = self.d.tick(t)
        if not self.trace or self.trace[-1][1] != level:
            self.trace.append((t, level))
        return level

    def run(self, ms, jitter=None):
        """Advance ms, waking at each deadline (late by jitter() ms if given)."""
        end = ticks.add(self.now, ms)
        while True:
            nxt = self.d.next
            if nxt == dv.NEVER or ticks.diff(nxt, end) > 0:
                break
            t = nxt if ticks.diff(nxt, self.now) > 0 else self.now
            if jitter:
                t = ticks.add(t, jitter())
                if ticks.diff(t, end) > 0:
                    t = end
            self.at(t)
        self.at(end)

    def event(self, kind, arg=0, after=0):
        self.now = ticks.add(self.now, after)
        self.d.event(self.now, kind, arg)
        return self.at(self.now)

    def press(self, held, after=0):
        """A clean press of `held` ms, `after` ms from now."""
        self.run(after)
        self.event(dv.BUTTON, 1)
        self.run(held)
        self.event(dv.BUTTON, 0)


@functools.cache
def flashed(version=None, mpy=True):
    """{device path: bytes}: this firmware as `facewave flash` leaves it on an empty board (what
    a VMBoard's `files` take), or with mpy=False its sources in the slot; `version`: a .mpy
    firmware that says it is that one, an older one."""
    from facewave import build
    from facewave.firmware import VERSION
    from facewave.flash import fresh_board

    files = build.firmware_files(mpy=mpy, package=build.PACKAGE)
    if version:
        src = (build.firmware_dir() / "__init__.py").read_text()
        with tempfile.TemporaryDirectory() as tmp:
            init = Path(tmp, "__init__.py")
            init.write_text(re.sub(r'\nVERSION = "[^"]*"', '\nVERSION = "%s"' % version, src))
            build.compile_mpy(init, init.with_suffix(".mpy"), build.PACKAGE + "/__init__.py")
            files[build.PACKAGE + "/__init__.mpy"] = init.with_suffix(".mpy").read_bytes()
    return fresh_board(files, version or VERSION)


def micropython_vm():
    """The real MicroPython VM (WebAssembly, from `npm ci`). A laptop without it skips the test
    with the reason; under CI its absence is a failure, never a silent skip."""
    from facewave.sim import mpvm

    try:
        return mpvm.find_vm()
    except mpvm.VMUnavailable as err:
        if CI:
            pytest.fail("CI must run the MicroPython VM tests: %s" % err)
        pytest.skip(str(err))


def emulated_pico():
    """(UF2, boot ROM) for the emulated-Pico tests, called at the top of their module: without
    $FACEWAVE_RP2_UF2, or without what it names, the module is skipped with the reason; under
    CI a FACEWAVE_RP2_UF2 that names nothing usable fails it, never a silent skip."""
    from facewave.sim import rp2040

    if not os.environ.get("FACEWAVE_RP2_UF2"):
        pytest.skip(
            "FACEWAVE_RP2_UF2 is not set (the RPI_PICO UF2 from %s, or a folder with it"
            " and %s)" % (rp2040.UF2_DOWNLOAD, rp2040.BOOTROM_NAME),
            allow_module_level=True,
        )
    try:
        uf2 = rp2040.find_uf2()
        bootrom = rp2040.find_bootrom(uf2)
        rp2040.find_emulator()
    except rp2040.Rp2040Error as err:
        if CI:
            pytest.fail("CI must run the emulated Pico tests: %s" % err, pytrace=False)
        pytest.skip(str(err), allow_module_level=True)
    return uf2, bootrom


def mpremote(port, *args, check=True):
    """What the real mpremote prints for `args` against `port` (CRLF as LF); an AssertionError
    with its output if it fails and `check`. Generous time: the emulator runs busy code at
    0.2-0.5x a Pico."""
    done = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", str(port), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            "mpremote %s failed (%d): %s %s"
            % (" ".join(args), done.returncode, done.stdout, done.stderr)
        )
    return done.stdout.replace("\r\n", "\n")


class EmulatedPico:
    """An emulated Pico and the file that keeps its flash; power_cycle() turns it off and on
    again (board time starts at 0 again)."""

    def __init__(self, flash):
        from facewave.sim import rp2040

        self._make = lambda: rp2040.Rp2040Board(flash=flash).start()
        self.flash = flash
        self.board = self._make()

    def power_cycle(self):
        self.board.close()
        self.board = self._make()

    def run(self, code):
        """mpremote exec: what `code` prints on the board."""
        return mpremote(self.board.port, "exec", code)

    @classmethod
    def for_module(cls, tmp_path_factory):
        """One board for a test module (a module-scoped fixture yields from this), closed after
        its tests."""
        pico = cls(tmp_path_factory.mktemp("pico") / "flash.bin")
        try:
            yield pico
        finally:
            pico.board.close()


def board_link(tmp_path, port=SimSerial, after=None):
    """The virtual board (the firmware's own shell, unthrottled) and a host link to it, in its
    virtual time. The first sequence number is fixed, so the bytes on the wire, and so where
    the board's seeded link faults strike, are the same on every run."""
    board = VirtualBoard(str(tmp_path / "flash"))
    board.power_on()
    serial = port(board, timeout=0.5)
    link = Link(serial, name="virtual board", clock=board.seconds)
    link._seq = 0
    link.handshake()
    if after is not None:
        serial.after = after  # bytes from now
    return board, link


def facewave_sim(tmp_path, *args):
    """`facewave sim ... --flash DIR` in a subprocess, as a person runs it: (the process, the
    port it printed)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "facewave.cli", *args, "--flash", str(tmp_path / "flash")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r" on (\S+)$", line.strip())
    assert m, line + proc.stderr.read() if proc.poll() is not None else line
    return proc, m.group(1)
