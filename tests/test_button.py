"""Button gestures from raw edges: debounce, short, long, double, stuck, at exact ticks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from facewave.firmware import button as b
from facewave.firmware import ticks


def drive(btn, edges, until, start=0):
    """Feed (t, level) edges, polling at every deadline; answer [(t, gesture name)]."""
    out = []
    now = start
    edges = sorted(edges, key=lambda e: ticks.diff(e[0], start))

    def drain(t):
        g = btn.poll(t)
        while g:
            out.append((ticks.diff(t, start), b.NAMES[g]))
            g = btn.poll(t)

    i = 0
    for _ in range(10000):  # a deadline that brings nothing would spin the board's loop
        d = btn.deadline(now)
        t_dead = ticks.add(now, d) if d >= 0 else None
        t_edge = edges[i][0] if i < len(edges) else None
        cands = [
            t
            for t in (t_dead, t_edge)
            if t is not None and ticks.diff(t, ticks.add(start, until)) <= 0
        ]
        if not cands:
            break
        now = min(cands, key=lambda t: ticks.diff(t, start))
        drain(now)
        if t_edge is not None and now == t_edge:
            btn.edge(now, edges[i][1])
            i += 1
            drain(now)
    else:
        raise AssertionError("deadline() keeps promising what poll() never gives")
    return out


def test_short_press_fires_when_the_double_window_closes():
    assert drive(b.Button(), [(1000, 1), (1100, 0)], 5000) == [(1450, "short")]


def test_without_double_press_a_short_fires_on_release():
    # the release is debounced too
    assert drive(b.Button(double=False), [(1000, 1), (1100, 0)], 5000) == [(1130, "short")]


def test_bounces_make_one_press_timed_from_the_last_bounce():
    edges = [
        (1000, 1),
        (1003, 0),
        (1006, 1),
        (1009, 0),
        (1012, 1),
        (1200, 0),
        (1204, 1),
        (1207, 0),
    ]
    assert drive(b.Button(), edges, 5000) == [(1207 + 350, "short")]


def test_a_glitch_shorter_than_debounce_is_nothing():
    assert drive(b.Button(), [(1000, 1), (1010, 0)], 5000) == []


def test_long_press_fires_while_held_and_release_adds_nothing():
    assert drive(b.Button(), [(1000, 1), (3000, 0)], 6000) == [(2000, "long")]


def test_double_press():
    edges = [(1000, 1), (1080, 0), (1300, 1), (1380, 0)]
    assert drive(b.Button(), edges, 5000) == [(1410, "double")]


def test_second_press_after_the_window_is_two_shorts():
    edges = [(1000, 1), (1080, 0), (1500, 1), (1580, 0)]
    assert drive(b.Button(), edges, 5000) == [(1430, "short"), (1930, "short")]


def test_short_then_long_is_a_long_only():
    edges = [(1000, 1), (1080, 0), (1300, 1), (3000, 0)]
    assert drive(b.Button(), edges, 5000) == [(2300, "long")]


def test_stuck_button_is_reported_once():
    assert drive(b.Button(), [(1000, 1)], 60000) == [(2000, "long"), (16000, "stuck")]


def test_edges_delivered_late_keep_their_own_times():
    btn = b.Button()
    btn.edge(1000, 1)
    assert btn.poll(1090) == b.NONE  # accepted: pressed since 1000
    btn.edge(1090, 0)  # a 90 ms tap, both edges seen in one late loop
    assert btn.poll(1090) == b.NONE
    assert btn.poll(1439) == b.NONE
    assert btn.poll(1440) == b.SHORT


def test_gestures_across_the_ticks_wrap():
    start = ticks.MASK - 500
    edges = [
        (ticks.add(start, 100), 1),
        (ticks.add(start, 180), 0),
        (ticks.add(start, 300), 1),
        (ticks.add(start, 2000), 0),
    ]
    assert drive(b.Button(), edges, 5000, start) == [(1300, "long")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=0, max_size=30))
def test_random_edges_never_make_more_gestures_than_presses(gaps):
    t = 0
    edges = []
    for i, g in enumerate(gaps):
        t += g
        edges.append((t, 1 - i % 2))
    out = drive(b.Button(), edges, t + 20000)
    presses = (len(edges) + 1) // 2
    clicks = sum(2 if g == "double" else 1 for _, g in out if g != "stuck")
    assert clicks <= presses
    assert all(0 <= at <= t + 20000 for at, _ in out)
