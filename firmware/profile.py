"""A profile: above all, the safety caps of one kind of device.

Profile(data) reads the caps (the host judges patterns with them); boards.profile(data) also
checks and sets a board's fields (pins, motor, button, LED...), see boards/__init__.py.

Caps live here and nowhere else: the verifier and the motor read them from the profile, and no
uploaded pattern can change them. Levels are permille of full motor drive (0..1000).
"""

# The fields, one a line: "name lowest highest default" for integers, "name word/word default"
# for words; default "-" means required. One text, not a table of tuples and strings: about
# 1.7 KB less RAM on the device, and one checker (check) for caps and board fields.
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


class ProfileError(ValueError):
    pass


class Profile:
    """Caps and board data, validated once; attributes are plain ints for the tick path."""

    # check() sets the fields; declared here for the type checkers (an annotation alone makes
    # no attribute and no code on MicroPython). The caps (_CAPS):
    max_level: int
    max_step: int
    slew: int
    max_on_ms: int
    session_max_ms: int
    thermal: int
    step_ms: int
    # and those of a board's fields (boards._BOARD, set by boards.profile()) that the host and
    # the simulator read
    button_pin: int
    button_active: int
    battery_pin: int
    battery_ratio: int
    charger_pin: int
    charger_active: int
    session_default_ms: int
    session_cue_ms: int

    def __init__(self, data=None):
        data = data or {}
        self.name = data.get("name", "generic")
        check(self, data, _CAPS, "profile")

    def caps(self):
        """The caps as a dict, for the host handshake and for reports."""
        keys = [line.split()[0] for line in _CAPS.split("\n")]
        return {key: getattr(self, key) for key in keys}


def _field(data, path):
    """The value at "section.key", or None when absent."""
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def check(prof, data, fields, what):
    """Check the fields of a spec (_CAPS, a board's) and set them as attributes: "a.b" as a_b."""
    for line in fields.split("\n"):
        spec = line.split()
        path = spec[0]
        value = _field(data, path)
        if value is None and (fields is not _CAPS or path not in data):  # a cap of None is bad
            if spec[-1] == "-":
                raise ProfileError("%s field %s is missing" % (what, path))
            value = spec[-1] if len(spec) == 3 else int(spec[-1])
        elif len(spec) == 3:
            if value not in spec[1].split("/"):
                raise ProfileError(
                    "%s field %s=%r is not one of %s" % (what, path, value, spec[1])
                )
        elif not isinstance(value, int) or isinstance(value, bool):
            raise ProfileError("%s field %s must be an integer, got %r" % (what, path, value))
        elif value < int(spec[1]) or value > int(spec[2]):
            raise ProfileError(
                "%s field %s=%d is outside %s..%s" % (what, path, value, spec[1], spec[2])
            )
        setattr(prof, path.replace(".", "_"), value)
