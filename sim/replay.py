"""The MicroPython tier: any scenario played on CPython, then replayed into the same firmware
on CPython and on the MicroPython VM, and the three traces compared exactly.

Record: the scenario runs on a VirtualBoard with a Tape, which writes down, with its virtual
time and loop pass, everything that crosses into the firmware (see replay_driver.py for the
list), plus the flash as it was at the first boot. Replay:
replay_driver.py, one source file that both interpreters run unchanged, boots
firmware/board.py's start() on its own fake machine, clock and flash and plays the tape. The
trace rows the firmware causes (motor level, LED, device log, zones and cues) must be equal in
the recorded run, the CPython replay and the VM replay; so must every byte the firmware wrote
to its console.
"""
import binascii
import importlib
import json
import os
import sys
import time
from pathlib import Path

from . import hardware, mpvm, runner
from . import replay_driver as driver

DRIVER = Path(driver.__file__)
HARDWARE = Path(hardware.__file__).read_bytes()
JOB = Path(__file__).with_name("vm") / "replay_job.py"


class ReplayError(RuntimeError):
    """A run that the replay cannot reproduce (e.g. the REPL took the console)."""


class Tape:
    """What crosses into the firmware of a VirtualBoard (VirtualBoard(tape=Tape())), each entry
    stamped with its virtual time and the loop passes already run at that time (see
    replay_driver.py for the kinds), plus the flash as it was at the first boot and every byte
    the firmware wrote."""

    def __init__(self):
        self.board = None
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
        ms = self.board.clock.ms
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
        if self.board.shell is not None:  # inputs before the firmware runs are its boot's
            self.put(kind, pin, value)

    def boot(self, name, version, fresh):
        if self.seed is None:
            self.seed = _snapshot(self.board.flash_dir)
        self.put("boot", name, version, fresh)

    def as_dict(self):
        b = self.board
        files, dirs = self.seed or ({}, [])
        return {"origin": b.origin, "flash_size": b.flash.size, "files": files, "dirs": dirs,
                "cuts": b.fs.cut, "tape": self.entries}


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


class Record:
    """A scenario's recorded CPython run: run (runner.Run), tape (dict), rows (the
    firmware's rows of its trace), out (bytes the firmware wrote to the console)."""

    def __init__(self, run, tape, rows, out):
        self.run = run
        self.tape = tape
        self.rows = rows
        self.out = out


def record(scenario, flash_dir=None):
    """Play `scenario` (sim.scenario) on a VirtualBoard with a Tape; answers a Record."""
    tape = Tape()
    run = runner.play(scenario, flash_dir, tape=tape)
    if tape.problem:
        raise ReplayError("%s cannot be replayed: %s" % (scenario.name, tape.problem))
    tape.put("end")
    rows = [tuple(r) for r in run.board.recorder.firmware_rows()]
    return Record(run, tape.as_dict(), rows, bytes(tape.out))


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


def replay_vm(tape, mpy=True, vm=None, files=None):
    """The tape replayed into the firmware in the MicroPython VM (as .mpy files, as a device
    holds them, unless mpy=False; `files` as for mpvm.run, e.g. a changed firmware module);
    seconds: the VM's own time for the replay loop, boot included."""
    files = {"/lib/replay_driver.py": DRIVER.read_bytes(), "/lib/hardware.py": HARDWARE,
             "/tape.json": json.dumps(tape), **(files or {})}
    out = json.loads(mpvm.run(JOB.read_text(), files, timeout=600, mpy=mpy, vm=vm))
    return Replayed([tuple(row) for row in out["rows"]], bytes.fromhex(out["out"]),
                    out["ms"] / 1000)


def first_difference(a, b):
    """(index, row of a or None, row of b or None) where two traces first differ, or None."""
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x != y:
            return i, x, y
    return None


class Comparison:
    """A scenario on both interpreters: the record, both replays, and the first difference
    (a one-line description, or None when all three traces and outputs agree)."""

    def __init__(self, rec, cpy, mp):
        self.record = rec
        self.cpython = cpy
        self.vm = mp
        self.virtual_ms = rec.tape["tape"][-1][1] - rec.tape["origin"]
        self.difference = (_differ("the CPython run", rec.rows, rec.out, "its CPython replay",
                                   cpy.rows, cpy.out)
                           or _differ("CPython", cpy.rows, cpy.out, "MicroPython", mp.rows,
                                      mp.out))

    @property
    def speedup(self):
        """Virtual time over the VM's wall time for the replay."""
        return self.virtual_ms / 1000 / max(self.vm.seconds, 1e-3)

    def summary(self):
        return {"same": self.difference is None, "difference": self.difference,
                "rows": len(self.vm.rows), "frames": len(frames(self.vm.out)),
                "vm_seconds": round(self.vm.seconds, 3), "speedup": round(self.speedup)}

    def report(self):
        """Print the verdict: stdout when the traces agree, stderr naming the first
        difference when they do not."""
        if self.difference:
            print("facewave: the firmware behaves differently on MicroPython: %s"
                  % self.difference, file=sys.stderr)
            return
        print("MicroPython VM: the same trace (%d rows) and console output (%d frames); the "
              "replay ran %.1f s of virtual time in %.2f s, %.0fx real time"
              % (len(self.vm.rows), len(frames(self.vm.out)), self.virtual_ms / 1000,
                 self.vm.seconds, self.speedup))


def _differ(an, a, a_out, bn, b, b_out):
    d = first_difference(a, b)
    if d:
        return "trace row %d: %s %s, %s %s" % (d[0] + 1, an, _row(d[1]), bn, _row(d[2]))
    d = first_difference(frames(a_out), frames(b_out))
    if d:
        return "console output frame %d: %s %r, %s %r" % (d[0] + 1, an, d[1], bn, d[2])
    return None


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


def _row(row):
    return "(no row)" if row is None else "%d ms, level %d, %s, %r" % tuple(row)


def compare(scenario, flash_dir=None, mpy=True, vm=None):
    """Record `scenario` on CPython, replay it on CPython and on the MicroPython VM."""
    rec = record(scenario, flash_dir)
    return Comparison(rec, replay_cpython(rec.tape), replay_vm(rec.tape, mpy=mpy, vm=vm))


def compare_cli(scenario, flash_dir=None):
    """compare() with the VM's absence or a run it cannot replay as one-line errors."""
    from ..errors import FacewaveError

    try:
        return compare(scenario, flash_dir)
    except mpvm.VMUnavailable as e:
        raise FacewaveError("--mpy: %s" % e, 2) from None
    except (ReplayError, mpvm.VMError) as e:
        raise FacewaveError("--mpy: %s" % str(e).strip().splitlines()[-1], 1) from None
