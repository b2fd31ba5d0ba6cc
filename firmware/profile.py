"""A board profile: the pins and, above all, the safety caps of one kind of device.

Profile(data) reads the caps only (the host judges patterns with them); Profile(data, board=True)
also checks and sets the board fields (pins, motor, button, LED, battery, session timings) as
attributes named section_key, e.g. prof.motor_pin, prof.button_long_ms.

Caps live here and nowhere else: the verifier and the motor read them from the profile, and no
uploaded pattern can change them. Levels are permille of full motor drive (0..1000).
"""

# name: (default, lowest allowed, highest allowed); None bounds mean "no numeric range"
_CAPS = {
    "max_level": (850, 1, 1000),  # highest level a pattern may ask for
    "max_step": (850, 1, 1000),  # largest instantaneous level change (an edge)
    "slew": (10000, 1, 1000000),  # fastest continuous change, permille per second
    "max_on_ms": (600000, 1000, 3600000),  # longest run with the motor never at 0
    "session_max_ms": (1200000, 10000, 3600000),  # hard cap on one session / one program
    "thermal": (540000000, 1, 3600000000),  # level x ms budget of one program (~45% for 20 min)
    "step_ms": (10, 1, 1000),  # update period of ramps and waves
}


class ProfileError(ValueError):
    pass


class Profile:
    """Caps and board data, validated once; attributes are plain ints for the tick path."""

    def __init__(self, data=None, board=False):
        data = data or {}
        for key, spec in _CAPS.items():
            value = data.get(key, spec[0])
            if not isinstance(value, int) or isinstance(value, bool):
                raise ProfileError("profile field %s must be an integer, got %r" % (key, value))
            if value < spec[1] or value > spec[2]:
                raise ProfileError(
                    "profile field %s=%d is outside %d..%d" % (key, value, spec[1], spec[2])
                )
            setattr(self, key, value)
        self.name = data.get("name", "generic")
        self.data = data
        if board:
            _check_board(self, data)

    def caps(self):
        """The caps as a dict, for the host handshake and for reports."""
        return {key: getattr(self, key) for key in _CAPS}


_INTENSITY = (400, 550, 700, 850, 1000)  # permille of the pattern at steps 1..5


def _field(data, path):
    """The value at "section.key", or None when absent."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _check_board(prof, data):
    """Check the board fields and set them as attributes. The table is built here, not at
    import: it is needed once, at boot, and so holds no RAM afterwards."""
    actions = ("next", "power", "intensity", "pause", "none")  # what a button gesture may do
    # Board fields, required of a profile that drives real hardware: Profile(data, board=True).
    # "section.key": (lowest, highest, default) for integers, default None meaning required;
    # (choices, None, default) for words. Pin -1 means "not fitted". The attribute is section_key.
    board = {
        "pwm_freq": (100, 40000, None),  # motor PWM frequency, Hz
        "motor.pin": (0, 63, None),
        "motor.kind": (("erm",), None, "erm"),  # LRA needs a driver chip: not yet
        "motor.soft_ms": (0, 2000, 200),  # soft start: 0 -> full over this long
        "motor.kick_ms": (0, 100, 0),  # kick to overcome stiction when starting from rest
        "motor.kick_level": (0, 1000, 0),
        "motor.fade_ms": (0, 5000, 500),  # ramp to zero before the planned end of a session
        "motor.rest_ms": (1000, 600000, 10000),  # forced rest after max_on_ms or a hot motor
        "button.pin": (0, 63, None),
        "button.active": (0, 1, 0),  # level read while pressed
        "button.pull": (("up", "down", "none"), None, "up"),
        "button.debounce_ms": (1, 200, 30),
        "button.long_ms": (300, 5000, 1000),
        "button.double_ms": (100, 1000, 350),
        "button.stuck_ms": (2000, 120000, 15000),
        "button.short": (actions, None, "next"),
        "button.long": (actions, None, "power"),
        "button.double": (actions, None, "intensity"),
        "led.kind": (("plain", "neopixel", "none"), None, None),
        "led.pin": (-1, 63, -1),
        "led.active": (0, 1, 1),
        "battery.pin": (-1, 63, -1),  # ADC pin of the battery divider; -1: no sensing
        "battery.vref_mv": (1000, 5000, 3300),  # ADC full scale
        "battery.ratio": (1000, 10000, 2000),  # divider, permille: battery mV per 1000 mV at pin
        "battery.atten": (-1, 3, -1),  # ADC attenuation constant index (ESP32), -1: default
        "battery.low_mv": (2500, 4500, 3500),  # warn, shorten sessions
        "battery.cutoff_mv": (2500, 4500, 3300),  # no motor below this
        "battery.period_ms": (200, 600000, 5000),
        "charger.pin": (-1, 63, -1),  # charger status pin; -1: cannot sense charging
        "charger.active": (0, 1, 0),
        "charger.pull": (("up", "down", "none"), None, "up"),
        "session.default_ms": (10000, 3600000, 180000),
        "session.cue_ms": (0, 600000, 30000),  # zone cue interval; 0: none
        "session.idle_off_ms": (10000, 86400000, 600000),
        "session.pause_off_ms": (5000, 3600000, 60000),
        "wdt_ms": (1000, 8000, 5000),
        "timer": (-1, 3, -1),  # machine.Timer id feeding the watchdog while at the REPL
    }
    name = prof.name
    for path, (lo, hi, default) in board.items():
        value = _field(data, path)
        if value is None:
            if default is None:
                raise ProfileError("board profile %s: field %s is missing" % (name, path))
            value = default
        elif hi is None:
            if value not in lo:
                raise ProfileError("board profile %s: field %s=%r is not one of %s"
                                   % (name, path, value, "/".join(lo)))
        elif not isinstance(value, int) or isinstance(value, bool):
            raise ProfileError("board profile %s: field %s must be an integer, got %r"
                               % (name, path, value))
        elif value < lo or value > hi:
            raise ProfileError("board profile %s: field %s=%d is outside %d..%d"
                               % (name, path, value, lo, hi))
        setattr(prof, path.replace(".", "_"), value)
    steps = data.get("intensity", _INTENSITY)
    if (not isinstance(steps, (tuple, list)) or len(steps) != 5
            or any(not isinstance(s, int) or s < 1 or s > 1000 for s in steps)
            or any(steps[i] > steps[i + 1] for i in range(4))):
        raise ProfileError("board profile %s: field intensity must be 5 rising permille"
                           " values 1..1000" % name)
    prof.intensity = tuple(steps)
    _relate(prof, name)


def _relate(p, name):
    """Checks between fields: each alone was in range."""
    if p.led_kind != "none" and p.led_pin < 0:
        raise ProfileError("board profile %s: field led.pin is missing" % name)
    if p.battery_cutoff_mv >= p.battery_low_mv:
        raise ProfileError("board profile %s: battery.cutoff_mv must be below battery.low_mv"
                           % name)
    if p.motor_kick_level > p.max_level or p.motor_kick_level > p.max_step:
        raise ProfileError("board profile %s: motor.kick_level is above max_level or max_step"
                           % name)
    if p.session_default_ms > p.session_max_ms:
        raise ProfileError("board profile %s: session.default_ms is above session_max_ms"
                           % name)
    pins = [p.motor_pin, p.button_pin, p.led_pin, p.battery_pin, p.charger_pin]
    for i in range(5):
        if pins[i] >= 0 and pins[i] in pins[i + 1:]:
            raise ProfileError("board profile %s: pin %d is used twice" % (name, pins[i]))
