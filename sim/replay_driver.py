"""A recorded virtual-board run replayed into the firmware: the same file runs unchanged on
CPython and on the MicroPython VM, so the two traces are comparable by construction.

The tape (see replay.py) holds what crossed into the firmware during a CPython run, each entry
stamped with its virtual time and with how many loop iterations had already run at that time:
pin levels, ADC millivolts, console bytes as they arrived, power downs and boots, clock jumps
outside the loop's sleep (boot delay, power off, a hung loop), injected exceptions, and the
moments the board's sleep was cut short by the outside world. Everything else is this driver's
own: a minimal `machine` (Pin with IRQ, PWM, ADC, WDT, Timer), a virtual clock, an in-memory
flash, and the loop shell.once(); shell.sleep() whose sleep jumps time to the firmware's next
deadline. The firmware decides when it wakes; only the world's moments come from the tape.

MicroPython subset: no f-strings, no `del` on slices, no CPython-only modules.
"""
import sys

WRAP = 1 << 30  # ticks_ms period, as on a 32-bit board
BLOCK = 4096  # flash block size, as sim/flashfs.py counts it
MICRO = sys.implementation.name == "micropython"
_ERRNO = {2: "ENOENT", 17: "EEXIST", 21: "EISDIR", 20: "ENOTDIR"}


class PowerCut(BaseException):
    """The supply went during a filesystem operation, as it did in the recorded run."""


def _oserror(code):
    # printed "[Errno 2] ENOENT" by both interpreters
    return OSError(code) if MICRO else OSError(code, _ERRNO.get(code, str(code)))


class Clock:
    def __init__(self, ms):
        self.ms = ms

    def ticks_ms(self):
        return self.ms % WRAP

    def ticks_add(self, t, d):
        return (t + d) % WRAP

    def ticks_diff(self, a, b):
        return (a - b + WRAP // 2) % WRAP - WRAP // 2

    def sleep_ms(self, ms):
        if ms > 0:
            self.ms += ms


# -- machine ----------------------------------------------------------------------------------
_HW = [None]  # the hardware of the current power-on


class Hardware:
    def __init__(self):
        self.levels = {}
        self.pins = {}
        self.mv = {}
        self.pwms = {}

    def drive(self, pin, level):
        old = self.levels.get(pin, 0)
        self.levels[pin] = level
        p = self.pins.get(pin)
        edge = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
        if p is not None and p._handler and old != level and p._trigger & edge:
            p._handler(p)

    def duty(self, pin):
        p = self.pwms.get(pin)
        return p._duty if p else 0


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self._handler = None
        self._trigger = 0
        hw = _HW[0]
        hw.pins[id] = self
        if id not in hw.levels:
            hw.levels[id] = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return _HW[0].levels.get(self.id, 0)
        _HW[0].levels[self.id] = 1 if v else 0

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
    def __init__(self, pin, freq=0, duty_u16=None):
        self.pin = pin
        self._freq = freq
        self._duty = 0
        _HW[0].pwms[pin.id] = self
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if not 0 <= d <= 65535:
            raise ValueError("duty must be 0..65535")
        self._duty = d

    def deinit(self):
        self._duty = 0


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.id = pin.id if isinstance(pin, Pin) else pin

    def read_u16(self):
        mv = _HW[0].mv.get(self.id, 0)
        return max(0, min(65535, mv * 65535 // 3300))


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, mode=1, period=-1, callback=None):
        pass

    def init(self, mode=1, period=-1, callback=None, freq=-1):
        pass

    def deinit(self):
        pass


class Machine:
    """The `machine` module the board shell is given."""

    Pin = Pin
    PWM = PWM
    ADC = ADC
    WDT = WDT
    Timer = Timer

    def bitstream(self, pin, encoding, timing, buf):
        pass


# -- the flash --------------------------------------------------------------------------------
class MemFile:
    def __init__(self, data, text, pos=0):
        self.data = data  # the file's bytearray, shared with the filesystem (an inode)
        self.text = text
        self.pos = pos

    def read(self, n=-1):
        end = len(self.data) if n < 0 else min(len(self.data), self.pos + n)
        out = bytes(self.data[self.pos:end])
        self.pos = end
        return out.decode() if self.text else out

    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        buf[0:n] = self.data[self.pos:self.pos + n]
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


def _norm(path):
    parts = []
    for part in path.split("/"):
        if part == "..":
            if not parts:
                raise _oserror(2)
            parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts)


def _parent(key):
    i = key.rfind("/")
    return key[:i] if i >= 0 else ""


class MemFS:
    """The firmware's filesystem calls (store.FS) on an in-memory flash, with the recorded
    power cuts at the same operations as the virtual board's FlashStoreFS."""

    def __init__(self, files, dirs, size, cuts):
        self.files = files  # path without leading "/" -> bytearray
        self.dirs = dirs  # {path: True}; "" is the root
        self.size_bytes = size
        self.cuts = cuts  # operation numbers at which the power went
        self.writes = 0

    def _op(self):
        self.writes += 1
        return self.writes in self.cuts

    def open(self, path, mode):
        key = _norm(path)
        text = "b" not in mode
        if "r" in mode:
            if key not in self.files:
                raise _oserror(21 if key in self.dirs else 2)
            return MemFile(self.files[key], text)
        if _parent(key) not in self.dirs:
            raise _oserror(2)
        if key in self.dirs:
            raise _oserror(21)
        if "a" in mode and key in self.files:
            return MemFile(self.files[key], text, len(self.files[key]))
        self.files[key] = bytearray()
        return MemFile(self.files[key], text)

    def write(self, f, data):
        if self._op():
            f.write(data[:len(data) // 2])
            raise PowerCut("power cut during a write")
        f.write(data)

    def rename(self, old, new):
        if self._op():
            raise PowerCut("power cut before a rename")
        a, b = _norm(old), _norm(new)
        if a not in self.files:
            raise _oserror(2)
        if b in self.dirs:
            raise _oserror(21)
        if _parent(b) not in self.dirs:
            raise _oserror(2)
        self.files[b] = self.files.pop(a)

    def remove(self, path):
        if self._op():
            raise PowerCut("power cut before a remove")
        key = _norm(path)
        if key in self.dirs:
            raise _oserror(21)
        if key not in self.files:
            raise _oserror(2)
        self.files.pop(key)

    def size(self, path):
        key = _norm(path)
        if key in self.files:
            return len(self.files[key])
        return 0 if key in self.dirs else -1

    def listdir(self, path):
        key = _norm(path)
        if key not in self.dirs:
            raise _oserror(20 if key in self.files else 2)
        names = []
        for p in list(self.files) + list(self.dirs):
            if p and _parent(p) == key:
                names.append(p[len(key) + 1:] if key else p)
        return sorted(names)

    def mkdir(self, path):
        key = _norm(path)
        if key in self.dirs or key in self.files:
            raise _oserror(17)
        if _parent(key) not in self.dirs:
            raise _oserror(2)
        self.dirs[key] = True

    def free(self, path):
        used = BLOCK * (len(self.dirs) - 1)
        for data in self.files.values():
            used += (-(-len(data) // BLOCK) or 1) * BLOCK
        return BLOCK * max(0, self.size_bytes // BLOCK - used // BLOCK)


# -- the board --------------------------------------------------------------------------------
class Console:
    def __init__(self, board):
        self.board = board
        self.buf = b""
        self.out = bytearray()

    def read(self, limit):
        data = self.buf[:limit]
        self.buf = self.buf[limit:]
        return data

    def write(self, data):
        self.out.extend(data)

    def wait(self, ms):
        self.board.idle(ms)


class Replay:
    """One replay of a tape: call run(), then read rows (ms, level, led, event) and
    console.out (every byte the firmware wrote)."""

    def __init__(self, tape, load, unhex):
        self.load = load  # firmware module by name (board, boards, device, ...)
        self.fw_shell = load("shell")
        self.boards = load("boards")
        self.states = load("device").STATES
        self.tape = tape["tape"]
        self.wakes = [e for e in self.tape if e[0] == "wake"]
        self.wi = 0
        self.i = 0
        self.origin = tape["origin"]
        self.clock = Clock(self.origin)
        files = {}
        for path in tape["files"]:
            files[path] = bytearray(unhex(tape["files"][path]))
        dirs = {"": True}
        for path in tape["dirs"]:
            dirs[path] = True
        self.fs = MemFS(files, dirs, tape["flash_size"], tape["cuts"])
        self.unhex = unhex
        self.machine = Machine()
        self.console = Console(self)
        self.hw = None
        self.shell = None
        self.powered = False
        self.motor_pin = -1
        self.rows = []
        self._last = (None, None)
        self._seen_log = 0
        self.once_ms = None
        self.once_n = 0
        self.done = False

    def _n(self):
        return self.once_n if self.once_ms == self.clock.ms else 0

    def _due(self, e):
        return e[1] < self.clock.ms or (e[1] == self.clock.ms and e[2] <= self._n())

    def apply_due(self, quiet_only=False):
        """Apply the tape's entries due by now (by this loop iteration of this ms)."""
        while self.i < len(self.tape) and not self.done:
            e = self.tape[self.i]
            if not self._due(e) or (quiet_only and e[0] not in ("rx", "wake", "drive", "mv")):
                return
            self.i += 1
            self._apply(e)

    def _apply(self, e):
        kind = e[0]
        if kind == "rx":
            self.console.buf += self.unhex(e[3])
        elif kind == "drive":
            self.hw.drive(e[3], e[4])
        elif kind == "mv":
            self.hw.mv[e[3]] = e[4]
        elif kind == "jump":
            self.clock.ms = max(self.clock.ms, e[3])
        elif kind == "down":
            self.shell = None
            self.powered = False
            self._record(True, 0)
        elif kind == "boot":
            self._boot(e[3], e[4], e[5])
        elif kind == "fault":
            self._break(e[3])
        elif kind == "end":
            self.done = True

    def _boot(self, name, version, fresh):
        if fresh:
            self.hw = Hardware()
            _HW[0] = self.hw
        self.powered = True
        self.motor_pin = self.boards.load(name)["motor"]["pin"]
        self.shell = self.fw_shell.start(self.machine, self.clock, self.console, name,
                                         fs=self.fs, version=version)
        self._seen_log = 0

    def _break(self, target):
        """Make firmware call module.attr[.attr] raise once, as the scenario runner does."""
        dot = target.find(".")
        owner = self.load(target[:dot])
        parts = target[dot + 1:].split(".")
        for part in parts[:-1]:
            owner = getattr(owner, part)
        name = parts[-1]
        original = getattr(owner, name)

        def broken(*args, **kwargs):
            setattr(owner, name, original)
            raise RuntimeError("fault injected into %s" % target)

        setattr(owner, name, broken)

    def idle(self, ms):
        """The firmware sleeps up to ms: until then, or the next moment the world woke the
        recorded board, or at once if console bytes are waiting."""
        self.apply_due(True)
        if self.console.buf:
            return
        now = self.clock.ms
        target = now + (max(0, ms))
        n = self._n()
        while self.wi < len(self.wakes):
            w = self.wakes[self.wi]
            if w[1] > now or (w[1] == now and w[2] > n):
                break
            self.wi += 1
        if self.wi < len(self.wakes) and self.wakes[self.wi][1] < target:
            target = self.wakes[self.wi][1]
        self.clock.ms = target

    def run(self):
        while True:
            self.apply_due()
            if self.done:
                return self
            if self.shell is None:  # off: the next recorded moment
                if self.i >= len(self.tape):
                    return self
                e = self.tape[self.i]
                self.clock.ms = max(self.clock.ms, e[1])
                self.once_ms = self.clock.ms
                self.once_n = e[2]
                continue
            if self.once_ms != self.clock.ms:
                self.once_ms = self.clock.ms
                self.once_n = 0
            self.once_n += 1
            try:
                self.shell.once()
                self._record(False, -1)
                self.shell.sleep()
            except PowerCut:
                pass

    # -- the trace, as sim/board.py VirtualBoard records it -----------------------------------
    def level(self):
        if self.hw is None or not self.powered:
            return 0
        return (self.hw.duty(self.motor_pin) * 1000 + 65534) // 65535

    def led(self):
        if self.shell is None or self.shell.device is None:
            return "off"
        mode = self.shell.device.led.mode
        return self.states[mode] if mode >= 0 else "off"

    def _record(self, force, level):
        shell = self.shell
        d = shell.device if shell is not None else None
        lv = self.level() if level < 0 else level
        mode = d.led.mode if d is not None and self.powered else -2
        ms = self.clock.ms - self.origin
        if force or lv != self._last[0] or mode != self._last[1]:
            self._last = (lv, mode)
            self.rows.append((ms, lv, self.led(), ""))
        if d is None:
            return
        if d.log.seq > self._seen_log:
            led = self.led()
            for entry in d.log.entries(self._seen_log):
                arg = entry[3]
                at = ms - self.clock.ticks_diff(self.clock.ticks_ms(), entry[1])
                self.rows.append((at, lv, led, entry[2] + ("" if arg in (0, None, "") else
                                                          " " + str(arg))))
            self._seen_log = d.log.seq


def replay(tape, load, unhex):
    """Replay `tape` (a dict, see replay.py) into the firmware whose modules load(name) gives;
    answers the finished Replay."""
    return Replay(tape, load, unhex).run()
