"""The VM board's port (imported as vm_port): what a MicroPython port does around its REPL
(rp2's main.c), for the genuine firmware in the WebAssembly VM; sim/vm_board.mjs calls these.

The JavaScript that holds the VM is single-threaded and must feed the console between loop
passes, so nothing here may run for ever: main.py runs as on a board, but the firmware's
endless Shell.run() only hands its shell over, and the JS side runs the loop one pass at a
time (step()), each followed by the sleep the firmware asked for, until the firmware raises
KeyboardInterrupt for mpremote's Ctrl-C (handover()); from then on the VM's own REPL has the
console.

The virtual hardware's clock moves only when told: each pass, and tick() at the REPL, bring it
to the wall time, so its watchdog and timers run in real time.
"""

import os
import sys
import time

import machine
import micropython

_shell = None  # the firmware's shell while its loop runs
_stop = None  # the KeyboardInterrupt that ended it
_now = [time.ticks_ms()]  # the wall time the hardware's clock was last brought to


class Flash:
    """The flash: the VM's folder `root` as the filesystem at "/", listed as littlefs lists it,
    with each file's size (what `mpremote fs ls` shows). It wraps a VfsPosix rather than
    subclass it: a subclass inherits VfsPosix's C protocol, which then takes the subclass's
    object for VfsPosix's own (imports find nothing)."""

    def __init__(self, root):
        self.root = root
        self._fs = fs = os.VfsPosix(root)
        # VfsPosix's own methods, not ours calling them: a traceback shows no frame of ours
        for name in (
            "mount",
            "umount",
            "open",
            "stat",
            "statvfs",
            "mkdir",
            "rmdir",
            "remove",
            "chdir",
            "getcwd",
        ):
            setattr(self, name, getattr(fs, name))

    def ilistdir(self, path):
        for entry in self._fs.ilistdir(path):
            name = path + "/" + entry[0] if path else entry[0]
            yield entry[0], entry[1], entry[2], self._fs.stat(name)[6]

    def rename(self, old, new):
        """VfsPosix's rename builds both paths in one buffer when it has a root, and so renames
        the new path onto itself (ENOENT): here the root is put on first."""
        _whole.rename(self._host(old), self._host(new))

    def _host(self, path):
        return self.root + path if path[:1] == "/" else path


_whole = os.VfsPosix()  # the VM's whole file system, not mounted


def mount(root):
    """The flash, the VM's folder `root`, as "/" in place of the VM's whole file system."""
    os.umount("/")
    os.mount(Flash(root), "/")
    os.chdir("/")


class Console:
    """The firmware's USB console in the VM (console.UsbConsole's place): the bytes the JS side
    hands over before each pass, writes to stdout as a board's sys.stdout.buffer takes them, and a
    wait() that only notes how long the loop would sleep: the JS side sleeps."""

    def __init__(self):
        self.inbox = b""
        self.wait_ms = 0
        self._out = sys.stdout.buffer

    def read(self, limit):
        data = self.inbox[:limit]
        self.inbox = self.inbox[limit:]
        return data

    def write(self, data):
        self._out.write(data)

    def wait(self, ms):
        self.wait_ms = 0 if self.inbox else ms


def boot(g, main, watchdog=-1):
    """Power-on or soft reset, in __main__'s globals `g` (boot.py, main.py and the REPL share
    them): boot.py, then main.py if `main` (the friendly REPL's reset) and boot.py did not
    raise, as rp2 does. `watchdog`: ms left of a watchdog that ran on through the soft reset.
    1: the firmware's loop runs (step()), 0: the REPL has the console, -1: a script raised
    SystemExit (a soft reset again)."""
    if watchdog >= 0:
        machine.WDT(timeout=max(1, watchdog))
    done = _run("boot.py", g)
    if done > 0 and main:
        _hold()
        done = _run("main.py", g)
    if done < 0:
        return -1
    return 1 if _shell is not None else 0


def _run(name, g):
    """pyexec_file_if_exists(): 1 ran (or no such file), 0 raised (traceback printed), -1 it
    raised SystemExit."""
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return 1
    try:
        exec(compile(src, name, "exec"), g)
    except SystemExit:
        return -1
    except BaseException as e:  # noqa: BLE001  KeyboardInterrupt too, as the port's pyexec
        sys.print_exception(e)
        return 0
    return 1


def _hold():
    """Before main.py: the firmware's console module with this console for UsbConsole and
    Shell.run() keeping the shell for step() instead of looping. Without firmware, main.py
    fails by itself, as on a board."""
    try:
        from facewave import console, shell
    except Exception:  # noqa: BLE001  no slot, or a damaged one: main.py says why
        return
    console.UsbConsole = Console
    shell.Shell.run = _keep


def _keep(shell):
    """Shell.run()'s start: the protocol owns Ctrl-C while the firmware runs."""
    global _shell
    if shell.device is not None:
        micropython.kbd_intr(-1)
    _shell = shell


def step(data):
    """One pass of Shell.run()'s loop, with the console bytes `data` (hex: this VM's binascii
    is Python code) that came since the last: the milliseconds the loop would sleep now; -1:
    KeyboardInterrupt (mpremote's interrupt reached the firmware, see handover()); -2:
    SystemExit (a reset); -3: the watchdog ran out."""
    global _stop
    if tick():
        return -3
    console = _shell.console
    if data:
        console.inbox += bytes.fromhex(data)
    try:
        _shell.once()
        _shell.sleep()
    except KeyboardInterrupt as e:
        _stop = e
        return -1
    except SystemExit:
        return -2
    return console.wait_ms


def handover():
    """What Shell.run() does on KeyboardInterrupt (motor off, Ctrl-C live again, watchdog
    stopped), then the traceback a board prints: answers (hex) the bytes after the REPL
    request, which are the REPL's."""
    global _shell
    shell = _shell
    _shell = None
    shell.interrupted()
    sys.print_exception(_stop)
    rest = shell.link.rest + shell.console.inbox
    return rest.hex() if rest else ""  # (MicroPython's b"".hex() is b"")


def tick():
    """The hardware's clock brought to the wall time (the timers that are due run); True if a
    started watchdog ran out on the way: the board resets."""
    now = time.ticks_ms()
    machine.hw.clock.advance(time.ticks_diff(now, _now[0]))
    _now[0] = now
    return machine.hw.wdt_expired > 0


def watchdog():
    """Ms a started watchdog has left (-1: none runs): on rp2 it runs on through a soft reset,
    which removes every timer that could feed it."""
    tick()
    wdt = machine.hw.wdt
    return wdt.left(machine.hw.clock.ms) if wdt is not None else -1


def hard_reset():
    """True when machine.reset() ended what ran: the board powers on, not a soft reset."""
    return machine.hw.resets > 0
