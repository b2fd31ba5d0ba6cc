"""Motor shaping: soft start, kick, ramp to the planned end, on-time cap, thermal budget."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_kit import profile
from facewave.firmware import ticks
from facewave.firmware.motor import Motor


def run(m, target, start, ms, now=None):
    """Hold `target` from `start` for ms, calling update at every deadline (and every 50 ms)."""
    t = start
    end = ticks.add(start, ms)
    out = []
    while ticks.diff(end, t) >= 0:
        out.append((ticks.diff(t, start), m.update(t, target)))
        step = 50 if m.next < 0 else min(50, max(1, ticks.diff(m.next, t)))
        t = ticks.add(t, step)
    return out


def test_soft_start_rises_linearly_and_stop_is_immediate():
    m = Motor(profile(motor__kick_ms=0))
    m.start(0)
    assert m.update(0, 800) == 0
    assert m.update(100, 800) == 400
    assert m.next == 110  # one step later
    assert m.update(200, 800) == 800
    m.stop(210)
    assert m.level == 0 and m.next == -1


def test_kick_from_rest_then_the_wish():
    m = Motor(profile(motor__soft_ms=0, motor__kick_ms=30, motor__kick_level=800))
    m.start(0)
    assert m.update(0, 300) == 800
    assert m.next == 30
    assert m.update(30, 300) == 300
    assert m.update(40, 0) == 0
    assert m.update(50, 300) == 800  # from rest again


def test_ramp_to_zero_reaches_zero_at_the_planned_end():
    m = Motor(profile(motor__soft_ms=0, motor__kick_ms=0, motor__fade_ms=500))
    m.start(0)
    m.fade_to(10000)
    assert m.update(9000, 600) == 600
    assert m.update(9500, 600) == 600
    assert m.update(9750, 600) == 300
    assert m.update(10000, 600) == 0


def test_never_above_the_cap():
    m = Motor(profile(max_level=500, motor__soft_ms=0, motor__kick_ms=0, motor__kick_level=0))
    m.start(0)
    assert m.update(10, 1000) == 500


def test_continuous_on_time_cap_forces_a_rest():
    m = Motor(
        profile(
            max_on_ms=60000,
            motor__soft_ms=0,
            motor__kick_ms=0,
            motor__rest_ms=5000,
            thermal=3000000000,
        )
    )
    m.start(0)
    assert m.update(0, 400) == 400
    assert m.next == 60000
    assert m.update(60000, 400) == 0
    assert m.rests == 1 and m.next == 65000
    assert m.update(64999, 400) == 0
    assert m.update(65000, 400) == 400


def test_thermal_budget_rests_a_hot_motor_until_it_has_cooled():
    prof = profile(
        motor__soft_ms=0,
        motor__kick_ms=0,
        max_on_ms=3600000,
        session_max_ms=1200000,
        thermal=540000000,
    )
    m = Motor(prof)
    assert m.cool == 450 and m.heat_cap == 270000
    m.start(0)
    out = run(m, 850, 0, 800000)
    # heat rises 0.4 full-drive ms per ms: the cap is reached at 675 s
    first_rest = next(t for t, level in out if level == 0)
    assert 674000 <= first_rest <= 675050
    assert m.hot and m.rests == 1
    # cooling at 0.45 per ms from 270000 to 135000 takes 300 s
    out = run(m, 850, 800000, 300000)
    back = next(t for t, level in out if level)
    assert 170000 <= back <= 176000


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32))
def test_the_thermal_rest_begins_and_ends_at_its_exact_ms_however_often_the_loop_wakes(seed):
    """Heat is counted to the permille-ms: at 85 % the budget is spent at the first ms of 675 s,
    and cooling at 0.45 per ms takes it down to half 299998 ms later, whether the loop wakes
    only at the motor's deadlines or also in between (a board's 50 ms floor, the host's bytes)."""
    prof = profile(motor__soft_ms=0, motor__kick_ms=0, max_on_ms=3600000)
    rnd = random.Random(seed)

    def edges(wake):
        m = Motor(prof)
        m.start(0)
        t, out = 0, []
        while t < 1000000:
            level = m.update(t, 850)
            if not out or out[-1][1] != level:
                out.append((t, level))
            t = min(m.next, t + wake())
        return out

    exact = [(0, 850), (675000, 0), (974998, 850)]
    assert edges(lambda: 1 << 30) == exact
    assert edges(lambda: rnd.randint(1, 2000)) == exact


@pytest.mark.parametrize("every", [10, 100000])
def test_a_level_just_above_cooling_warms_the_motor_however_often_the_loop_wakes(every):
    m = Motor(profile(motor__soft_ms=0, motor__kick_ms=0))
    m.start(0)
    for t in range(0, 100001, every):
        m.update(t, m.cool + 5)
    assert m.heat == 5 * 100000 // 1000


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 5000)), max_size=40),
    st.integers(0, ticks.MASK),
)
def test_any_wishes_stay_within_cap_and_account_heat(wishes, start):
    prof = profile()
    m = Motor(prof)
    m.start(start)
    t = start
    for target, dt in wishes:
        level = m.update(t, target)
        assert 0 <= level <= prof.max_level
        assert m.next == -1 or 0 <= ticks.diff(m.next, t) <= 600000
        assert m.heat >= 0
        t = ticks.add(t, dt)
    m.stop(t)
    assert m.level == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_soft_start_and_fade_step_on_their_own_grid_however_late_the_calls(seed):
    """A board that wakes up to a step late drives the levels of one that wakes on time."""
    rnd = random.Random(seed)

    def levels(lateness):
        m = Motor(profile(motor__kick_ms=0))
        m.start(0)
        m.fade_to(3000)
        t, out = 0, []
        while t < 3000:  # at the planned end the session ends the motor
            level = m.update(t, 700)
            if not out or out[-1] != level:
                out.append(level)
            t = (m.next if m.next >= 0 else t + 50) + lateness()
        return out

    prof = profile()
    on_time = levels(lambda: 0)
    assert on_time[-1] == 700 * prof.step_ms // prof.motor_fade_ms  # the fade's last step
    assert levels(lambda: rnd.randrange(prof.step_ms)) == on_time
