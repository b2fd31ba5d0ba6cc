"""The pattern engine: plays verified bytecode, one motor level at a time.

It never reads a clock. `step(now)` is given the time (ticks_ms, wrap-aware) and answers the
motor level (permille); `next` is then the absolute tick at which it wants to be called again.
Segments start at the planned end of the previous one, not at the time `step` happened to be
called, so late calls never turn into drift. No allocation happens after `load`: only small
ints, preallocated loop frames and indexing into the program's buffer (program.py: a whole
program in memory, or a block of a stored one read into a buffer made once).
"""

from micropython import const

from . import bytecode as bc
from . import shapes, ticks
from .program import Image, source

IDLE = const(0)
PLAYING = const(1)
PAUSED = const(2)
DONE = const(3)
NEVER = const(-1)  # `next` when nothing is due

_SEED = const(1)


class Engine:
    def __init__(self, step_ms):
        self.step_ms = step_ms
        self._lpc = [0] * bc.MAX_DEPTH  # pc of each open LOOP
        self._left = [0] * bc.MAX_DEPTH  # turns left
        self._src = Image(b"")
        self._n = 0
        self.state = IDLE
        self.level = 0
        self.next = NEVER
        self.zone = -1  # string index of the current zone, -1 outside zones
        self.cues = 0  # cues started so far
        self.freq = 0  # motor frequency asked for (0: the profile's)
        self.since = 0  # planned start tick of what plays now (late calls do not move it)

    def load(self, program, count):
        """Take a program the verifier accepted (bytes, or a program.Image or File; count: its
        instruction count)."""
        self.stop()
        self._src = source(program)
        self._n = count

    def start(self, now):
        self.state = PLAYING
        self._pc = 0
        self._depth = 0
        self.since = now
        self._dur = 0  # its length, 0: no segment (fetch the next instruction)
        self._zend = 0  # tick at which the current zone ends
        self._zpc = -1  # pc of the current ZONE, -1 outside zones
        self._zrep = 0  # its repeating part's first pc and its END's pc
        self._zlast = 0
        self._rng = _SEED
        self.zone = -1
        self.cues = 0
        self.freq = 0
        return self.step(now)

    def stop(self):
        """Motor to zero now; playing ends."""
        self.state = DONE if self.state != IDLE else IDLE
        self.level = 0
        self.next = NEVER

    def pause(self, now):
        if self.state == PLAYING:
            self.state = PAUSED
            self._paused = now
            self.level = 0
            self.next = NEVER

    def resume(self, now):
        """Carry on where it paused: the remaining times shift by the pause, nothing is lost."""
        if self.state == PAUSED:
            shift = ticks.diff(now, self._paused)
            self.since = ticks.add(self.since, shift)
            self._zend = ticks.add(self._zend, shift)
            self.state = PLAYING
            self.step(now)

    def step(self, now):
        if self.state != PLAYING:
            return self.level
        src = self._src
        p = src.buf
        while True:
            if self._dur:
                e = ticks.diff(now, self.since)
                if e < self._dur:
                    self._output(e)
                    return self.level
                self.since = ticks.add(self.since, self._dur)
                self._dur = 0
            if self._zpc >= 0 and ticks.diff(self.since, self._zend) >= 0:
                self._leave_zone()
            pc = self._pc
            if pc >= self._n:
                self.state = DONE
                self.level = 0
                self.next = NEVER
                return 0
            i = src.at(pc)
            op = p[i]
            self._x = p[i + 1]
            self._a = p[i + 2] | p[i + 3] << 8
            self._b = p[i + 4] | p[i + 5] << 8
            c = p[i + 6] | p[i + 7] << 8
            self._c = c
            t = p[i + 8] | p[i + 9] << 8 | p[i + 10] << 16 | p[i + 11] << 24
            self._pc = pc + 1
            if op == bc.OP_LOOP:
                d = self._depth
                self._lpc[d] = pc
                self._left[d] = self._a
                self._depth = d + 1
            elif op == bc.OP_END:
                self._end(pc, c)
            elif op == bc.OP_ZONE:
                self._zpc = pc
                self._zrep = self._b  # where its repeating part starts
                self._zlast = c  # its END
                self._zend = ticks.add(self.since, t)
                self.zone = self._a
            elif op == bc.OP_SEED:
                self._rng = self._a
            elif op == bc.OP_FREQ:
                self.freq = self._a
            else:
                self._op = op
                if op == bc.OP_CUE:
                    t = self._x * (self._b + c)
                    self.cues += 1
                elif op == bc.OP_HOLD:
                    self._a = self._vary(self._a, self._b)
                self._full = t
                if self._zpc >= 0:  # a zone cuts whatever plays when its time is up
                    left = ticks.diff(self._zend, self.since)
                    if left < t:
                        t = left
                self._dur = t

    def _end(self, pc, opener):
        d = self._depth - 1
        if d >= 0 and self._lpc[d] == opener:
            left = self._left[d] - 1
            if left:
                self._left[d] = left
                self._pc = opener + 1
            else:
                self._depth = d
        else:  # the END of a zone: play its repeating part again while time is left
            self._pc = self._zrep

    def _leave_zone(self):
        self._pc = self._zlast + 1
        self._zpc = -1
        self._depth = 0  # zones are never inside loops, so no loop outlives one
        self.zone = -1

    def _vary(self, level, spread):
        """Level +/- a reproducible pseudo-random amount (xorshift16: small ints only)."""
        if not spread:
            return level
        r = self._rng
        r ^= (r << 7) & 0xFFFF
        r ^= r >> 9
        r ^= (r << 8) & 0xFFFF
        self._rng = r
        return level - spread + r % (2 * spread + 1)

    def _output(self, e):
        """Set level and next for elapsed time e inside the current segment."""
        op = self._op
        end = self._dur
        if op == bc.OP_HOLD:
            self.level = self._a
            self.next = ticks.add(self.since, end)
            return
        if op == bc.OP_CUE:
            period = self._b + self._c
            k = e % period
            if k < self._b:
                self.level = self._a
                nxt = e - k + self._b
            else:
                self.level = 0
                nxt = e - k + period
        else:  # sampled on the step grid of the segment, however late the call
            step = self.step_ms
            at = e - e % step
            if op == bc.OP_RAMP:
                self.level = shapes.ramp(self._x, self._a, self._b, self._full, at)
            else:
                self.level = shapes.wave(self._x, self._a, self._b, self._c, at)
            nxt = at + step
        self.next = ticks.add(self.since, nxt if nxt < end else end)
