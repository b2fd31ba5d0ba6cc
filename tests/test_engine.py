"""The engine: exact timing whatever the scheduling, pause without loss, stop at once."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from facewave.firmware import engine as eng
from facewave.firmware import ticks
from facewave.firmware.profile import Profile
from facewave.lang import compile_file, compile_source
from facewave.library import builtin_path
from facewave.playback import pattern

PROFILE = Profile()
DAILY = compile_file(builtin_path("daily"))


def new(prog):
    e = eng.Engine(PROFILE.step_ms)
    e.load(prog.data, prog.info.count)
    return e


def run_late(prog, lateness, start=0, profile=PROFILE):
    """Call the engine late by lateness() ms each time; answer the planned times of zone
    starts and cues (as the engine reports them) and of the end."""
    e = eng.Engine(profile.step_ms)
    e.load(prog.data, prog.info.count)
    now = start
    e.start(now)
    zones, cues, zone, ncue = [], [], -1, 0
    while e.state == eng.PLAYING:
        if e.zone != zone and e.zone >= 0:
            zones.append(ticks.diff(e.since, start))
        zone = e.zone
        if e.cues != ncue:
            cues.append(ticks.diff(e.since, start))
            ncue = e.cues
        now = ticks.add(e.next, lateness())
        e.step(now)
    return zones, cues, ticks.diff(e.since, start)


def test_late_wakeups_never_turn_into_drift():
    """30 minutes of playing with up to 20 ms of scheduling jitter at every wake-up."""
    long = Profile({"session_max_ms": 3600000, "thermal": 2000000000, "max_on_ms": 3600000})
    prog = compile_source('pattern long "x"\nrepeat 10\n' + DAILY_BODY + "end\n", profile=long)
    assert prog.info.duration == 30 * 60 * 1000
    rng = random.Random(7)
    zones, cues, end = run_late(prog, lambda: rng.randint(0, 20), profile=long)
    turn = 180000
    planned = [t * turn + at for t in range(10) for at in (45000, 85400, 118700, 176600)]
    assert cues == planned
    assert end == prog.info.duration


DAILY_BODY = """\
  ramp 0% -> 40% over 5s
  wave sine 20%..40% period 10s for 40s
  cue double
  pulse 60% on 100ms off 100ms x 200
  cue triple
  ramp 0% -> 30% over 2s
  hold 30% 30.82s
  cue
  wave triangle 10%..50% period 3s for 57.6s
  cue double
  ramp 30% -> 0% over 3s
"""


def test_segment_ends_are_exact_even_when_called_late():
    prog = compile_source('pattern p "x"\nhold 20% 1s\nhold 40% 1s\nhold 60% 1s\n')
    e = new(prog)
    e.start(0)
    assert (e.level, e.next) == (200, 1000)
    assert e.step(1500) == 400 and e.next == 2000  # late by 500 ms: the 2nd hold still ends
    assert e.step(3007) == 0 and e.state == eng.DONE


def test_pause_and_resume_lose_nothing():
    whole = pattern(DAILY, PROFILE)
    e = new(DAILY)
    now = 0
    e.start(now)
    points = []
    paused = False
    while e.state != eng.DONE:
        points.append((now, e.level))
        if now >= 50000 and not paused:
            e.pause(now)
            assert e.level == 0 and e.next == eng.NEVER
            now += 12345  # the person answers the door
            e.resume(now)
            paused = True
            continue
        now = e.next
        e.step(now)
    shifted = [(t - 12345 if t >= 50000 + 12345 else t, lv) for t, lv in points]
    assert [p for p in shifted if p[0] != 50000] == [p for p in whole.points if p[0] != 50000]
    assert now == whole.duration + 12345


def test_stop_is_immediate():
    e = new(DAILY)
    e.start(0)
    e.step(95000)
    e.stop()
    assert (e.level, e.state, e.next) == (0, eng.DONE, eng.NEVER)
    assert e.step(95001) == 0


def test_restart_after_stop_plays_the_same():
    e = new(DAILY)
    e.start(0)
    e.step(10000)
    e.stop()
    again = []
    now = 777
    e.start(now)
    while e.state == eng.PLAYING:
        again.append((now - 777, e.level))
        now = e.next
        e.step(now)
    assert again == pattern(DAILY, PROFILE).points


@settings(max_examples=30, deadline=None)
@given(st.integers(0, ticks.MASK), st.integers(0, 40))
def test_any_start_tick_any_jitter_same_events(start, jitter):
    rng = random.Random(start)
    zones, cues, end = run_late(DAILY, lambda: rng.randint(0, jitter), start)
    assert zones == [0, 45000, 90000, 135000]
    assert cues == pattern(DAILY, PROFILE).cues
    assert end == 180000


def test_ticks_arithmetic_wraps_like_micropython():
    assert ticks.add(ticks.MASK, 1) == 0
    assert ticks.add(0, -1) == ticks.MASK
    assert ticks.diff(0, ticks.MASK) == 1
    assert ticks.diff(ticks.MASK, 0) == -1
    assert ticks.diff(5, 3) == 2 and ticks.diff(3, 5) == -2
    assert ticks.diff(ticks.add(123, 2**29 - 1), 123) == 2**29 - 1


def _levels_when_called(prog, lateness):
    """The distinct levels the engine gives, in order, each with the step-grid time it belongs
    to, when every call comes lateness() ms after the deadline asked for."""
    e = new(prog)
    now = 0
    e.start(now)
    out = []
    while e.state == eng.PLAYING:
        if not out or out[-1][1] != e.level:
            out.append((now - now % PROFILE.step_ms, e.level))
        now = e.next + lateness()
        e.step(now)
    return out


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_late_calls_give_the_same_levels_on_the_same_grid(rnd):
    """Ramps and waves are sampled on the step grid of their segment, not at the instant of
    the call: a board that wakes up to a step late drives exactly the levels of one that wakes
    on time, each within one step (the emulated Pico showed 159 where the simulator had 160)."""
    prog = compile_source(
        'pattern late "late calls"\nramp 0% -> 80% over 1s ease-in-out\n'
        "wave sine 20%..70% period 700ms for 3s\nramp 70% -> 0% over 430ms\n",
        "late.fw",
    )
    on_time = _levels_when_called(prog, lambda: 0)
    late = _levels_when_called(prog, lambda: rnd.randrange(PROFILE.step_ms))
    assert [lv for _, lv in late] == [lv for _, lv in on_time]
    assert all(abs(a[0] - b[0]) <= PROFILE.step_ms for a, b in zip(late, on_time))
