"""Which haptic format a file is, found by its content (the extension only breaks a tie), and
its document parsed as the source tool parses it: JSON5, so that the trailing commas and
comments Core Haptics accepts in Apple's own AHAP files are read, not refused.

Each format's module has `read(doc, path, notes, repeat) -> [Event]` (events.py) and is listed
in FORMATS with the test that recognises its document and the extensions its files have; it
is imported when a document is found to be of its format.

JSON5 is parsed by `json5`, which is pure Python (about 150 KB a second here), so a document is
read first as strict JSON by the standard library, which is fast and reads the same values
from any strict JSON, and by json5 only when it is not; a file that is not strict JSON is
read by json5 only up to JSON5_MAX_BYTES, a strict one up to MAX_BYTES. What comes of it is
held to MAX_POINTS: a 100,000-event file is refused in one line, not read for minutes.
"""

import importlib
import json
import re

from .. import files
from ..errors import FacewaveError
from ..units import size
from .fields import refuse

MAX_BYTES = 4 << 20  # a haptic file is kilobytes; Apple's largest samples are under 100 KB
JSON5_MAX_BYTES = 256 << 10  # what json5 reads in about 2 s
MAX_DEPTH = 64  # nesting no haptic format comes near; deeper is refused before parsing
MAX_POINTS = 100_000  # envelope points of one import: a pattern holds 2048 steps


def _is_ahap(doc):
    return "Pattern" in doc


def _is_haptic(doc):
    return "signals" in doc


def _is_android(doc):
    return "timings" in doc or "primitives" in doc


FORMATS = (
    ("Apple AHAP", _is_ahap, (".ahap",), "ahap"),
    ("Meta Haptics Studio .haptic", _is_haptic, (".haptic",), "haptic"),
    ("Android VibrationEffect", _is_android, (".json",), "android"),
)


def read(path, notes, repeat=None):
    """(the format's name, its Events) of the haptic file at `path`; one FacewaveError line
    naming the file (and the place in it) for anything else."""
    doc = parse(path)
    found = [f for f in FORMATS if isinstance(doc, dict) and f[1](doc)]
    if len(found) > 1:
        found = [f for f in found if str(path).lower().endswith(f[2])] or found
    if not found:
        raise refuse(
            path,
            "",
            'JSON, but no haptic format facewave reads: AHAP has a "Pattern" list, a .haptic '
            'file "signals", an Android VibrationEffect "timings" or "primitives"',
        )
    if len(found) > 1:
        raise refuse(
            path, "", "could be %s: name it by its extension" % " or ".join(f[0] for f in found)
        )
    kind, _, _, module = found[0]
    events = importlib.import_module("." + module, __package__).read(doc, path, notes, repeat)
    points = sum(len(e.points) for e in events)
    if points > MAX_POINTS:
        raise refuse(
            path,
            "",
            "%d envelope points, more than the %d facewave imports" % (points, MAX_POINTS),
        )
    if not events:
        raise refuse(path, "", "nothing in it for a motor to play")
    return kind, events


def parse(path):
    """The JSON5 document of `path`."""
    raw = files.read(path, MAX_BYTES, "a haptic pattern")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FacewaveError("%s: not text (byte %d is not UTF-8)" % (path, e.start)) from None
    if not text.strip():
        raise FacewaveError("%s: empty: not a haptic file" % path)
    line = _too_deep(text)
    if line:
        raise FacewaveError(
            "%s:%d: nested more than %d deep: no haptic format is" % (path, line, MAX_DEPTH)
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        strict = "%s:%d:%d: not JSON: %s" % (path, e.lineno, e.colno, e.msg)
    except ValueError as e:  # an integer of more digits than Python converts
        strict = "%s: not JSON: %s" % (path, e)
    if len(raw) > JSON5_MAX_BYTES:
        raise FacewaveError(
            "%s (JSON5's comments and trailing commas are read up to %s)"
            % (strict, size(JSON5_MAX_BYTES))
        )
    import json5

    try:
        return json5.loads(text)
    except ValueError as e:
        why = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(e))
        found = re.fullmatch(r"<string>:(\d+) (.*) at column (\d+)", why)
        if not found:
            raise FacewaveError("%s: not JSON: %s" % (path, why)) from None
        line, why, col = found.groups()
        raise FacewaveError("%s:%s:%s: not JSON: %s" % (path, line, col, why)) from None


_SPECIAL = re.compile(r"""[\[\]{}"'/]""")
_STRING_END = {q: re.compile(r"[^%s\\]*(?:\\.[^%s\\]*)*%s" % (q, q, q), re.S) for q in "\"'"}


def _too_deep(text):
    """The line where brackets outside strings and comments first nest past MAX_DEPTH (0:
    they do not), so that the parsers, which recurse, never meet such a document."""
    depth, at = 0, 0
    while True:
        found = _SPECIAL.search(text, at)
        if not found:
            return 0
        ch, at = found.group(), found.end()
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, at) + 1
        elif ch in "]}":
            depth -= 1
        elif ch == "/":
            if text.startswith("/", at):  # a comment to the line's end
                end = text.find("\n", at)
            elif text.startswith("*", at):  # a comment to */
                end = text.find("*/", at + 1)
                end = end + 2 if end >= 0 else -1
            else:
                continue
            if end < 0:
                return 0
            at = end
        else:  # a string, to its closing quote past escapes
            end = _STRING_END[ch].match(text, at)
            if not end:
                return 0
            at = end.end()
