"""The firmware on the real MicroPython VM (WebAssembly, in Node.js), next to its CPython twin.

CPython runs the firmware in the host tool and the simulator; the device runs MicroPython. The
two agree only if the same code is checked on both, so this module runs firmware/ unchanged
inside MicroPython 1.27 (npm package @micropython/micropython-webassembly-pyscript, installed by
`npm ci`) and plays programs through one shared harness, sim/vm/harness.py, which CPython
imports and the VM runs as it is: a trace from each is comparable by construction.

It also measures what only the real VM can tell: heap allocated per engine step, firmware RAM
after import, and step times. What runs inside the VM are the job files of sim/vm/, on the
virtual hardware of sim/hardware.py. Each call starts one node process (about 0.2 s).
"""

import base64
import json
import subprocess
from pathlib import Path

from . import node
from .vm import harness

NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
RUNNER = Path(__file__).with_name("mpvm_runner.mjs")
VM_DIR = Path(__file__).with_name("vm")  # the Python that runs inside the VM
HARDWARE = Path(__file__).with_name("hardware.py")
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
    """Find node and the npm package: $FACEWAVE_MPVM (the package's folder), else a
    node_modules folder above the facewave package or the current directory."""
    return VM(*node.find_package(NPM_PACKAGE, "micropython.mjs", "FACEWAVE_MPVM", VMUnavailable))


def sources():
    """{VM path: bytes} of the firmware package's .py files at /lib/facewave, as a device could
    hold them; a device holds them compiled (facewave.build makes those): pass that tree as
    `firmware` where the figures must be a device's."""
    root = _firmware_dir()
    return {
        "%s/%s" % (VM_PACKAGE, p.relative_to(root).as_posix()): p.read_bytes()
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts and "deploy" not in p.parts and p.name != "cpython.py"
    }


def run(code, files=None, timeout=120, firmware=None, vm=None):
    """Run `code` in a fresh MicroPython VM holding `firmware` ({VM path: bytes}, default
    sources()) plus `files` ({VM path: str or bytes}); answer what it printed."""
    vm = vm or find_vm()
    tree = dict(firmware or sources())
    tree.update(files or {})
    job = {
        "files": [
            [
                path,
                base64.b64encode(data.encode() if isinstance(data, str) else data).decode("ascii"),
            ]
            for path, data in tree.items()
        ],
        "code": code,
    }
    try:
        proc = subprocess.run(
            [vm.node, str(RUNNER), str(vm.package / "micropython.mjs")],
            input=json.dumps(job).encode(),
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise VMError("the MicroPython VM did not finish within %s s" % timeout) from None
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode == 1:
        raise VMError(err)
    if proc.returncode:
        raise VMError("the MicroPython VM failed (exit %d): %s" % (proc.returncode, err))
    return proc.stdout.decode("utf-8")


HARNESS = VM_DIR / "harness.py"


def vm_lib():
    """{VM path: bytes} of what a VM job runs on: the virtual hardware (`import machine` gives
    it) and the harness."""
    return {
        "/lib/hardware.py": HARDWARE.read_bytes(),
        "/lib/machine.py": (VM_DIR / "machine.py").read_bytes(),
        "/lib/harness.py": HARNESS.read_bytes(),
    }


# This VM's collector is conservative and frees garbage only a run or two after the run that
# left it (stale references linger between runs), so a job's heap readings come after a line
# "# --- settle ---": three separate runs that collect and print the heap in use.
_SETTLE = "# --- next run ---\ngc.collect()\nprint(gc.mem_alloc())\n" * 3 + "# --- next run ---\n"


def _job(name, params, files=None, **kw):
    """Run job file sim/vm/<name>.py in a fresh VM with `params` as /job.json and vm_lib();
    answer what it printed."""
    tree = {"/job.json": json.dumps(params), **vm_lib(), **(files or {})}
    code = (VM_DIR / (name + ".py")).read_text().replace("# --- settle ---\n", _SETTLE)
    return run(code, tree, **kw)


def _programs(programs, pdict, now, events):
    return [
        [bytes(data).hex(), pdict or {}, now, [list(ev) for ev in events]] for data in programs
    ]


def traces(programs, profile=None, now=0, events=(), vm=False, full=False):
    """Play each program (bytes the verifier accepts under `profile`, a dict of caps) from tick
    `now`; answer one trace per program: [(tick, level)], or with full=True
    [(tick, level, zone, cues)]. vm=True plays them all in one MicroPython VM run."""
    if vm:
        job = {"mode": "play", "programs": _programs(programs, profile, now, events)}
        out = []
        for line in _job("harness_job", job).split("\n")[:-1]:
            if line == "=":
                out.append([])
            else:
                out[-1].append(tuple(int(v) for v in line.split()))
    else:
        out = [
            harness.play(bytes(data), profile or {}, now, [tuple(ev) for ev in events])
            for data in programs
        ]
    return out if full else [[row[:2] for row in rows] for rows in out]


def trace(data, profile=None, now=0, events=(), vm=False, full=False):
    """The trace of one program; see traces()."""
    return traces([data], profile, now, events, vm, full)[0]


def checks(programs, profile=None, vm=False):
    """The verifier's verdict on each program, one line each ('accept ...' or 'reject pc=N
    message'), on CPython or (vm=True) in one MicroPython VM run."""
    if not vm:
        return [harness.check(bytes(data), profile or {}) for data in programs]
    job = {"mode": "check", "programs": _programs(programs, profile, 0, ())}
    return [bytes.fromhex(line).decode() for line in _job("harness_job", job).split("\n") if line]


def measure(data, profile=None, steps=10000, now=0, files=None, timed=True, stored=False):
    """Play `data` once to warm up, then count the bytes MicroPython allocates across `steps`
    engine steps (restarting at the end), and time as many steps in the VM (wall clock of this
    machine's WebAssembly, not a device's) unless timed=False. stored=True plays it from a file
    in the VM's filesystem, read in pieces as a device does (program.File). `files` as for
    run(), e.g. a patched module. Answers {"alloc": bytes in total, "steps", "mean_us",
    "p99_us", "worst_us"} (times None when not timed)."""
    job = {
        "data": bytes(data).hex(),
        "profile": profile or {},
        "steps": steps,
        "now": now,
        "timed": timed,
        "stored": stored,
    }
    used, mean_ns, p99_ns, worst_ns = (int(v) for v in _job("measure_job", job, files).split())
    out = {"alloc": used, "steps": steps, "mean_us": None, "p99_us": None, "worst_us": None}
    if timed:
        out.update(mean_us=mean_ns / 1000, p99_us=p99_ns / 1000, worst_us=worst_ns / 1000)
    return out


def _settled(lines):
    """(heap growth between the two settled readings, the lines after them)."""
    before = min(int(v) for v in lines[0:3])
    after = min(int(v) for v in lines[3:6])
    return after - before, lines[6:]


CORE = ("engine", "verifier", "profile")  # the pattern core; imports bytecode, shapes, ticks


def boot_modules(board="pico", firmware=None, host=False):
    """Boot the firmware in the VM on the virtual hardware (the root boot.py, then
    shell.start() and one loop pass as main.py does; with `host`, until a host's HELLO is
    answered): (bytes held then, every firmware module still imported, e.g. ["shell",
    "bytecode", ...]). The bytes include what booting built (device, store, log...) and the
    names of modules used at boot and dropped (qstrs stay)."""
    hello = b""
    if host:
        from ..firmware import frame, messages

        hello = frame.encode(messages.HELLO, 1, messages.pack_u16(messages.PROTOCOL))
    boot_py = (_firmware_dir() / "deploy" / "boot.py").read_text()
    out = _job(
        "boot_job", {"host": hello.hex(), "board": board}, {"/boot.py": boot_py}, firmware=firmware
    ).split("\n")
    held, rest = _settled(out)
    return held, rest[0].split()


def boot_ram(board="pico", firmware=None):
    """Firmware RAM after import, counted honestly: the heap held by exactly the modules a
    device holds once booted (shell.start() and one loop pass on `board`), imported alone in a
    fresh VM. Answers (bytes, those modules, bytes held after booting, bytes held once a host
    has said HELLO: the protocol is loaded then)."""
    booted, names = boot_modules(board, firmware)
    return (
        firmware_ram(names, firmware)[0],
        names,
        booted,
        boot_modules(board, firmware, host=True)[0],
    )


def firmware_ram(modules=None, firmware=None):
    """Heap held after importing firmware modules (default: every top-level one) of `firmware`
    (see run()): (bytes, modules imported, modules skipped because the VM cannot import them).
    The standard modules are imported before the count starts: they are the VM's, not the
    firmware's."""
    tree = firmware or sources()
    names = modules or sorted(
        path[len(VM_PACKAGE) + 1 :].rsplit(".", 1)[0]
        for path in tree
        if path.count("/") == 3 and not path.endswith(("/__init__.py", "/__init__.mpy"))
    )
    held, rest = _settled(_job("ram_job", {"modules": list(names)}, firmware=tree).split("\n"))
    return held, rest[0].split(), rest[1].split()
