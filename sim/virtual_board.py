"""The virtual facewave board: the real firmware (firmware/board.py's start(), Shell.once() and
Shell.sleep()) on fake hardware (sim/machine.py), under a virtual clock (sim/clock.py), with a
folder as its flash and a console that a host reaches through a pty, a socket or in-process.

Time jumps straight to the firmware's next deadline (or the next scripted event, or the next
byte from the host), so idle and hold time cost nothing. Power cuts, watchdog resets and
mpremote's interrupt behave as on a board: the motor PWM goes to 0, RAM is lost, the flash
keeps what was written, and the firmware boots again from the flash (or the REPL takes the
console).
"""
import json
import math
import os
import random

from ..firmware import VERSION
from ..firmware import shell as fw_shell
from ..firmware import boards, store
from ..firmware import device as dv
from . import clock as vclock
from . import hardware
from .flashfs import FlashFS
from .repl import FRIENDLY, ReplConsole
from .serial_port import Line

BOOT_DELAY_MS = 100  # from power on (or reset) to the firmware's first loop
BATTERY_MV = 4000  # a charged cell
LED_NAMES = dv.STATES


class PowerCut(BaseException):
    """The supply is gone mid-operation (BaseException: no `except Exception` catches it)."""


class FlashStoreFS(store.FS):
    """The firmware's filesystem calls (store.FS) on the virtual flash, with a power cut that
    can strike at the N-th write, rename or remove: half the bytes of a write land, then
    nothing more does."""

    def __init__(self, flash):
        self.flash = flash
        self.writes = 0  # write/rename/remove operations so far
        self.cut_at = None  # operation number at which the power goes

    def _op(self):
        self.writes += 1
        if self.cut_at is not None and self.writes >= self.cut_at:
            self.cut_at = None
            return True
        return False

    def open(self, path, mode):
        return self.flash.open(path, mode)

    def write(self, f, data):
        if self._op():
            f.write(data[:len(data) // 2])
            f.flush()
            raise PowerCut("power cut during a write")
        f.write(data)
        f.flush()

    def rename(self, old, new):
        if self._op():
            raise PowerCut("power cut before a rename")
        self.flash.rename(old, new)

    def remove(self, path):
        if self._op():
            raise PowerCut("power cut before a remove")
        self.flash.remove(path)

    def size(self, path):
        try:
            return self.flash.stat(path)[6]
        except OSError:
            return -1

    def listdir(self, path):
        return self.flash.listdir(path)

    def mkdir(self, path):
        self.flash.mkdir(path)

    def free(self, path):
        st = self.flash.statvfs(path)
        return st[1] * st[4]


class Console:
    """The firmware's console (read(n), write, wait(ms)) on the board's side of the wire, with
    the link faults a scenario asks for (dropped, flipped, duplicated, delayed bytes)."""

    def __init__(self, board):
        self.board = board
        self._in = bytearray()
        self.faults = {}
        self.rng = random.Random(1)
        self._late = []  # [due ms, bytes] delayed input

    def _pull(self):
        if not (self._late or self.board.wire is not None or self.board.to_board.backlog):
            return  # nothing can have arrived: the common case, once per loop iteration
        data = self.board.wire_read()
        if data and self.faults:
            data = self._damage(data)
        if self._late:
            now = self.board.clock.ms
            while self._late and self._late[0][0] <= now:
                self._in += self._late.pop(0)[1]
        if data:
            self._in += data

    def _damage(self, data):
        f, rng, out = self.faults, self.rng, bytearray()
        for b in data:
            if rng.random() < f.get("drop", 0):
                continue
            if rng.random() < f.get("flip", 0):
                b ^= 1 << rng.randrange(8)
            out.append(b)
            if rng.random() < f.get("dup", 0):
                out.append(b)
        if f.get("delay"):
            self._late.append([self.board.clock.ms + f["delay"], bytes(out)])
            return b""
        return bytes(out)

    def pending(self):
        self._pull()
        return len(self._in)

    def next_due(self):
        return self._late[0][0] if self._late else None

    def read(self, limit):
        self._pull()
        data = bytes(self._in[:limit])
        del self._in[:limit]
        return data

    def take_all(self):
        data = bytes(self._in)
        self._in.clear()
        return data

    def write(self, data):
        self.board.wire_write(data)

    def wait(self, ms):
        self.board.idle(ms)


class VirtualBoard:
    """One board. `wire` is the host's end: a serial_port port (pty/socket) or None for an
    in-process host (see SimSerial). `realtime` makes virtual time follow the wall clock (for
    host tools with their own timeouts); otherwise time jumps (fast mode)."""

    def __init__(self, flash_dir, board=None, start_tick=0, wire=None, realtime=False,
                 firmware=True, baud=None):
        self.flash_dir = str(flash_dir)
        os.makedirs(self.flash_dir, exist_ok=True)
        self.clock = vclock.Clock(start=start_tick)
        self.origin = self.clock.ms
        self.flash = FlashFS(self.flash_dir)
        self.fs = FlashStoreFS(self.flash)
        self.wire = wire
        self.realtime = realtime
        self._wall0 = None
        self.board_name = board
        self.console = Console(self)
        # in-process host: both directions as lines (throttled when baud is given)
        self.to_board = Line(baud)
        self.to_host = Line(baud)
        self.host_rx = bytearray()
        self.shell = None
        self.repl = None
        self.hw = None
        self.powered = False
        self.boots = 0
        self.stuck = False  # the button is jammed down
        self.battery_mv = BATTERY_MV
        self.charging = False
        self.rows = []  # the trace: (ms, level permille, led, event)
        self._last = (None, None)
        self._seen_log = 0
        self._wakeups = []  # [ms, callback] scheduled outside events (button releases...)
        self.patch_undo = []
        if firmware and not os.path.exists(self.flash.host_path("/main.py")):
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
        quiet = not (self.console._in or self.console._late or self.wire is not None
                     or self.to_board.backlog)
        if not quiet and (self.console.pending() or self._host_waiting()):
            return
        target = self.clock.ms + max(0, ms)
        host = self.to_board.next_due() if self.wire is None else None
        for due in (self._wakeups[0][0] if self._wakeups else None, self.console.next_due(),
                    None if host is None else math.ceil(host * 1000)):  # up: never before it
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

    def _run_wakeups(self):
        while self._wakeups and self._wakeups[0][0] <= self.clock.ms:
            self._wakeups.pop(0)[1]()

    # -- the wire ------------------------------------------------------------------------------
    def _host_waiting(self):
        return self.wire is None and self.to_board.backlog and \
            self.to_board.next_due() is not None and \
            self.to_board.next_due() <= self.seconds()

    def wire_read(self):
        if self.wire is not None:
            return self.wire.read_available()
        return self.to_board.pop(self.seconds())

    def wire_write(self, data):
        if self.wire is not None:
            self.wire.write(data)
        else:
            self.to_host.push(data, self.seconds())

    def host_write(self, data):
        """The in-process host sends bytes."""
        self.to_board.push(data, self.seconds())

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
            with open(os.path.join(deploy, name), "rb") as src, \
                    open(self.flash.host_path("/" + name), "wb") as dst:
                dst.write(src.read())
        os.makedirs(self.flash.host_path("/fw/a"), exist_ok=True)
        with open(self.flash.host_path("/fw/a/manifest.json"), "w") as f:
            json.dump({"version": VERSION, "files": {}}, f)
        with open(self.flash.host_path("/fw/slot"), "w") as f:
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
        """Power (or reset): new hardware state, then the firmware boots if it is installed;
        a board without /main.py offers the REPL, as plain MicroPython does."""
        if self.hw is not None:
            self._power_down()
        self.hw = hardware.Hardware(self.clock)
        self.machine = self.hw.module()
        self.powered = True
        self.boots += 1
        self._apply_inputs()
        self.clock.advance(BOOT_DELAY_MS)
        self.event("power on")
        if os.path.exists(self.flash.host_path("/main.py")):
            self._start_firmware()
        else:
            self._start_repl(banner=True)

    def _start_firmware(self):
        self.repl = None
        prof_name = self._chosen_board()
        data = boards.load(prof_name)
        self.motor_pin = data["motor"]["pin"]
        self.shell = fw_shell.start(self.machine, self.clock, self.console, prof_name,
                                    fs=self.fs, version=self._installed_version())
        self.prof = self.shell.prof
        self._apply_inputs()
        self._seen_log = 0

    def _start_repl(self, banner=True, pending=b""):
        self.shell = None
        self.repl = ReplConsole(
            _ReplPort(self), self.flash_dir, on_soft_reset=self._repl_soft_reset,
            on_reset=self.power_on, modules={"machine": self.machine, "time": _VTime(self)})
        self.repl.start(FRIENDLY, banner=banner)
        if pending:
            self.repl.feed(pending)

    def _repl_soft_reset(self, run_main):
        self.hw.soft_reset()
        if run_main and os.path.exists(self.flash.host_path("/main.py")):
            self.event("soft reset")
            self._start_firmware()
            return True
        return False

    def _power_down(self):
        hw = self.hw
        if hw.wdt is not None:
            hw.wdt.stop()
        for w in list(self.clock._waiters):
            self.clock.cancel(w)  # timers die with the power
        self.flash.close_all()
        self.shell = None
        self.repl = None
        self.powered = False
        self._record(force=True, level=0)

    def power_cut(self, off_ms=200):
        """The supply goes: motor stops, RAM is lost, the flash keeps what it had; power
        returns after off_ms."""
        self.event("power cut")
        self._power_down()
        self.clock.advance(off_ms)
        self.power_on()

    # -- the world outside the firmware --------------------------------------------------------
    def _apply_inputs(self):
        if self.hw is None or not hasattr(self, "prof") or self.shell is None:
            return
        p = self.prof
        self.hw.set_mv(p.battery_pin, self.battery_mv * 1000 // p.battery_ratio)
        self.hw.drive(p.charger_pin, p.charger_active if self.charging else
                      1 - p.charger_active)
        if self.stuck:
            self.hw.drive(p.button_pin, p.button_active)
        elif self.hw.levels.get(p.button_pin) is None:
            self.hw.drive(p.button_pin, 1 - p.button_active)

    def button(self, down):
        if self.shell is None or self.stuck:
            return
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
        """One loop iteration of whatever has the console, then its sleep."""
        if not self.powered:
            self.power_on()
        if self.shell is not None:
            expired = self.hw.wdt_expired
            try:
                self.shell.once()
                self._record()
                self.shell.sleep()
            except KeyboardInterrupt:  # mpremote's interrupt: the REPL gets the console
                self.shell.interrupted()
                self._record()
                self.event("repl")
                rest = self.shell.link.rest + self.console.take_all()
                self.wire_write(b"Traceback (most recent call last):\r\n"
                                b"KeyboardInterrupt: \r\n")
                self._start_repl(banner=True, pending=rest)
            except PowerCut:
                self.power_cut()
            if self.hw is not None and self.hw.wdt_expired > expired and self.shell:
                self.event("watchdog reset")
                self.power_on()
        else:
            expired = self.hw.wdt_expired
            data = self.console.read(1 << 20)
            if data:
                self.repl.feed(data)
            self.idle(50)
            if self.hw.wdt_expired > expired:  # at the REPL too: a started watchdog runs on
                self.event("watchdog reset")
                self.power_on()

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
        wdt = self.hw.wdt
        self.clock.advance(wdt._fed + wdt.timeout + 1 - self.clock.ms)
        self.event("watchdog reset")
        self.power_on()

    # -- the trace ---------------------------------------------------------------------------
    def level(self):
        """The motor level the PWM is driving, permille (what a scope would show)."""
        if self.hw is None or not self.powered:
            return 0
        duty = self.hw.duty(getattr(self, "motor_pin", -1))
        return (duty * 1000 + 65534) // 65535

    def led(self):
        if self.shell is None or self.shell.device is None:
            return "repl" if self.repl is not None else "off"
        return LED_NAMES[self.shell.device.led.mode] if self.shell.device.led.mode >= 0 \
            else "off"

    def event(self, text):
        self.rows.append((self.ms, self.level(), self.led(), text))

    def _record(self, force=False, level=None):
        """Add a row when the motor level or the LED changes, and the new log entries. Runs
        after every loop iteration, so the common case (nothing changed) is kept cheap."""
        shell = self.shell
        d = shell.device if shell is not None else None
        lv = self.level() if level is None else level
        mode = d.led.mode if d is not None and self.powered else -2
        if force or lv != self._last[0] or mode != self._last[1]:
            self._last = (lv, mode)
            self.rows.append((self.ms, lv, self.led(), ""))
        if d is None:
            return
        if d.log.seq > self._seen_log:
            led = self.led()
            for _, tick, kind, arg in d.log.entries(self._seen_log):
                at = self.ms - vclock.ticks_diff(self.clock.ticks_ms(), tick)
                self.rows.append((at, lv, led, kind + ("" if arg in (0, None, "") else
                                                       " " + str(arg))))
            self._seen_log = d.log.seq

    def device_events(self, kind):
        """Times (ms) of the device log entries of `kind` in the trace (e.g. "cue")."""
        return [t for t, _, _, ev in self.rows if ev == kind or ev.startswith(kind + " ")]

    def csv(self):
        lines = ["ms,level,led,event"]
        lines += ["%d,%d,%s,%s" % (t, lv, led, ev.replace(",", ";"))
                  for t, lv, led, ev in sorted(self.rows, key=lambda r: r[0])]
        return "\n".join(lines) + "\n"


class _ReplPort:
    """The REPL's view of the wire: it writes to the host; its input comes through step()."""

    def __init__(self, board):
        self.board = board

    def write(self, data):
        self.board.wire_write(data)

    def read_available(self):
        return b""


class _VTime:
    """`time` for code run at the virtual board's REPL: ticks from the virtual clock."""

    def __init__(self, board):
        clock = board.clock
        self.ticks_ms = clock.ticks_ms
        self.ticks_add = vclock.ticks_add
        self.ticks_diff = vclock.ticks_diff
        self.sleep_ms = clock.sleep_ms
        self.sleep = clock.sleep
        self.time = lambda: clock.ms // 1000


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

