"""The benchmark's helpers (the figures themselves are printed by `facewave bench`, not tested)."""

import pytest

from facewave.bench import big_program
from facewave.firmware import boards, store
from facewave.firmware.verifier import verify


@pytest.mark.parametrize("size", [600, 6000, 32 * 1024, store.MAX_SIZE])
def test_big_program_is_exactly_the_size_asked_and_passes_the_verifier(size):
    data = big_program(size, name="big")
    info = verify(data, boards.profile(boards.load("pico")))
    assert len(data) == size and info.name == "big" and info.duration > 0
