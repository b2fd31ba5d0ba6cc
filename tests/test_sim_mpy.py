"""The MicroPython tier: a scenario recorded on CPython and replayed into the same firmware on
CPython and on the real MicroPython VM gives the same trace and console output, and a firmware
that behaves differently on one interpreter is caught at its first differing row.

The VM tests skip, with the reason, only on a laptop without Node.js or `npm ci`; under CI they
must run. The speed-up figures are printed (pytest -s), not asserted.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from facewave import firmware
from facewave.library import builtin_names
from facewave.scenarios import compare
from facewave.scenarios import spec as sc
from facewave.sim import replay

SCENARIOS = sc.builtin()
FIRMWARE = Path(firmware.__file__).parent

# What the built-in scenarios leave out: a power cut at a settings write, a double press, link
# damage (flipped, dropped, delayed bytes), line noise, a brown-out, the charger, a long hold.
EXTRA = """
name = "extra"
patterns = ["relax"]
until = "60s"

[[at]]
time = "1s"
command = "set routine relax"

[[at]]
time = "2s"
fault = "power-cut-at-write 1"

[[at]]
time = "3s"
command = "set routine relax"

[[at]]
time = "5s"
press = "double"

[[at]]
time = "8s"
link = {flip = 0.02, drop = 0.01, delay = "5ms"}

[[at]]
time = "9s"
command = "pause"

[[at]]
time = "12s"
fault = "brownout"

[[at]]
time = "20s"
serial = "noise \\\\x7e\\\\x02 more"

[[at]]
time = "30s"
charger = true

[[at]]
time = "40s"
press = "hold 3s"
"""


@pytest.fixture
def extra(tmp_path):
    path = tmp_path / "extra.toml"
    path.write_text(EXTRA)
    return sc.load(path)


def _recorded(scenario):
    rec = compare.record(scenario)
    assert rec.run.failures == []
    return rec


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_cpython_replay_reproduces_the_recorded_run(path):
    rec = _recorded(sc.load(path))
    again = replay.replay_cpython(rec.tape)
    assert again.rows == rec.rows
    assert replay.frames(again.out) == replay.frames(rec.out)


def test_the_replay_covers_power_cuts_at_a_write_link_damage_and_the_charger(extra):
    rec = _recorded(extra)
    kinds = {e[0] for e in rec.tape["tape"]}
    assert {"rx", "drive", "mv", "down", "boot", "jump", "wake"} <= kinds
    assert rec.tape["cuts"], "the power cut at a write did not happen"
    again = replay.replay_cpython(rec.tape)
    assert again.rows == rec.rows
    assert replay.frames(again.out) == replay.frames(rec.out)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_builtin_scenario_gives_the_same_trace_on_the_micropython_vm(vm, path):
    both = compare.compare(sc.load(path), vm=vm)
    assert both.difference is None
    assert both.vm.rows == both.record.rows and len(both.vm.rows) > 100
    print(
        "%s on the MicroPython VM (.mpy): %.0f s of virtual time in %.2f s, %.0fx real time"
        % (path.stem, both.virtual_ms / 1000, both.vm.seconds, both.speedup)
    )


def test_extra_faults_give_the_same_trace_on_the_micropython_vm(vm, extra):
    both = compare.compare(extra, vm=vm)
    assert both.difference is None
    assert replay.frames(both.vm.out) == replay.frames(both.record.out)


def test_a_firmware_that_differs_on_the_vm_is_caught_at_its_first_row(vm):
    rec = _recorded(sc.load(SCENARIOS[0]))
    src = (FIRMWARE / "shell.py").read_text()
    changed = src.replace("duty = d.level * 65535 // 1000", "duty = d.level * 65535 // 1100")
    assert changed != src
    cpy = replay.replay_cpython(rec.tape)
    mp = replay.replay_vm(rec.tape, vm=vm, files={"/lib/facewave/shell.py": changed})
    index, want, got = compare.first_difference(cpy.rows, mp.rows)
    # caught no later than the first row whose level a tenth less drive reads back changed
    assert index <= next(i for i, r in enumerate(cpy.rows) if r[1] > 10)
    assert max(r[1] for r in mp.rows) < max(r[1] for r in cpy.rows)  # a weaker motor


def test_a_different_console_reply_is_caught(monkeypatch):
    from facewave.firmware import protocol

    rec = _recorded(sc.load(SCENARIOS[0]))
    hello = protocol.Protocol.hello
    monkeypatch.setattr(protocol.Protocol, "hello", lambda self: dict(hello(self), extra=1))
    cpy = replay.replay_cpython(rec.tape)
    assert cpy.rows == rec.rows
    why = compare._differ("the run", rec.rows, rec.out, "the replay", cpy.rows, cpy.out)
    assert why.startswith("console output frame 1: the run (128, ")


def test_a_run_that_enters_the_repl_is_refused_in_one_line(tmp_path):
    path = tmp_path / "repl.toml"
    path.write_text('until = "2s"\n\n[[at]]\ntime = "1s"\nserial = "\\r\\u0003"\n')
    with pytest.raises(compare.ReplayError, match="the REPL took the console at 1"):
        compare.record(sc.load(path))


def test_sim_run_mpy_reports_the_same_trace_and_its_speed(vm):
    proc = subprocess.run(
        [sys.executable, "-m", "facewave.cli", "sim", "run", str(SCENARIOS[0]), "--mpy", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["mpy"]
    assert out["same"] and out["difference"] is None and out["speedup"] > 0


def test_same_trace_across_the_ticks_wrap(vm, tmp_path):
    path = tmp_path / "wrap.toml"
    faults = next(p for p in SCENARIOS if p.stem == "faults")
    path.write_text("start_tick = %d\n%s" % ((1 << 30) - 60000, faults.read_text()))
    both = compare.compare(sc.load(path), vm=vm)
    assert both.difference is None and len(both.vm.rows) > 100


@pytest.mark.parametrize("name", builtin_names())
def test_each_builtin_routine_through_the_whole_firmware_is_the_same_on_micropython(name, vm):
    """Uploaded over the protocol and played for a whole session: same trace on both."""
    scenario = sc.parse(
        'patterns = ["%s"]\nuntil = "190s"\n\n[[at]]\ntime = "1s"\n'
        'command = "play %s"\n\n[[expect]]\nevent = "end"\n' % (name, name),
        "%s.toml" % name,
    )
    result = compare.compare(scenario, vm=vm)
    assert result.difference is None, result.difference
