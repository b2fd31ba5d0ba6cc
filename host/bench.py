"""`facewave bench`: the engine's speed on CPython and its cost on the real MicroPython VM;
with `--link`, the serial link's figures through the virtual board at a UART's line rate.

Figures, not pass/fail: how fast the host and simulator can play patterns in virtual time, and
what the device pays per step (heap) and for the firmware itself (RAM after import). The
MicroPython figures come from the WebAssembly VM (see facewave.sim.mpvm); step times there are
this machine's, a board's CPU is slower. The link figures are wall time against the simulator's
board (the real firmware) on a pty throttled to LINK_BAUD, with the real `facewave` and
`mpremote` commands.
"""

import tempfile
import time
from pathlib import Path

from .firmware import engine as eng
from .firmware.profile import Profile
from .firmware.verifier import verify

ROUTINE = "daily"  # the built-in routine played: about 3 minutes across the face zones
VM_STEPS = 10000  # engine steps measured under MicroPython, after a warm-up play
LINK_BAUD = 115200  # the USB console's nominal rate; the virtual link keeps to it
BIG = 32 * 1024  # bytes of the large upload (a valid program, near the largest allowed)
STATUS_ROUNDS = 50


def _program():
    from .programs import load_program

    return load_program(ROUTINE, Profile()).data


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

    def timed():
        t0 = time.perf_counter()
        steps, duration = _play(e, data, info.count)
        return time.perf_counter() - t0, steps, duration

    # best of 5: the least disturbed by other processes (every run plays the same steps)
    best, steps, duration = min(timed() for _ in range(5))
    print_fn(
        "CPython %s: engine steps per second     %12s"
        % (_python(), "{:,.0f}".format(steps / best))
    )
    print_fn(
        "%s (%.1f s, %d steps) in virtual time   %9.3f s, %s x real time"
        % (ROUTINE, duration / 1000, steps, best, "{:,.0f}".format(duration / 1000 / best))
    )

    from .build import BuildError, firmware_files
    from .sim import mpvm

    try:
        device = firmware_files(mpy=True)  # RAM figures are a device's: .mpy files
        vm = mpvm.measure(data, steps=VM_STEPS)
        core, _, _ = mpvm.firmware_ram(mpvm.CORE, device)
        boot, boot_set, booted, tethered = mpvm.boot_ram(firmware=device)
    except (mpvm.VMUnavailable, BuildError) as err:
        print_fn("MicroPython figures skipped: %s" % err)
        return
    print_fn("MicroPython 1.27 (WebAssembly VM), %s:" % ROUTINE)
    print_fn(
        "  heap allocated per engine step        %8.1f B   (%d B over %d steps)"
        % (vm["alloc"] / vm["steps"], vm["alloc"], vm["steps"])
    )
    print_fn(
        "  engine step time, mean / p99 / worst  %8.1f / %.1f / %.1f us"
        % (vm["mean_us"], vm["p99_us"], vm["worst_us"])
    )
    print_fn(
        "  RAM after import (.mpy), pattern core %8.1f KB  (%s)"
        % (core / 1024, ", ".join(mpvm.CORE))
    )
    print_fn(
        "  RAM after import (.mpy), boot set      %8.1f KB  (the %d modules a device holds"
        " once booted)" % (boot / 1024, len(boot_set))
    )
    print_fn(
        "  RAM held once booted / with a host     %8.1f / %.1f KB"
        % (booted / 1024, tethered / 1024)
    )
    _sim_figures(print_fn)


def _sim_figures(print_fn):
    """The whole firmware on the virtual board: CPython fast mode, then the MicroPython VM."""
    from .scenarios import compare, runner
    from .scenarios import spec as sc

    best = min((runner.session(ROUTINE) for _ in range(3)), key=lambda s: s.seconds)
    print_fn("simulator, full firmware (board shell, device, engine, protocol):")
    print_fn(
        "  %s session (%d s) in fast mode, CPython   %8.3f s, %s x real time"
        % (
            ROUTINE,
            (best.ended - best.started) // 1000,
            best.seconds,
            "{:,.0f}".format(best.speedup),
        )
    )
    morning = sc.load(Path(sc.__file__).with_name("morning.toml"))
    cmp = compare.compare(morning)
    print_fn(
        "  morning scenario (%d s) on the MicroPython VM %6.3f s, %s x real time; traces"
        " %s"
        % (
            morning.until // 1000,
            cmp.vm.seconds,
            "{:,.0f}".format(cmp.speedup),
            "identical to CPython" if cmp.difference is None else "DIFFER: " + cmp.difference,
        )
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="facewave-bench-") as work:
        _cli("facewave.cli", "demo", "--plot", str(Path(work) / "demo.png"))
    print_fn("  `facewave demo`, whole command            %8.2f s" % (time.perf_counter() - t0))


class _Served:
    """The virtual board (the firmware's own shell) on a throttled pty, served from a thread in
    real time, as `facewave sim --baud N` serves it."""

    def __init__(self, flash_dir, baud):
        import threading

        from .sim.serial_port import open_port
        from .sim.virtual_board import VirtualBoard

        self.board = VirtualBoard(flash_dir, realtime=True)
        self.port = open_port("pty", baud=baud, clock=self.board.seconds)
        self.board.wire = self.port
        self.board.power_on()
        self.url = self.port.url
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while self._running:
            self.board.step()

    def close(self):
        self._running = False
        self._thread.join(5)
        self.port.close()


def _cli(*args):
    """Wall seconds of one run of a command (`facewave ...` or `mpremote ...`)."""
    import subprocess
    import sys

    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, check=False
    )
    took = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError("%s failed: %s" % (" ".join(args[:3]), proc.stderr.strip()[-300:]))
    return took


def run_link_bench(print_fn):
    """Upload times, throughput and status round trip over the virtual link at LINK_BAUD."""
    import statistics

    from .link import Link
    from .scenarios.runner import compile_for
    from .sim.serial_port import line_time

    line_rate = LINK_BAUD / 10  # bytes per second, 8N1
    tmp = tempfile.TemporaryDirectory(prefix="facewave-bench-")
    work = Path(tmp.name)
    served = _Served(work / "flash", LINK_BAUD)
    try:
        url = served.url
        _cli("facewave.cli", "info", "--port", url)  # warm caches (bytecode, the board)
        startup = min(_cli("facewave.cli", "--help") for _ in range(3))
        daily_cli = min(_cli("facewave.cli", "upload", ROUTINE, "--port", url) for _ in range(3))
        big = big_program(BIG)
        (work / "big.fwb").write_bytes(big)
        with Link.open(url) as link:
            t0 = time.perf_counter()  # compiled against the device's caps, then sent
            daily = compile_for(link, ROUTINE).data
            link.upload(ROUTINE, daily)
            daily_api = time.perf_counter() - t0
            t0 = time.perf_counter()
            link.upload("big", big)
            big_api = time.perf_counter() - t0
            rtts = []
            for _ in range(STATUS_ROUNDS):
                t0 = time.perf_counter()
                link.status()
                rtts.append(time.perf_counter() - t0)
            resent = link.resent
        big_cli = _cli("facewave.cli", "upload", str(work / "big.fwb"), "--port", url)
        cp = _cli("mpremote", "connect", url, "fs", "cp", str(work / "big.fwb"), ":big.bin")
        _cli("mpremote", "connect", url, "reset")  # back to the firmware
    finally:
        served.close()
        tmp.cleanup()
    ms = 1000
    print_fn(
        "serial link through the virtual board at %d baud (%.0f B/s line rate):"
        % (LINK_BAUD, line_rate)
    )
    print_fn(
        "  upload %s (%d B), Link API              %8.1f ms  (line time of the bytes %.1f"
        " ms)" % (ROUTINE, len(daily), daily_api * ms, line_time(len(daily), LINK_BAUD) * ms)
    )
    print_fn(
        "  upload %s, `facewave upload` end to end %8.1f ms  (of which Python and import"
        " %.0f ms)" % (ROUTINE, daily_cli * ms, startup * ms)
    )
    print_fn(
        "  upload %d KB, Link API                   %8.1f ms  %6.0f B/s = %.0f %% of line"
        " rate" % (BIG // 1024, big_api * ms, BIG / big_api, BIG / big_api / line_rate * 100)
    )
    print_fn("  upload %d KB, `facewave upload`           %8.1f ms" % (BIG // 1024, big_cli * ms))
    print_fn(
        "  `mpremote fs cp` of the same %d KB        %8.1f ms  %.1fx the facewave upload"
        " (%.1fx the Link API)" % (BIG // 1024, cp * ms, cp / big_cli, cp / big_api)
    )
    print_fn(
        "  status round trip, median / p90 / worst %8.2f / %.2f / %.2f ms  (%d rounds,"
        " %d frames resent)"
        % (
            statistics.median(rtts) * ms,
            sorted(rtts)[len(rtts) * 9 // 10] * ms,
            max(rtts) * ms,
            len(rtts),
            resent,
        )
    )


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
