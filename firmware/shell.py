"""The board shell: the only module that touches hardware. It owns time and I/O; the device
core (device.py) owns every decision.

Boot order: the motor pin is driven low before anything that could fail is even imported.
Each loop iteration reads inputs (button edges stamped by an IRQ, charger pin, battery ADC
now and then, console bytes for the protocol handler), ticks the core, writes the motor PWM
and the LED, and only then feeds the watchdog and stamps the guard (_guard, below). Any
exception on the way takes the one safe path (_fail): motor 0, device fault (error LED, log),
and the loop carries on answering the console; that iteration does not feed the watchdog, so a
fault that repeats forever resets the board (motor 0 again at boot); if _fail itself fails, the
motor pin is driven low off its PWM and the watchdog does reset it. Then it sleeps until the
core's next deadline or console input.

The guard, the motor's second line of defence: a machine.Timer (the profile's `timer`) zeros
the PWM once the loop has gone _GUARD_MS without a healthy pass, whatever the loop is stuck
in, seconds before the watchdog resets the board; the loop's next pass writes the level again.
It lives here, not in a module of its own, because a module costs about 600 B of the boot RAM.
What each port guarantees: on rp2 the guard asks for a hard interrupt (hard=True; rp2's
callbacks are soft by default), so it runs however the loop hangs, even inside a C call (the
emulated Pico shows both); it must not allocate, so it uses integers and objects made once, and
nothing in it can raise. ESP32 refuses hard=True (its callbacks are soft, scheduled between
bytecodes): a loop that hangs in Python code still yields to the guard, a hang inside a C call
does not, and the watchdog is then the only line. A soft reset removes every machine.Timer on
rp2: the guard lives as long as the loop, and the hand-over to the REPL stops it.

Seams, so the simulator and the protocol plug in without changes here:
- machine: the `machine` module (real, or facewave.sim.machine);
- clock: has ticks_ms() (the `time` module, or facewave.sim.clock.Clock);
- console: has read(n) -> at most n bytes (non-blocking), write(bytes), wait(ms) (sleep
  until input or ms);
- link: the serial protocol (protocol.Protocol): wanted(), feed(now, data) -> reply,
  tick(now), next, repl, tethered, untether(). The shell builds it when the console first
  speaks: a device that never meets a laptop does not hold it (protocol, frame, messages and
  upload: about 18 KB on MicroPython).
- fs: the filesystem calls of the pattern store and the settings (store.FS), so the
  simulator's flash is a folder of its own.
"""

from micropython import const

_GUARD_MS = const(150)  # a healthy loop passes at least every _MAX_SLEEP_MS plus its work
_GUARD_PERIOD_MS = const(50)  # so the motor is at 0 within 200 ms of the last healthy pass
_MAX_SLEEP_MS = const(50)  # the loop wakes at least this often (button edges, pins)
_RING = const(16)  # button edges kept between iterations
_PASS_BYTES = const(2304)  # console bytes one pass may take: the largest frame, stuffed
_NEOPIXEL = (400, 850, 800, 450)  # WS2812 bit timing, ns


def motor_off(machine, data):
    """Drive the motor pin low; answers the Pin. Nothing else may come first."""
    return machine.Pin(data["motor"]["pin"], machine.Pin.OUT, value=0)


def watchdog_off(machine, reg, bits):
    """Stop the watchdog where the chip can (reg: the board's wdt_off, 0 if it cannot); True if
    it did. For when the firmware's loop has stopped: a started machine.WDT cannot be stopped
    through MicroPython, and on rp2 a soft reset (every mpremote command does one) removes the
    timers that could feed it, so the board would reset under mpremote."""
    if not reg:
        return False
    machine.mem32[reg] = bits
    return True


class Shell:
    def __init__(
        self,
        prof,
        machine,
        clock,
        console=None,
        link=None,
        patterns=None,
        settings=None,
        motor_pin=None,
        fs=None,
        version=None,
        note="",
    ):
        self.m = machine
        self.clock = clock
        self.prof = prof
        P = machine.Pin
        self._motor_pin = motor_pin or P(prof.motor_pin, P.OUT, value=0)
        self.console = console
        self.link = link
        self.version = version  # the firmware version the protocol announces
        self.note = note  # what boot.py found (a damaged firmware slot), for the log
        self.failures = 0  # loop iterations that raised
        self.fed = 0  # watchdog feeds
        self.pwm = None
        self.guard = None  # the guard's machine.Timer
        self.device = None
        now = clock.ticks_ms()
        try:
            self._hardware(prof)
            self._core(prof, patterns, settings, now, fs)
        except Exception as e:  # still answer the console, in the error state
            self._fail(now, e)

    def _hardware(self, prof):
        m = self.m
        P = m.Pin
        self.pwm = m.PWM(self._motor_pin, freq=prof.pwm_freq, duty_u16=0)
        self._freq = prof.pwm_freq
        self._duty = 0
        pull = {"up": P.PULL_UP, "down": P.PULL_DOWN}
        self._btn = P(prof.button_pin, P.IN, pull.get(prof.button_pull, None))
        self._et = [0] * _RING
        self._ev = [0] * _RING
        self._head = 0
        self._tail = 0
        self._down = 0
        self._btn.irq(handler=self._irq, trigger=P.IRQ_FALLING | P.IRQ_RISING)
        self._led = None
        if prof.led_kind != "none":
            self._led = P(prof.led_pin, P.OUT, value=0 if prof.led_active else 1)
        self._rgb = -1
        self._grb = bytearray(3)
        self._on = -1
        self._adc = None
        if prof.battery_pin >= 0:
            a = m.ADC
            names = ("ATTN_0DB", "ATTN_2_5DB", "ATTN_6DB", "ATTN_11DB")
            if prof.battery_atten >= 0 and hasattr(a, names[prof.battery_atten]):
                self._adc = a(P(prof.battery_pin), atten=getattr(a, names[prof.battery_atten]))
            else:
                self._adc = a(P(prof.battery_pin))
        self._bat_due = self.clock.ticks_ms()
        self._chg = None
        self._charging = -1
        if prof.charger_pin >= 0:
            self._chg = P(prof.charger_pin, P.IN, pull.get(prof.charger_pull, None))
        self.wdt = m.WDT(timeout=prof.wdt_ms)
        self._stamp = self.clock.ticks_ms()  # the end of the last healthy pass
        g = self.guard = m.Timer(prof.timer)
        try:  # rp2's callbacks are soft unless asked
            g.init(period=_GUARD_PERIOD_MS, callback=self._guard, hard=True)
        except (TypeError, ValueError):  # a port whose Timer has soft callbacks only (ESP32)
            g.init(period=_GUARD_PERIOD_MS, callback=self._guard)

    def _core(self, prof, patterns, settings, now, fs):
        from . import device as dv
        from . import log
        from .settings import Settings

        self._dv = dv
        self._log = log

        if patterns is None:
            from .store import Store

            patterns = Store("patterns", fs)
        if settings is None:
            settings = Settings(
                "settings.json", fs, session_ms=prof.session_default_ms, cue_ms=prof.session_cue_ms
            )
            settings.load()
        self.device = dv.Device(prof, patterns, settings, log.Log())
        self.device.boot(now, self.note)

    def _guard(self, timer):
        # a hard interrupt on rp2: no allocation, nothing that can raise. It zeros at every
        # check while the loop is late (a long pass may write the level again, then hang), and
        # forgets the level written, so that the loop's next pass writes it again.
        c = self.clock
        pwm = self.pwm  # None once the fault path took the pin off it
        if pwm is not None and c.ticks_diff(c.ticks_ms(), self._stamp) > _GUARD_MS:
            pwm.duty_u16(0)
            self._duty = -1

    def _irq(self, pin):
        """Stamp a button edge; runs in interrupt context: no allocation."""
        i = self._head % _RING
        self._et[i] = self.clock.ticks_ms()
        self._ev[i] = 1 if pin.value() == self.prof.button_active else 0
        self._head += 1

    # ---- the loop ----

    def once(self):
        """One loop iteration; True if it was healthy (and so fed the watchdog)."""
        now = self.clock.ticks_ms()
        try:
            d = self.device
            pwm = self.pwm
            if d is None or pwm is None:
                raise RuntimeError("no device or no motor")
            self._inputs(now, d)
            self._console(now, d)
            d.tick(now)
            self._outputs(d, pwm)
            self._save(now, d)
        except Exception as e:
            try:
                self._fail(now, e)
            except Exception:  # the fault path failed too: the pin low at the pin itself, off
                self.pwm = None  # its PWM (every pass fails now: the watchdog resets the board)
                self._motor_pin.init(self.m.Pin.OUT, value=0)
            return False
        self.wdt.feed()
        self.fed += 1
        self._stamp = self.clock.ticks_ms()
        return True

    def sleep(self):
        """Wait until the core's next deadline, console input or _MAX_SLEEP_MS."""
        now = self.clock.ticks_ms()
        wait = _MAX_SLEEP_MS
        d = self.device
        for due in (d.next if d is not None else -1, self.link.next if self.link else -1):
            if due >= 0:
                left = self.clock.ticks_diff(due, now)
                wait = left if left < wait else wait
        if wait < 0:
            wait = 0
        if self.console is not None:
            self.console.wait(wait)
        else:
            self.clock.sleep_ms(wait)

    def run(self):
        """Loop for ever. The protocol owns the console's Ctrl-C while it runs; a REPL request
        (mpremote's Ctrl-C between frames, or a plain Ctrl-C with no protocol) stops the motor
        and hands the console back to the REPL."""
        import micropython

        if self.device is not None:  # the protocol (now or once built) owns Ctrl-C
            micropython.kbd_intr(-1)
        try:
            while True:
                self.once()
                self.sleep()
        except KeyboardInterrupt:
            self.interrupted()
            raise

    def interrupted(self):
        """The console goes back to the REPL: see handover.py."""
        from .handover import hand_over

        hand_over(self)

    # ---- steps ----

    def _inputs(self, now, d):
        dv = self._dv
        if self._head - self._tail > _RING:  # edges lost: keep the newest
            self._tail = self._head - _RING
        while self._tail != self._head:
            i = self._tail % _RING
            d.event(self._et[i], dv.BUTTON, self._ev[i])
            self._down = self._ev[i]
            self._tail += 1
            if self.link is not None and self.link.tethered:
                self.link.untether()  # the person took over: the laptop is not needed
        v = 1 if self._btn.value() == self.prof.button_active else 0
        if v != self._down:  # an edge the IRQ missed
            self._down = v
            d.event(now, dv.BUTTON, v)
        if self._chg is not None:
            c = 1 if self._chg.value() == self.prof.charger_active else 0
            if c != self._charging:
                self._charging = c
                d.event(now, dv.CHARGER, c)
        if self._adc is not None and self.clock.ticks_diff(now, self._bat_due) >= 0:
            self._bat_due = self.clock.ticks_add(now, self.prof.battery_period_ms)
            raw = 0
            for _ in range(4):
                raw += self._adc.read_u16()
            d.event(now, dv.BATTERY, d.battery.millivolts(raw >> 2))

    def _console(self, now, d):
        console = self.console
        if console is None:
            return
        link = self.link
        if link is None:
            data = console.read(1)  # what a link wants between frames: one byte
            if not data:
                return
            link = self.link = self._connect(d)
        else:
            if link.next >= 0 and self.clock.ticks_diff(now, link.next) >= 0:
                link.tick(now)  # a tethered host went silent: the device stops
            # never read past a possible REPL request: its bytes belong to the REPL
            data = console.read(link.wanted())
        taken = 0
        while data:  # a whole frame in one pass, if it has arrived
            reply = link.feed(now, data)
            if reply:
                console.write(reply)
            if link.repl:
                raise KeyboardInterrupt
            taken += len(data)
            if reply or taken >= _PASS_BYTES:
                break  # one answer a pass: the rest of the loop waits no longer than that
            data = console.read(link.wanted())

    def _connect(self, d):
        """The protocol, for a console that has spoken."""
        from .protocol import Protocol

        if self.version:
            return Protocol(d, d.patterns, self.prof, version=self.version)
        return Protocol(d, d.patterns, self.prof)

    def _outputs(self, d, pwm):
        f = d.freq or self.prof.pwm_freq
        if f != self._freq:
            self._freq = f
            pwm.freq(f)
        duty = d.level * 65535 // 1000
        if duty != self._duty:
            self._duty = duty
            pwm.duty_u16(duty)
        self._show(d.led.on, d.led.rgb)

    def _show(self, on, rgb):
        led = self._led
        if led is None:
            return
        if self.prof.led_kind == "neopixel":
            if rgb != self._rgb:
                self._rgb = rgb
                g = self._grb
                g[0] = (rgb >> 8 & 255) >> 3  # dimmed: the LED sits near the face
                g[1] = (rgb >> 16 & 255) >> 3
                g[2] = (rgb & 255) >> 3
                self.m.bitstream(led, 0, _NEOPIXEL, g)
        elif on != self._on:
            self._on = on
            led.value(on if self.prof.led_active else 1 - on)

    def _save(self, now, d):
        try:
            d.save()
        except OSError as e:  # the old settings stay intact; say so, carry on
            d.log.add(now, self._log.SETTINGS, "settings not saved: %s" % e)

    def motor_zero(self):
        """The motor to 0: its PWM, or else the pin low."""
        pwm = self.pwm
        try:
            if pwm is not None:
                pwm.duty_u16(0)
                self._duty = 0
                return
        except Exception:  # a broken PWM
            pass
        self._motor_pin.init(self.m.Pin.OUT, value=0)

    def _fail(self, now, e):
        """The one safe path: motor first, then the device's error state and LED."""
        self.motor_zero()
        self.failures += 1
        d = self.device
        try:
            if d is None:
                raise RuntimeError("no device")
            d.fault(now, "%s: %s" % (type(e).__name__, e))
            d.led.update(now, self._dv.ERROR)
            self._show(d.led.on, d.led.rgb)
        except Exception:
            try:
                self._show(1, 0xFF0000)
            except Exception:
                pass


def start(machine, clock, console, board=None, fs=None, version=None, note=""):
    """Boot the firmware on the given hardware seams: motor off first, then the profile and
    the device core (the protocol waits for the console to speak). The device's run() and the
    simulator both come here."""
    from . import boards, drop

    name = board or boards.chosen()
    data = boards.load(name)
    pin = motor_off(machine, data)
    try:
        prof = boards.profile(data)  # ProfileError: the motor is off, the caller says why
    finally:  # needed at boot only: the profile holds all the loop reads
        drop("boards")  # with every board module loaded (boot.py's choice too)
    return Shell(prof, machine, clock, console, motor_pin=pin, fs=fs, version=version, note=note)


def run(board=None, note=""):
    """Start the firmware on this board (the profile named in /board by default); `note`: what
    boot.py found, logged at boot."""
    import time

    import machine

    from .profile import ProfileError

    try:
        shell = start(machine, time, None, board, note=note)
    except ProfileError as e:  # the motor is off; say why and stay at the REPL
        print("facewave: %s" % e)
        return
    from .console import UsbConsole

    shell.console = UsbConsole()
    shell.run()
