"""Durations and sizes as facewave writes them for people, and numbers as it reads them from
people: one spelling and one reading in every command."""

import re


def duration(ms):
    """2 h 5 min, 3 min 5 s, 45 s, 1.5 s, 0.25 s: whole seconds from 10 s on, two digits
    below."""
    if ms < 10000 and ms % 1000:
        return "%.2g s" % (ms / 1000)
    s = (ms + 500) // 1000
    if s >= 3600:
        return "%d h %d min" % (s // 3600, s % 3600 // 60) if s % 3600 else "%d h" % (s // 3600)
    if s >= 60:
        return "%d min %d s" % (s // 60, s % 60) if s % 60 else "%d min" % (s // 60)
    return "%d s" % s


def plural(n, noun):
    """1 element, 3 elements: a count with its noun agreed."""
    return "%d %s%s" % (n, noun, "" if n == 1 else "s")


def size(n):
    """512 B, 47.1 KB, 1.5 MB."""
    if n < 1024:
        return "%d B" % n
    if n < 1024 * 1024:
        return "%.1f KB" % (n / 1024)
    if n < 1024**3:
        return "%.1f MB" % (n / 1024**2)
    return "%.1f GB" % (n / 1024**3)


# -- numbers people write: one reading, one way of saying the limits ---------------------------
# ASCII digits only, at most one decimal point: Python's int() and float() also take
# Arabic-Indic and full-width digits, nan, inf, 1e308, 1_000 and spaces, none of which a person
# means as a setting (and int("²") raises, where str.isdigit() said yes).
_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?\Z")


class NumberError(ValueError):
    """A number outside its limits, or no number: args[0] is the one line that says them."""


def number(text, low, high, what="a number"):
    """`text` read as a number from `low` to `high` (whole unless `low` or `high` is a float),
    or NumberError that names the limits: `expected a whole number 1..65535, got '0'`."""
    whole = isinstance(low, int) and isinstance(high, int)
    m = _NUMBER.match(text)
    if m and not (whole and m.group(2)):
        digits = m.group(1).lstrip("0")
        if len(digits) <= len(str(int(high))):  # never int() of a thousand digits
            value = int(m.group(1)) if whole else float(text)
            if low <= value <= high:
                return value
    kind = "a whole number" if whole else what
    raise NumberError("expected %s %s..%s, got %r" % (kind, _plain(low), _plain(high), text))


def _plain(n):
    return "%d" % n if n == int(n) else "%g" % n


def option(low, high, what="a number"):
    """number() as an argparse `type`: a value outside its limits is a usage error (exit 2)
    that says them."""
    import argparse

    def parse(text):
        try:
            return number(text, low, high, what)
        except NumberError as e:
            raise argparse.ArgumentTypeError(e.args[0]) from None

    return parse
