"""The device: what the massager does, as a state machine fed with time and events.

It never reads a clock, never sleeps, never touches `machine`: the board shell (board.py) or the
simulator gives it `now` (ticks_ms, wrap-aware) with each event, calls tick(now) and writes
.level to the motor and .led to the LED, then sleeps until .next (an absolute tick, -1: no
deadline, wait for input). tick() allocates nothing.

States: off, idle, running, paused, uploading, charging, low (battery below cut-off), error.
Every way out of running (stop, end, timeout, cut-off, charger, upload, fault) goes through
_halt(), which sets the motor to 0 before anything else.
"""

from micropython import const

from . import button as bt
from . import log, ticks, verify
from .battery import CUTOFF, Battery
from .battery import LOW as BAT_LOW
from .bytecode import VerifyError
from .engine import DONE, Engine
from .led import Led
from .motor import Motor
from .session import END, Session
from .settings import Settings, SettingsError

OFF = const(0)
IDLE = const(1)
RUNNING = const(2)
PAUSED = const(3)
UPLOADING = const(4)
CHARGING = const(5)
LOW = const(6)
ERROR = const(7)
STATES = ("off", "idle", "running", "paused", "uploading", "charging", "low battery", "error")

# event kinds for event(now, kind, arg)
BUTTON = const(1)  # arg 1 pressed, 0 released (a raw edge, stamped when it happened)
PLAY = const(2)  # arg pattern name, or None for the selected routine
STOP = const(3)
PAUSE = const(4)
RESUME = const(5)
NEXT = const(6)
INTENSITY = const(7)  # arg 1..5, or 0 for the next step
BATTERY = const(8)  # arg battery mV
CHARGER = const(9)  # arg 1 on the charger, 0 off
UPLOAD = const(10)  # arg 1 an upload begins or goes on, 0 it ended
FAULT = const(11)  # arg a message: the shell caught an exception
POWER = const(12)  # arg 0 off, 1 wake

NEVER = const(-1)
UPLOAD_TIMEOUT_MS = const(30000)  # an upload that goes quiet this long is given up
LOW_LEFT_MS = const(60000)  # a session running when the battery gets low ends within this

_A_NONE = const(0)
_A_NEXT = const(1)
_A_POWER = const(2)
_A_INTENSITY = const(3)
_A_PAUSE = const(4)
_ACTIONS = {
    "none": _A_NONE,
    "next": _A_NEXT,
    "power": _A_POWER,
    "intensity": _A_INTENSITY,
    "pause": _A_PAUSE,
}


class DeviceError(ValueError):
    """A command the device refuses, with a one-line reason for the host."""


class Device:
    def __init__(self, prof, patterns, settings=None, events=None):
        """prof: a board Profile; patterns: has names() and open(name) -> program.File
        (store.Store);
        settings: a loaded Settings (defaults if None); events: a log.Log."""
        self.prof = prof
        self.patterns = patterns
        self.log = events if events is not None else log.Log()
        self.settings = settings or Settings(
            session_ms=prof.session_default_ms, cue_ms=prof.session_cue_ms
        )
        self.engine = Engine(prof.step_ms)
        self.motor = Motor(prof)
        self.button = bt.Button(
            prof.button_debounce_ms,
            prof.button_long_ms,
            prof.button_double_ms,
            prof.button_stuck_ms,
            prof.button_double != "none",
        )
        self.led = Led()
        self.battery = Battery(prof)
        self.session = Session(min(prof.max_level, prof.max_step) * 3 // 4, self.log)
        self._act = (
            _A_NONE,
            _ACTIONS[prof.button_short],
            _ACTIONS[prof.button_long],
            _ACTIONS[prof.button_double],
        )
        self.state = OFF
        self.charging = False
        self.level = 0  # motor output, permille
        self.freq = 0  # PWM frequency the pattern asks for, 0: the profile's
        self.next = NEVER
        self.routine = ""  # the pattern playing (or last played)
        self.routines = []  # stored patterns in button order, less any the verifier refused
        self._src = None  # the stored program playing, read in pieces (program.File)
        self._zones = []  # zone names of the pattern playing (string index - 2)
        self._seen_zone = -1  # the engine's zone and cue count, to log each change once
        self._seen_cues = 0
        self.dirty = False  # settings changed and not yet saved
        self._since = 0  # last activity, for the idle, pause and upload timeouts
        self._loop_t = 0  # planned start of the current turn of a repeating pattern
        self._loop_ms = 0  # length of one turn, 0: no repeat (a routine with zones)
        self._rests = 0

    # ---- life cycle ----

    def boot(self, now, note=""):
        """Go idle with the list of stored patterns; `note` (what boot.py found) is logged.
        Nothing is verified here: each program is checked when it is about to play, so boot
        takes the same time however much is stored (a Pico that verified all at boot, at
        about 70 ms per KB, starved its watchdog and boot-looped with 64 KB stored)."""
        self.log.add(now, log.BOOT, note or 0)
        if self.settings.note:
            self.log.add(now, log.SETTINGS, self.settings.note)
        self.rescan(now)
        self.state = self._rest_state()
        self._since = now
        self.tick(now)

    def rescan(self, now):
        """Re-read the list of stored patterns (a listing: no program is read)."""
        try:
            self.routines = self.patterns.names()
        except Exception as e:
            self.log.add(now, log.PATTERN, "cannot list patterns: %s" % e)
            self.routines = []

    def release(self, now, name):
        """A host is about to delete or replace stored pattern `name`: a session playing it
        stops and its file is let go."""
        if name == self.routine and self.session.active:
            self._halt(now, log.STOP, name)
            self._motor_off(now)
            self.state = self._rest_state()

    # ---- events ----

    def event(self, now, kind, arg=0):
        """Apply one event at `now`. Commands the device refuses raise DeviceError."""
        if kind == BUTTON:
            self._drain(now)
            self.button.edge(now, arg)
            self._drain(now)
        elif kind == NEXT:
            self.play(now, self._after(self.routine or self.settings.routine))
        elif STOP <= kind <= RESUME:
            _BARE[kind - STOP](self, now)
        elif kind in _WITH_ARG:
            _WITH_ARG[kind](self, now, arg)
        else:
            raise DeviceError("unknown event %r" % kind)

    def play(self, now, name=None, chosen=False):
        """Start a session of pattern `name` (default: the selected routine); `chosen`: it also
        becomes the routine the button plays (a host's `play` does not, unless asked: trying a
        pattern from a laptop should not change what the button does)."""
        self._since = now
        if self.state == UPLOADING:
            raise DeviceError("an upload is in progress")
        if self.charging:
            raise DeviceError("on the charger: no motor while charging")
        if self.battery.state == CUTOFF:
            raise DeviceError("battery empty: charge the device")
        if not name:
            name = self.settings.routine
            if name not in self.routines:
                name = self.routines[0] if self.routines else ""
        if not name:
            raise DeviceError("no patterns stored on the device")
        src = None
        try:
            src = self.patterns.open(name)
            info = verify(src, self.prof)
        except Exception as e:
            if src is not None:
                src.close()
            why = e.args[0] if isinstance(e, VerifyError) else _why(e)
            if name in self.routines:  # the button passes over it until the next listing
                self.routines.remove(name)
            self.log.add(now, log.PATTERN, "pattern %s left out: %s" % (name, why))
            if isinstance(e, VerifyError):
                raise DeviceError("pattern %s fails this device's checks: %s" % (name, why))
            raise DeviceError("cannot read pattern %s: %s" % (name, why))
        if self.session.active:
            self._halt(now, log.STOP, self.routine)
        self._release()
        self._src = src
        self.engine.load(src, info.count)
        self._zones = info.zones
        length = info.session_ms(self.settings.session_ms)
        cue = 0 if info.zones else self.settings.cue_ms  # a routine has its own cues
        self._loop_ms = 0 if length == info.duration else info.duration
        if length > self.prof.session_max_ms:  # a setting never outgrows the board's cap
            length = self.prof.session_max_ms
        if self.battery.state == BAT_LOW:
            length = length // 2
        self.session.start(now, length, cue)
        self._loop_t = now
        self._seen_zone = -1
        self._seen_cues = 0
        self.engine.start(now)
        self.motor.start(now)
        self.motor.fade_to(self.session.end)
        self.state = RUNNING
        self.routine = name
        if chosen and self.settings.routine != name:
            self.settings.routine = name
            self.dirty = True
        self.log.add(now, log.START, name)

    def stop(self, now):
        """Stop whatever runs; clears an error. Motor 0 at once."""
        self._since = now
        if self.session.active:
            self._halt(now, log.STOP, self.routine)
        self._motor_off(now)
        if self.state in (RUNNING, PAUSED, ERROR, OFF):
            self.state = self._rest_state()

    def pause(self, now):
        self._since = now
        if self.state == RUNNING:
            self._motor_off(now)
            self.engine.pause(now)
            self.session.pause(now)
            self.state = PAUSED
            self.log.add(now, log.PAUSE)

    def resume(self, now):
        self._since = now
        if self.state == PAUSED:
            shift = self.session.resume(now)
            self._loop_t = ticks.add(self._loop_t, shift)
            self.engine.resume(now)
            self.motor.start(now)
            self.motor.fade_to(self.session.end)
            self.state = RUNNING
            self.log.add(now, log.RESUME)

    def set_intensity(self, now, step=0):
        """Intensity step 1..5 (0: the next one, wrapping from 5 to 1); applies at once."""
        self._since = now
        if not step:
            step = self.settings.intensity % 5 + 1
        try:
            self.settings.set("intensity", step)
        except SettingsError as e:
            raise DeviceError(e.args[0])
        self.dirty = True
        self.log.add(now, log.INTENSITY, step)

    def upload(self, now, on):
        """The protocol tells of an upload: 1 begins or goes on (motor stops), 0 ended."""
        self._since = now
        if on:
            if self.state != UPLOADING:
                if self.session.active:
                    self._halt(now, log.STOP, self.routine)
                self._motor_off(now)
                self.state = UPLOADING
                self.log.add(now, log.UPLOAD, 1)
        elif self.state == UPLOADING:
            self.state = self._rest_state()
            self.log.add(now, log.UPLOAD, 0)
            self.rescan(now)

    def power(self, now, on):
        self._since = now
        if on:
            if self.state == OFF:
                self.state = self._rest_state()
        elif self.state != OFF:
            if self.session.active:
                self._halt(now, log.STOP, self.routine)
            self._motor_off(now)
            self.state = OFF
            self.log.add(now, log.OFF)

    def fault(self, now, message):
        """The one safe state: motor 0 first, then everything else, then the error LED."""
        self.level = 0
        try:
            self.motor.stop(now)
        except Exception:
            pass
        try:
            self.engine.stop()
            self.session.stop()
            self._release()
        except Exception:
            pass
        self.state = ERROR
        self._since = now
        self.log.add(now, log.ERROR, message)

    def _battery(self, now, mv):
        before = self.battery.state
        s = self.battery.update(mv)
        if s == before:
            return
        if s == CUTOFF:
            self.log.add(now, log.CUTOFF, mv)
            if self.session.active:
                self._halt(now, log.STOP, self.routine)
            self._motor_off(now)
            if self.state in (IDLE, RUNNING, PAUSED):
                self.state = LOW
        elif s == BAT_LOW and before != CUTOFF:
            self.log.add(now, log.LOW, mv)
            if self.session.active:
                self.session.shorten(now, LOW_LEFT_MS)
                self.motor.fade_to(self.session.end)
        if s != CUTOFF and self.state == LOW:
            self.state = self._rest_state()

    def _charger(self, now, on):
        on = bool(on)
        if on == self.charging:
            return
        self.charging = on
        self.log.add(now, log.CHARGE, 1 if on else 0)
        if on:
            if self.session.active:
                self._halt(now, log.STOP, self.routine)
            self._motor_off(now)
            if self.state in (OFF, IDLE, RUNNING, PAUSED, LOW):
                self.state = CHARGING
        elif self.state == CHARGING:
            self.state = self._rest_state()
            self._since = now

    # ---- time ----

    def tick(self, now):
        """Advance to `now`: gestures due, session, pattern, motor, LED, .next. No allocation."""
        self._drain(now)
        st = self.state
        d = NEVER
        if st == RUNNING:
            if self.session.tick(now) == END:
                self._halt(now, log.END, self.routine, self.session.end)
                self.state = self._rest_state()
                self._since = now
            else:
                level = self._pattern(now)
                if self.session.override >= 0:
                    level = self.session.override
                    until = self.session.next
                else:
                    level = level * self.prof.intensity[self.settings.intensity - 1] // 1000
                    until = self.engine.next
                self.motor.update(now, level, 0 if until == NEVER else ticks.diff(until, now))
                if self.motor.rests != self._rests:
                    self._rests = self.motor.rests
                    self.log.add(now, log.REST, self.motor.heat)
                if self.session.next != NEVER:  # (no loop over a tuple: it would allocate)
                    d = ticks.sooner(d, ticks.diff(self.session.next, now))
                if self.engine.next != NEVER:
                    d = ticks.sooner(d, ticks.diff(self.engine.next, now))
                if self.motor.next != NEVER:
                    d = ticks.sooner(d, ticks.diff(self.motor.next, now))
        elif st == PAUSED:
            d = self._timeout(now, self.prof.session_pause_off_ms, d)
        elif st == UPLOADING:
            d = self._timeout(now, UPLOAD_TIMEOUT_MS, d)
        elif st == IDLE or st == LOW or st == ERROR:
            d = self._timeout(now, self.prof.session_idle_off_ms, d)
        if self.state != RUNNING:
            self.level = 0
            self.freq = 0
        else:
            self.level = self.motor.level
            self.freq = self.engine.freq
        mode = self.state
        if self.battery.state == BAT_LOW and (mode == IDLE or mode == RUNNING or mode == PAUSED):
            mode = LOW
        self.led.update(now, mode)
        if self.led.next != NEVER:
            d = ticks.sooner(d, ticks.diff(self.led.next, now))
        b = self.button.deadline(now)
        if b >= 0 and (d < 0 or b < d):
            d = b
        self.next = NEVER if d < 0 else ticks.add(now, d)
        return self.level

    def _timeout(self, now, ms, d):
        """Leave a waiting state after `ms` without activity; the delay until then otherwise."""
        left = ms - ticks.diff(now, self._since)
        if left > 0:
            return ticks.sooner(d, left)
        st = self.state
        if st == PAUSED:
            self._halt(now, log.STOP, self.routine)
            self.state = self._rest_state()
        elif st == UPLOADING:
            self.upload(now, 0)
        else:
            self.state = OFF
            self.log.add(now, log.OFF)
        self._since = now
        return d if self.state == OFF else 0

    def _pattern(self, now):
        """The pattern's level; a pattern without zones starts again where its last turn ended."""
        e = self.engine
        level = e.step(now)
        if e.state == DONE and self._loop_ms:
            turns = ticks.diff(now, self._loop_t) // self._loop_ms
            self._loop_t = ticks.add(self._loop_t, (turns if turns > 0 else 1) * self._loop_ms)
            e.start(self._loop_t)
            level = e.step(now)
        if e.zone != self._seen_zone:  # logged at the planned time: the host sees exact times
            self._seen_zone = e.zone
            if e.zone >= 2:
                self.log.add(e.since, log.ZONE, self._zones[e.zone - 2])
        if e.cues > self._seen_cues:
            self.log.add(e.since, log.CUE, 0)
        self._seen_cues = e.cues
        return level

    def _drain(self, now):
        g = self.button.poll(now)
        while g:
            self._gesture(now, g)
            g = self.button.poll(now)

    def _gesture(self, now, g):
        self._since = now
        st = self.state
        if g == bt.STUCK:
            self.log.add(now, log.BUTTON, "button stuck: ignored until released")
            if self.session.active:
                self._halt(now, log.STOP, self.routine)
                self.state = self._rest_state()
            return
        if st == OFF:
            self.state = self._rest_state()
            return
        if st == UPLOADING:
            return
        act = self._act[g]
        if st == ERROR:
            if g == bt.SHORT:
                self.stop(now)
            elif act == _A_POWER:
                self.power(now, 0)
            return
        try:
            if act == _A_POWER:
                if st == RUNNING or st == PAUSED:
                    self.stop(now)
                elif st != CHARGING:
                    self.power(now, 0)
            elif act == _A_INTENSITY:
                self.set_intensity(now)
            elif act == _A_NEXT or act == _A_PAUSE:  # both resume a pause and start from idle
                if st == PAUSED:
                    self.resume(now)
                elif st == IDLE:
                    self.play(now)
                elif st == RUNNING and act == _A_NEXT:  # the person picks the next routine
                    self.play(now, self._after(self.routine), True)
                elif st == RUNNING:
                    self.pause(now)
        except DeviceError as e:  # a press cannot answer back: the log says why
            self.log.add(now, log.BUTTON, e.args[0])

    # ---- helpers ----

    def _halt(self, now, why, arg, at=NEVER):
        """End the session: motor 0 first, then count the use; logged at `at` (the planned
        end) or now."""
        self._motor_off(now)
        self.engine.stop()
        self._release()
        s = self.session
        if s.active:
            used = s.elapsed(now) // 1000
            st = self.settings
            st.sessions += 1
            st.day_sessions += 1
            st.use_s += used
            st.day_s += used
            self.dirty = True
        s.stop()
        self.log.add(now if at == NEVER else at, why, arg)

    def _motor_off(self, now):
        self.level = 0
        self.motor.stop(now)

    def _release(self):
        """Close the file of the program that played (after the motor is off)."""
        src = self._src
        if src is not None:
            self._src = None
            try:
                src.close()
            except OSError:
                pass

    def _rest_state(self):
        if self.charging:
            return CHARGING
        if self.battery.state == CUTOFF:
            return LOW
        return IDLE

    def _after(self, name):
        """The routine after `name` in button order."""
        r = self.routines
        if not r:
            return ""
        if name in r:
            return r[(r.index(name) + 1) % len(r)]
        return r[0]

    def save(self):
        """Write the settings if they changed and no session runs (flash writes stall)."""
        if self.dirty and self.state != RUNNING:
            self.dirty = False
            self.settings.save()
            return True
        return False

    def zone(self):
        """The name of the zone playing, or ""."""
        z = self.engine.zone - 2 if self.session.active else -1
        return self._zones[z] if 0 <= z < len(self._zones) else ""


# The events that are one method call, by kind (the functions, taken once: no bound method is
# made per event).
_BARE = (Device.stop, Device.pause, Device.resume)  # STOP, PAUSE, RESUME: (now)
_WITH_ARG = {
    PLAY: Device.play,
    INTENSITY: Device.set_intensity,
    BATTERY: Device._battery,
    CHARGER: Device._charger,
    UPLOAD: Device.upload,
    FAULT: Device.fault,
    POWER: Device.power,
}  # (now, arg)


def _why(e):
    """The text of an error: a store refusal's (code, text) gives its text."""
    if len(e.args) == 2 and isinstance(e.args[1], str):
        return e.args[1]
    return "%s" % e
