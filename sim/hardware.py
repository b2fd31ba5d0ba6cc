"""A fake `machine` module: one virtual board's pins, PWM, ADC, watchdog and timers.

Board(clock) is one board; board.module() is a module object with the MicroPython names
(Pin, PWM, ADC, WDT, Timer, bitstream, reset, ...) bound to it, and install(clock) puts one in
sys.modules["machine"] (and the clock's ticks into `time`, see clock.install) so that unchanged
firmware code importing `machine` runs. Everything the firmware does is recorded in
board.trace as (tick, what, pin id, value) in order, and the outside world is played through
board.drive(pin, level) (a button), board.set_mv(pin, mV) (an ADC input).

The watchdog is judged by the virtual clock: board.wdt_expired counts the times a WDT went
unfed for longer than its timeout (a real board would have reset).
"""
import sys
import types

from . import clock as _clock


class Hardware:
    def __init__(self, clock, vref_mv=3300):
        self.clock = clock
        self.vref_mv = vref_mv  # ADC full scale
        self.trace = []
        self.levels = {}  # pin id -> level (driven outside or by the firmware)
        self.pins = {}  # pin id -> Pin object last made for it
        self.mv = {}  # pin id -> mV at an ADC input
        self.pwms = {}  # pin id -> PWM
        self.wdt = None
        self.wdt_expired = 0
        self.timers = []  # machine.Timers running (a soft reset removes them, as on rp2)
        self.mem32 = Mem32(self)
        self.adc_error = None  # an exception for the next ADC read to raise
        self.resets = 0

    def record(self, what, pin, value):
        self.trace.append((self.clock.ticks_ms(), what, pin, value))

    def drive(self, pin, level):
        """The outside world sets an input pin (a button edge); its IRQ runs at once."""
        old = self.levels.get(pin, 0)
        self.levels[pin] = level
        p = self.pins.get(pin)
        if p is not None and p._handler and old != level:
            edge = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
            if p._trigger & edge:
                p._handler(p)

    def set_mv(self, pin, mv):
        self.mv[pin] = mv

    def soft_reset(self):
        """What a soft reset does to the hardware on rp2: every machine.Timer is removed; a
        started watchdog keeps running."""
        for t in list(self.timers):
            t.deinit()

    def duty(self, pin):
        """Last duty_u16 written to the PWM on `pin` (0 if none)."""
        p = self.pwms.get(pin)
        return p._duty if p else 0

    def module(self):
        m = types.ModuleType("machine")
        m.board = self
        for cls in (Pin, PWM, ADC, WDT, Timer):
            setattr(m, cls.__name__, type(cls.__name__, (cls,), {"board": self}))
        m.mem32 = self.mem32
        m.bitstream = lambda pin, encoding, timing, buf: self.record("bitstream", pin.id,
                                                                      bytes(buf))
        m.reset = self._reset
        m.soft_reset = self._reset
        m.reset_cause = lambda: 1
        m.unique_id = lambda: b"\x00fakeboard"
        m.freq = lambda *a: 125000000
        m.idle = lambda: None
        m.PWRON_RESET = 1
        m.WDT_RESET = 3
        return m

    def _reset(self):
        self.resets += 1
        raise SystemExit("machine.reset()")



class Pin:
    board = None
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
        self.pull = pull
        self._handler = None
        self._trigger = 0
        b = self.board
        b.pins[id] = self
        if id not in b.levels:
            b.levels[id] = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self.board.levels.get(self.id, 0)
        self.board.levels[self.id] = 1 if v else 0
        self.board.record("pin", self.id, 1 if v else 0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        self._handler = handler
        self._trigger = trigger


class PWM:
    board = None

    def __init__(self, pin, freq=0, duty_u16=None):
        self.pin = pin
        self._freq = freq
        self._duty = 0
        self.board.pwms[pin.id] = self
        if freq:
            self.board.record("freq", pin.id, freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f
        self.board.record("freq", self.pin.id, f)

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if not 0 <= d <= 65535:
            raise ValueError("duty must be 0..65535")
        self._duty = d
        self.board.record("duty", self.pin.id, d)

    def deinit(self):
        self._duty = 0
        self.board.record("deinit", self.pin.id, 0)


class ADC:
    board = None
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.id = pin.id if isinstance(pin, Pin) else pin
        self.atten = atten

    def read_u16(self):
        b = self.board
        if b.adc_error is not None:
            e, b.adc_error = b.adc_error, None
            raise e
        mv = b.mv.get(self.id, 0)
        return max(0, min(65535, mv * 65535 // b.vref_mv))


WATCHDOG_CTRL_CLEAR = 0x4005B000  # RP2040: WATCHDOG_CTRL's atomic clear alias
WATCHDOG_ENABLE = 1 << 30


class Mem32:
    """machine.mem32 of an RP2040 as far as the firmware uses it: clearing the watchdog's
    ENABLE bit stops it. Other writes are kept, for tests to read."""

    def __init__(self, board):
        self.board = board
        self.written = {}

    def __setitem__(self, addr, value):
        self.written[addr] = value
        wdt = self.board.wdt
        if addr == WATCHDOG_CTRL_CLEAR and value & WATCHDOG_ENABLE and wdt is not None:
            wdt.stop()

    def __getitem__(self, addr):
        return self.written.get(addr, 0)


class WDT:
    board = None

    def __init__(self, id=0, timeout=5000):
        b = self.board
        self.timeout = timeout
        self.feeds = 0
        self._fed = b.clock.ms
        self._h = None
        b.wdt = self
        self._arm()

    def feed(self):
        """Only a time stamp: the alarm looks at it when it rings (feeds are per loop turn)."""
        self.feeds += 1
        self._fed = self.board.clock.ms

    def stop(self):
        """The chip's ENABLE bit cleared: no alarm until a new machine.WDT arms it again."""
        if self._h is not None:
            self.board.clock.cancel(self._h)
            self._h = None

    def _arm(self):
        """One alarm just after the timeout from the last feed."""
        clock = self.board.clock
        self._h = clock.every(self._fed + self.timeout + 1 - clock.ms, self._ring, once=True)

    def _ring(self):
        if self.board.clock.ms > self._fed + self.timeout:
            self.board.wdt_expired += 1  # a real board would reset here
            self._fed = self.board.clock.ms
        self._arm()


class Timer:
    board = None
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, mode=PERIODIC, period=-1, callback=None, **kw):
        self._h = None
        if callback is not None:
            self.init(mode=mode, period=period, callback=callback)

    def init(self, mode=PERIODIC, period=-1, callback=None, freq=-1, **kw):
        self.deinit()
        if freq > 0:
            period = 1000 // freq
        self._h = self.board.clock.every(max(1, period), lambda: callback(self),
                                         once=mode == Timer.ONE_SHOT)
        self.board.timers.append(self)

    def deinit(self):
        if self._h is not None:
            self.board.clock.cancel(self._h)
            self._h = None
            self.board.timers.remove(self)


def install(clock, board=None):
    """Put a fake `machine` for `board` (a new Board(clock) by default) into sys.modules and
    the clock's ticks into `time`; answers the board. uninstall() undoes both."""
    board = board or Hardware(clock)
    sys.modules["machine"] = board.module()
    _clock.install(clock)
    return board


def uninstall():
    sys.modules.pop("machine", None)
    _clock.uninstall()
