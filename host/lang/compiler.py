"""Compiler: pattern text -> checked bytecode, with every error of a file in one run.

The device verifier (firmware/verifier.py) runs on the result too, so that caps are judged in
one place; its complaints come back as source positions through the instruction -> line map.
"""

from pathlib import Path

from ..firmware import bytecode as bc
from ..firmware import shapes
from ..firmware.profile import Profile
from ..firmware.verifier import verify
from . import lexer
from .lexer import SyntaxProblem

MAX_SOURCE_BYTES = 1 << 20  # a pattern file is text a person wrote, not megabytes

_EASINGS = {name: i for i, name in enumerate(bc.EASE_NAMES)}
_SHAPES = {name: i for i, name in enumerate(bc.WAVE_NAMES)}
_CUES = {"single": (1, 200, 100), "double": (2, 100, 100), "triple": (3, 80, 80)}
CUE_LEVEL = 600
ZONE_CUE = "double"


class CompileError(Exception):
    """All problems of one compile, each (file, line, col, message, line text)."""

    def __init__(self, errors):
        super().__init__("\n".join(_format(*e) for e in errors))
        self.errors = errors


def _format(filename, line, col, message, text):
    if not line:  # about the whole file
        return "%s: %s" % (filename, message)
    head = "%s:%d:%d: %s" % (filename, line, col, message)
    if text is None:
        return head
    return "%s\n    %s\n    %s^" % (head, text.rstrip(), " " * (col - 1))


class Program:
    """A compiled, verified program and what is known about it."""

    def __init__(self, data, info, positions, elements, filename):
        self.data = data
        self.info = info
        self.positions = positions  # per instruction: (file, line, col)
        self.elements = elements  # statements of the source; None for a compiled file
        self.filename = filename

    @property
    def name(self):
        return self.info.name


class _Source:
    def __init__(self, filename, text, directory):
        self.filename = filename
        self.lines = text.splitlines()
        self.directory = directory


class _Args:
    """The tokens after a statement's keyword, consumed left to right."""

    def __init__(self, tokens):
        self.head = tokens[0]
        self.rest = tokens[1:]
        self.last = tokens[-1]

    def token(self, what):
        if not self.rest:
            last = self.last  # point just past the end of the statement
            raise SyntaxProblem(
                lexer.Token("", last.line, last.col + len(last.text) + 1),
                "'%s' needs %s" % (self.head.text, what),
            )
        return self.rest.pop(0)

    def take(self, parse, what):
        return parse(self.token(what))

    def keyword(self, word):
        tok = self.token("'%s'" % word)
        if tok.text != word:
            raise SyntaxProblem(tok, "expected '%s', got %r" % (word, tok.text))

    def choice(self, table, what):
        tok = self.token(what)
        if tok.text not in table:
            raise SyntaxProblem(
                tok, "unknown %s %r (one of: %s)" % (what, tok.text, ", ".join(table))
            )
        return table[tok.text]

    def peek(self, word):
        """Consume `word` if it comes next."""
        if self.rest and self.rest[0].text == word:
            self.rest.pop(0)
            return True
        return False

    def done(self):
        if self.rest:
            raise SyntaxProblem(self.rest[0], "unexpected %r" % self.rest[0].text)


class _Compiler:
    def __init__(self, profile, resolve):
        self.profile = profile
        self.resolve = resolve  # name, directory -> path of an included pattern or None
        self.errors = []
        self.insns = []  # [op, x, a, b, c, t]
        self.positions: list[tuple[str, int, int]] = []
        self.strings = ["", ""]
        self.blocks = []  # (kind, insn index, token)
        self.level = 0  # level the last statement ends at, for `hold 2s` and `ramp -> 50%`
        self.elements = 0
        self.zones = 0
        self.including = []
        self.header: tuple[str, int, int] | None = None  # (file, line, col) of `pattern`

    # -- driving -----------------------------------------------------------------------------
    def parse(self, source, top):
        seen_header = False
        for number, text in enumerate(source.lines, 1):
            try:
                tokens = lexer.tokenize(text, number)
                if not tokens:
                    continue
                if not seen_header:
                    seen_header = True
                    self._header(_Args(tokens), source, top)
                    continue
                handler = _STATEMENTS.get(tokens[0].text)
                if handler is None:
                    raise SyntaxProblem(
                        tokens[0],
                        "unknown statement %r (expected one of: %s)"
                        % (tokens[0].text, ", ".join(sorted(_STATEMENTS))),
                    )
                self.source = source
                handler(self, _Args(tokens))
            except SyntaxProblem as p:
                self.error(source, p.token, p.message)
        if not seen_header:
            self.errors.append(
                (
                    source.filename,
                    0,
                    0,
                    "empty pattern file: it needs at least "
                    '`pattern NAME "description"` and one statement',
                    None,
                )
            )

    def error(self, source, tok, message):
        text = source.lines[tok.line - 1] if tok.line <= len(source.lines) else None
        self.errors.append((source.filename, tok.line, tok.col, message, text))

    def _header(self, args, source, top):
        if args.head.text != "pattern":
            raise SyntaxProblem(
                args.head, 'a pattern file starts with `pattern NAME "description"`'
            )
        name = args.take(lexer.name, "a name")
        desc = args.take(lexer.string, "a quoted description")
        args.done()
        if top:
            self.strings[0] = name
            self.strings[1] = desc
            self.header = (source.filename, args.head.line, args.head.col)

    def emit(self, tok, op, x=0, a=0, b=0, c=0, t=0):
        self.insns.append([op, x, a, b, c, t])
        self.positions.append((self.source.filename, tok.line, tok.col))
        return len(self.insns) - 1

    # -- statements --------------------------------------------------------------------------
    def st_hold(self, args):
        first = args.rest[0].text if args.rest else ""
        lv = args.take(lexer.level, "a level") if first.endswith("%") else self.level
        ms = args.take(lexer.duration, "a duration")
        vary = args.take(lexer.level, "a level after vary") if args.peek("vary") else 0
        args.done()
        self._hold(args.head, lv, ms, vary)

    def st_off(self, args):
        ms = args.take(lexer.duration, "a duration")
        args.done()
        self._hold(args.head, 0, ms, 0)

    def _hold(self, tok, lv, ms, vary):
        self.elements += 1
        self.emit(tok, bc.OP_HOLD, a=lv, b=vary, t=ms)
        self.level = lv

    def st_ramp(self, args):
        start = self.level if args.peek("->") else None
        if start is None:
            start = args.take(lexer.level, "a start level or '->'")
            args.keyword("->")
        end = args.take(lexer.level, "a target level")
        args.keyword("over")
        ms = args.take(lexer.duration, "a duration")
        ease = args.choice(_EASINGS, "easing") if args.rest else bc.EASE_LINEAR
        args.done()
        self.elements += 1
        self.emit(args.head, bc.OP_RAMP, x=ease, a=start, b=end, t=ms)
        self.level = end

    def st_wave(self, args):
        shape = args.choice(_SHAPES, "wave shape")
        tok = args.token("a range like 30%..60%")
        parts = tok.text.split("..")
        if len(parts) != 2:
            raise SyntaxProblem(tok, "expected a range like 30%%..60%%, got %r" % tok.text)
        lo = lexer.level(lexer.Token(parts[0], tok.line, tok.col))
        hi = lexer.level(lexer.Token(parts[1], tok.line, tok.col + len(parts[0]) + 2))
        if lo > hi:
            raise SyntaxProblem(tok, "wave range goes down: write the low level first")
        args.keyword("period")
        ptok = args.rest[0] if args.rest else args.head
        period = args.take(lexer.duration, "a period")
        if period > 65535:
            raise SyntaxProblem(ptok, "wave period must be at most 65.535s")
        args.keyword("for")
        ms = args.take(lexer.duration, "a duration")
        args.done()
        self.elements += 1
        self.emit(args.head, bc.OP_WAVE, x=shape, a=lo, b=hi, c=period, t=ms)
        step = self.profile.step_ms
        self.level = shapes.wave(shape, lo, hi, period, (ms - 1) // step * step)

    def st_pulse(self, args):
        lv = args.take(lexer.level, "a level")
        args.keyword("on")
        on = args.take(lexer.duration, "an on time")
        args.keyword("off")
        off = args.take(lexer.duration, "an off time")
        n = 1
        if args.peek("x"):
            n = args.take(lexer.count, "a count")
        vary = args.take(lexer.level, "a level after vary") if args.peek("vary") else 0
        args.done()
        self.elements += 1
        if n > 1:
            loop = self.emit(args.head, bc.OP_LOOP, a=n)
        self.emit(args.head, bc.OP_HOLD, a=lv, b=vary, t=on)
        self.emit(args.head, bc.OP_HOLD, a=0, t=off)
        if n > 1:
            self.insns[loop][4] = self.emit(args.head, bc.OP_END, c=loop)
        self.level = 0

    def st_cue(self, args):
        n, on, off = args.choice(_CUES, "cue") if args.rest else _CUES["single"]
        lv = args.take(lexer.level, "a level") if args.rest else CUE_LEVEL
        args.done()
        self.elements += 1
        self._cue(args.head, n, on, off, lv)

    def _cue(self, tok, n, on, off, lv):
        self.emit(tok, bc.OP_CUE, x=n, a=lv, b=on, c=off)
        self.level = 0 if off else lv

    def st_seed(self, args):
        seed = args.take(lexer.count, "a seed 1..65535")
        args.done()
        self.emit(args.head, bc.OP_SEED, a=seed)

    def st_freq(self, args):
        hz = args.take(lexer.frequency, "a frequency")
        args.done()
        self.emit(args.head, bc.OP_FREQ, a=hz)

    def st_repeat(self, args):
        n = args.take(lexer.count, "a count")
        args.done()
        self.elements += 1
        self.blocks.append(("repeat", self.emit(args.head, bc.OP_LOOP, a=n), args.head))

    def st_zone(self, args):
        zone_name = args.take(lexer.name, "a zone name")
        ms = args.take(lexer.duration, "a zone length")
        args.done()
        if self.blocks or self.including:
            raise SyntaxProblem(
                args.head,
                "a zone must be at the top level of a pattern file, "
                "not inside %s"
                % ("an included pattern" if self.including else "'%s'" % self.blocks[-1][0]),
            )
        if len(self.strings) >= 250:
            raise SyntaxProblem(args.head, "too many zones")
        self.elements += 1
        self.strings.append(zone_name)
        at = self.emit(args.head, bc.OP_ZONE, a=len(self.strings) - 1, t=ms)
        if self.zones:  # a cue at each zone change, at the very start of the new zone
            n, on, off = _CUES[ZONE_CUE]
            self._cue(args.head, n, on, off, CUE_LEVEL)
        self.insns[at][3] = len(self.insns)
        self.zones += 1
        self.blocks.append(("zone", at, args.head))

    def st_end(self, args):
        args.done()
        if not self.blocks:
            raise SyntaxProblem(args.head, "'end' without an open 'repeat' or 'zone'")
        kind, at, _ = self.blocks.pop()
        if at == len(self.insns) - 1 or (kind == "zone" and self.insns[at][3] == len(self.insns)):
            raise SyntaxProblem(args.head, "empty '%s' block" % kind)
        self.insns[at][4] = self.emit(args.head, bc.OP_END, c=at)

    def st_play(self, args):
        tok = args.token("the name of a pattern to play")
        args.done()
        path = self.resolve(tok.text, self.source.directory)
        if path is None:
            raise SyntaxProblem(
                tok,
                "no pattern %r: neither %s.fw beside this file nor a built-in"
                " routine" % (tok.text, tok.text),
            )
        if path in self.including:
            raise SyntaxProblem(tok, "pattern %r plays itself (include cycle)" % tok.text)
        text = _read(Path(path))
        self.including.append(path)
        outer = self.source
        try:
            self.parse(_Source(str(path), text, Path(path).parent), top=False)
        finally:
            self.including.pop()
            self.source = outer

    # -- finishing ---------------------------------------------------------------------------
    def finish(self, source):
        for kind, _, tok in self.blocks:
            self.error(source, tok, "'%s' is never closed by 'end'" % kind)
        if not self.errors and not self.insns:
            self.errors.append((source.filename, 0, 0, "pattern plays nothing", None))
        if self.errors:
            raise CompileError(self.errors)
        try:
            data = bc.pack([bc.pack_insn(*i) for i in self.insns], self.strings)
            info = verify(data, self.profile)
        except (bc.VerifyError, bc.FormatError) as e:
            message = e.args[0]
            pc = e.args[1] if len(e.args) > 1 else -1
            where = self.positions[pc] if 0 <= pc < len(self.positions) else self.header
            assert where is not None  # no errors: the top file's `pattern` line was read
            filename, line, col = where
            lines = (
                Path(filename).read_text().splitlines()
                if filename != source.filename
                else source.lines
            )
            raise CompileError([(filename, line, col, message, lines[line - 1])]) from None
        return Program(data, info, self.positions, self.elements, source.filename)


_STATEMENTS = {name[3:]: fn for name, fn in vars(_Compiler).items() if name.startswith("st_")}


def _read(path):
    """Text of a pattern file, or one clear error about why it cannot be had."""
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise CompileError(
                [
                    (
                        str(path),
                        0,
                        0,
                        "file is %d bytes; a pattern file is at most"
                        " %d" % (size, MAX_SOURCE_BYTES),
                        None,
                    )
                ]
            )
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CompileError([(str(path), 0, 0, "no such file", None)]) from None
    except IsADirectoryError:
        raise CompileError(
            [(str(path), 0, 0, "is a directory, not a pattern file", None)]
        ) from None
    except PermissionError:
        raise CompileError([(str(path), 0, 0, "permission denied", None)]) from None
    except UnicodeDecodeError as e:
        raise CompileError(
            [(str(path), 0, 0, "not UTF-8 text (byte %d)" % e.start, None)]
        ) from None
    except OSError as e:
        raise CompileError([(str(path), 0, 0, e.strerror or str(e), None)]) from None


def _default_resolve(name, directory):
    from .. import library

    return library.resolve(name, directory)


def compile_source(text, filename="<pattern>", profile=None, directory=None, resolve=None):
    source = _Source(filename, text, Path(directory) if directory else Path.cwd())
    comp = _Compiler(profile or Profile(), resolve or _default_resolve)
    comp.source = source
    comp.parse(source, top=True)
    return comp.finish(source)


def compile_file(path, profile=None, resolve=None):
    path = Path(path)
    return compile_source(_read(path), str(path), profile, path.parent, resolve)
