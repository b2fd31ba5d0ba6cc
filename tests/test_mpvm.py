"""The firmware on the real MicroPython VM (WebAssembly) behaves exactly as on CPython.

Skipped, with the reason, only on a laptop without Node.js or `npm ci`; under CI they must run.
"""

import random
import struct

import pytest

from facewave.firmware import bytecode as bc
from facewave.firmware import ticks, verifier
from facewave.lang import compile_file
from facewave.library import builtin_names, builtin_path
from facewave.sim import mpvm

pytestmark = pytest.mark.usefixtures("vm")  # the MicroPython VM, see conftest


ins = bc.pack_insn
NAMES = ["t", "test program", "forehead", "cheeks", "jaw line"]


def prog(*insns, strings=NAMES):
    return bc.pack(list(insns), strings)


HOLDS = prog(
    ins(bc.OP_HOLD, a=500, t=1000),
    ins(bc.OP_HOLD, a=0, t=333),
    ins(bc.OP_HOLD, a=850, t=7),
    ins(bc.OP_HOLD, a=1, t=1),
)
RAMPS = prog(
    *[
        ins(bc.OP_RAMP, x=ease, a=lo, b=hi, t=t)
        for ease in range(4)
        for lo, hi, t in ((0, 800, 2000), (800, 0, 1999))
    ]
)
WAVES = prog(
    *[
        ins(bc.OP_WAVE, x=shape, a=100, b=600, c=period, t=t)
        for shape in range(4)
        for period, t in ((1000, 2500), (333, 1000))
    ]
)
LOOPS = prog(
    ins(bc.OP_LOOP, a=3, c=9),
    ins(bc.OP_HOLD, a=300, t=40),
    ins(bc.OP_LOOP, a=2, c=5),
    ins(bc.OP_RAMP, x=bc.EASE_IN_OUT, a=300, b=700, t=120),
    ins(bc.OP_RAMP, x=bc.EASE_OUT, a=700, b=300, t=90),
    ins(bc.OP_END, c=2),
    ins(bc.OP_LOOP, a=4, c=8),
    ins(bc.OP_WAVE, x=bc.WAVE_TRIANGLE, a=300, b=500, c=50, t=75),
    ins(bc.OP_END, c=6),
    ins(bc.OP_END, c=0),
    ins(bc.OP_HOLD, a=0, t=10),
)
ZONES = prog(
    ins(bc.OP_FREQ, a=175),
    ins(bc.OP_ZONE, a=2, b=3, c=5, t=2000),  # prelude: a cue, then the wave repeats
    ins(bc.OP_CUE, x=2, a=600, b=80, c=120),
    ins(bc.OP_WAVE, x=bc.WAVE_SINE, a=200, b=500, c=700, t=700),
    ins(bc.OP_HOLD, a=350, t=130),
    ins(bc.OP_END, c=1),
    ins(bc.OP_ZONE, a=3, b=7, c=10, t=1500),  # no prelude, a loop inside
    ins(bc.OP_LOOP, a=2, c=9),
    ins(bc.OP_RAMP, x=bc.EASE_LINEAR, a=200, b=600, t=250),
    ins(bc.OP_END, c=7),
    ins(bc.OP_END, c=6),
    ins(bc.OP_CUE, x=3, a=700, b=50, c=0),
    ins(bc.OP_HOLD, a=0, t=20),
)
VARIATION = prog(
    ins(bc.OP_SEED, a=4242),
    ins(bc.OP_LOOP, a=40, c=3),
    ins(bc.OP_HOLD, a=400, b=150, t=37),
    ins(bc.OP_END, c=1),
    ins(bc.OP_SEED, a=65535),
    ins(bc.OP_LOOP, a=20, c=7),
    ins(bc.OP_HOLD, a=450, b=200, t=11),
    ins(bc.OP_END, c=5),
)
PROGRAMS = {
    "holds": HOLDS,
    "ramps": RAMPS,
    "waves": WAVES,
    "loops": LOOPS,
    "zones": ZONES,
    "variation": VARIATION,
}
NEAR_WRAP = ticks.MASK - 1500  # every program crosses the ticks_ms wrap


def test_programs_are_valid():
    assert all(v.startswith("accept") for v in mpvm.checks(PROGRAMS.values()))


@pytest.mark.parametrize("now", [0, NEAR_WRAP])
def test_traces_match_cpython(now):
    cpy = mpvm.traces(PROGRAMS.values(), now=now, full=True)
    vm = mpvm.traces(PROGRAMS.values(), now=now, full=True, vm=True)
    for name, a, b in zip(PROGRAMS, cpy, vm, strict=True):
        assert len(a) > 3
        assert a == b, name


def test_pause_resume_stop_match_cpython():
    events = [
        (500, "pause"),
        (2700, "resume"),
        (2701, "pause"),
        (2800, "resume"),
        (9000, "pause"),
        (9500, "resume"),
        (11000, "stop"),
    ]
    for now in (0, NEAR_WRAP):
        cpy = mpvm.traces([ZONES, LOOPS], now=now, events=events, full=True)
        vm = mpvm.traces([ZONES, LOOPS], now=now, events=events, full=True, vm=True)
        assert cpy == vm
        assert (ticks.add(now, 500), 0, 2, 1) in cpy[0]  # paused in the first zone


def test_builtin_routines_match_cpython():
    programs = [compile_file(builtin_path(name)).data for name in builtin_names()]
    assert mpvm.traces(programs, vm=True, full=True) == mpvm.traces(programs, full=True)


@pytest.mark.parametrize("stored", [False, True], ids=["in-memory", "from-a-file"])
@pytest.mark.parametrize("name", [*PROGRAMS, "daily"])
def test_no_allocation_per_engine_step(name, stored):
    """gc.mem_alloc() after 10,000 steps (after one whole play to warm up) equals what it was
    before: not one byte in total, also when the program is read from a file in pieces as a
    device plays it. The steps are driven by a while loop, since even `for _ in range(n)`
    allocates its iterator (16 B)."""
    data = PROGRAMS.get(name) or compile_file(builtin_path(name)).data
    assert mpvm.measure(data, steps=10000, timed=False, stored=stored)["alloc"] == 0


def test_allocation_in_the_step_path_is_seen():
    """The measurement itself works: a ramp that builds one tuple per step shows up."""
    shapes = (
        mpvm.sources()[mpvm.VM_PACKAGE + "/shapes.py"].decode()
        + "\n_ramp = ramp\n\n\ndef ramp(*args):\n    return _ramp(*args)\n"
    )
    m = mpvm.measure(
        RAMPS, steps=1000, files={mpvm.VM_PACKAGE + "/shapes.py": shapes}, timed=False
    )
    assert m["alloc"] >= 1000 * 16


def _corrupt():
    """Broken programs: one per rejection the verifier knows, then seeded random mutations of
    the header and instructions of valid ones (half with the CRC repaired, so they get past
    the header)."""
    bad = [
        b"",
        b"FWPB",
        HOLDS[:-1],
        b"XXXX" + HOLDS[4:],
        HOLDS[:4] + b"\x02" + HOLDS[5:],
        HOLDS[:20] + bytes([HOLDS[20] ^ 1]) + HOLDS[21:],  # CRC mismatch
        prog(ins(bc.OP_HOLD, a=900, t=100)),  # above the level cap
        prog(ins(11, t=100)),  # unknown opcode
        prog(
            ins(bc.OP_LOOP, a=2, c=7), ins(bc.OP_HOLD, a=1, t=1), ins(bc.OP_END, c=0)
        ),  # end out of bounds
        prog(
            *[ins(bc.OP_LOOP, a=2, c=18 - i) for i in range(9)],
            ins(bc.OP_HOLD, a=100, t=10),
            *[ins(bc.OP_END, c=8 - i) for i in range(9)],
        ),  # nested too deep
        prog(
            ins(bc.OP_LOOP, a=3, c=2),
            ins(bc.OP_SEED, a=1),
            ins(bc.OP_END, c=0),
            ins(bc.OP_HOLD, a=10, t=5),
        ),  # zero-duration loop
        prog(ins(bc.OP_LOOP, a=1000, c=2), ins(bc.OP_HOLD, a=10, t=10000), ins(bc.OP_END, c=0)),
        prog(
            ins(bc.OP_LOOP, a=60, c=2),
            ins(bc.OP_HOLD, a=850, t=19000),
            ins(bc.OP_END, c=0),
            ins(bc.OP_HOLD, a=0, t=1000),
        ),  # thermal budget (and on-time)
        prog(ins(bc.OP_RAMP, a=0, b=800, t=10)),  # too steep
        prog(ins(bc.OP_RAMP, x=7, a=0, b=100, t=1000)),  # unknown easing
        prog(ins(bc.OP_CUE, x=9, a=500, b=10, c=10)),  # malformed cue
        prog(
            ins(bc.OP_LOOP, a=2, c=4),
            ins(bc.OP_ZONE, a=2, b=2, c=3, t=100),
            ins(bc.OP_END, c=1),
            ins(bc.OP_HOLD, a=1, t=1),
            ins(bc.OP_END, c=0),
        ),  # zone in loop
        prog(
            ins(bc.OP_ZONE, a=9, b=1, c=2, t=100), ins(bc.OP_HOLD, a=1, t=1), ins(bc.OP_END, c=0)
        ),  # zone name out of the string table
        prog(ins(bc.OP_HOLD, a=1, t=1), strings=["only a name"]),
        bc.pack([ins(bc.OP_HOLD, a=1, t=1)], []),
        _fix_crc(HOLDS[:-2] + b"\xff\xfe"),  # a name that is not UTF-8
    ]
    rng = random.Random(3)
    valid = list(PROGRAMS.values())
    for n in range(300):
        data = bytearray(rng.choice(valid))
        insns = bc.HEADER_SIZE + verifier.parse_header(data) * bc.INSN_SIZE  # see _BAD_UTF8 below
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(insns)] = rng.randrange(256)
        if n % 2:
            data = _fix_crc(data)
        bad.append(bytes(data))
    return bad


def _fix_crc(data):
    if len(data) < bc.HEADER_SIZE:
        return data
    return data[:12] + struct.pack("<I", bc.crc32(bytes(data[bc.HEADER_SIZE :]))) + data[16:]


def test_verifier_gives_the_same_verdicts():
    bad = _corrupt()
    cpy = mpvm.checks(bad)
    assert cpy == mpvm.checks(bad, vm=True)
    assert sum(v.startswith("reject") for v in cpy) > 200
    assert all(v.startswith("reject") for v in cpy[:20])


# Invalid UTF-8 that MicroPython's str(b, "utf-8") lets through: overlong, surrogate, > U+10FFFF
_BAD_UTF8 = [b"\xc0\xa8", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]


def test_names_that_are_not_utf8_are_rejected_on_both():
    bad = [
        _fix_crc(prog(ins(bc.OP_HOLD, a=1, t=1), strings=["t", "x" * len(raw)])[: -len(raw)] + raw)
        for raw in _BAD_UTF8
    ]
    assert all(v == "reject pc=-1 string 1 is not UTF-8" for v in mpvm.checks(bad))
    assert mpvm.checks(bad, vm=True) == mpvm.checks(bad)


EDGES = [0, 1, 2, 999, 2**29 - 1, 2**29, 2**29 + 1, 2**30 - 1000, 2**30 - 2, 2**30 - 1]
DELTAS = [0, 1, -1, 999, -999, 2**29 - 1, -(2**29 - 1), 2**28, -(2**28)]  # |d| < 2**29


def test_ticks_agree_with_micropython():
    pairs = [(t, d) for t in EDGES for d in DELTAS]
    code = (
        "import time\nfrom facewave import ticks\n"
        "for t, d in %r:\n"
        "    print(time.ticks_add(t, d), ticks.add(t, d))\n"
        "for a in %r:\n"
        "    for b in %r:\n"
        "        print(time.ticks_diff(a, b), ticks.diff(a, b))\n" % (pairs, EDGES, EDGES)
    )
    rows = [tuple(int(v) for v in line.split()) for line in mpvm.run(code).splitlines()]
    native = [r[0] for r in rows]
    assert [r[1] for r in rows] == native  # the firmware under MicroPython
    expect = [ticks.add(t, d) for t, d in pairs] + [ticks.diff(a, b) for a in EDGES for b in EDGES]
    assert expect == native  # the firmware under CPython


def test_vm_error_carries_the_micropython_traceback():
    with pytest.raises(mpvm.VMError, match="ZeroDivisionError"):
        mpvm.run("from facewave import ticks\nticks.add(1, 2) // 0\n")
