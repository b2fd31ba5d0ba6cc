import pytest

from facewave.firmware.profile import Profile


@pytest.fixture
def profile():
    return Profile()
