"""`facewave bench`: the engine's speed on CPython and its cost on the real MicroPython VM.

Figures, not pass/fail: how fast the host and simulator can play patterns in virtual time, and
what the device pays per step (heap) and for the firmware itself (RAM after import). The
MicroPython figures come from the WebAssembly VM (see facewave.sim.mpvm); step times there are
this machine's, a board's CPU is slower.
"""
import time

from .firmware import engine as eng
from .firmware.profile import Profile
from .firmware.verifier import verify

ROUTINE = "daily"  # the built-in routine played: about 3 minutes across the face zones
VM_STEPS = 10000  # engine steps measured under MicroPython, after a warm-up play


def _program():
    from .lang import compile_file
    from .library import builtin_path

    return compile_file(builtin_path(ROUTINE)).data


def _play(e, data, count):
    """The board shell's loop in virtual time; answers (steps, duration ms)."""
    e.load(data, count)
    e.start(0)
    steps = 0
    now = 0
    while e.state == eng.PLAYING:
        now = e.next
        e.step(now)
        steps += 1
    return steps, now


def run_bench(print_fn):
    profile = Profile()
    data = _program()
    info = verify(data, profile)
    e = eng.Engine(profile.step_ms)

    best = None
    for _ in range(5):  # best of 5: the least disturbed by other processes
        t0 = time.perf_counter()
        steps, duration = _play(e, data, info.count)
        took = time.perf_counter() - t0
        best = took if best is None else min(best, took)
    print_fn("CPython %s: engine steps per second     %12s"
             % (_python(), "{:,.0f}".format(steps / best)))
    print_fn("%s (%.1f s, %d steps) in virtual time   %9.3f s, %s x real time"
             % (ROUTINE, duration / 1000, steps, best, "{:,.0f}".format(duration / 1000 / best)))

    from .sim import mpvm

    try:
        vm = mpvm.measure(data, steps=VM_STEPS)
        core, _, _ = mpvm.firmware_ram(mpvm.CORE)
        whole, modules, skipped = mpvm.firmware_ram()
    except mpvm.VMUnavailable as err:
        print_fn("MicroPython figures skipped: %s" % err)
        return
    print_fn("MicroPython 1.27 (WebAssembly VM), %s:" % ROUTINE)
    print_fn("  heap allocated per engine step        %8.1f B   (%d B over %d steps)"
             % (vm["alloc"] / vm["steps"], vm["alloc"], vm["steps"]))
    print_fn("  engine step time, mean / p99 / worst  %8.1f / %.1f / %.1f us"
             % (vm["mean_us"], vm["p99_us"], vm["worst_us"]))
    print_fn("  RAM after import (.mpy), pattern core %8.1f KB  (%s)"
             % (core / 1024, ", ".join(mpvm.CORE)))
    print_fn("  RAM after import (.mpy), all firmware %8.1f KB  (%d modules%s)"
             % (whole / 1024, len(modules),
                "; skipped: " + ", ".join(skipped) if skipped else ""))


def big_program(size, name="big"):
    """A valid program of exactly `size` bytes (up to store.MAX_SIZE): ramps up and down, and
    the rest in filler strings. For measuring and testing large transfers."""
    from .firmware import bytecode as bc

    insns = []
    for _ in range(min(bc.MAX_INSNS, max(2, (size - 400) // bc.INSN_SIZE)) // 2):
        insns.append(bc.pack_insn(bc.OP_RAMP, 0, 0, 300, 0, 100))
        insns.append(bc.pack_insn(bc.OP_RAMP, 0, 300, 0, 0, 100))
    strings = [name, "filler"]
    left = size - len(bc.pack(insns, strings))
    while left > 0:
        k = min(255, left - 1)
        strings.append("x" * k)
        left -= k + 1
    return bc.pack(insns, strings)


def _python():
    import platform

    return platform.python_version()
