"""Motor shaping: soft start, kick, ramp to the planned end, on-time cap, thermal budget."""

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
    assert m.update(0, 500, 2000) == 800
    assert m.next == 30
    assert m.update(30, 500, 1970) == 500
    assert m.update(40, 0) == 0
    assert m.update(50, 500, 2000) == 800  # from rest again


def test_a_kick_respects_the_pattern_it_starts():
    """At most twice the level about to be played, for at most a third of its on-time."""
    m = Motor(profile(motor__soft_ms=0, motor__kick_ms=30, motor__kick_level=800))
    m.start(0)
    assert m.update(0, 50, 30) == 100  # pulse 5% on 30ms: a 10 ms kick to 10 %
    assert m.next == 10
    assert m.update(10, 50, 20) == 50
    assert m.update(30, 0, 70) == 0
    assert m.update(100, 20, 1) == 20  # too short to kick at all
    assert m.update(101, 0, 70) == 0
    assert m.update(200, 20, 0) == 20  # nothing known of the on-time: no kick


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 3000)), min_size=1, max_size=30),
    st.integers(0, ticks.MASK),
    st.sampled_from([0, 200]),
)
def test_no_kick_exceeds_its_bounds(segments, start, soft_ms):
    """Over any run of held levels: never above twice the wish or the caps, and above the wish
    for at most a third of the segment that started the motor from rest."""
    prof = profile(motor__soft_ms=soft_ms, motor__kick_ms=30, motor__kick_level=800)
    m = Motor(prof)
    m.start(start)
    t = start
    for target, ms in segments:
        end = ticks.add(t, ms)
        above = 0
        while ticks.diff(end, t) > 0:
            level = m.update(t, target, ticks.diff(end, t))
            assert level <= 2 * target and level <= prof.max_level
            nxt = end if m.next < 0 or ticks.diff(end, m.next) < 0 else m.next
            if level > target:
                above += ticks.diff(nxt, t)
            t = nxt
        assert above <= ms // 3


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
@given(st.randoms(use_true_random=False))
def test_soft_start_and_fade_step_on_their_own_grid_however_late_the_calls(rnd):
    """A board that wakes up to a step late drives the levels of one that wakes on time."""

    def levels(lateness):
        m = Motor(profile(motor__kick_ms=0))
        m.start(0)
        m.fade_to(3000)
        t, out = 0, []
        while t <= 3000:
            level = m.update(t, 700)
            if not out or out[-1] != level:
                out.append(level)
            t = (m.next if m.next >= 0 else t + 50) + lateness()
        return out

    step = profile().step_ms
    assert levels(lambda: rnd.randrange(step)) == levels(lambda: 0)


_STATEMENTS = st.one_of(
    st.builds("hold {}% {}ms".format, st.integers(1, 85), st.integers(10, 3000)),
    st.builds("off {}ms".format, st.integers(10, 2000)),
    st.builds(
        "pulse {}% on {}ms off {}ms x {}".format,
        st.integers(1, 85),
        st.integers(10, 400),
        st.integers(10, 400),
        st.integers(1, 20),
    ),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_STATEMENTS, min_size=1, max_size=8), st.integers(1, 5))
def test_kicks_stay_within_their_bounds_in_any_program_at_any_intensity(statements, step):
    """Through the whole device: above the wish only at a start from rest, never above twice
    the wish (scaled by the intensity), for at most a third of the time that wish holds."""
    from device_kit import Clock, make
    from facewave.firmware import device as dv
    from facewave.lang import compile_source

    prog = compile_source('pattern p "kick"\n' + "\n".join(statements) + "\n")
    c = Clock(make(programs={"p": prog.data}))
    c.d.settings.intensity = step
    c.d.settings.session_ms = 10000
    c.d.settings.cue_ms = 0
    scale = c.d.prof.intensity[step - 1]
    c.event(dv.PLAY, "p")
    samples = []  # (t, motor level, the wish it was given)
    while c.d.state == dv.RUNNING:
        wish = c.d.engine.level * scale // 1000 if c.d.session.override < 0 else 0
        samples.append((c.now, c.d.level, wish))
        c.at(c.d.next)
    samples.append((c.now, 0, 0))
    kick_from = None
    for i, (t, level, wish) in enumerate(samples[:-1]):
        assert level <= max(2 * wish, 0) and level <= c.d.prof.max_level
        if level > wish:
            if kick_from is None:
                assert i == 0 or samples[i - 1][1] == 0  # only a start from rest kicks
                kick_from = t
                held = next(u for u, _, w in samples[i:] if w != wish) - t
            assert samples[i + 1][0] - kick_from <= held // 3
        else:
            kick_from = None
