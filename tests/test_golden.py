"""Golden traces of the built-in routines: what the motor does, to the millisecond.

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
from facewave.playback import play

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_routine_matches_golden_trace(name):
    trace = play(compile_file(builtin_path(name)), Profile())
    path = GOLDEN / (name + ".csv")
    if os.environ.get("FACEWAVE_UPDATE_GOLDEN"):
        path.write_text(trace.csv())
    assert trace.csv() == path.read_text()


@pytest.mark.parametrize("name", builtin_names())
def test_trace_is_the_same_across_the_ticks_wrap(name):
    """Started 1 minute before ticks_ms wraps (12.4 days of uptime), nothing changes."""
    prog = compile_file(builtin_path(name))
    assert play(prog, Profile(), start=ticks.MASK - 60000).csv() == play(prog, Profile()).csv()


def test_every_builtin_has_a_golden_trace():
    assert sorted(p.stem for p in GOLDEN.glob("*.csv")) == builtin_names()
