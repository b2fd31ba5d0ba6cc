"""The MicroPython tier: any scenario played on CPython, then replayed into the same firmware
on CPython and on the MicroPython VM (sim/replay.py), and the three traces compared exactly:
the trace rows the firmware causes (motor level, LED, device log, zones and cues) and every
byte it wrote to its console."""

import sys

from .. import build
from ..errors import FacewaveError
from ..sim import mpvm
from ..sim.replay import Tape, frames, replay_cpython, replay_vm
from . import runner


class ReplayError(RuntimeError):
    """A run that the replay cannot reproduce (e.g. the REPL took the console)."""


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
        self.difference = _differ(
            "the CPython run", rec.rows, rec.out, "its CPython replay", cpy.rows, cpy.out
        ) or _differ("CPython", cpy.rows, cpy.out, "MicroPython", mp.rows, mp.out)

    @property
    def speedup(self):
        """Virtual time over the VM's wall time for the replay."""
        return self.virtual_ms / 1000 / max(self.vm.seconds, 1e-3)

    def summary(self):
        return {
            "same": self.difference is None,
            "difference": self.difference,
            "rows": len(self.vm.rows),
            "frames": len(frames(self.vm.out)),
            "vm_seconds": round(self.vm.seconds, 3),
            "speedup": round(self.speedup),
        }

    def report(self):
        """Print the verdict: stdout when the traces agree, stderr naming the first
        difference when they do not."""
        if self.difference:
            print(
                "facewave: the firmware behaves differently on MicroPython: %s" % self.difference,
                file=sys.stderr,
            )
            return
        print(
            "MicroPython VM: the same trace (%d rows) and console output (%d frames); the "
            "replay ran %.1f s of virtual time in %.2f s, %.0fx real time"
            % (
                len(self.vm.rows),
                len(frames(self.vm.out)),
                self.virtual_ms / 1000,
                self.vm.seconds,
                self.speedup,
            )
        )


def _differ(an, a, a_out, bn, b, b_out):
    d = first_difference(a, b)
    if d:
        return "trace row %d: %s %s, %s %s" % (d[0] + 1, an, _row(d[1]), bn, _row(d[2]))
    d = first_difference(frames(a_out), frames(b_out))
    if d:
        return "console output frame %d: %s %r, %s %r" % (d[0] + 1, an, d[1], bn, d[2])
    return None


def _row(row):
    return "(no row)" if row is None else "%d ms, level %d, %s, %r" % tuple(row)


def compare(scenario, flash_dir=None, vm=None):
    """Record `scenario` on CPython, replay it on CPython and on the MicroPython VM."""
    rec = record(scenario, flash_dir)
    device = build.firmware_files(mpy=True)  # as a device holds it
    return Comparison(rec, replay_cpython(rec.tape), replay_vm(rec.tape, device, vm))


def compare_cli(scenario, flash_dir=None):
    """compare() with the VM's absence or a run it cannot replay as one-line errors."""
    try:
        return compare(scenario, flash_dir)
    except mpvm.VMUnavailable as e:
        raise FacewaveError("--mpy: %s" % e, 2) from None
    except (ReplayError, mpvm.VMError) as e:
        raise FacewaveError("--mpy: %s" % str(e).strip().splitlines()[-1], 1) from None
