"""A board profile: the pins and, above all, the safety caps of one kind of device.

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

    def __init__(self, data=None):
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

    def caps(self):
        """The caps as a dict, for the host handshake and for reports."""
        return {key: getattr(self, key) for key in _CAPS}
