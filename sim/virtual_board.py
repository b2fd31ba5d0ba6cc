"""The virtual facewave board: the real firmware (firmware/shell.py's start(), Shell.once() and
Shell.sleep()) on the virtual hardware (sim/hardware.py: clock, machine, a folder as its flash,
console, recorder), its console reached by a host through a pty, a socket or in-process.

Time jumps straight to the firmware's next deadline (or the next scripted event, or the next
byte from the host), so idle and hold time cost nothing. Power cuts, watchdog resets and
mpremote's interrupt behave as on a board: the motor PWM goes to 0, RAM is lost, the flash
keeps what was written, and the firmware boots again from the flash. This board has no
MicroPython REPL (sim/vm_board.py and sim/rp2040.py have the real one): at the hand-over it
says so, answers Enter with a prompt as a REPL does, and waits for a soft reset (Ctrl-D).
"""

import importlib
import json
import math
import os
import random

from ..firmware import VERSION, boards, store
from ..firmware import device as dv
from ..firmware import shell as fw_shell
from . import hardware
from .hardware import PowerCut
from .serial_port import RX_HELD, TX_HELD, Line

BOOT_DELAY_MS = 100  # from power on (or reset) to the firmware's first loop
BATTERY_MV = 4000  # a charged cell
NO_REPL = (
    b"facewave virtual board (the firmware on CPython): no MicroPython REPL here; "
    b"`facewave sim --vm` has the real one. Ctrl-D boots the firmware again.\r\n"
)


class VirtualBoard:
    """One board. `wire` is the host's end: a serial_port port (pty/socket) or None for an
    in-process host (see SimSerial). `realtime` makes virtual time follow the wall clock (for
    host tools with their own timeouts); otherwise time jumps (fast mode)."""

    def __init__(
        self, flash_dir, board=None, start_tick=0, wire=None, realtime=False, baud=None, tape=None
    ):
        self.flash_dir = str(flash_dir)
        os.makedirs(self.flash_dir, exist_ok=True)
        self.clock = hardware.Clock(start=start_tick)
        self.origin = self.clock.ms
        self.flash = hardware.FolderFiles(self.flash_dir)
        self.fs = hardware.Flash(self.flash)  # under the firmware's own store.FS
        self.wire = wire
        self.realtime = realtime
        self._wall0 = None
        self.board_name = board
        self.console = hardware.Console(
            self.clock, self.wire_write, self.idle, self._pull, random.Random(1)
        )
        # in-process host: both directions as lines (throttled when baud is given)
        self.to_board = Line(baud)
        self.to_host = Line(baud)
        self.host_rx = bytearray()
        self.dropped = 0  # bytes for an in-process host that did not fit in TX_HELD
        self.tape = tape  # a replay.Tape that writes down what crosses into the firmware
        self.shell = None
        self.passing = False  # a loop pass runs (the trace takes its outputs after it)
        self.at_repl = False
        self.hw = None
        self.motor_pin = -1
        self.powered = False
        self.fresh = False  # new hardware since the firmware last started (the tape says so)
        self.boots = 0
        self.stuck = False  # the button is jammed down
        self.battery_mv = BATTERY_MV
        self.charging = False
        self.recorder = hardware.Recorder(self, dv.STATES)
        self.rows = self.recorder.rows  # the trace: (ms, level permille, led, event)
        self._wakeups = []  # [ms, callback] scheduled outside events (button releases...)
        if tape is not None:
            tape.board = self
            self.console.heard = tape.rx
        if not os.path.exists(self.flash.path("/main.py")):
            self._factory_install()

    # -- time ----------------------------------------------------------------------------------
    @property
    def ms(self):
        """Virtual milliseconds since the board was made."""
        return self.clock.ms - self.origin

    def seconds(self):
        return self.clock.ms / 1000

    def at(self, ms, callback):
        """Run callback() when the board's time reaches ms (since it was made)."""
        self._wakeups.append([ms + self.origin, callback])
        self._wakeups.sort(key=lambda w: w[0])

    def idle(self, ms):
        """The firmware sleeps up to ms: until then, or a scripted moment, or host input."""
        start = self.clock.ms
        self._idle(ms)
        if self.tape is not None and self.clock.ms < start + max(0, ms):
            self.tape.put("wake")

    def _idle(self, ms):
        console = self.console
        quiet = not (
            console.buf
            or console.next_due() is not None
            or self.wire is not None
            or self.to_board.backlog
        )
        if not quiet and (console.pending() or self._host_waiting()):
            return
        target = self.clock.ms + max(0, ms)
        host = self.to_board.next_due() if self.wire is None else None
        for due in (
            self._wakeups[0][0] if self._wakeups else None,
            console.next_due(),
            None if host is None else math.ceil(host * 1000),
        ):  # up: never before it
            if due is not None and due < target:
                target = max(due, self.clock.ms)
        if self.realtime:
            self._sleep_wall(target)
        else:
            self.clock.advance(target - self.clock.ms)
        self._run_wakeups()

    def _sleep_wall(self, target):
        import time

        if self._wall0 is None:
            self._wall0 = time.monotonic() - self.clock.ms / 1000
        left = target / 1000 - (time.monotonic() - self._wall0)
        if left > 0 and self.wire is not None:
            self.wire.wait(left)
        elif left > 0:
            time.sleep(left)
        now = round((time.monotonic() - self._wall0) * 1000)
        self.clock.advance(max(0, min(now, target) - self.clock.ms))

    def jump(self, ms):
        """Time passes outside the firmware's sleep (boot, power off, a hung loop)."""
        if self.tape is not None and ms > 0:
            self.tape.put("jump", self.clock.ms + ms)
        self.clock.advance(ms)

    def _run_wakeups(self):
        while self._wakeups and self._wakeups[0][0] <= self.clock.ms:
            self._wakeups.pop(0)[1]()

    # -- the wire ------------------------------------------------------------------------------
    def _host_waiting(self):
        if self.wire is not None or not self.to_board.backlog:
            return False
        due = self.to_board.next_due()
        return due is not None and due <= self.seconds()

    def _pull(self, room):
        """At most `room` bytes on their way to the board reach its console (once the console
        is empty: the common case, nothing can have arrived, costs one test)."""
        if self.wire is not None:
            data = self.wire.read_available(room)
        elif self.to_board.backlog:
            data = self.to_board.pop(self.seconds(), room)
        else:
            return
        if data:
            self.console.put(data)

    def wire_write(self, data):
        if self.tape is not None:
            self.tape.out += data
        if self.wire is not None:
            self.wire.write(data)
        else:  # a host that does not read loses what does not fit, as on a port
            room = max(0, TX_HELD - self.to_host.backlog)
            self.dropped += max(0, len(data) - room)
            self.to_host.push(data[:room], self.seconds())

    def host_write(self, data):
        """The in-process host sends bytes; like a write to a port, it returns once all but
        RX_HELD of them are on their way, the board running meanwhile."""
        self.to_board.push(data, self.seconds())
        while self.to_board.backlog > RX_HELD:
            self.step()

    def host_read(self):
        self.host_rx += self.to_host.pop(self.seconds())
        data = bytes(self.host_rx)
        self.host_rx.clear()
        return data

    # -- power and boot ------------------------------------------------------------------------
    def _factory_install(self):
        """A board fresh from `facewave flash`: the root files and a slot manifest."""
        deploy = os.path.join(os.path.dirname(fw_shell.__file__), "deploy")
        for name in ("boot.py", "main.py"):
            with (
                open(os.path.join(deploy, name), "rb") as src,
                open(self.flash.path("/" + name), "wb") as dst,
            ):
                dst.write(src.read())
        os.makedirs(self.flash.path("/fw/a"), exist_ok=True)
        with open(self.flash.path("/fw/a/manifest.json"), "w") as f:
            json.dump({"version": VERSION, "files": {}}, f)
        with open(self.flash.path("/fw/slot"), "w") as f:
            f.write("a")

    def _installed_version(self):
        """What the flash says is installed: the active slot's manifest (facewave flash)."""
        try:
            with self.flash.open("/fw/slot") as f:
                slot = f.read().strip()
            with self.flash.open("/fw/%s/manifest.json" % slot) as f:
                return json.load(f).get("version") or VERSION
        except (OSError, ValueError):
            return VERSION

    def _chosen_board(self):
        if self.board_name:
            return self.board_name
        try:
            with self.flash.open("/board") as f:
                return f.read().strip() or "pico"
        except OSError:
            return "pico"

    def power_on(self):
        """Power (or reset): new hardware state, then the firmware boots (from the factory
        install the board was made with, or what `facewave flash` left)."""
        if self.hw is not None:
            self._power_down()
        self.hw = hardware.Hardware(self.clock)
        self.hw.changed = self._changed
        if self.tape is not None:
            self.hw.heard = self.tape.input
        self.machine = self.hw.machine()
        self.powered = True
        self.boots += 1
        self.fresh = True
        self._apply_inputs()
        self.jump(BOOT_DELAY_MS)
        self.event("power on")
        self._start_firmware()

    def _start_firmware(self):
        self.at_repl = False
        name = self._chosen_board()
        if self.tape is not None:
            self.tape.boot(name, self._installed_version(), self.fresh)
        self.fresh = False
        self.motor_pin = boards.load(name)["motor"]["pin"]
        self.shell = fw_shell.start(
            self.machine,
            self.clock,
            self.console,
            name,
            fs=store.FS(self.fs),
            version=self._installed_version(),
        )
        self.prof = self.shell.prof
        self._apply_inputs()
        self.recorder.seen_log = 0

    def _start_repl(self):
        """The console goes to the REPL. This board runs the firmware on CPython: it has no
        MicroPython REPL to give (the VM board and the emulated Pico have the real one), so it
        says so, and Ctrl-D (a soft reset) boots the firmware again."""
        if self.tape is not None:
            self.tape.problem = self.tape.problem or "the REPL took the console at %d ms" % self.ms
        self.shell = None
        self.at_repl = True
        self.wire_write(NO_REPL)

    def _soft_reset(self):
        assert self.hw is not None  # a soft reset comes from the REPL of a powered board
        self.hw.soft_reset()
        self.event("soft reset")
        self._start_firmware()

    def _power_down(self):
        if self.tape is not None:
            self.tape.put("down")
        assert self.hw is not None, "power_on() first"
        self.hw.power_down()
        self.flash.close_all()
        self.shell = None
        self.at_repl = False
        self.powered = False
        self.recorder.record(force=True, level=0)

    def power_cut(self, off_ms=200):
        """The supply goes: motor stops, RAM is lost, the flash keeps what it had; power
        returns after off_ms."""
        self.event("power cut")
        self._power_down()
        self.jump(off_ms)
        self.power_on()

    def inject(self, target):
        """Make the firmware call `module.attr[.attr]` raise once; answers the undo, or None
        when there is no such function."""
        module, _, path = target.partition(".")
        try:
            owner = importlib.import_module("facewave.firmware." + module)
            parts = path.split(".")
            for part in parts[:-1]:
                owner = getattr(owner, part)
            getattr(owner, parts[-1])
        except (ImportError, AttributeError, ValueError):
            return None
        if self.tape is not None:
            self.tape.put("fault", target)
        return hardware.break_once(owner, parts[-1], target)

    # -- the world outside the firmware --------------------------------------------------------
    def _apply_inputs(self):
        if self.hw is None or not hasattr(self, "prof") or self.shell is None:
            return
        p = self.prof
        self.hw.set_mv(p.battery_pin, self.battery_mv * 1000 // p.battery_ratio)
        self.hw.drive(p.charger_pin, p.charger_active if self.charging else 1 - p.charger_active)
        if self.stuck:
            self.hw.drive(p.button_pin, p.button_active)
        elif self.hw.levels.get(p.button_pin) is None:
            self.hw.drive(p.button_pin, 1 - p.button_active)

    def button(self, down):
        if self.shell is None or self.stuck:
            return
        assert self.hw is not None  # the firmware runs (a shell), so the board is powered
        p = self.prof
        self.hw.drive(p.button_pin, p.button_active if down else 1 - p.button_active)

    def press(self, held_ms, then=None):
        self.button(True)
        self.at(self.ms + held_ms, lambda: (self.button(False), then and then()))

    def set_battery(self, mv):
        self.battery_mv = mv
        self._apply_inputs()

    def set_charger(self, on):
        self.charging = on
        self._apply_inputs()

    def jam_button(self):
        self.stuck = True
        self._apply_inputs()

    # -- running -------------------------------------------------------------------------------
    def step(self):
        """One loop pass of whatever has the console, then its sleep."""
        if not self.powered:
            self.power_on()
        assert self.hw is not None  # power_on() made it
        expired = self.hw.wdt_expired
        if self.shell is not None:
            try:
                self._once()
                self.recorder.record()
                self.shell.sleep()
            except KeyboardInterrupt:  # mpremote's interrupt: the REPL gets the console
                self.shell.interrupted()
                self.recorder.record()
                self.event("repl")
                self.console.take_all()
                self.wire_write(b"Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n")
                self._start_repl()
            except PowerCut:
                self.power_cut()
        else:
            typed = self.console.read(1 << 20)
            if b"\x04" in typed:
                self._soft_reset()
            elif b"\r" in typed or b"\x02" in typed:
                self.wire_write(b"\r\n>>> ")  # as a REPL answers Enter (and Ctrl-B)
            else:
                self.idle(50)
        if self.hw is not None and self.hw.wdt_expired > expired:  # at the REPL too
            self.event("watchdog reset")
            self.power_on()

    def _once(self):
        tape, shell = self.tape, self.shell
        assert shell is not None  # step() runs a loop pass only while the firmware runs
        if tape is not None:
            tape.once(self.clock.ms)
        self.passing = True
        try:
            shell.once()
        finally:
            self.passing = False
            if tape is not None:
                tape.in_once = False

    def _changed(self):
        """The motor's PWM was written: outside a loop pass (the guard's timer in a hang) the
        trace takes it at its moment."""
        if self.shell is not None and not self.passing:
            self.recorder.record()

    def run_for(self, ms):
        end = self.clock.ms + ms
        self.at(end - self.origin, lambda: None)  # so that no sleep runs past the end
        while self.clock.ms < end:
            self._run_wakeups()
            self.step()

    def starve_watchdog(self):
        """The firmware hangs: no loop iteration feeds the watchdog, which resets the board
        when it expires (the motor keeps its last drive until then, as on a board)."""
        self.event("hang")
        assert self.hw is not None, "power_on() first"
        wdt = self.hw.wdt
        assert wdt is not None, "the firmware starts no watchdog"
        self.jump(wdt.fed + wdt.timeout + 1 - self.clock.ms)
        self.event("watchdog reset")
        self.power_on()

    # -- the trace ---------------------------------------------------------------------------
    def level(self):
        """The motor level the PWM is driving, permille (what a scope would show)."""
        return self.recorder.level()

    def led(self):
        return self.recorder.led()

    def event(self, text):
        self.recorder.event(text)

    def device_events(self, kind):
        """Times (ms) of the device log entries of `kind` in the trace (e.g. "cue")."""
        return [t for t, _, _, ev in self.rows if ev == kind or ev.startswith(kind + " ")]

    def csv(self):
        lines = ["ms,level,led,event"]
        lines += [
            "%d,%d,%s,%s" % (t, lv, led, ev.replace(",", ";"))
            for t, lv, led, ev in sorted(self.rows, key=lambda r: r[0])
        ]
        return "\n".join(lines) + "\n"


class SimSerial:
    """A pyserial-like port whose other end is an in-process virtual board: reading waits in
    the board's virtual time, so a host conversation costs no wall time in fast mode."""

    def __init__(self, board, timeout=1.0):
        self.board = board
        self.timeout = timeout
        self.port = "sim://%s" % board.flash_dir
        self._buf = bytearray()
        self.is_open = True

    @property
    def in_waiting(self):
        self._buf += self.board.host_read()
        return len(self._buf)

    def write(self, data):
        self.board.host_write(bytes(data))
        return len(data)

    def read(self, n=1):
        # rounded up: a wait of less than a millisecond still lets the board run once
        deadline = self.board.clock.ms + math.ceil((self.timeout or 0) * 1000)
        while True:
            self._buf += self.board.host_read()
            if self._buf or self.board.clock.ms >= deadline:
                break
            self.board.step()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def reset_input_buffer(self):
        self.board.host_read()
        self._buf.clear()

    def flush(self):
        pass

    def close(self):
        self.is_open = False
