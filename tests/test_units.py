"""Durations and sizes are spelled one way in every command."""

import pytest

from facewave.units import duration, size


@pytest.mark.parametrize(
    "ms, text",
    [
        (0, "0 s"),
        (40, "0.04 s"),
        (250, "0.25 s"),
        (1500, "1.5 s"),
        (4000, "4 s"),
        (45000, "45 s"),
        (90000, "1 min 30 s"),
        (180000, "3 min"),
        (185400, "3 min 5 s"),
        (3600000, "1 h"),
        (7500000, "2 h 5 min"),
    ],
)
def test_durations_read_as_people_say_them(ms, text):
    assert duration(ms) == text


@pytest.mark.parametrize(
    "n, text",
    [
        (512, "512 B"),
        (48230, "47.1 KB"),
        (3 * 1024 * 1024 // 2, "1.5 MB"),
    ],
)
def test_sizes_read_as_people_say_them(n, text):
    assert size(n) == text
