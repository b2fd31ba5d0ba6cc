"""A parsed haptic document's values, each checked where it is read and refused in one line
that names the file and the place in it (`wave.haptic: signals.continuous.envelopes.
amplitude[3].time: ...`): JSON holds anything anywhere, and a reader trusts nothing it has
not checked."""

import json
import math

from ..errors import FacewaveError
from ..lang.lexer import MAX_MS

MAX_ITEMS = 50_000  # entries in one list: a two-minute Haptics Studio clip has about 10,000


def refuse(path, where, why):
    """The one line for what is wrong at `where` in the file `path`."""
    return FacewaveError("%s: %s: %s" % (path, where, why) if where else "%s: %s" % (path, why))


def describe(value):
    """A JSON value in a few words, for a message."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return json.dumps(value) if len(value) <= 20 else "a string"
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and not -(10**15) < value < 10**15:
        return "a %d-digit number" % len(str(abs(value)))
    if isinstance(value, int):
        return "%d" % value
    return repr(value) if len(repr(value)) <= 20 else "%.6g" % value  # 1e+308, nan, 0.1


def obj(value, path, where):
    """`value` as a JSON object."""
    if not isinstance(value, dict):
        raise refuse(path, where, "%s, not an object" % describe(value))
    return value


def items(value, path, where):
    """`value` as a JSON list of at most MAX_ITEMS entries."""
    if not isinstance(value, list):
        raise refuse(path, where, "%s, not a list" % describe(value))
    if len(value) > MAX_ITEMS:
        raise refuse(
            path, where, "%d entries, more than the %d facewave imports" % (len(value), MAX_ITEMS)
        )
    return value


def number(value, path, where, low, high, what="a number"):
    """`value` as a finite number from `low` to `high` (JSON's true is not one; NaN and
    Infinity, which JSON5 reads, are refused here)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise refuse(
            path, where, "%s is not %s from %.10g to %.10g" % (describe(value), what, low, high)
        )
    return value


def whole(value, path, where, low, high, what="a whole number"):
    """`value` as an int from `low` to `high` (1.0 is one; 1.5 is not)."""
    number(value, path, where, low, high, what)
    if value != int(value):
        raise refuse(
            path, where, "%s is not %s from %.10g to %.10g" % (describe(value), what, low, high)
        )
    return int(value)


def seconds(value, path, where):
    """A time in seconds from the file's start, as milliseconds."""
    return number(value, path, where, 0, MAX_MS / 1000, "a time in seconds") * 1000
