"""Lines to tokens, and the literal values of the language (levels, durations, counts).

Every token keeps its column so that errors point at it.
"""

import re

from .. import units

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[^\s"#]+')


class Token:
    def __init__(self, text, line, col):
        self.text = text
        self.line = line
        self.col = col  # 1-based

    def __repr__(self):
        return "Token(%r, %d:%d)" % (self.text, self.line, self.col)


class SyntaxProblem(Exception):
    """One error at one token; the compiler collects them."""

    def __init__(self, token, message):
        super().__init__(message)
        self.token = token
        self.message = message


def tokenize(line_text, line_no):
    """Tokens of one line, without its comment."""
    tokens = []
    pos = 0
    for m in _TOKEN.finditer(line_text):
        if "#" in line_text[pos : m.start()]:
            break  # a comment runs to the end of the line
        pos = m.end()
        text = m.group(0)
        tok = Token(text, line_no, m.start() + 1)
        if text.startswith('"') and (len(text) < 2 or not text.endswith('"')):
            raise SyntaxProblem(tok, "unterminated string")
        tokens.append(tok)
    return tokens


# ASCII digits only (re.ASCII): \d and int() would take Arabic-Indic or full-width 40 %
_LEVEL = re.compile(r"^(\d{1,3})(?:\.(\d))?%$", re.ASCII)
_FINE_LEVEL = re.compile(r"^(\d{1,3})\.(\d{2,})%$", re.ASCII)
_DURATION = re.compile(r"^(\d+)(?:\.(\d+))?(ms|s|min)$", re.ASCII)
_FREQ = re.compile(r"^(\d+)hz$", re.IGNORECASE | re.ASCII)
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$", re.ASCII)
_NUMBER_AND_WORD = re.compile(r"^(\d+(?:\.\d+)?)([a-z]+)$", re.IGNORECASE | re.ASCII)
MAX_MS = 0xFFFFFFFF  # a duration's field in the bytecode: u32 milliseconds
# What people write for a unit, and the unit of the language it means
_UNITS = {
    word: unit
    for unit, words in (
        ("ms", "ms msec msecs millisecond milliseconds"),
        ("s", "s sec secs second seconds"),
        ("min", "m min mins minute minutes"),
    )
    for word in words.split()
}
_UNIT_LIST = "units: ms, s, min"


def spaced_unit(tok, following):
    """A number written apart from its unit (`30 %`, `5 sec`, `5 s`) is one fault: say how to
    write it, at the number."""
    if not is_number(tok):
        return
    if following.text == "%":
        raise SyntaxProblem(tok, "write %s%% (no space before %%)" % tok.text)
    unit = _UNITS.get(following.text.lower())
    if unit:
        raise SyntaxProblem(tok, "write %s%s (%s)" % (tok.text, unit, _UNIT_LIST))


def is_number(tok):
    """Whether a token is a number without a unit: `30`, `1.5`."""
    return bool(_NUMBER.match(tok.text))


def is_unit(tok):
    """Whether a token is a unit word (`sec`, `s`, `%`) that belongs to the number before it."""
    return tok.text == "%" or tok.text.lower() in _UNITS


def level(tok):
    """'55%' or '55.5%' -> permille."""
    m = _LEVEL.match(tok.text)
    if not m:
        if is_number(tok):
            raise SyntaxProblem(tok, "%s needs a unit: a level is %s%%" % (tok.text, tok.text))
        fine = _FINE_LEVEL.match(tok.text)
        if fine:
            whole, frac = fine.groups()
            low = int(whole) * 10 + int(frac[0])
            raise SyntaxProblem(
                tok,
                "levels go in steps of 0.1%%: write %s or %s"
                % (_written_level(low), _written_level(low + 1)),
            )
        raise SyntaxProblem(tok, "expected a level like 40%% or 12.5%%, got %r" % tok.text)
    value = int(m.group(1)) * 10 + int(m.group(2) or 0)
    if value > 1000:
        raise SyntaxProblem(tok, "level %s is above 100%%" % tok.text)
    return value


def _written_level(permille):
    return "%d%%" % (permille // 10) if permille % 10 == 0 else "%d.%d%%" % divmod(permille, 10)


def duration(tok):
    """'500ms', '1.5s', '2min' -> milliseconds (whole ms only)."""
    m = _DURATION.match(tok.text)
    if not m:
        if is_number(tok):
            raise SyntaxProblem(
                tok, "%s needs a unit: write %sms, %ss or %smin" % ((tok.text,) * 4)
            )
        glued = _NUMBER_AND_WORD.match(tok.text)
        if glued and glued.group(2).lower() in _UNITS:
            raise SyntaxProblem(
                tok,
                "write %s%s (%s)" % (glued.group(1), _UNITS[glued.group(2).lower()], _UNIT_LIST),
            )
        if glued:
            raise SyntaxProblem(tok, "unknown unit %r (%s)" % (glued.group(2), _UNIT_LIST))
        raise SyntaxProblem(tok, "expected a duration like 500ms, 1.5s or 2min, got %r" % tok.text)
    whole, frac, unit = m.groups()
    scale = {"ms": 1, "s": 1000, "min": 60000}[unit]
    frac = (frac or "").rstrip("0")
    if len(frac) > 5 or int(frac or 0) * scale % 10 ** len(frac):  # 5: 0.00005min is 3ms
        raise SyntaxProblem(tok, "%s is not a whole number of milliseconds" % tok.text)
    whole = whole.lstrip("0") or "0"
    # 10 digits and no more: never int() of a thousand
    ms = int(whole) * scale + int(frac or 0) * scale // 10 ** len(frac) if len(whole) <= 10 else -1
    if not 0 <= ms <= MAX_MS:
        raise SyntaxProblem(
            tok,
            "%s is longer than a duration can be: at most %dms (%s)"
            % (tok.text, MAX_MS, units.duration(MAX_MS)),
        )
    if ms == 0:
        raise SyntaxProblem(tok, "duration must be more than 0")
    return ms


def written(ms):
    """Milliseconds as a duration is written in a pattern file: 80ms, 1.5s, 2min."""
    if ms % 60000 == 0:
        return "%dmin" % (ms // 60000)
    if ms < 1000:
        return "%dms" % ms
    return ("%d.%03d" % divmod(ms, 1000)).rstrip("0").rstrip(".") + "s"


def count(tok, low=1, high=65535):
    try:
        return units.number(tok.text, low, high)
    except units.NumberError as e:
        raise SyntaxProblem(tok, e.args[0]) from None


def frequency(tok):
    m = _FREQ.match(tok.text)
    try:
        return units.number(m.group(1) if m else "", 1, 40000)
    except units.NumberError:
        raise SyntaxProblem(
            tok, "expected a motor frequency like 200hz (1..40000), got %r" % tok.text
        ) from None


def string(tok):
    if not tok.text.startswith('"'):
        raise SyntaxProblem(tok, "expected a quoted string, got %r" % tok.text)
    return tok.text[1:-1].replace('\\"', '"').replace("\\\\", "\\")


# A name in a pattern file starts with a letter (a device's may start with a digit, but here
# `zone 45s` must not read as a zone called 45s).
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
NAME_RULE = "1 to 32 of a-z 0-9 _ -, starting with a letter"


def name(tok):
    if not NAME.match(tok.text):
        raise SyntaxProblem(
            tok,
            "expected a name (%s), got %r" % (NAME_RULE, tok.text),
        )
    return tok.text
