"""Compiler: pattern text -> checked bytecode, with every error of a file in one run, one
error per fault, and warnings about what compiles but misleads a person.

The device verifier (firmware/verifier.py) runs on the result too, so that caps are judged in
one place; its complaints come back as source positions through the instruction -> line map,
said in a person's units with what would pass.
"""

import difflib
from pathlib import Path

from ..firmware import bytecode as bc
from ..firmware import shapes
from ..firmware.profile import Profile
from ..firmware.verifier import pct, ramp_ms, verify
from ..units import duration
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

    def __init__(self, data, info, positions, elements, filename, warnings=(), lines=()):
        self.data = data
        self.info = info
        self.positions = positions  # per instruction: (file, line, col)
        self.elements = elements  # statements of the source; None for a compiled file
        self.filename = filename
        self.warnings = list(warnings)  # (line, col, message) in the file compiled; line 0:
        self._lines = lines  # about the whole file

    @property
    def name(self):
        return self.info.name

    def warning_text(self, caret=True):
        """The warnings written as errors are, `file:line:col: warning: ...` and a caret
        (without: one line each)."""
        return "\n".join(
            _format(
                self.filename,
                line,
                col,
                "warning: " + message,
                self._lines[line - 1] if line and caret else None,
            )
            for line, col, message in self.warnings
        )


class _Source:
    def __init__(self, filename, text, directory):
        self.filename = filename
        self.lines = text.removeprefix("\ufeff").splitlines()  # a BOM: Windows Notepad's
        self.directory = directory


class _Unplayable(SyntaxProblem):
    """A fault of a played pattern that comes from playing it (zones, a cycle): reported once,
    at the `play` line of the file being compiled, not at every line of the played one."""


def _closest(word, words):
    """The word of `words` that `word` is most likely a typo of, or None."""
    found = difflib.get_close_matches(word, list(words), n=1, cutoff=0.6)
    return found[0] if found else None


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
        tok = self.token(what)
        if self.rest and parse in (lexer.level, lexer.duration):
            lexer.spaced_unit(tok, self.rest[0])
        return parse(tok)

    def keyword(self, word):
        tok = self.token("'%s'" % word)
        if tok.text != word:
            raise SyntaxProblem(tok, "expected '%s', got %r" % (word, tok.text))

    def choice(self, table, what):
        tok = self.token(what)
        if tok.text not in table:
            guess = _closest(tok.text, table)
            raise SyntaxProblem(
                tok,
                "unknown %s %r: did you mean %r?" % (what, tok.text, guess)
                if guess
                else "unknown %s %r (one of: %s)" % (what, tok.text, ", ".join(table)),
            )
        return table[tok.text]

    def peek(self, word):
        """Consume `word` if it comes next."""
        if self.rest and self.rest[0].text == word:
            self.rest.pop(0)
            return True
        return False

    def done(self, *optional):
        """Nothing may be left; a typo of one of the `optional` words that may come last is
        named."""
        if self.rest:
            tok = self.rest[0]
            guess = _closest(tok.text, optional)
            raise SyntaxProblem(
                tok,
                "unexpected %r: did you mean %r?" % (tok.text, guess)
                if guess
                else "unexpected %r" % tok.text,
            )


class _Compiler:
    def __init__(self, profile, resolve):
        self.profile = profile
        self.resolve = resolve  # name, directory -> path of a played pattern or None
        self.errors = []
        self.warnings = []  # (line, col, message) in the file compiled
        self.insns = []  # [op, x, a, b, c, t]
        self.positions: list[tuple[str, int, int]] = []
        self.played: list[tuple[lexer.Token, str] | None] = []  # per instruction, see _played
        self.strings = ["", ""]
        # (kind, insn index or None if it failed, token, errors before it), of the file parsed
        self.blocks = []
        self.zone = False  # whether a zone is open
        self.level = 0  # level the last statement ends at, for `hold 2s` and `ramp -> 50%`
        self.run = None  # the motor's run from rest so far: (token, played, first, peak level)
        self.elements = 0
        self.zones = 0
        self.chain: list[tuple[str, Path | None]] = []  # (name, path): the file compiled, played
        self.play_tok: lexer.Token | None = None  # the `play` of the file compiled being played
        self.header: tuple[str, int, int] | None = None  # (file, line, col) of `pattern`

    # -- driving -----------------------------------------------------------------------------
    def parse(self, source, top):
        seen_header = False
        outer_blocks, self.blocks = self.blocks, []  # a played file's `end` closes its own
        try:
            for number, text in enumerate(source.lines, 1):
                tokens = None
                depth = len(self.blocks)
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
                        raise SyntaxProblem(tokens[0], _unknown_statement(tokens[0].text))
                    self.source = source
                    handler(self, _Args(tokens))
                except SyntaxProblem as p:
                    if isinstance(p, _Unplayable) and not top:
                        raise
                    self.error(source, p.token, p.message)
                    if tokens and seen_header:
                        self._recover(tokens[0], depth)
            for kind, _, tok, _ in self.blocks:
                self.error(source, tok, "'%s' is never closed by 'end'" % kind)
        finally:
            self.blocks = outer_blocks
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

    def _recover(self, tok, depth):
        """A statement that fails still opens or closes its block, so that its `end` matches
        and no error follows from the first; a misspelt one counts as the word it resembles."""
        word = tok.text if tok.text in _STATEMENTS else _closest(tok.text, _STATEMENTS)
        if len(self.blocks) != depth:
            return  # it opened or closed its block before it failed
        if word in ("repeat", "zone"):
            self._open(word, None, tok)
        elif word == "end" and self.blocks:
            self._close()

    def _open(self, kind, at, tok):
        self.blocks.append((kind, at, tok, len(self.errors)))
        self.zone = self.zone or kind == "zone"

    def _close(self):
        """The innermost block, closed: (kind, insn index, whether an error came inside)."""
        kind, at, _, errors = self.blocks.pop()
        self.zone = self.zone and kind != "zone"
        return kind, at, len(self.errors) > errors

    def error(self, source, tok, message):
        text = source.lines[tok.line - 1] if tok.line <= len(source.lines) else None
        error = (source.filename, tok.line, tok.col, message, text)
        if error not in self.errors:  # a played file's own error, once however often played
            self.errors.append(error)

    def warn(self, tok, message):
        """A warning: what compiles but misleads a person. In a played pattern, it is said at
        the `play` line of the file compiled, naming where in the played one."""
        self._warning(tok, self._where(), message)

    def _warning(self, tok, where, message):
        """warn(), where `where` is what _where() was when `tok` was read."""
        played, filename = where
        if played:
            message = _in_played(played[1], filename, tok.line, message)
            tok = played[0]
        warning = (tok.line, tok.col, message)
        if warning not in self.warnings:
            self.warnings.append(warning)

    def _where(self):
        """(_played(), the file being read): where a token read now is."""
        return self._played(), self.source.filename

    def _played(self):
        """(the `play` token of the file compiled, "name -> name") while a played pattern is
        being read, else None."""
        if self.play_tok is None:
            return None
        return self.play_tok, " -> ".join(name for name, _ in self.chain[1:])

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
        self.played.append(self._played())
        return len(self.insns) - 1

    # -- statements --------------------------------------------------------------------------
    def st_hold(self, args):
        rest = args.rest
        bare = len(rest) > 1 and lexer.is_number(rest[0]) and not lexer.is_unit(rest[1])
        leveled = rest and (rest[0].text.endswith("%") or bare)  # `30` before a duration too
        lv = args.take(lexer.level, "a level") if leveled else self.level
        ms = args.take(lexer.duration, "a duration")
        vary = args.take(lexer.level, "a level after vary") if args.peek("vary") else 0
        args.done("vary")
        self._hold(args.head, lv, ms, vary)

    def st_off(self, args):
        ms = args.take(lexer.duration, "a duration")
        args.done()
        self._hold(args.head, 0, ms, 0)

    def _hold(self, tok, lv, ms, vary):
        self._drive(tok, lv, lv, lv)
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
        self._drive(args.head, 0, max(start, end), end)
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
        step = self.profile.step_ms
        last = shapes.wave(shape, lo, hi, period, (ms - 1) // step * step)
        self._drive(args.head, 0, hi, 0 if lo == 0 else last)
        self.elements += 1
        self.emit(args.head, bc.OP_WAVE, x=shape, a=lo, b=hi, c=period, t=ms)
        self.level = last

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
        args.done("x", "vary")
        self._taps(args.head, lv, n)
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
        if self.zone and self.play_tok:  # the zone change is the cue: a played one is a rest
            self._drive(args.head, 0, 0, 0)
            self.emit(args.head, bc.OP_HOLD, t=n * (on + off))
            self.level = 0
            return
        if self.zone:
            self.warn(
                args.head,
                "a cue inside a zone: a person who moves on at each cue takes it for the"
                " zone's change; leave it out, or start a new zone here",
            )
        self._cue(args.head, n, on, off, lv)

    # -- starts from rest: what a coin motor may not make -------------------------------------
    def _drive(self, tok, first, peak, last):
        """Follow the motor's runs from rest (a run ends where the level is 0): a statement
        holds `first` for a while (0: it does not, a ramp or wave moves a step at a time, too
        soon for a start kick), rises to `peak` and ends at `last` (0 also where it touches
        0)."""
        if self.level == 0 and peak > 0:
            self._close_run()
            self.run = (tok, self._where(), first, peak)
        elif self.run:
            start, played, first0, peak0 = self.run
            self.run = (start, played, first0, max(peak0, peak))
        if last == 0:
            self._close_run()

    def _taps(self, tok, level, n):
        """Taps of `level` with rests between (pulse, cue): each after the first from rest."""
        self._drive(tok, level, level, 0)
        if n > 1:
            self._start(tok, self._where(), level, level)

    def _close_run(self):
        if self.run:
            self._start(*self.run)
            self.run = None

    def _start(self, tok, where, first, peak):
        """Warn of a run from rest this board's motor may not start at all: it stays below the
        motor's start level (profile motor.start_level), even at the top intensity step, and its
        first level is too low for the start kick to lift (twice itself at most, see
        firmware/motor.py)."""
        need = getattr(self.profile, "motor_start_level", 0)
        top = getattr(self.profile, "intensity", (1000,))[-1]
        if not need or peak * top // 1000 >= need or 2 * first * top // 1000 >= need:
            return
        if first and first == peak:
            what = "plays %s from rest" % pct(first)
            fix = "start at %s or more (a start kick lifts a level to twice itself at most)" % (
                pct((need + 1) // 2)
            )
        else:
            what = "starts the motor from rest and rises to %s only" % pct(peak)
            fix = "reach %s before the next rest, or start with a hold of %s or more" % (
                pct(need),
                pct((need + 1) // 2),
            )
        self._warning(
            tok,
            where,
            "this %s: this board's motor may not start below %s (its start_level), even at"
            " intensity 5: %s" % (what, pct(need), fix),
        )

    def _cue(self, tok, n, on, off, lv):
        if off:
            self._taps(tok, lv, n)
        else:
            self._drive(tok, lv, lv, lv)
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
        self._open("repeat", self.emit(args.head, bc.OP_LOOP, a=n), args.head)

    def st_zone(self, args):
        played = self._played()
        if played:
            where = "%s:%d: `%s`" % (
                Path(self.source.filename).name,
                args.head.line,
                " ".join(t.text for t in [args.head] + args.rest),
            )
            raise _Unplayable(
                args.head,
                "%s has zones (%s), and a played pattern cannot: zones stand only in the"
                " file being compiled" % (played[1], where),
            )
        zone_name = args.take(lexer.name, "a zone name")
        ms = args.take(lexer.duration, "a length: write `zone %s 45s`" % zone_name)
        args.done()
        if self.blocks:
            raise SyntaxProblem(
                args.head,
                "a zone must be at the top level of a pattern file, not inside '%s'"
                % self.blocks[-1][0],
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
        self._open("zone", at, args.head)

    def st_end(self, args):
        if not self.blocks:
            raise SyntaxProblem(args.head, "'end' without an open 'repeat' or 'zone'")
        kind, at, failed = self._close()
        args.done()
        if at is None or failed:
            return  # its opening statement or one inside failed, and said so
        if at == len(self.insns) - 1 or (kind == "zone" and self.insns[at][3] == len(self.insns)):
            raise SyntaxProblem(args.head, "empty '%s' block" % kind)
        self.insns[at][4] = self.emit(args.head, bc.OP_END, c=at)

    def st_play(self, args):
        tok = args.token("the name of a pattern to play")
        args.done()
        found = self.resolve(tok.text, self.source.directory)
        if found is None:
            raise SyntaxProblem(
                tok,
                "no pattern %r: neither %s.fw beside this file nor a built-in"
                " routine" % (tok.text, tok.text),
            )
        path = Path(found).resolve()
        paths = [p for _, p in self.chain]
        if path in paths:
            cycle = [name for name, _ in self.chain[paths.index(path) :]] + [tok.text]
            raise _Unplayable(
                tok,
                "play cycle %s: a pattern cannot play itself, directly or through others"
                % " -> ".join(cycle),
            )
        text = _read(path)
        outer = self.source
        top = self.play_tok is None
        if top:
            self.play_tok = tok
        self.chain.append((tok.text, path))
        try:
            self.parse(_Source(str(path), text, path.parent), top=False)
        except _Unplayable as p:
            if not top:
                raise
            raise SyntaxProblem(tok, p.message) from None
        finally:
            self.chain.pop()
            self.source = outer
            if top:
                self.play_tok = None

    # -- finishing ---------------------------------------------------------------------------
    def finish(self, source):
        self._close_run()
        if not self.errors and not self.insns:
            self.errors.append((source.filename, 0, 0, "pattern plays nothing", None))
        if self.errors:
            raise CompileError(self.errors)
        try:
            self._fits()
            data = bc.pack([bc.pack_insn(*i) for i in self.insns], self.strings)
            info = verify(data, self.profile)
        except (bc.VerifyError, bc.FormatError) as e:
            message = e.args[0]
            pc = e.args[1] if len(e.args) > 1 else -1
            message = self._teach(e.args) or message
            where = self.positions[pc] if 0 <= pc < len(self.positions) else self.header
            assert where is not None  # no errors: the top file's `pattern` line was read
            _, line, col = where
            played = self.played[pc] if 0 <= pc < len(self.played) else None
            if played:  # in a played pattern: said at the `play` line that plays it
                message = _in_played(played[1], where[0], line, message)
                line, col = played[0].line, played[0].col
            raise CompileError(
                [(source.filename, line, col, message, source.lines[line - 1])]
            ) from None
        return Program(
            data,
            info,
            self.positions,
            self.elements,
            source.filename,
            self.warnings,
            source.lines,
        )

    def _fits(self):
        """The bytecode's own limits, said in those words: at the statement that makes one
        instruction too many, at the `pattern` line for a body too large."""
        if len(self.insns) > bc.MAX_INSNS:
            raise bc.VerifyError(
                "the program reaches %s instructions here, over the limit of %s instructions:"
                " `repeat` plays what repeats" % (_count(bc.MAX_INSNS + 1), _count(bc.MAX_INSNS)),
                bc.MAX_INSNS,
            )
        body = len(self.insns) * bc.INSN_SIZE + 1 + sum(1 + len(s.encode()) for s in self.strings)
        if body > bc.MAX_BODY:
            raise bc.VerifyError(
                "the program's body is %s bytes, over the limit of 32 KB (%s bytes): fewer"
                " statements or zones, or shorter zone names"
                % (_count(body), _count(bc.MAX_BODY)),
                -1,
            )

    def _teach(self, args):
        """The verifier's complaint in a person's units, with what would pass; None where its
        own words say it."""
        prof = self.profile
        cap = args[2] if len(args) > 2 else None
        if cap == "slew" and self.insns[args[1]][0] == bc.OP_RAMP:
            _, ease, a, b, _, t = self.insns[args[1]]
            need = [lexer.written(ramp_ms(prof, x, a, b)) for x in range(len(bc.EASE_NAMES))]
            return "ramp %s -> %s over %s is steeper than this device allows (%s per s): %s" % (
                pct(a),
                pct(b),
                lexer.written(t),
                pct(prof.slew),
                "%s needs at least %s (%s)"
                % (
                    bc.EASE_NAMES[ease],
                    need[ease],
                    ", ".join(
                        "%s %s" % (name, need[x])
                        for x, name in enumerate(bc.EASE_NAMES)
                        if x != ease
                    ),
                ),
            )
        if len(args) < 6:
            return None
        dur, energy, run = args[3:6]  # a cap on the whole program: every one it breaks here
        session = prof.session_max_ms
        faults = []
        if dur > session:
            faults.append(
                "the pattern lasts %s by here, over this device's session cap of %s"
                % (duration(dur), duration(session))
            )
        if energy > prof.thermal:
            faults.append(
                "over the motor's thermal budget by here: as much drive as %s for %s, where"
                " this device allows %s for %s: lower the levels or shorten the strong parts"
                % (
                    pct(-(-energy // session)),
                    duration(session),
                    pct(prof.thermal // session),
                    duration(session),
                )
            )
        if run > prof.max_on_ms:
            faults.append(
                "the motor runs %s without a rest by here, over this device's motor-on cap of"
                " %s: add an `off`" % (duration(run), duration(prof.max_on_ms))
            )
        return "; also ".join(faults)


_STATEMENTS = {name[3:]: fn for name, fn in vars(_Compiler).items() if name.startswith("st_")}


def _unknown_statement(word):
    guess = _closest(word, _STATEMENTS)
    if guess:
        return "unknown statement %r: did you mean %r?" % (word, guess)
    return "unknown statement %r (expected one of: %s)" % (word, ", ".join(sorted(_STATEMENTS)))


def _count(n):
    """2,048: a limit as people write it."""
    return format(n, ",")


def _in_played(names, filename, line, message):
    """A message about a played pattern, for the `play` line that plays it."""
    return "in %s (%s:%d): %s" % (names, Path(filename).name, line, message)


def _read(path):
    """Text of a pattern file, or one clear error about why it cannot be had."""
    from ..files import FileProblem, read

    try:
        return read(path, MAX_SOURCE_BYTES, "a pattern file").decode("utf-8")
    except FileProblem as e:
        raise CompileError([(str(path), 0, 0, e.why, None)]) from None
    except UnicodeDecodeError as e:
        raise CompileError(
            [(str(path), 0, 0, "not UTF-8 text (byte %d)" % e.start, None)]
        ) from None


def _default_resolve(name, directory):
    from .. import library

    return library.resolve(name, directory)


def compile_source(text, filename="<pattern>", profile=None, directory=None, resolve=None):
    source = _Source(filename, text, Path(directory) if directory else Path.cwd())
    comp = _Compiler(profile or Profile(), resolve or _default_resolve)
    comp.source = source
    path = Path(directory or ".") / Path(filename).name
    comp.chain.append((path.stem, path.resolve() if path.is_file() else None))
    comp.parse(source, top=True)
    return comp.finish(source)


def compile_file(path, profile=None, resolve=None):
    path = Path(path)
    return compile_source(_read(path), str(path), profile, path.parent, resolve)
