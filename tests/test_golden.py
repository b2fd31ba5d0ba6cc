"""Golden traces of the built-in routines: what each pattern asks of the motor (the engine
alone), to the millisecond, with its zones and cues. What the device makes of it, through the
whole virtual board, is in golden/board/ (tests/test_sim.py).

A change to the engine, the compiler or a routine that moves any level or event fails here.
If the change is intended, regenerate with FACEWAVE_UPDATE_GOLDEN=1 and review the diff.
"""

import os
from pathlib import Path

import pytest

from facewave.firmware import ticks
from facewave.firmware.profile import Profile
from facewave.lang import compile_file
from facewave.library import builtin_names, builtin_path
from facewave.playback import pattern

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_routine_matches_golden_trace(name):
    text = golden(pattern(compile_file(builtin_path(name)), Profile()))
    path = GOLDEN / (name + ".csv")
    if os.environ.get("FACEWAVE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("name", builtin_names())
def test_trace_is_the_same_across_the_ticks_wrap(name):
    """Started 1 minute before ticks_ms wraps (12.4 days of uptime), nothing changes."""
    prog = compile_file(builtin_path(name))
    wrapped = pattern(prog, Profile(), start=ticks.MASK - 60000)
    assert golden(wrapped) == golden(pattern(prog, Profile()))


def golden(trace):
    """`ms,level,event`: each change of level, the end, and the zone starts and cues before
    the level of their millisecond."""
    rows = [(t, "%d" % lv, "") for t, lv in trace.changes() + [(trace.duration, 0)]]
    rows += [(t, "", "zone " + name) for t, name in trace.zones]
    rows += [(t, "", "cue") for t in trace.cues]
    rows.sort(key=lambda r: (r[0], r[1] != ""))
    return "ms,level,event\n" + "".join("%d,%s,%s\n" % row for row in rows)


def test_every_builtin_has_a_golden_trace():
    assert sorted(p.stem for p in GOLDEN.glob("*.csv")) == builtin_names()
