"""Which haptic format a file is, found by its content (the extension only breaks a tie), and
its document parsed as the source tool parses it: JSON5, so that the trailing commas and
comments Core Haptics accepts in Apple's own AHAP files are read, not refused.

Each format's module has `read(doc, path, notes, repeat) -> [Event]` (events.py) and is listed
in FORMATS with the test that recognises its document.
"""

from .. import files
from ..errors import FacewaveError

MAX_BYTES = 4 << 20  # a haptic file is kilobytes; Apple's largest samples are under 100 KB
MAX_DEPTH = 64  # nesting no haptic format comes near; deeper is refused before parsing


def _is_ahap(doc):
    return isinstance(doc, dict) and "Pattern" in doc


def _is_haptic(doc):
    return isinstance(doc, dict) and "signals" in doc


def _is_android(doc):
    return isinstance(doc, dict) and ("timings" in doc or "primitives" in doc)


FORMATS = [  # (name, its test, its module): a module is imported when its format is found
    ("Apple AHAP", _is_ahap, "ahap"),
    ("Meta Haptics Studio .haptic", _is_haptic, "haptic"),
    ("Android VibrationEffect", _is_android, "android"),
]


def read(path, notes, repeat=None):
    """(the format's name, its Events) of the haptic file at `path`; one FacewaveError line
    naming the file (and the place in it) for anything else."""
    doc = parse(path)
    from importlib import import_module

    for kind, recognise, module in FORMATS:
        if recognise(doc):
            return kind, import_module("." + module, __package__).read(doc, path, notes, repeat)
    raise FacewaveError(
        '%s: JSON, but no haptic format facewave reads: AHAP has a "Pattern" list, a .haptic '
        'file "signals", an Android VibrationEffect "timings" or "primitives"' % path
    )


def parse(path):
    """The JSON5 document of `path`."""
    import json5

    raw = files.read(path, MAX_BYTES, "a haptic pattern")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FacewaveError("%s: not text (byte %d is not UTF-8)" % (path, e.start)) from None
    line = _too_deep(text)
    if line:
        raise FacewaveError(
            "%s:%d: nested more than %d deep: no haptic format is" % (path, line, MAX_DEPTH)
        )
    try:
        return json5.loads(text)
    except ValueError as e:
        raise FacewaveError("%s: not JSON: %s" % (path, e)) from None
    except RecursionError:
        raise FacewaveError("%s: nested deeper than a haptic format is" % path) from None


def _too_deep(text):
    """The line where brackets outside strings first nest past MAX_DEPTH (0: they do not), so
    that the parser, which recurses, never meets such a document."""
    depth, line, quote, escaped = 0, 1, None, False
    for ch in text:
        if ch == "\n":
            line += 1
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]}":
            depth -= 1
    return 0
