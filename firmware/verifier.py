"""The verifier: reads a program (bytecode.py has its layout), rejects any program the engine
must not play, and measures the ones it may.

It runs on the device before a program is stored or played, and on the host (which maps the
failing instruction back to a source line). It rejects, never clamps. Every check is
conservative: a bound that might be exceeded counts as exceeded.

The walk is linear in the number of instructions: each loop or zone body is summarised once
(duration, energy, level range, first and last levels, runs of motor-on time) and the summary
is composed, so a loop of 10,000 turns costs the same as one turn.
"""

import binascii
import struct

from . import bytecode as bc
from . import shapes
from .program import source

_EASE_SLOPE = (2, 4, 4, 3)  # twice the steepest slope of each easing, relative to linear


class Info:
    """What an accepted program promises: its exact duration and bounds."""

    def __init__(self, count, duration, energy, peak, longest_on, names):
        self.count = count
        self.duration = duration
        self.energy = energy
        self.peak = peak
        self.longest_on = longest_on
        self.name = names[0]
        self.description = names[1]
        self.zones = names[2:]

    def session_ms(self, setting):
        """How long a session of this program lasts with the session setting `setting` (ms): a
        routine (zones) and a pattern longer than the setting play their own length, once and
        whole (an author who wrote a 4-minute routine means 4 minutes: the setting never cuts
        what was written); a shorter pattern repeats to fill the session. Here, not in the
        session timer, so that a device holds it only while it starts a session."""
        d = self.duration
        return d if self.zones or d > setting else setting


def pct(level):
    """Permille as a percentage for messages: 855 -> '85.5%'."""
    if level % 10:
        return "%d.%d%%" % (level // 10, level % 10)
    return "%d%%" % (level // 10)


class _Sum:
    """Summary of a stretch of program; dur == 0 means empty (the identity)."""

    def __init__(self, pc=-1, dur=0, energy=0, lo=0, hi=0, first=(0, 0), last=(0, 0), on=False):
        self.pc = pc  # first instruction, for error positions
        self.dur = dur
        self.energy = energy
        self.lo = lo
        self.hi = hi
        self.first = first  # (low, high) bounds of the first level
        self.last = last
        # motor-on runs: at the start, at the end, the longest, and whether it never rests
        self.all_on = on
        self.lead = dur if on else 0
        self.trail = dur if on else 0
        self.run = dur if on else 0


def _fail(msg, pc=-1, cap=None):
    raise bc.VerifyError(msg, pc, cap)


def ramp_ms(prof, ease, a, b):
    """The shortest time a ramp from level a to b with this easing may take, in ms: the
    steepest point of the easing must fit the slew limit."""
    return (abs(b - a) * 1000 * _EASE_SLOPE[ease] + 2 * prof.slew - 1) // (2 * prof.slew)


def _check_step(prof, a, b, pc):
    """An edge from level bounds a to level bounds b must fit the step limit."""
    jump = max(b[1] - a[0], a[1] - b[0])
    if jump > prof.max_step:
        _fail(
            "level jumps by %s, more than the %s this device allows in one step; ramp instead"
            % (pct(jump), pct(prof.max_step)),
            pc,
            "max_step",
        )


def _seq(prof, x, y):
    """x followed by y, composed in x: callers keep no other reference to x. A summary less
    to make, and no calls, per instruction: a Pico verifies a 16 KB program in 1.0 s this way,
    1.4 s making a new one."""
    if x.dur == 0:
        return y
    if y.dur == 0:
        return x
    xl = x.last
    yf = y.first
    jump = yf[1] - xl[0]
    if xl[1] - yf[0] > jump:
        jump = xl[1] - yf[0]
    if jump > prof.max_step:
        _check_step(prof, xl, yf, y.pc)
    run = x.trail + y.lead
    if x.run > run:
        run = x.run
    if y.run > run:
        run = y.run
    if x.all_on:
        x.lead = x.dur + y.lead
    x.trail = y.dur + x.trail if y.all_on else y.trail
    x.run = run
    x.all_on = x.all_on and y.all_on
    x.dur += y.dur
    x.energy += y.energy
    if y.lo < x.lo:
        x.lo = y.lo
    if y.hi > x.hi:
        x.hi = y.hi
    x.last = y.last
    return x


def _repeat(prof, body, turns, length):
    """body played `turns` times, cut at `length` ms (a zone) or whole (length 0: a loop)."""
    if turns > 1:
        _check_step(prof, body.last, body.first, body.pc)
    dur = length or body.dur * turns
    s = _Sum(
        body.pc,
        dur,
        min(body.energy * turns, body.hi * dur),
        body.lo,
        body.hi,
        body.first,
        body.last,
    )
    if length and length % body.dur:
        s.last = (body.lo, body.hi)  # cut mid-body: any level of it
    if body.all_on or dur <= body.lead:  # never reaches a rest before it is cut
        s.all_on = True
        s.lead = s.trail = s.run = dur
        return s
    wrap = body.trail + body.lead if turns > 1 else 0
    s.lead = body.lead
    s.run = min(dur, max(body.run, wrap))
    s.trail = s.run if length else body.trail
    return s


def _leaf(prof, pc, op, x, a, b, c, t):
    """Summary of one timed instruction, after checking its own fields.

    A stretch counts as motor-on unless it is at 0 for a whole segment (or the off half of a
    square wave, the off time of a cue): touching 0 for an instant is no rest."""
    cap = prof.max_level
    if op == bc.OP_HOLD:
        if a + b > cap:
            _fail(
                "level %s%s is above this device's cap of %s"
                % (pct(a), " + %s variation" % pct(b) if b else "", pct(cap)),
                pc,
                "max_level",
            )
        if a < b:
            _fail("level %s cannot vary by %s: it would go below 0" % (pct(a), pct(b)), pc)
        return _Sum(pc, t, (a + b) * t, a - b, a + b, (a - b, a + b), (a - b, a + b), a + b > 0)
    if op == bc.OP_RAMP:
        if x > bc.EASE_IN_OUT:
            _fail("unknown easing %d" % x, pc)
        if max(a, b) > cap:
            _fail(
                "ramp to %s is above this device's cap of %s" % (pct(max(a, b)), pct(cap)),
                pc,
                "max_level",
            )
        if t < ramp_ms(prof, x, a, b):
            _fail(
                "ramp %s -> %s over %d ms is steeper than this device's limit of %s per s"
                % (pct(a), pct(b), t, pct(prof.slew)),
                pc,
                "slew",
            )
        # the engine holds each sample for a step, so the area can beat the line's by a step
        energy = max(a, b) * t
        if x == bc.EASE_LINEAR:
            energy = min(energy, (a + b) * t // 2 + abs(b - a) * prof.step_ms + max(a, b))
        end = shapes.ramp(x, a, b, t, (t - 1) // prof.step_ms * prof.step_ms)  # last sample
        return _Sum(pc, t, energy, min(a, b), max(a, b), (a, a), (end, end), max(a, b) > 0)
    if op == bc.OP_WAVE:
        if x > bc.WAVE_SAW:
            _fail("unknown wave shape %d" % x, pc)
        if a > b or b > cap:
            _fail(
                "wave range %s..%s is not within 0..%s" % (pct(a), pct(b), pct(cap)),
                pc,
                "max_level",
            )
        if c < 2 * prof.step_ms:
            _fail(
                "wave period %d ms is shorter than two update steps (%d ms) of this device"
                % (c, 2 * prof.step_ms),
                pc,
                "step_ms",
            )
        span = b - a
        if x == bc.WAVE_SQUARE or x == bc.WAVE_SAW:
            _check_step(prof, (a, a), (b, b), pc)
        # steepest slope, permille per second: sine pi*span/period, triangle 2*span/period
        slope = (
            span * 1000 * (355 if x == bc.WAVE_SINE else 226) // (113 * c)
            if x != bc.WAVE_SQUARE
            else 0
        )
        if slope > prof.slew:
            _fail(
                "wave %s..%s with period %d ms changes faster than this device's limit of %s"
                " per s" % (pct(a), pct(b), c, pct(prof.slew)),
                pc,
                "slew",
            )
        end = shapes.wave(x, a, b, c, (t - 1) // prof.step_ms * prof.step_ms)
        energy = min(b * t, (a + b) * t // 2 + b * (c + prof.step_ms))
        s = _Sum(pc, t, energy, a, b, (a, a), (end, end), b > 0)
        if a == 0 and x == bc.WAVE_SQUARE:  # rests every other half period
            s.all_on = False
            s.lead = 0
            s.trail = s.run = c - c // 2 + prof.step_ms
        return s
    # OP_CUE
    if a > cap or a == 0:
        _fail("cue level %s is not within 0..%s" % (pct(a), pct(cap)), pc, "max_level")
    if c:
        _check_step(prof, (a, a), _ZERO, pc)  # each pulse of the cue ends with an edge to 0
    s = _Sum(pc, t, a * b * x, 0 if c else a, a, (a, a), (0 if c else a,) * 2, c == 0)
    if c:
        s.lead = s.run = b
    return s


# ---- reading a program: header, string table, instructions ----

_PIECE = 256  # bytes read at a time for the CRC: the program is never held whole


def parse_header(program):
    """Check magic, version, sizes and CRC of a program (bytes, Image or File); answer the
    instruction count.

    Sizes are checked against the bytes present before anything is trusted, so a corrupt
    header cannot ask for memory."""
    src = source(program)
    size = src.size
    if size < bc.HEADER_SIZE:
        raise bc.FormatError("too short for a program header (%d bytes)" % size)
    head = src.read(0, bc.HEADER_SIZE)
    if len(head) != bc.HEADER_SIZE:
        raise bc.FormatError("short read of the program header")
    magic, version, flags, count, length, crc = struct.unpack(bc.HEADER_STRUCT, head)
    if magic != bc.MAGIC:
        raise bc.FormatError("not a facewave program (bad magic)")
    if version != bc.VERSION:
        raise bc.FormatError("bytecode version %d, this firmware reads %d" % (version, bc.VERSION))
    if flags:
        raise bc.FormatError("unknown header flags 0x%02x" % flags)
    if length > bc.MAX_BODY:
        raise bc.FormatError(
            "body of %d bytes, over the limit of %d KB" % (length, bc.MAX_BODY // 1024)
        )
    if length != size - bc.HEADER_SIZE:
        raise bc.FormatError(
            "body length %d does not match the %d bytes present" % (length, size - bc.HEADER_SIZE)
        )
    if count > bc.MAX_INSNS:
        raise bc.FormatError("%d instructions, over the limit of %d" % (count, bc.MAX_INSNS))
    if count == 0 or count * bc.INSN_SIZE >= length:
        raise bc.FormatError("instruction count %d does not fit the body" % count)
    pos = bc.HEADER_SIZE
    run = 0
    while pos < size:
        piece = src.read(pos, _PIECE)
        if not piece:
            raise bc.FormatError("short read of the program body")
        run = binascii.crc32(piece, run)
        pos += len(piece)
    if run & 0xFFFFFFFF != crc:
        raise bc.FormatError("CRC mismatch: the program is corrupt")
    return count


def strings(program, count):
    """The string table as a list of str; raises bytecode.FormatError if it is malformed."""
    src = source(program)
    pos = bc.HEADER_SIZE + count * bc.INSN_SIZE
    end = src.size
    n = src.read(pos, 1)[0]
    pos += 1
    out = []
    for _ in range(n):
        if pos >= end:
            raise bc.FormatError("string table truncated")
        size = src.read(pos, 1)[0]
        pos += 1
        if pos + size > end:
            raise bc.FormatError("string table truncated")
        raw = src.read(pos, size)
        if not _utf8(raw):
            raise bc.FormatError("string %d is not UTF-8" % len(out))
        out.append(str(raw, "utf-8"))
        pos += size
    if pos != end or n < 2:
        raise bc.FormatError("string table malformed")
    return out


def unpack_insn(program, i):
    """(op, x, a, b, c, t) of instruction i of a program (bytes, Image or File); tools use it
    too, the engine reads its own way."""
    return _insn(source(program), i)


def _insn(src, i):
    return struct.unpack_from(bc.INSN_STRUCT, src.buf, src.at(i))


def _utf8(raw):
    """Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), checked here
    because MicroPython's decoder accepts what CPython's refuses: host and device must agree."""
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            more, low, high = 1, 0x80, 0xBF
        elif 0xE0 <= c <= 0xEF:
            more = 2
            low = 0xA0 if c == 0xE0 else 0x80
            high = 0x9F if c == 0xED else 0xBF
        elif 0xF0 <= c <= 0xF4:
            more = 3
            low = 0x90 if c == 0xF0 else 0x80
            high = 0x8F if c == 0xF4 else 0xBF
        else:
            return False
        if i + more >= n:
            return False
        if not low <= raw[i + 1] <= high:
            return False
        for k in range(i + 2, i + 1 + more):
            if not 0x80 <= raw[k] <= 0xBF:
                return False
        i += 1 + more
    return True


_ZERO = (0, 0)


def verify(program, prof):
    """Check a whole program (bytes, or a program.Image or File) against a profile; answer its
    Info or raise bytecode.VerifyError."""
    data = source(program)
    try:
        count = parse_header(data)
        names = strings(data, count)
    except bc.FormatError as e:
        raise bc.VerifyError(e.args[0], -1, None)
    stack = []  # (summary before the block, opening pc, op, x, a, b, c, t)
    cur = _Sum()
    longest = prof.session_max_ms
    thermal = prof.thermal
    max_on = prof.max_on_ms
    zone = False
    for pc in range(count):
        op, x, a, b, c, t = _insn(data, pc)
        if op == bc.OP_HOLD or op == bc.OP_RAMP or op == bc.OP_WAVE or op == bc.OP_CUE:
            if op == bc.OP_CUE:
                if not (1 <= x <= 8 and 1 <= b <= 2000 and c <= 2000) or t:
                    _fail("malformed cue", pc)
                t = x * (b + c)
            elif t == 0:
                _fail("%s of zero duration" % bc.OP_NAMES[op], pc)
            elif op != bc.OP_WAVE and c:
                _fail("malformed %s" % bc.OP_NAMES[op], pc)
            if op == bc.OP_HOLD and x:
                _fail("malformed hold", pc)
            cur = _seq(prof, cur, _leaf(prof, pc, op, x, a, b, c, t))
        elif op == bc.OP_LOOP or op == bc.OP_ZONE:
            if c <= pc or c >= count or _insn(data, c)[0] != bc.OP_END or _insn(data, c)[4] != pc:
                _fail("%s at %d has no matching end" % (bc.OP_NAMES[op], pc), pc)
            if op == bc.OP_LOOP:
                if a == 0 or x or b or t:
                    _fail("loop count must be at least 1", pc)
                if sum(1 for f in stack if f[2] == bc.OP_LOOP) >= bc.MAX_DEPTH:
                    _fail("loops nested deeper than %d" % bc.MAX_DEPTH, pc)
            else:
                if zone or stack:
                    _fail("a zone must not be inside a loop or another zone", pc)
                if not 2 <= a < len(names) or x or t == 0 or not pc < b <= c:
                    _fail("malformed zone", pc)
                zone = True
            stack.append((cur, pc, op, x, a, b, c, t))
            cur = _Sum()
        elif op == bc.OP_END:
            if not stack or stack[-1][1] != c or x or a or b or t:
                _fail("end without a matching loop or zone", pc)
            outer, opened, kind, _, n, rep, _, length = stack.pop()
            if kind == bc.OP_LOOP:
                if cur.dur == 0:
                    _fail("loop with zero duration", opened)
                cur = _seq(prof, outer, _repeat(prof, cur, n, 0))
            else:
                cur = _seq(prof, outer, _zone(prof, data, opened, rep, pc, length, cur))
                zone = False
        elif op == bc.OP_SEED:
            if a == 0 or x or b or c or t:
                _fail("seed must be 1..65535", pc)
        elif op == bc.OP_FREQ:
            if a > 40000 or x or b or c or t:
                _fail("motor frequency %d Hz out of range" % a, pc)
        else:
            _fail("unknown opcode %d" % op, pc)
        if cur.dur > longest or cur.energy > thermal or cur.run > max_on:
            _check_totals(prof, cur, pc)
    if stack:
        _fail("%s is never closed by end" % bc.OP_NAMES[stack[-1][2]], stack[-1][1])
    if cur.dur == 0:
        _fail("program plays nothing")
    _check_step(prof, _ZERO, cur.first, 0)
    _check_step(prof, cur.last, _ZERO, count - 1)
    return Info(count, cur.dur, cur.energy, cur.hi, cur.run, names)


def _check_totals(prof, s, pc):
    """Caps on the whole program, checked as it grows so the error points where it tips; the
    error carries the totals so far (duration, energy, longest motor-on run) after the cap."""
    if s.dur > prof.session_max_ms:
        msg = "program is longer than this device's session cap of %d s" % (
            prof.session_max_ms // 1000
        )
        cap = "session_max_ms"
    elif s.energy > prof.thermal:
        msg = "program drives the motor harder than its thermal budget (%d%% of it)" % (
            s.energy * 100 // prof.thermal
        )
        cap = "thermal"
    else:
        msg = "motor would run %d s without a rest; this device allows %d s" % (
            s.run // 1000,
            prof.max_on_ms // 1000,
        )
        cap = "max_on_ms"
    raise bc.VerifyError(msg, pc, cap, s.dur, s.energy, s.run)


def _zone(prof, data, opened, rep, end, length, body):
    """A zone: a prelude played once (instructions before `rep`), then the rest repeated to
    fill `length` ms. The body summary covers both, so it is re-walked in two parts."""
    if rep == opened + 1:
        pre = _Sum()
        loop = body
    else:
        pre = _span(prof, data, opened + 1, rep)
        loop = _span(prof, data, rep, end)
    if pre.dur >= length:
        _fail("zone is shorter than its opening cue", opened)
    if loop.dur == 0:
        _fail("zone with nothing to play", opened)
    turns = (length - pre.dur + loop.dur - 1) // loop.dur
    return _seq(prof, pre, _repeat(prof, loop, turns, length - pre.dur))


def _span(prof, data, start, stop):
    """Summary of the flat run of instructions start..stop-1 (loops inside are composed)."""
    stack = []
    cur = _Sum()
    for pc in range(start, stop):
        op, x, a, b, c, t = _insn(data, pc)
        if op == bc.OP_LOOP:
            stack.append((cur, a))
            cur = _Sum()
        elif op == bc.OP_END:
            if not stack:
                _fail("zone prelude must not cut a loop", start)
            outer, n = stack.pop()
            cur = _seq(prof, outer, _repeat(prof, cur, n, 0))
        elif op == bc.OP_CUE:
            cur = _seq(prof, cur, _leaf(prof, pc, op, x, a, b, c, x * (b + c)))
        elif op == bc.OP_HOLD or op == bc.OP_RAMP or op == bc.OP_WAVE:
            cur = _seq(prof, cur, _leaf(prof, pc, op, x, a, b, c, t))
    if stack:
        _fail("zone prelude must not cut a loop", start)
    return cur
