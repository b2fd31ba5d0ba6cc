"""Scenarios: a TOML script of timed events for the virtual board, and what must come true.

    name = "morning"
    board = "pico"                      # board profile (default pico)
    patterns = ["daily"]                # stored on the flash before boot: built-ins or files
    until = "200s"                      # virtual time to run (default: last event + 5 s)

    [[at]]                              # one table per event, in any order
    time = "1s"
    press = "short"                     # short | long | double | "hold 20s"

    [[expect]]
    cue = "45s"                         # a cue exactly then (tolerance = "0ms" by default)

Times are strings with their unit, as everywhere in facewave: a bare number is refused rather
than guessed at (500 what?). Every problem is reported as `file:line: message`, the line of the
table at fault (of the setting, for one outside a table), naming the field.
"""

import itertools
import re
import shlex
from pathlib import Path
from typing import NoReturn

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from .. import files
from ..errors import FacewaveError
from ..firmware import boards
from ..firmware.device import STATES
from ..lang.lexer import SyntaxProblem, Token, duration, level

# "0ms" as a moment or a tolerance (a duration in a pattern must be more than 0)
_ZERO = re.compile(r"0+(\.0+)?(ms|s|min)")
EVENTS = {
    "press": 'button: short, long, double, or "hold DURATION"',
    "battery": 'battery voltage: millivolts or "3.6V"',
    "charger": "true while on the charger",
    "command": "a device command as `facewave` takes it (play NAME, stop, pause, resume, status,"
    " set KEY VALUE, upload FILE|ROUTINE, delete NAME, info, list), sent over the serial link;"
    ' expect = "refused" (and reason = "TEXT") if the device must say no',
    "serial": "raw bytes sent to the console (a string, \\xNN escapes allowed)",
    "link": 'link faults from now on: {drop = 0.01, flip = 0.01, dup = 0.01, delay = "5ms"}',
    "fault": "power-cut, power-cut-at-write N, brownout, stuck-button, watchdog-starve, "
    "exception MODULE.FUNCTION",
}
EXPECTS = {
    "motor": 'level ("0%") the motor must be at from `by` on (to `until`, or the end)',
    "cue": 'a cue at this time ("45s"), within `tolerance`',
    "max_level": 'no level above this ("80%")',
    "event": "an event of the device log (start, stop, end, cue, error, ...) `at` a time",
    "state": "the device state (idle, running, paused, ...) `at` a time",
}
MAX_BYTES = 1 << 20  # a scenario is a script a person wrote
MAX_MS = 24 * 3600 * 1000  # the longest scenario: a day of virtual time (about a minute to run)
MAX_WRITES = 1_000_000  # power-cut-at-write N: at most this many flash writes from now
SETTINGS = ("name", "board", "patterns", "until", "start_tick")
FAULTS = (
    "power-cut",
    "power-cut-at-write",
    "brownout",
    "stuck-button",
    "watchdog-starve",
    "exception",
)


class ScenarioError(FacewaveError):
    """A scenario that cannot run as written (exit status 2: a usage error)."""

    def __init__(self, message):
        super().__init__(message, 2)


class Event:
    """One timed event. A command's `value` is its words, `args` them parsed as the CLI parses
    them, and `refused` None (the device must accept it) or the text its refusal must contain
    ("" for any refusal)."""

    def __init__(self, at, kind, value, line, args=None, refused=None):
        self.at = at
        self.kind = kind
        self.value = value
        self.line = line
        self.args = args
        self.refused = refused

    def __repr__(self):
        return "Event(%d ms, %s=%r)" % (self.at, self.kind, self.value)


class Expect:
    def __init__(self, kind, value, options, line, written):
        self.kind = kind
        self.value = value
        self.options = options
        self.line = line
        self.written = written  # the table as the author wrote it, for messages

    def describe(self):
        extra = ", ".join("%s %s" % (k, v) for k, v in self.written.items() if k != self.kind)
        return "%s %s%s" % (self.kind, self.written[self.kind], " (%s)" % extra if extra else "")


class Scenario:
    def __init__(
        self, path, name, board, patterns, until, events, expects, start_tick, patterns_line=0
    ):
        self.path = path
        self.name = name
        self.board = board
        self.patterns = patterns
        self.until = until
        self.events = events
        self.expects = expects
        self.start_tick = start_tick
        self.patterns_line = patterns_line  # where a pattern that does not compile is named


def builtin():
    """The built-in scenarios' files (morning, battery, faults), beside this module."""
    return sorted(Path(__file__).parent.glob("*.toml"))


def load(path):
    """A scenario file, or the name of a built-in one (`morning`) when no file has that name."""
    path = find(path)
    try:
        text = files.read(path, MAX_BYTES, "a scenario file").decode("utf-8")
    except files.FileProblem as e:
        raise ScenarioError(str(e)) from None
    except UnicodeDecodeError as e:
        raise ScenarioError("%s: not UTF-8 text (byte %d)" % (path, e.start)) from None
    return parse(text, str(path), path.parent)


def find(name):
    """The file `name` names, else the built-in scenario of that name; neither is a
    ScenarioError that lists the built-ins."""
    path = Path(name)
    if path.exists():
        return path
    known = {p.stem: p for p in builtin()}
    if str(name) in known:
        return known[str(name)]
    hint = (
        ": a built-in scenario goes by its name, `facewave sim run %s`" % path.stem
        if path.stem in known and path.suffix == ".toml"
        else ", and no built-in scenario of that name"
    )
    raise ScenarioError(
        "%s: no such scenario file%s (the built-ins: %s)" % (name, hint, ", ".join(known))
    )


def parse(text, filename="<scenario>", directory=None):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        if m:
            where, why = "%s:%s:%s" % (filename, m.group(1), m.group(2)), str(e).split(" (at ")[0]
        else:  # "(at end of document)": the last line
            where, why = "%s:%d" % (filename, len(text.splitlines()) or 1), str(e)
        raise ScenarioError("%s: %s" % (where, why)) from None
    where = _Where(filename, *_lines(text))
    for key in doc:
        if key not in SETTINGS + ("at", "expect"):
            where.fail(
                where.key(key),
                "unknown setting %r (known: %s, [[at]], [[expect]])" % (key, ", ".join(SETTINGS)),
            )
    events = [
        _event(item, where.line("at", i), where, directory)
        for i, item in enumerate(_tables(doc, "at", where))
    ]
    for before, ev in itertools.pairwise(events):
        if ev.at < before.at:
            where.fail(
                ev.line,
                "time %d ms goes backwards (the event before is at %d ms): "
                "write events in time order" % (ev.at, before.at),
            )
    expects = [
        _expect(item, where.line("expect", i), where)
        for i, item in enumerate(_tables(doc, "expect", where))
    ]
    patterns = doc.get("patterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        where.fail(where.key("patterns"), "patterns must be a list of names or files")
    patterns = [
        str(Path(directory) / p) if directory and p.endswith(".fw") else p for p in patterns
    ]
    last = events[-1].at if events else 0
    until = (
        _ms(doc["until"], where, where.key("until"), "until") if "until" in doc else last + 5000
    )
    if until < last:
        where.fail(
            where.key("until") if "until" in doc else events[-1].line,
            "until (%d ms) is before the last event (%d ms)" % (until, last),
        )
    if until > MAX_MS:
        where.fail(events[-1].line, "the last event is too late: a scenario runs at most 24 h")
    start = doc.get("start_tick", 0)
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < 1 << 30:
        where.fail(where.key("start_tick"), "start_tick must be 0..2**30-1")
    for key in ("name", "board"):
        if not isinstance(doc.get(key, ""), str):
            where.fail(where.key(key), "%s must be a string" % key)
    board = doc.get("board", "pico")
    try:
        boards.load(board)
    except boards.UnknownBoard as e:
        where.fail(where.key("board"), str(e))
    return Scenario(
        filename,
        doc.get("name", Path(filename).stem),
        board,
        patterns,
        until,
        events,
        expects,
        start,
        where.key("patterns"),
    )


class _Where:
    def __init__(self, filename, lines, keys):
        self.filename = filename
        self.lines = lines
        self.keys = keys

    def line(self, table, index):
        found = self.lines.get(table, [])
        return found[index] if index < len(found) else self.key(table)  # at = [{...}]

    def key(self, name):
        """The line of a setting (of its table, for one written as [name]); 1 if it cannot be
        found, a key written in a way the search does not know."""
        return self.keys.get(name, 1)

    def fail(self, line, message) -> NoReturn:
        raise ScenarioError("%s:%d: %s" % (self.filename, line, message))


def _lines(text):
    """Line numbers of each [[at]] and [[expect]] header, in order, and of each setting
    written before the first table."""
    tables, keys = {}, {}
    for number, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*\[\[\s*(\w+)\s*\]\]", line)
        if m:
            tables.setdefault(m.group(1), []).append(number)
            keys.setdefault(m.group(1), number)
            continue
        m = re.match(r"\s*\[\s*[\"']?([\w-]+)", line) or (
            None if tables else re.match(r"\s*[\"']?([\w-]+)[\"']?\s*[.=]", line)
        )
        if m:
            keys.setdefault(m.group(1), number)
    return tables, keys


def _tables(doc, key, where: _Where):
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        where.fail(where.key(key), "%s must be written as [[%s]] tables" % (key, key))
    return items


def _ms(value, where: _Where, line, field, zero=True):
    """Milliseconds of a time written with its unit ("500ms", "1.5s", "2min"; "0s" if `zero`)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        unit = '"%sms" or "%ss"' % (value, value) if isinstance(value, int) else '"%ss"' % value
        where.fail(line, "%s = %s has no unit: write %s" % (field, value, unit))
    if not isinstance(value, str):
        where.fail(line, '%s must be a string with a unit, like "500ms", "1.5s" or "2min"' % field)
    if len(value) > 24:
        where.fail(line, "%s: %r is too long for a time" % (field, value[:24] + "..."))
    if zero and _ZERO.fullmatch(value):
        return 0
    try:
        ms = duration(Token(value, line, 1))
    except SyntaxProblem as p:
        where.fail(line, "%s: %s" % (field, p.message))
    if ms > MAX_MS:
        where.fail(line, "%s: %s is past the longest scenario, 24 h" % (field, value))
    return ms


def _event(item, line, where: _Where, directory):
    if "time" not in item:
        where.fail(line, 'event has no time (time = "10s")')
    at = _ms(item["time"], where, line, "time")
    kinds = [k for k in item if k not in ("time", "expect", "reason")]
    if len(kinds) != 1 or kinds[0] not in EVENTS:
        known = "; ".join("%s: %s" % kv for kv in EVENTS.items())
        where.fail(
            line,
            "unknown event %s (one of: %s)"
            % (", ".join(repr(k) for k in kinds) or "(none)", known),
        )
    kind = kinds[0]
    value = item[kind]
    if kind != "command" and {"expect", "reason"} & set(item):
        where.fail(line, "expect and reason go with a command, not with %s" % kind)
    if kind == "press":
        if value not in ("short", "long", "double") and not (
            isinstance(value, str) and value.startswith("hold ")
        ):
            where.fail(line, 'press must be short, long, double or "hold DURATION"')
        if isinstance(value, str) and value.startswith("hold "):
            value = ("hold", _ms(value[5:], where, line, "press hold", zero=False))
    elif kind == "battery":
        if isinstance(value, str) and value.upper().endswith("V"):
            if not re.fullmatch(r"[0-9]{1,2}(\.[0-9]{1,3})?", value[:-1]):
                where.fail(line, "battery voltage %r: write 3.6V or 3600" % value)
            value = round(float(value[:-1]) * 1000)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6000:
            where.fail(line, "battery must be 0..6000 mV")
    elif kind == "charger":
        if not isinstance(value, bool):
            where.fail(line, "charger must be true or false")
    elif kind == "command":
        return _command(at, value, item, line, where, directory)
    elif kind == "serial":
        if not isinstance(value, str):
            where.fail(line, "serial must be a string")
        try:
            value = value.encode("latin-1", "replace").decode("unicode_escape").encode("latin-1")
        except (UnicodeDecodeError, UnicodeEncodeError) as e:
            where.fail(line, "serial: %s (a byte is a character up to \\xff, or \\xNN)" % e.reason)
    elif kind == "link":
        if not isinstance(value, dict) or set(value) - {"drop", "flip", "delay", "dup"}:
            where.fail(line, "link must be a table of drop, flip, dup (rates) and delay")
        value = dict(value)
        for key in sorted(set(value) & {"drop", "flip", "dup"}):
            rate = value[key]
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                where.fail(
                    line,
                    "link %s = %r: a rate is a number from 0 to 1 (0.01 is one"
                    " byte in a hundred)" % (key, rate),
                )
        if "delay" in value:
            value["delay"] = _ms(value["delay"], where, line, "link delay")
    elif kind == "fault":
        value = _fault(value, line, where)
    return Event(at, kind, value, line)


def _fault(value, line, where: _Where):
    """(name, argument) of a fault: power-cut-at-write's count of writes, exception's
    firmware function."""
    name, _, arg = str(value).partition(" ")
    if name not in FAULTS:
        where.fail(line, "unknown fault %r (one of: %s)" % (name, ", ".join(FAULTS)))
    takes = name in ("power-cut-at-write", "exception")
    if takes and not arg:
        where.fail(line, "fault %s needs an argument" % name)
    if not takes and arg:
        where.fail(line, "fault %s takes no argument, not %r" % (name, arg))
    if name == "power-cut-at-write":
        if not re.fullmatch(r"[0-9]{1,7}", arg) or not 1 <= int(arg) <= MAX_WRITES:
            where.fail(
                line,
                "power-cut-at-write %s: the count of flash writes before the cut, 1..%d"
                % (arg, MAX_WRITES),
            )
        return name, int(arg)
    if name == "exception" and not _firmware_function(arg):
        where.fail(
            line,
            "exception %s: not a firmware function (MODULE.FUNCTION or MODULE.CLASS.METHOD of"
            " the firmware, like engine.Engine.step)" % arg,
        )
    return name, arg


def _firmware_function(target):
    """True if `target` names a function of the firmware, through its module and classes (not
    a module it imports, a class or a constant), as the virtual board's inject() reaches it."""
    import importlib
    import inspect

    module, _, path = target.partition(".")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", module) or not path:
        return False
    try:
        owner = importlib.import_module("facewave.firmware." + module)
    except ImportError:
        return False
    parts = path.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
        if not isinstance(owner, type):
            return False
    found = getattr(owner, parts[-1], None)
    return inspect.isroutine(found) and getattr(found, "__module__", "").startswith(
        "facewave.firmware."
    )


def _command(at, text, item, line, where: _Where, directory):
    """A command event: its words parsed as `facewave` parses them, and whether the device
    must refuse it."""
    from ..device_cmds import parse

    if not isinstance(text, str) or not text.split():
        where.fail(line, 'command must be a string like "play daily"')
    try:
        words = shlex.split(text)
    except ValueError as e:
        where.fail(line, "command %r: %s" % (text, e))
    try:
        args = parse(words)
    except FacewaveError as e:
        where.fail(line, "command %r: %s" % (text, e))
    if args.command == "upload" and directory and args.source.endswith((".fw", ".fwb")):
        args.source = str(Path(directory) / args.source)  # beside the scenario, as patterns
    expect, reason = item.get("expect"), item.get("reason")
    if expect not in (None, "refused"):
        where.fail(line, 'expect = %r: a command can only expect = "refused"' % (expect,))
    if reason is not None and expect is None:
        where.fail(line, 'reason goes with expect = "refused": the text the refusal must contain')
    if reason is not None and not isinstance(reason, str):
        where.fail(line, "reason must be a string: the text the refusal must contain")
    return Event(at, "command", words, line, args, None if expect is None else reason or "")


def _expect(item, line, where: _Where):
    kinds = [k for k in item if k in EXPECTS]
    if len(kinds) != 1:
        where.fail(line, "an expectation needs exactly one of: %s" % ", ".join(EXPECTS))
    kind = kinds[0]
    options = {k: v for k, v in item.items() if k != kind}
    allowed = {
        "motor": {"by", "until"},
        "cue": {"tolerance"},
        "max_level": set(),
        "event": {"at", "tolerance"},
        "state": {"at"},
    }[kind]
    if set(options) - allowed:
        where.fail(
            line,
            "%s takes %s, not %s"
            % (
                kind,
                ", ".join(sorted(allowed)) or "nothing",
                ", ".join(sorted(set(options) - allowed)),
            ),
        )
    value = item[kind]
    if kind in ("motor", "max_level"):
        if not isinstance(value, str):
            where.fail(line, '%s must be a string, a level like "40%%"' % kind)
        try:
            value = level(Token(value, line, 1))
        except SyntaxProblem as p:
            where.fail(line, p.message)
    elif kind == "cue":
        value = _ms(value, where, line, "cue")
    elif kind == "state" and value not in STATES:
        where.fail(line, "state must be one of %s" % ", ".join(STATES))
    elif kind == "event" and not (isinstance(value, str) and value.strip()):
        where.fail(line, 'event must be a string, the start of an event\'s text ("start")')
    for key in ("by", "until", "at", "tolerance"):
        if key in options:
            options[key] = _ms(options[key], where, line, key)
    if kind in ("motor", "state", "event") and not {"by", "at"} & set(options) and kind != "event":
        where.fail(line, "%s needs %s" % (kind, "by" if kind == "motor" else "at"))
    return Expect(kind, value, options, line, dict(item))
