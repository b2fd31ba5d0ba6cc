"""The device state machine under a virtual clock: every transition, safety, exact timing."""

import random

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from device_kit import Clock, hold, make, profile, zoned
from facewave.firmware import device as dv
from facewave.firmware import log, ticks


def entries(d, kind):
    return [(t, a) for _, t, k, a in d.log.entries() if k == kind]


@pytest.fixture
def c():
    return Clock(make(now=0))


def started(c):
    c.press(80)
    c.run(400)
    assert c.d.state == dv.RUNNING
    return c


def test_boot_is_idle_with_the_verified_patterns(c):
    assert c.d.state == dv.IDLE and c.d.level == 0
    assert c.d.routines == ["a", "b"]
    assert entries(c.d, "boot") == [(0, 0)]


def test_a_pattern_failing_its_checksum_is_left_out_when_it_would_play():
    bad = bytearray(hold(500, 1000))
    bad[-1] ^= 0xFF
    c = Clock(make(programs={"bad": bytes(bad), "good": hold(500, 1000)}))
    assert c.d.routines == ["bad", "good"]  # boot reads no program
    c.press(80)
    c.run(400)
    assert c.d.state == dv.IDLE and c.d.level == 0
    assert c.d.routines == ["good"]
    assert "pattern bad left out: CRC mismatch" in entries(c.d, "pattern")[0][1]
    started(c)  # the next press plays the good one
    assert c.d.routine == "good"


def test_short_press_starts_the_selected_routine_and_the_motor_runs(c):
    started(c)
    assert c.d.routine == "a" and entries(c.d, "start") == [(430, "a")]
    c.run(2000)
    assert c.d.level > 0


def test_long_press_stops_at_press_plus_long_ms_while_held(c):
    started(c)
    c.run(3000)
    assert c.d.level > 0
    c.event(dv.BUTTON, 1)
    pressed = c.now
    c.run(999)
    assert c.d.level > 0
    c.run(1)
    assert c.d.state == dv.IDLE and c.d.level == 0
    assert entries(c.d, "stop")[-1][0] == pressed + 1000


def test_short_press_while_running_moves_to_the_next_routine(c):
    started(c)
    c.press(80, after=1000)
    c.run(400)
    assert c.d.routine == "b" and c.d.state == dv.RUNNING
    assert c.d.settings.routine == "b" and c.d.dirty


def test_double_press_steps_intensity_and_wraps(c):
    started(c)
    c.run(2000)
    before = c.d.level
    c.press(60)
    c.press(60, after=150)
    c.run(40)  # the second release, debounced
    assert c.d.settings.intensity == 4
    assert c.d.level > before
    for _ in range(2):
        c.press(60, after=500)
        c.press(60, after=150)
        c.run(40)
    assert c.d.settings.intensity == 1


def test_pause_resume_and_pause_timeout(c):
    started(c)
    c.run(5000)
    c.event(dv.PAUSE)
    assert c.d.state == dv.PAUSED and c.d.level == 0
    end = c.d.session.end
    c.run(10000)
    c.event(dv.RESUME)
    assert c.d.state == dv.RUNNING
    assert c.d.session.end == ticks.add(end, 10000)
    c.event(dv.PAUSE)
    c.run(59999)
    assert c.d.state == dv.PAUSED
    c.run(1)
    assert c.d.state == dv.IDLE and c.d.level == 0


def test_session_ends_after_three_minutes_with_cues_every_30_s(c):
    started(c)
    t0 = c.d.session.start_t
    c.run(200000)
    assert c.d.state == dv.IDLE and c.d.level == 0
    assert [t - t0 for t, _ in entries(c.d, "cue")] == [30000 * k for k in range(1, 6)]
    assert entries(c.d, "end") == [(t0 + 180000, "a")]
    assert c.d.settings.sessions == 1 and c.d.settings.use_s == 180


def test_a_routine_with_zones_keeps_its_own_length():
    c = Clock(make(programs={"daily": zoned(30000, 3)}))
    started(c)
    c.run(100000)
    assert entries(c.d, "end") == [(430 + 90000, "daily")]
    assert entries(c.d, "cue") == []


def test_a_pattern_longer_than_the_session_plays_whole_once_with_the_session_cues():
    """259 s without zones in a 3 min session: all of it, not cut at 180 s."""
    c = Clock(make(programs={"long": hold(400, 258600, "long")}))
    started(c)
    t0 = c.d.session.start_t
    assert c.d.session.length == 259000
    c.run(300000)
    assert entries(c.d, "end") == [(t0 + 259000, "long")]
    assert [t - t0 for t, _ in entries(c.d, "cue")] == [30000 * k for k in range(1, 9)]
    assert entries(c.d, "start") == [(t0, "long")]  # once: no second turn


def test_a_host_play_leaves_the_buttons_routine_unless_it_is_chosen(c):
    c.event(dv.PLAY, "b")
    assert c.d.routine == "b" and c.d.settings.routine == "" and not c.d.dirty
    c.event(dv.STOP)
    c.d.play(c.now, "b", True)
    assert c.d.settings.routine == "b" and c.d.dirty
    c.event(dv.STOP)
    c.press(80, after=100)
    c.run(400)
    assert c.d.routine == "b"  # the button now plays it


def test_the_buttons_next_makes_the_next_routine_its_own(c):
    started(c)
    assert c.d.routine == "a"
    c.d.event(c.now, dv.BUTTON, 1)  # a short press while running: next routine
    c.run(80)
    c.event(dv.BUTTON, 0)
    c.run(400)
    assert c.d.routine == "b" and c.d.settings.routine == "b"


def test_idle_auto_off_and_wake(c):
    c.run(599999)
    assert c.d.state == dv.IDLE
    c.run(1)
    assert c.d.state == dv.OFF and c.d.led.on == 0
    c.press(80)
    c.run(400)
    assert c.d.state == dv.IDLE


def test_long_press_when_idle_powers_off(c):
    c.press(1200)
    assert c.d.state == dv.OFF


def test_charger_stops_the_motor_and_refuses_to_play(c):
    started(c)
    c.run(2000)
    c.event(dv.CHARGER, 1)
    assert c.d.state == dv.CHARGING and c.d.level == 0
    with pytest.raises(dv.DeviceError, match="no motor while charging"):
        c.d.play(c.now)
    c.press(80)
    c.run(400)
    assert c.d.state == dv.CHARGING and c.d.level == 0
    c.event(dv.CHARGER, 0)
    assert c.d.state == dv.IDLE


def test_battery_cutoff_stops_low_warning_shortens(c):
    started(c)
    c.run(2000)
    c.event(dv.BATTERY, 3450)
    assert c.d.state == dv.RUNNING and c.d.led.mode == dv.LOW
    assert ticks.diff(c.d.session.end, c.now) == 60000
    c.event(dv.BATTERY, 3200)
    assert c.d.state == dv.LOW and c.d.level == 0
    with pytest.raises(dv.DeviceError, match="battery empty"):
        c.d.play(c.now)
    c.event(dv.BATTERY, 3350)  # not yet a margin above the cut-off
    assert c.d.state == dv.LOW
    c.event(dv.BATTERY, 3900)
    assert c.d.state == dv.IDLE


def test_low_battery_halves_a_new_session(c):
    c.event(dv.BATTERY, 3400)
    started(c)
    assert c.d.session.length == 90000


def test_upload_stops_the_motor_and_times_out(c):
    started(c)
    c.run(2000)
    c.event(dv.UPLOAD, 1)
    assert c.d.state == dv.UPLOADING and c.d.level == 0
    with pytest.raises(dv.DeviceError, match="upload"):
        c.d.play(c.now)
    c.event(dv.UPLOAD, 0)
    assert c.d.state == dv.IDLE
    c.event(dv.UPLOAD, 1)
    c.run(30000)
    assert c.d.state == dv.IDLE


def test_fault_is_the_safe_state_and_a_press_clears_it(c):
    started(c)
    c.run(2000)
    c.event(dv.FAULT, "engine: boom")
    assert c.d.state == dv.ERROR and c.d.level == 0 and c.d.led.mode == dv.ERROR
    assert entries(c.d, "error") == [(c.now, "engine: boom")]
    c.press(80)
    c.run(400)
    assert c.d.state == dv.IDLE


def test_stuck_button_stops_and_is_logged(c):
    started(c)
    c.event(dv.BUTTON, 1)
    c.run(20000)
    assert c.d.state != dv.RUNNING and c.d.level == 0
    assert "button stuck" in entries(c.d, "button")[-1][1]


def test_commands_and_bad_names(tmp_path):
    c = Clock(make(settings_path=tmp_path / "settings.json"))
    with pytest.raises(dv.DeviceError, match="cannot read pattern nope"):
        c.d.play(0, "nope")
    c.event(dv.PLAY, "b")
    assert c.d.routine == "b"
    c.event(dv.NEXT)
    assert c.d.routine == "a"
    c.event(dv.STOP)
    assert c.d.state == dv.IDLE
    assert c.d.save() and not c.d.dirty


def test_no_patterns_is_said_not_crashed():
    c = Clock(make(programs={}))
    c.press(80)
    c.run(400)
    assert c.d.state == dv.IDLE
    assert entries(c.d, "button")[-1][1] == "no patterns stored on the device"


def test_drift_30_minutes_of_jitter_keep_every_cue_and_the_end_exact():
    prof = profile(session_max_ms=1800000, session__default_ms=1800000)
    start = ticks.MASK - 600000  # the ticks wrap a third of the way through
    d = make(now=start, prof=prof)
    d.log = d.session.log = log.Log(200)  # room for every cue
    c = Clock(d, now=start)
    rng = random.Random(7)
    d.event(start, dv.PLAY, "a")
    wakes = []
    orig = d.tick

    def tick(t):
        wakes.append(t)
        return orig(t)

    d.tick = tick
    c.run(1900000, jitter=lambda: rng.randint(0, 20))
    planned = [ticks.add(start, 30000 * k) for k in range(1, 60)]
    assert [t for t, _ in entries(d, "cue")] == planned
    assert entries(d, "end") == [(ticks.add(start, 1800000), "a")]
    for p in planned:  # and each cue was acted on within the jitter
        late = min(ticks.diff(w, p) for w in wakes if ticks.diff(w, p) >= 0)
        assert late <= 20
    assert d.session.start_t == start


# ---- random sequences: the motor is never left running ----

CAP = profile().max_level


class DeviceMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.c = Clock(make(now=ticks.MASK - 100000))
        self.c.now = ticks.MASK - 100000

    @property
    def d(self):
        return self.c.d

    def must_be_off(self):
        assert self.d.level == 0
        self.c.at(self.c.now)
        assert self.d.level == 0

    @rule(held=st.integers(1, 1500), after=st.integers(0, 800))
    def press(self, held, after):
        self.c.press(held, after)

    @rule(ms=st.integers(0, 200000), jitter=st.integers(0, 20))
    def wait(self, ms, jitter):
        self.c.run(ms, jitter=lambda: jitter)

    @rule(ms=st.integers(1, 400000))
    def jump(self, ms):
        """Time passes with no tick at all (a stalled loop), then one late tick."""
        self.c.at(ticks.add(self.c.now, ms))

    @rule(name=st.sampled_from([None, "a", "b", "nope"]))
    def play(self, name):
        try:
            self.d.event(self.c.now, dv.PLAY, name)
        except dv.DeviceError:
            pass
        self.c.at(self.c.now)

    @rule(kind=st.sampled_from([dv.STOP, dv.POWER]))
    def stop(self, kind):
        self.d.event(self.c.now, kind, 0)
        self.must_be_off()

    @rule(kind=st.sampled_from([dv.PAUSE, dv.RESUME, dv.NEXT, dv.INTENSITY]))
    def command(self, kind):
        try:
            self.d.event(self.c.now, kind, 0)
        except dv.DeviceError:
            pass
        if kind == dv.PAUSE and self.d.state == dv.PAUSED:
            self.must_be_off()
        self.c.at(self.c.now)

    @rule(mv=st.integers(3000, 4300))
    def battery(self, mv):
        self.d.event(self.c.now, dv.BATTERY, mv)
        if self.d.battery.state == 2:
            self.must_be_off()
        self.c.at(self.c.now)

    @rule(on=st.booleans())
    def charger(self, on):
        self.d.event(self.c.now, dv.CHARGER, on)
        if on:
            self.must_be_off()
        self.c.at(self.c.now)

    @rule(on=st.booleans())
    def upload(self, on):
        self.d.event(self.c.now, dv.UPLOAD, on)
        if on:
            self.must_be_off()

    @rule()
    def fault(self):
        self.d.event(self.c.now, dv.FAULT, "injected")
        self.must_be_off()
        assert self.d.state == dv.ERROR

    @invariant()
    def safe(self):
        d = self.d
        assert 0 <= d.level <= CAP
        if d.state != dv.RUNNING:
            assert d.level == 0
        if d.charging or d.battery.state == 2:
            assert d.level == 0
        if d.next != dv.NEVER:
            assert ticks.diff(d.next, self.c.now) >= 0


DeviceMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=30, deadline=None)
test_random_sequences = DeviceMachine.TestCase
