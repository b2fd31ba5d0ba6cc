"""The virtual hardware under every virtual board, written once in the MicroPython subset: the
CPython board (sim/virtual_board.py) and the MicroPython VM (sim/vm/) run the firmware on these
same objects.

- Clock: virtual milliseconds that move only when told, ticks wrapping at 2**30 as on a 32-bit
  port; callbacks due "while time passes" (timers, the watchdog) run inside advance().
- Hardware: one power-on's pins, PWM, ADC, watchdog, timers and mem32; hw.machine() is the
  `machine` namespace the firmware is given, hw.drive()/hw.set_mv() are the world outside.
- Flash: the `os` calls under the firmware's filesystem layer (store.FS) over a folder or over
  memory, free space counted in blocks, and a power cut at the N-th write, rename or remove.
- Console: the firmware's console (read, write, wait) with hooks for what arrives and leaves.
- Recorder: the trace a scope and the device log would give, as rows (ms, level, led, event).
- break_once: the fault injector, making one firmware call raise once.

No f-strings, no CPython-only modules: the VM imports this file as it is.
"""

import os
import sys

WRAP = 1 << 30  # ticks_ms period on 32-bit ports
BLOCK = 4096  # flash block size
MICRO = sys.implementation.name == "micropython"
_ERRNO = {2: "ENOENT", 17: "EEXIST", 20: "ENOTDIR", 21: "EISDIR"}
TYPE_CHECKING = False  # the checkers take it as True; MicroPython has no `typing`
if TYPE_CHECKING:
    from typing import Callable, NoReturn


def ticks_add(t, d):
    return (t + d) % WRAP


def ticks_diff(a, b):
    return (a - b + WRAP // 2) % WRAP - WRAP // 2


def oserror(code):
    """OSError(code), printed `[Errno 2] ENOENT` by both interpreters."""
    return OSError(code) if MICRO else OSError(code, _ERRNO.get(code, str(code)))


class Clock:
    def __init__(self, start=0):
        self.ms = start  # virtual milliseconds since an arbitrary origin (never wraps)
        self._waiters = []  # [due ms, period ms (0: once), callback, its argument or None]

    def ticks_ms(self):
        return self.ms % WRAP

    def ticks_add(self, t, d):
        return (t + d) % WRAP

    def ticks_diff(self, a, b):
        return (a - b + WRAP // 2) % WRAP - WRAP // 2

    def sleep_ms(self, ms):
        self.advance(ms)

    def sleep(self, s):
        self.advance(int(s * 1000))

    def advance(self, ms):
        """Move time on by ms, running every due callback at its own tick."""
        end = self.ms + (ms if ms > 0 else 0)
        while self._waiters:
            w = min(self._waiters, key=lambda w: w[0])
            if w[0] > end:
                break
            if w[0] > self.ms:
                self.ms = w[0]
            if w[1]:
                w[0] += w[1]
            else:
                self._waiters.remove(w)
            if w[3] is None:
                w[2]()
            else:
                w[2](w[3])
        self.ms = end

    def every(self, period, callback, once=False, arg=None):
        """Call callback() (or callback(arg)) each `period` ms (once: only the first time);
        answers a handle."""
        w = [self.ms + period, 0 if once else period, callback, arg]
        self._waiters.append(w)
        return w

    def cancel(self, handle):
        if handle in self._waiters:
            self._waiters.remove(handle)

    def cancel_all(self):
        """The power goes: nothing that was waiting runs."""
        self._waiters = []


# -- machine --------------------------------------------------------------------------------
class Hardware:
    """One power-on of the board. Every output goes into `trace` as (tick, what, pin id,
    value) unless record=False (the VM's replay, which must not allocate per pass); `heard`,
    if set, is told of each input as heard(kind, pin, value), kind "drive" or "mv"."""

    def __init__(self, clock, vref_mv=3300, record=True):
        self.clock = clock
        self.vref_mv = vref_mv  # ADC full scale
        self.trace = [] if record else None
        self.heard = None  # type: Callable[[str, int, int], object] | None
        # told of each PWM duty written, so a trace kept between loop passes sees a timer's
        self.changed = None  # type: Callable[[], object] | None
        self.levels = {}  # pin id -> level (driven outside or by the firmware)
        self.pins = {}  # pin id -> Pin last made for it
        self.mv = {}  # pin id -> mV at an ADC input
        self.pwms = {}  # pin id -> PWM
        self.wdt = None  # type: WDT | None
        self.wdt_expired = 0  # times a started watchdog went unfed past its timeout
        self.timers = []  # running machine.Timers (a soft reset removes them, as on rp2)
        self.mem32 = Mem32(self)
        # an exception for the next ADC read to raise
        self.adc_error = None  # type: BaseException | None
        self.resets = 0

    def record(self, what, pin, value):
        if self.trace is not None:
            self.trace.append((self.clock.ticks_ms(), what, pin, value))

    def drive(self, pin, level):
        """The outside world sets an input pin (a button edge); its IRQ runs at once."""
        if self.heard is not None:
            self.heard("drive", pin, level)
        old = self.levels.get(pin, 0)
        self.levels[pin] = level
        p = self.pins.get(pin)
        edge = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
        if p is not None and p._handler and old != level and p._trigger & edge:
            p._handler(p)

    def set_mv(self, pin, mv):
        if self.heard is not None:
            self.heard("mv", pin, mv)
        self.mv[pin] = mv

    def duty(self, pin):
        """What drives `pin`, as a duty_u16: the last written to its PWM, or its level if it was
        made a plain output since (which takes it off the PWM, as on rp2 and ESP32)."""
        p = self.pwms.get(pin)
        if p is not None:
            return p._duty
        q = self.pins.get(pin)
        return 65535 if q is not None and q.mode == Pin.OUT and self.levels.get(pin) else 0

    def soft_reset(self):
        """What a soft reset does to the hardware on rp2: every machine.Timer is removed; a
        started watchdog keeps running."""
        for t in list(self.timers):
            t.deinit()

    def power_down(self):
        if self.wdt is not None:
            self.wdt.stop()
        self.clock.cancel_all()  # timers die with the power

    def machine(self):
        """The `machine` namespace of this hardware, as the firmware imports it."""
        m = Machine()
        for cls in (Pin, PWM, ADC, WDT, Timer):
            setattr(m, cls.__name__, type(cls.__name__, (cls,), {"hw": self}))
        m.mem32 = self.mem32
        m.reset = m.soft_reset = self._reset
        return m

    def _reset(self):
        self.resets += 1
        raise SystemExit("machine.reset()")


class Machine:
    """machine's constants and the calls the firmware makes that need no hardware state."""

    PWRON_RESET = 1
    WDT_RESET = 3
    # set on each instance by Hardware.machine(), bound to that hardware
    Pin: "type[Pin]"
    PWM: "type[PWM]"
    ADC: "type[ADC]"
    WDT: "type[WDT]"
    Timer: "type[Timer]"
    mem32: "Mem32"
    reset: "Callable[[], NoReturn]"
    soft_reset: "Callable[[], NoReturn]"

    def bitstream(self, pin, encoding, timing, buf):
        pin.hw.record("bitstream", pin.id, bytes(buf))

    def reset_cause(self):
        return self.PWRON_RESET

    def unique_id(self):
        return b"\x00fakeboard"

    def freq(self, *hz):
        return 125000000

    def idle(self):
        pass


class Pin:
    hw: "Hardware"  # the subclass Hardware.machine() makes sets it
    IN, OUT, OPEN_DRAIN = 0, 1, 2
    PULL_UP, PULL_DOWN = 1, 2
    IRQ_FALLING, IRQ_RISING = 4, 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self._handler = None
        self._trigger = 0
        hw = self.hw
        hw.pins[id] = self
        if id not in hw.levels:
            hw.levels[id] = 1 if pull == Pin.PULL_UP else 0
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        if mode == Pin.OUT:
            self.hw.pwms.pop(self.id, None)  # a plain output now, off any PWM
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self.hw.levels.get(self.id, 0)
        self.hw.levels[self.id] = 1 if v else 0
        self.hw.record("pin", self.id, 1 if v else 0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=12, hard=False):
        self._handler = handler
        self._trigger = trigger


class PWM:
    hw: "Hardware"  # the subclass Hardware.machine() makes sets it

    def __init__(self, pin, freq=0, duty_u16=None):
        self.pin = pin
        self._freq = freq
        self._duty = 0
        self.hw.pwms[pin.id] = self
        if freq:
            self.hw.record("freq", pin.id, freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f
        self.hw.record("freq", self.pin.id, f)

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if not 0 <= d <= 65535:
            raise ValueError("duty must be 0..65535")
        self._duty = d
        hw = self.hw
        hw.record("duty", self.pin.id, d)
        if hw.changed is not None:
            hw.changed()

    def deinit(self):
        self._duty = 0
        self.hw.record("deinit", self.pin.id, 0)


class ADC:
    hw: "Hardware"  # the subclass Hardware.machine() makes sets it
    ATTN_0DB, ATTN_2_5DB, ATTN_6DB, ATTN_11DB = 0, 1, 2, 3

    def __init__(self, pin, atten=None):
        self.id = pin.id if isinstance(pin, Pin) else pin
        self.atten = atten

    def read_u16(self):
        hw = self.hw
        if hw.adc_error is not None:
            e = hw.adc_error
            hw.adc_error = None
            raise e
        mv = hw.mv.get(self.id, 0)
        return max(0, min(65535, mv * 65535 // hw.vref_mv))


WATCHDOG_CTRL_CLEAR = 0x4005B000  # RP2040: WATCHDOG_CTRL's atomic clear alias
WATCHDOG_ENABLE = 1 << 30


class Mem32:
    """machine.mem32 of an RP2040 as far as the firmware uses it: clearing the watchdog's
    ENABLE bit stops it."""

    def __init__(self, hw):
        self.hw = hw

    def __setitem__(self, addr, value):
        wdt = self.hw.wdt
        if addr == WATCHDOG_CTRL_CLEAR and value & WATCHDOG_ENABLE and wdt is not None:
            wdt.stop()


class WDT:
    """Judged by the virtual clock: one alarm just after the timeout from the last feed counts
    a reset the real board would have done (hw.wdt_expired)."""

    hw: "Hardware"  # the subclass Hardware.machine() makes sets it

    def __init__(self, id=0, timeout=5000):
        hw = self.hw
        self.timeout = timeout
        self.feeds = 0
        self.fed = hw.clock.ms
        self._h = None
        hw.wdt = self
        self._arm()

    def feed(self):
        """Only a time stamp: the alarm looks at it when it rings (feeds are per loop pass)."""
        self.feeds += 1
        self.fed = self.hw.clock.ms

    def stop(self):
        """The chip's ENABLE bit cleared: no alarm until a new machine.WDT arms it again."""
        if self._h is not None:
            self.hw.clock.cancel(self._h)
            self._h = None

    def left(self, now):
        """Ms from `now` (the clock's ms) before it counts a reset unless fed (-1: stopped)."""
        return -1 if self._h is None else self.fed + self.timeout - now

    def _arm(self):
        clock = self.hw.clock
        self._h = clock.every(self.fed + self.timeout + 1 - clock.ms, self._ring, True)

    def _ring(self):
        hw = self.hw
        if hw.clock.ms > self.fed + self.timeout:
            hw.wdt_expired += 1
            self.fed = hw.clock.ms
        self._arm()


class Timer:
    hw: "Hardware"  # the subclass Hardware.machine() makes sets it
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, mode=1, period=-1, callback=None, freq=-1):
        self._h = None
        if callback is not None:
            self.init(mode=mode, period=period, callback=callback, freq=freq)

    def init(self, mode=1, period=-1, callback=None, freq=-1, hard=False):
        """`hard`: rp2's interrupt callback; here every callback runs at its tick, between loop
        passes, as an interrupt would."""
        assert callback is not None, "a virtual Timer needs a callback"
        self.deinit()
        if freq > 0:
            period = 1000 // freq
        self._h = self.hw.clock.every(max(1, period), callback, mode == Timer.ONE_SHOT, self)
        self.hw.timers.append(self)

    def deinit(self):
        if self._h is not None:
            self.hw.clock.cancel(self._h)
            self._h = None
            self.hw.timers.remove(self)


# -- the flash ------------------------------------------------------------------------------
class PowerCut(BaseException):
    """The supply is gone mid-operation (BaseException: no `except Exception` catches it)."""


def _norm(path):
    """A board path as "a/b" from the root ("" is the root); ENOENT above the root."""
    parts = []
    for part in path.split("/"):
        if part == "..":
            if not parts:
                raise oserror(2)
            parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts)


def _parent(key):
    i = key.rfind("/")
    return key[:i] if i >= 0 else ""


def _blocks(size):
    return -(-size // BLOCK) or 1


class MemoryFiles:
    """A flash in memory: {path: bytearray} and {folder: True}, paths without a leading /."""

    def __init__(self, files=None, dirs=(), size=2 * 1024 * 1024):
        self.files = files or {}
        self.dirs = {"": True}
        for d in dirs:
            self.dirs[d] = True
        self.size = size

    def open(self, path, mode):
        key = _norm(path)
        text = "b" not in mode
        if "r" in mode:
            if key not in self.files:
                raise oserror(21 if key in self.dirs else 2)
            return MemFile(self.files[key], text)
        if _parent(key) not in self.dirs:
            raise oserror(2)
        if key in self.dirs:
            raise oserror(21)
        if "a" in mode and key in self.files:
            return MemFile(self.files[key], text, len(self.files[key]))
        self.files[key] = bytearray()
        return MemFile(self.files[key], text)

    def rename(self, old, new):
        a, b = _norm(old), _norm(new)
        if a not in self.files:
            raise oserror(2)
        if b in self.dirs:
            raise oserror(21)
        if _parent(b) not in self.dirs:
            raise oserror(2)
        self.files[b] = self.files.pop(a)

    def remove(self, path):
        key = _norm(path)
        if key in self.dirs:
            raise oserror(21)
        if key not in self.files:
            raise oserror(2)
        self.files.pop(key)

    def size_of(self, path):
        key = _norm(path)
        if key in self.files:
            return len(self.files[key])
        return 0 if key in self.dirs else -1

    def listdir(self, path):
        key = _norm(path)
        if key not in self.dirs:
            raise oserror(20 if key in self.files else 2)
        names = []
        for p in list(self.files) + list(self.dirs):
            if p and _parent(p) == key:
                names.append(p[len(key) + 1 :] if key else p)
        return sorted(names)

    def mkdir(self, path):
        key = _norm(path)
        if key in self.dirs or key in self.files:
            raise oserror(17)
        if _parent(key) not in self.dirs:
            raise oserror(2)
        self.dirs[key] = True

    def used_blocks(self):
        n = len(self.dirs) - 1
        for data in self.files.values():
            n += _blocks(len(data))
        return n


class MemFile:
    def __init__(self, data, text, pos=0):
        self.data = data  # the file's bytearray, shared with the flash (an inode)
        self.text = text
        self.pos = pos

    def read(self, n=-1):
        end = len(self.data) if n < 0 else min(len(self.data), self.pos + n)
        out = bytes(self.data[self.pos : end])
        self.pos = end
        return out.decode() if self.text else out

    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        buf[0:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n

    def seek(self, pos):
        self.pos = pos
        return pos

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.data.extend(data)
        return len(data)

    def flush(self):
        pass

    def close(self):
        pass


class FolderFiles:
    """A flash over a folder of this computer (`root`), so that it outlives the process; open
    files are closed when the power goes, as the board's VFS does."""

    def __init__(self, root, size=2 * 1024 * 1024):
        self.root = root.rstrip("/")
        self.size = size
        self.opened = []

    def path(self, path):
        """The file of this computer behind board path `path`."""
        key = _norm(path)
        return self.root + "/" + key if key else self.root

    def open(self, path, mode="r"):
        f = open(self.path(path), mode)
        self.opened.append(f)
        if len(self.opened) > 16:
            self.opened = [g for g in self.opened if not g.closed]
        return f

    def close_all(self):
        for f in self.opened:
            f.close()
        self.opened = []

    def rename(self, old, new):
        os.rename(self.path(old), self.path(new))

    def remove(self, path):
        os.remove(self.path(path))

    def size_of(self, path):
        try:
            st = os.stat(self.path(path))
        except OSError:
            return -1
        return 0 if st[0] & 0x4000 else st[6]

    def listdir(self, path):
        return sorted(os.listdir(self.path(path)))

    def mkdir(self, path):
        os.mkdir(self.path(path))

    def used_blocks(self, folder=None):
        n = 0
        folder = folder or self.root
        for name in os.listdir(folder):
            st = os.stat(folder + "/" + name)
            if st[0] & 0x4000:
                n += 1 + self.used_blocks(folder + "/" + name)
            else:
                n += _blocks(st[6])
        return n


class Flash:
    """The flash under the firmware's store.FS: the `os` calls it makes (and open) on `files`
    (MemoryFiles or FolderFiles), with power cuts: at write, rename or remove number N in `cuts`
    (or the next `cut_at`), half the bytes of a write land, then nothing more does. `writes`
    counts those operations; `cut` lists where the power went."""

    def __init__(self, files, cuts=()):
        self.files = files
        self.cuts = list(cuts)
        self.cut_at = None
        self.writes = 0
        self.cut = []

    def _op(self):
        self.writes += 1
        n = self.writes
        if n in self.cuts or (self.cut_at is not None and n >= self.cut_at):
            self.cut_at = None
            self.cut.append(n)
            return True
        return False

    def open(self, path, mode):
        f = self.files.open(path, mode)
        return f if "r" in mode else Written(self, f)

    def rename(self, old, new):
        if self._op():
            raise PowerCut("power cut before a rename")
        self.files.rename(old, new)

    def remove(self, path):
        if self._op():
            raise PowerCut("power cut before a remove")
        self.files.remove(path)

    def stat(self, path):
        size = self.files.size_of(path)
        if size < 0:
            raise oserror(2)
        return (0x8000, 0, 0, 0, 0, 0, size, 0, 0, 0)

    def listdir(self, path):
        return self.files.listdir(path)

    def mkdir(self, path):
        self.files.mkdir(path)

    def statvfs(self, path):
        files = self.files
        free = max(0, files.size // BLOCK - files.used_blocks())
        return (BLOCK, BLOCK, files.size // BLOCK, free, free, 0, 0, 0, 0, 255)


class Written:
    """A file open for writing on the Flash: each write is an operation the power can cut."""

    def __init__(self, flash, f):
        self.flash = flash
        self.f = f

    def write(self, data):
        if self.flash._op():
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise PowerCut("power cut during a write")
        return self.f.write(data)

    def flush(self):
        self.f.flush()

    def close(self):
        self.f.close()


# -- the console ----------------------------------------------------------------------------
RX_BUFFER = 256  # bytes a board's console holds before the host must wait (MicroPython's stdin)


class Console:
    """The firmware's console: read(n), write(data), wait(ms). Bytes from the host come in with
    put(), damaged first by `faults` ({"drop"|"flip"|"dup": probability, "delay": ms}, drawn
    from `rng`, a random.Random on CPython); `pull(room)`, if given, is asked for at most `room`
    new bytes once what has arrived is read: like a board's, the console holds RX_BUFFER bytes
    and the rest waits on the host's side; `heard`, if set, is told of the bytes as they reach
    the firmware; what the firmware writes goes to `sink`, and wait(ms) is `idle`, the board's
    sleep."""

    def __init__(self, clock, sink, idle, pull=None, rng=None):
        self.clock = clock
        self.sink = sink
        self.idle = idle
        self.pull = pull
        self.rng = rng
        self.faults = {}
        self.heard = None
        self.buf = bytearray()
        self._late = []  # [due ms, bytes] delayed input

    def put(self, data):
        if self.faults:
            data = self._damage(data)
        if data:
            self._take(data)

    def _take(self, data):
        if self.heard is not None:
            self.heard(data)
        self.buf.extend(data)

    def _damage(self, data):
        f, rng, out = self.faults, self.rng, bytearray()
        assert rng is not None, "faults need an rng"
        for b in data:
            if rng.random() < f.get("drop", 0):
                continue
            if rng.random() < f.get("flip", 0):
                b ^= 1 << rng.randrange(8)
            out.append(b)
            if rng.random() < f.get("dup", 0):
                out.append(b)
        if f.get("delay"):
            self._late.append([self.clock.ms + f["delay"], bytes(out)])
            return b""
        return bytes(out)

    def next_due(self):
        """When delayed bytes arrive (None: none are on their way)."""
        return self._late[0][0] if self._late else None

    def pending(self):
        room = RX_BUFFER - len(self.buf)
        if self.pull is not None and room > 0:
            self.pull(room)
        while self._late and self._late[0][0] <= self.clock.ms:
            self._take(self._late.pop(0)[1])
        return len(self.buf)

    def read(self, limit):
        if not self.buf and (self.pull is not None or self._late):
            self.pending()
        data = bytes(self.buf[:limit])
        self.buf = self.buf[limit:]  # a copy of what stays: at most RX_BUFFER bytes
        return data

    def take_all(self):
        data = bytes(self.buf)
        self.buf = bytearray()
        return data

    def write(self, data):
        self.sink(data)

    def wait(self, ms):
        self.idle(ms)


# -- the trace ------------------------------------------------------------------------------
class Recorder:
    """The trace of a board: rows (ms, level permille, led, event) when the motor level or the
    LED changes, plus the device's log entries as they appear. `board` gives hw, powered,
    motor_pin, shell, at_repl, the clock and `origin` (the ms the board was made at); `states`
    are the LED names by mode (device.STATES)."""

    def __init__(self, board, states):
        self.board = board
        self.states = states
        self.rows = []
        self.notes = set()  # indexes of the rows event() wrote: the world's, not the firmware's
        self._last = (None, None)
        self.seen_log = 0

    def level(self):
        """The motor level the PWM drives, permille (what a scope would show)."""
        b = self.board
        if b.hw is None or not b.powered:
            return 0
        return (b.hw.duty(b.motor_pin) * 1000 + 65534) // 65535

    def led(self):
        shell = self.board.shell
        if shell is None or shell.device is None:
            return "repl" if self.board.at_repl else "off"
        mode = shell.device.led.mode
        return self.states[mode] if mode >= 0 else "off"

    def ms(self):
        b = self.board
        return b.clock.ms - b.origin

    def event(self, text):
        self.notes.add(len(self.rows))
        self.rows.append((self.ms(), self.level(), self.led(), text))

    def firmware_rows(self):
        """The trace without the rows the world wrote (power on, scenario events...)."""
        return [r for i, r in enumerate(self.rows) if i not in self.notes]

    def record(self, force=False, level=-1):
        """Runs after every loop pass, so the common case (nothing changed) is kept cheap."""
        b = self.board
        d = b.shell.device if b.shell is not None else None
        lv = self.level() if level < 0 else level
        mode = d.led.mode if d is not None and b.powered else -2
        ms = self.ms()
        if force or lv != self._last[0] or mode != self._last[1]:
            self._last = (lv, mode)
            self.rows.append((ms, lv, self.led(), ""))
        if d is None or d.log.seq <= self.seen_log:
            return
        led = self.led()
        now = b.clock.ticks_ms()
        for entry in d.log.entries(self.seen_log):
            arg = entry[3]
            at = ms - ticks_diff(now, entry[1])
            self.rows.append(
                (at, lv, led, entry[2] + ("" if arg in (0, None, "") else " " + str(arg)))
            )
        self.seen_log = d.log.seq


# -- faults ---------------------------------------------------------------------------------
def break_once(owner, name, what):
    """Make owner.name raise RuntimeError once (the next call), then work again; answers the
    undo. `what` names the call in the error."""
    original = getattr(owner, name)

    def broken(*args, **kwargs):
        setattr(owner, name, original)
        raise RuntimeError("fault injected into %s" % what)

    setattr(owner, name, broken)
    return lambda: setattr(owner, name, original)


def install(clock, hw=None):
    """CPython: put the `machine` of `hw` (a new Hardware(clock) by default) into sys.modules
    and the clock's ticks into `time`, for code that imports them (the firmware's own
    shell.run()); answers the hardware. uninstall() undoes both."""
    import time

    hw = hw or Hardware(clock)
    # a Machine stands in for the module: the firmware only reads its attributes
    sys.modules["machine"] = hw.machine()  # pyright: ignore[reportArgumentType]
    for name in ("ticks_ms", "ticks_add", "ticks_diff", "sleep_ms"):
        if name not in _saved:
            _saved[name] = getattr(time, name, None)
        setattr(time, name, getattr(clock, name))
    return hw


_saved = {}


def uninstall():
    import time

    sys.modules.pop("machine", None)
    for name, old in _saved.items():
        if old is None:
            if hasattr(time, name):
                delattr(time, name)
        else:
            setattr(time, name, old)
    _saved.clear()
