"""The session timer: end and cue times exact to the millisecond, pauses shift the plan."""

from facewave.firmware import log, ticks
from facewave.firmware.session import CUE_ON_MS, END, RUN, Session


def cue_times(events, start):
    return [ticks.diff(t, start) for _, t, kind, _ in events.entries() if kind == "cue"]


def follow(s, start, until, late=0):
    """Call tick at each deadline (late ms late); answer the END tick relative to start."""
    t = start
    while True:
        r = s.tick(t)
        if r == END:
            return ticks.diff(t, start)
        if ticks.diff(t, start) > until:
            return None
        t = ticks.add(s.next, late)


def test_cues_every_interval_and_the_end_exactly():
    events = log.Log()
    s = Session(600, events)
    s.start(1000, 180000, 30000)
    assert follow(s, 1000, 200000) == 180000
    assert cue_times(events, 1000) == [30000, 60000, 90000, 120000, 150000]
    assert s.cues == 5


def test_cue_pulses_override_the_pattern():
    s = Session(600)
    s.start(0, 60000, 30000)
    s.tick(29999)
    assert s.override == -1 and s.next == 30000
    s.tick(30000)
    assert s.override == 600 and s.next == 30000 + CUE_ON_MS
    s.tick(30150)
    assert s.override == 0
    s.tick(30250)
    assert s.override == 600
    s.tick(30500)
    assert s.override == -1 and s.next == 60000


def test_pause_shifts_end_and_cues():
    events = log.Log()
    s = Session(600, events)
    s.start(0, 90000, 30000)
    assert s.tick(20000) == RUN
    s.pause(20000)
    assert s.tick(50000) == RUN and s.next == -1
    assert s.resume(27000) == 7000
    assert s.elapsed(27000) == 20000
    assert follow(s, 27000, 100000) == 90000 + 7000 - 27000
    assert cue_times(events, 0) == [37000, 67000]


def test_a_stall_over_a_whole_cue_still_counts_and_logs_it():
    events = log.Log()
    s = Session(600, events)
    s.start(0, 180000, 30000)
    s.tick(95000)  # asleep through the cues at 30, 60 and 90 s
    assert cue_times(events, 0) == [30000, 60000, 90000]
    assert s.next == 120000


def test_shorten_for_low_battery():
    s = Session(600)
    s.start(0, 180000, 30000)
    s.shorten(10000, 60000)
    assert s.end == 70000 and s.length == 70000
    s.shorten(20000, 60000)  # never lengthens
    assert s.end == 70000


def test_across_the_ticks_wrap():
    events = log.Log()
    start = ticks.MASK - 45000
    s = Session(600, events)
    s.start(start, 120000, 30000)
    assert follow(s, start, 130000, late=7) == 120000 + 7
    assert cue_times(events, start) == [30000, 60000, 90000]


def test_no_cue_at_or_after_the_end():
    events = log.Log()
    s = Session(600, events)
    s.start(0, 60000, 30000)
    assert follow(s, 0, 70000) == 60000
    assert cue_times(events, 0) == [30000]
