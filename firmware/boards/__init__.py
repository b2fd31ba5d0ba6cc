"""Board profiles: one data module per board, each defining PROFILE, and the check of a
board's fields (pins, motor, button, LED, battery, session timings) on top of the caps that
profile.py checks.

Adding a board is adding a file here; nothing else names the boards: names() lists them, load()
is the one check of a name, for the device, the simulator and the host. `chosen()` names the
board in the file /board on the device (one word, written by `facewave flash --board`), else the
default for the port MicroPython runs on. A device needs this package at boot only: board.start()
drops it once the profile is built.
"""

import sys

from ..profile import Profile, ProfileError, check

# Board fields, required of a profile that drives real hardware, written as profile._CAPS is.
# Names are "section.key"; the attribute is section_key. Pin -1 means "not fitted". What a
# button gesture may do: next/power/intensity/pause/none.
_BOARD = (
    "pwm_freq 100 40000 -\n"  # motor PWM frequency, Hz
    "motor.pin 0 63 -\n"
    "motor.kind erm erm\n"  # LRA needs a driver chip: not yet
    "motor.soft_ms 0 2000 200\n"  # soft start: 0 -> full over this long
    "motor.kick_ms 0 100 0\n"  # kick to overcome stiction when starting from rest
    "motor.kick_level 0 1000 0\n"
    "motor.start_level 0 1000 0\n"  # lowest level that starts it from rest; 0: not known
    "motor.fade_ms 0 5000 500\n"  # ramp to zero before the planned end of a session
    "motor.rest_ms 1000 600000 10000\n"  # forced rest after max_on_ms or a hot motor
    "button.pin 0 63 -\n"
    "button.active 0 1 0\n"  # level read while pressed
    "button.pull up/down/none up\n"
    "button.debounce_ms 1 200 30\n"
    "button.long_ms 300 5000 1000\n"
    "button.double_ms 100 1000 350\n"
    "button.stuck_ms 2000 120000 15000\n"
    "button.short next/power/intensity/pause/none next\n"
    "button.long next/power/intensity/pause/none power\n"
    "button.double next/power/intensity/pause/none intensity\n"
    "led.kind plain/neopixel/none -\n"
    "led.pin -1 63 -1\n"
    "led.active 0 1 1\n"
    "battery.pin -1 63 -1\n"  # ADC pin of the battery divider; -1: no sensing
    "battery.vref_mv 1000 5000 3300\n"  # ADC full scale
    "battery.ratio 1000 10000 2000\n"  # divider, permille: battery mV per 1000 mV at pin
    "battery.atten -1 3 -1\n"  # ADC attenuation constant index (ESP32), -1: default
    "battery.low_mv 2500 4500 3500\n"  # warn, shorten sessions
    "battery.cutoff_mv 2500 4500 3300\n"  # no motor below this
    "battery.period_ms 200 600000 5000\n"
    "charger.pin -1 63 -1\n"  # charger status pin; -1: cannot sense charging
    "charger.active 0 1 0\n"
    "charger.pull up/down/none up\n"
    "session.default_ms 10000 3600000 180000\n"
    "session.cue_ms 0 600000 30000\n"  # zone cue interval; 0: none
    "session.idle_off_ms 10000 86400000 600000\n"
    "session.pause_off_ms 5000 3600000 60000\n"
    "wdt_ms 1000 8000 5000\n"
    # Back at the REPL (mpremote, a soft reset) the loop no longer feeds the watchdog. Where the
    # chip can stop it, writing wdt_bits to register wdt_off does (0: it cannot); else the
    # machine.Timer `timer` feeds it, which lasts only until the next soft reset on rp2. While
    # the loop runs, `timer` is the guard's (shell.py: the motor to 0 if the loop hangs).
    "wdt_off 0 4294967295 0\n"
    "wdt_bits 0 4294967295 0\n"
    "timer -1 3 -1"
)

_INTENSITY = (400, 550, 700, 850, 1000)  # permille of the pattern at steps 1..5

_DEFAULT = {"rp2": "pico", "esp32": "esp32c3"}  # sys.platform -> board


def chosen(path="/board"):
    """The board name this device should use."""
    try:
        with open(path) as f:
            name = f.read().strip()
        if name:
            return name
    except OSError:
        pass
    return _DEFAULT.get(sys.platform, "pico")


class UnknownBoard(ImportError):
    """There is no board profile of that name; the message names the boards there are."""


def names():
    """The boards there is a profile for: the modules of this package, sorted."""
    import os

    cut = max(__file__.rfind("/"), __file__.rfind("\\"))
    found = set()
    for entry in os.listdir(__file__[:cut] if cut >= 0 else "."):
        if entry.endswith(".py") or entry.endswith(".mpy"):
            found.add(entry[: entry.rfind(".")])
    found.discard("__init__")
    return sorted(found)


def load(name):
    """The PROFILE dict of board `name`; UnknownBoard (an ImportError) if there is none."""
    for c in name or "-":
        if not (c.isalpha() or c.isdigit() or c == "_"):
            raise _unknown(name)
    full = __name__ + "." + name
    try:
        __import__(full)
        return sys.modules[full].PROFILE
    except (ImportError, AttributeError):  # no such module, or one that is no board (__init__)
        raise _unknown(name)


def _unknown(name):
    return UnknownBoard("unknown board %r: choose one of %s" % (name, ", ".join(names())))


def profile(data):
    """A board's Profile from its PROFILE dict: the caps, then the board fields as attributes
    named section_key (prof.motor_pin, prof.button_long_ms...); ProfileError if one is wrong."""
    prof = Profile(data)
    check(prof, data, _BOARD, "board profile %s:" % prof.name)
    _check_board(prof, data)
    return prof


def default(path):
    """The default of board field `path` ("session.default_ms"): what a board that does not
    set it gets, for a host that judges a pattern without naming a board."""
    for line in _BOARD.split("\n"):
        spec = line.split()
        if spec[0] == path:
            return spec[-1] if len(spec) == 3 else int(spec[-1])
    raise KeyError(path)


def _check_board(p, data):
    """The board fields that are more than one number in a range, and checks between fields:
    each alone was in range."""
    name = p.name
    steps = data.get("intensity", _INTENSITY)
    if (
        not isinstance(steps, (tuple, list))
        or len(steps) != 5
        or any(not isinstance(s, int) or s < 1 or s > 1000 for s in steps)
        or any(steps[i] > steps[i + 1] for i in range(4))
    ):
        raise ProfileError(
            "board profile %s: field intensity must be 5 rising permille values 1..1000" % name
        )
    p.intensity = tuple(steps)
    if p.led_kind != "none" and p.led_pin < 0:
        raise ProfileError("board profile %s: field led.pin is missing" % name)
    if p.battery_cutoff_mv >= p.battery_low_mv:
        raise ProfileError(
            "board profile %s: battery.cutoff_mv must be below battery.low_mv" % name
        )
    if p.motor_kick_level > p.max_level or p.motor_kick_level > p.max_step:
        raise ProfileError(
            "board profile %s: motor.kick_level is above max_level or max_step" % name
        )
    if p.session_default_ms > p.session_max_ms:
        raise ProfileError("board profile %s: session.default_ms is above session_max_ms" % name)
    pins = [p.motor_pin, p.button_pin, p.led_pin, p.battery_pin, p.charger_pin]
    for i in range(5):
        if pins[i] >= 0 and pins[i] in pins[i + 1 :]:
            raise ProfileError("board profile %s: pin %d is used twice" % (name, pins[i]))
