"""The device core on the real MicroPython VM: same trace as CPython, no allocation per tick.

Prints the RAM the core holds after import (as .mpy) for the closing figures."""

import io
from contextlib import redirect_stdout

from device_kit import hold
from facewave import build
from facewave.firmware import boards, device, log, profile
from facewave.firmware import settings as stg
from facewave.sim import mpvm

HARNESS = """
class P:
    def __init__(s, d): s.d = d
    def names(s): return sorted(s.d)
    def read(s, n): return s.d[n]
prof = boards.profile(boards.load("pico"))
st = stg.Settings("/s.json", session_ms=600000, cue_ms=prof.session_cue_ms)
d = device.Device(prof, P({"a": PROG}), st, log.Log())
d.boot(0)
d.event(0, device.BUTTON, 1)
d.tick(30)
d.event(90, device.BUTTON, 0)
now = 90
trace = []
for i in range(2000):
    d.tick(now)
    trace.append((now, d.level, d.led.on))
    if now == 100000:
        d.event(now, device.PAUSE)
    if now == 110000:
        d.event(now, device.RESUME)
    now = d.next if d.next >= 0 else now + 1000
    if 100000 < now <= 100000 + 60000 and trace[-1][0] < 100000:
        now = 100000
    if trace[-1][0] < 110000 < now:
        now = 110000
print("trace", len(trace), sum(t * 7 + l * 3 + o for t, l, o in trace) % 1000003, trace[-1])
print("log", [e[2] for e in d.log.entries()])
"""


def test_same_trace_as_cpython_and_no_allocation_per_tick(vm):
    prog = repr(bytes(hold(500, 4600, "a")))
    harness = HARNESS.replace("PROG", prog)
    code = (
        'import gc, sys\nsys.path.append("/lib")\ngc.collect()\na0 = gc.mem_alloc()\n'
        "from facewave import device, log, boards, profile, settings as stg\n"
        'gc.collect()\nprint("ram", gc.mem_alloc() - a0)\n'
        + harness
        + "gc.collect()\na = gc.mem_alloc()\n"
        "for i in range(10000):\n    now = d.next\n    d.tick(now)\n"
        'gc.collect()\nprint("alloc", gc.mem_alloc() - a, d.state)\n'
    )
    out = mpvm.run(code, firmware=build.firmware_files(mpy=True)).splitlines()
    buf = io.StringIO()
    with redirect_stdout(buf):
        exec(
            harness,
            {"device": device, "log": log, "boards": boards, "profile": profile, "stg": stg},
        )
    ram = int(out[0].split()[1])
    alloc, state = map(int, out[3].split()[1:])
    print(
        "firmware core RAM after import (.mpy): %d bytes; allocated in 10,000 ticks: %d"
        % (ram, alloc)
    )
    assert out[1:3] == buf.getvalue().splitlines()
    assert alloc < 64, state  # running, ending, idle, off: a few bytes of VM bookkeeping
