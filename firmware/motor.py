"""The motor: turns the pattern's wish into the level the PWM gets, within the board's caps.

Soft start (a linear envelope over soft_ms after every start), an optional kick when the motor
starts from rest (to overcome ERM stiction: a short overdrive, as haptic drivers do), a ramp to
zero that ends exactly at a planned end (fade_to), and two running limits the verifier cannot
see because they span repeats and sessions: the continuous on-time cap (max_on_ms, then a
forced rest of rest_ms) and a thermal budget, a leaky bucket of level x time that cools at the
rate the profile's thermal cap allows over a whole session. stop() is immediate: safety over
smoothness.

The kick respects what it starts: it lasts kick_ms, but never more than a third of the time the
wish holds (`hold`, what the pattern's step lasts), and drives kick_level, but never more than
twice the level about to be played; so a gentle pattern stays gentle and a short tap is not
turned into an overdrive tap. The caps bound it as they bound everything.
"""

from micropython import const

from . import ticks

_NEVER = const(-1)
_MAX_WAIT = const(60000)  # longest wait computed from the heat budget (it is rechecked)


class Motor:
    def __init__(self, prof):
        self.cap = prof.max_level
        self.step_ms = prof.step_ms
        self.max_on = prof.max_on_ms
        self.soft_ms = prof.motor_soft_ms
        self.kick_ms = prof.motor_kick_ms
        self.kick_level = prof.motor_kick_level
        self.fade_ms = prof.motor_fade_ms
        self.rest_ms = prof.motor_rest_ms
        self.cool = max(1, prof.thermal // prof.session_max_ms)  # permille shed continuously
        self.heat_cap = prof.thermal // 2000  # full-drive ms: half of one program's budget
        self.heat = 0  # full-drive ms above what cooling has shed
        self._rem = 0  # remainder of heat, permille-ms
        self._t = 0  # tick of the last accounting
        self.level = 0
        self.next = _NEVER
        self.hot = False  # resting until the heat has halved
        self.rests = 0  # forced rests so far (on-time cap or heat)
        self._since = _NEVER  # soft start began here
        self._end = _NEVER  # ramp to zero ends here
        self._on = _NEVER  # the motor has been on since here
        self._kick = _NEVER  # kick ends here
        self._rest = _NEVER  # on-time rest ends here

    def start(self, now):
        """A session starts or resumes: soft start from here."""
        self._account(now)
        self._since = now
        self._end = _NEVER

    def fade_to(self, end):
        """Ramp to zero so as to reach 0 at tick `end`."""
        self._end = end

    def stop(self, now):
        """Motor to 0 at once; nothing pending."""
        self._account(now)
        self.level = 0
        self.next = _NEVER
        self._since = self._end = self._on = self._kick = self._rest = _NEVER

    def update(self, now, target, hold=0):
        """Level for the wish `target` (permille) at `now`, which holds for `hold` ms (what is
        known of it: 0 allows no kick); sets .level and .next."""
        self._account(now)
        out = target
        d = _NEVER
        if self._rest != _NEVER:
            left = ticks.diff(self._rest, now)
            if left > 0:
                out = 0
                d = left
            else:
                self._rest = _NEVER
                self._since = now
        if self.hot:
            over = self.heat - self.heat_cap // 2
            if over > 0:
                out = 0
                if over > 60 * self.cool:
                    wait = _MAX_WAIT
                else:  # the first ms at which the heat, remainder and all, is half the cap
                    wait = ((over - 1) * 1000 + self._rem) // self.cool + 1
                d = ticks.sooner(d, wait)
            else:
                self.hot = False
                self._since = now
        # Soft start and fade move in steps on a grid fixed to where they begin and end, not to
        # when the loop happens to wake: a board that wakes a millisecond late drives the same
        # levels, a step at a time, as the simulator that wakes on time.
        step = self.step_ms
        if out > 0 and self._since != _NEVER:
            e = ticks.diff(now, self._since)
            if e < self.soft_ms:
                late = e % step
                out = out * (e - late) // self.soft_ms
                d = ticks.sooner(d, step - late)
            else:
                self._since = _NEVER
        if out > 0 and self._end != _NEVER:
            left = ticks.diff(self._end, now)
            if left <= 0:
                out = 0
                d = ticks.sooner(d, left)
            elif left < self.fade_ms:
                early = left % step  # until the next point of the grid that ends at _end
                out = out * (left + (step - early if early else 0)) // self.fade_ms
                d = ticks.sooner(d, early or step)
            else:  # the fade is a deadline of its own: no wake-up may be needed to begin it
                d = ticks.sooner(d, left - self.fade_ms + 1)
        if out > 0:
            if self._on == _NEVER:
                self._on = now
                kick = self.kick_ms if self.kick_ms < hold // 3 else hold // 3
                if kick > 0:
                    self._kick = ticks.add(now, kick)
            on_for = ticks.diff(now, self._on)
            if on_for >= self.max_on:
                out = 0
                self._rest = ticks.add(now, self.rest_ms)
                self._on = self._kick = _NEVER
                self.rests += 1
                d = ticks.sooner(d, self.rest_ms)
            else:
                d = ticks.sooner(d, self.max_on - on_for)
                if self._kick != _NEVER:
                    left = ticks.diff(self._kick, now)
                    if left > 0:
                        kick = self.kick_level if self.kick_level < 2 * out else 2 * out
                        if out < kick:
                            out = kick
                        d = ticks.sooner(d, left)
                    else:
                        self._kick = _NEVER
        else:
            self._on = self._kick = _NEVER
        if out > self.cap:
            out = self.cap
        if out > self.cool:
            room = self.heat_cap - self.heat
            rise = out - self.cool
            if room > 60 * rise:
                wait = _MAX_WAIT
            else:  # the first ms at which the heat, remainder and all, reaches the cap
                wait = (room * 1000 - self._rem - 1) // rise + 1
            d = ticks.sooner(d, wait)
        self.level = out
        self.next = _NEVER if d < 0 else ticks.add(now, d)
        return out

    def _account(self, now):
        """Heat for the level held since the last call; trips the rest at the cap."""
        dt = ticks.diff(now, self._t)
        self._t = now
        if dt <= 0:
            return
        rise = self.level - self.cool
        self.heat += rise * (dt // 1000)
        self._rem += rise * (dt % 1000)
        self.heat += self._rem // 1000
        self._rem %= 1000
        if self.heat < 0:  # cooled right down (a remainder above 0 is heat still held)
            self.heat = 0
            self._rem = 0
        if self.heat >= self.heat_cap and not self.hot:
            self.hot = True
            self.rests += 1
