"""A board profile: the pins and, above all, the safety caps of one kind of device.

Profile(data) reads the caps only (the host judges patterns with them); Profile(data, board=True)
also checks and sets the board fields (pins, motor, button, LED, battery, session timings) as
attributes named section_key, e.g. prof.motor_pin, prof.button_long_ms.

Caps live here and nowhere else: the verifier and the motor read them from the profile, and no
uploaded pattern can change them. Levels are permille of full motor drive (0..1000).
"""

# The fields, one a line: "name lowest highest default" for integers, "name word/word default"
# for words; default "-" means required. One text, not a table of tuples and strings: about
# 1.7 KB less RAM on the device, and one checker for caps and board fields.
# Caps: what a pattern may ask of the motor.
_CAPS = (
    "max_level 1 1000 850\n"  # highest level a pattern may ask for
    "max_step 1 1000 850\n"  # largest instantaneous level change (an edge)
    "slew 1 1000000 10000\n"  # fastest continuous change, permille per second
    "max_on_ms 1000 3600000 600000\n"  # longest run with the motor never at 0
    "session_max_ms 10000 3600000 1200000\n"  # hard cap on one session / one program
    "thermal 1 3600000000 540000000\n"  # level x ms budget of one program (~45% for 20 min)
    "step_ms 1 1000 10"  # update period of ramps and waves
)
# Board fields, required of a profile that drives real hardware: Profile(data, board=True).
# Names are "section.key"; the attribute is section_key. Pin -1 means "not fitted". What a
# button gesture may do: next/power/intensity/pause/none.
_BOARD = (
    "pwm_freq 100 40000 -\n"  # motor PWM frequency, Hz
    "motor.pin 0 63 -\n"
    "motor.kind erm erm\n"  # LRA needs a driver chip: not yet
    "motor.soft_ms 0 2000 200\n"  # soft start: 0 -> full over this long
    "motor.kick_ms 0 100 0\n"  # kick to overcome stiction when starting from rest
    "motor.kick_level 0 1000 0\n"
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
    "timer -1 3 -1"  # machine.Timer id feeding the watchdog while at the REPL
)


class ProfileError(ValueError):
    pass


class Profile:
    """Caps and board data, validated once; attributes are plain ints for the tick path."""

    def __init__(self, data=None, board=False):
        data = data or {}
        self.name = data.get("name", "generic")
        self.data = data
        _check(self, data, _CAPS, "profile")
        if board:
            _check(self, data, _BOARD, "board profile %s:" % self.name)
            _check_board(self, data)

    def caps(self):
        """The caps as a dict, for the host handshake and for reports."""
        keys = [line.split()[0] for line in _CAPS.split("\n")]
        return {key: getattr(self, key) for key in keys}


_INTENSITY = (400, 550, 700, 850, 1000)  # permille of the pattern at steps 1..5


def _field(data, path):
    """The value at "section.key", or None when absent."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _check(prof, data, fields, what):
    """Check the fields of a spec (_CAPS, _BOARD) and set them as attributes."""
    for line in fields.split("\n"):
        spec = line.split()
        path = spec[0]
        value = _field(data, path)
        if value is None and (fields is _BOARD or path not in data):  # a cap of None is bad
            if spec[-1] == "-":
                raise ProfileError("%s field %s is missing" % (what, path))
            value = spec[-1] if len(spec) == 3 else int(spec[-1])
        elif len(spec) == 3:
            if value not in spec[1].split("/"):
                raise ProfileError("%s field %s=%r is not one of %s"
                                   % (what, path, value, spec[1]))
        elif not isinstance(value, int) or isinstance(value, bool):
            raise ProfileError("%s field %s must be an integer, got %r" % (what, path, value))
        elif value < int(spec[1]) or value > int(spec[2]):
            raise ProfileError("%s field %s=%d is outside %s..%s"
                               % (what, path, value, spec[1], spec[2]))
        setattr(prof, path.replace(".", "_"), value)


def _check_board(p, data):
    """The board fields that are more than one number in a range, and checks between fields:
    each alone was in range."""
    name = p.name
    steps = data.get("intensity", _INTENSITY)
    if (not isinstance(steps, (tuple, list)) or len(steps) != 5
            or any(not isinstance(s, int) or s < 1 or s > 1000 for s in steps)
            or any(steps[i] > steps[i + 1] for i in range(4))):
        raise ProfileError("board profile %s: field intensity must be 5 rising permille"
                           " values 1..1000" % name)
    p.intensity = tuple(steps)
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
