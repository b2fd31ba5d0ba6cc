"""The session timer: when a session ends and when the person is cued to move on.

Every time is absolute and planned from the start: cue k is due at start + k * cue_ms (plus
any pauses), the end at start + length (plus pauses). A late call finds the same plan, so
wake-up jitter never turns into drift. A cue is a short haptic signal laid over the pattern
(the pattern keeps its own time underneath).
"""

from micropython import const

from . import log, ticks

RUN = const(0)
END = const(1)
_NEVER = const(-1)
CUE_ON_MS = const(150)
CUE_OFF_MS = const(100)
CUE_COUNT = const(2)
_CUE_PERIOD = const(250)  # CUE_ON_MS + CUE_OFF_MS
_CUE_LEN = const(500)  # CUE_COUNT * _CUE_PERIOD


class Session:
    def __init__(self, cue_level, events=None):
        self.cue_level = cue_level
        self.log = events  # a log.Log, or None
        self.active = False
        self.paused = False
        self.start_t = 0
        self.end = 0
        self.length = 0
        self.cue_ms = 0
        self.cue_at = _NEVER  # start of the next (or current) cue
        self.cues = 0  # cues started this session
        self._counted = _NEVER  # planned tick of the last cue counted
        self.override = -1  # level the cue asks for, -1: the pattern's
        self.next = _NEVER
        self._paused_at = 0

    def start(self, now, length, cue_ms):
        self.active = True
        self.paused = False
        self.start_t = now
        self.length = length
        self.end = ticks.add(now, length)
        self.cue_ms = cue_ms
        self.cues = 0
        self.cue_at = ticks.add(now, cue_ms) if 0 < cue_ms < length else _NEVER
        self.override = -1
        self._counted = _NEVER
        self.next = self.cue_at if self.cue_at != _NEVER else self.end

    def stop(self):
        self.active = self.paused = False
        self.override = -1
        self.next = _NEVER

    def pause(self, now):
        if self.active and not self.paused:
            self.paused = True
            self._paused_at = now
            self.override = -1
            self.next = _NEVER

    def resume(self, now):
        """Shift the whole plan by the pause: nothing is lost, nothing is early. Answers the
        shift (ms)."""
        shift = 0
        if self.paused:
            shift = ticks.diff(now, self._paused_at)
            self.paused = False
            self.start_t = ticks.add(self.start_t, shift)
            self.end = ticks.add(self.end, shift)
            if self.cue_at != _NEVER:
                self.cue_at = ticks.add(self.cue_at, shift)
            if self._counted != _NEVER:
                self._counted = ticks.add(self._counted, shift)
        return shift

    def elapsed(self, now):
        """Running time so far, pauses excluded."""
        if self.paused:
            now = self._paused_at
        e = self.length - ticks.diff(self.end, now)
        return e if e < self.length else self.length

    def left(self, now):
        """Running time still to come; a pause stops it from going down."""
        return self.length - self.elapsed(now)

    def shorten(self, now, left):
        """End no later than `left` ms from now (low battery)."""
        cut = ticks.diff(self.end, ticks.add(now, left))
        if cut > 0:
            self.end = ticks.add(self.end, -cut)
            self.length -= cut
            if self.cue_at != _NEVER and ticks.diff(self.cue_at, self.end) >= 0:
                self.cue_at = _NEVER

    def tick(self, now):
        """RUN or END at `now`; sets override and next, logs each cue at its planned tick."""
        if not self.active or self.paused:
            self.next = _NEVER
            return RUN
        if ticks.diff(now, self.end) >= 0:  # the caller counts the use, then calls stop()
            self.override = -1
            self.next = _NEVER
            return END
        self.override = -1
        nxt = self.end
        at = self.cue_at
        while at != _NEVER:
            e = ticks.diff(now, at)
            if e < 0:
                if ticks.diff(at, nxt) < 0:
                    nxt = at
                break
            if self._counted != at:  # each cue is counted once, even one missed whole
                self._counted = at
                self.cues += 1
                if self.log:
                    self.log.add(at, log.CUE, self.cues)
            if e < _CUE_LEN:
                k = e % _CUE_PERIOD
                self.override = self.cue_level if k < CUE_ON_MS else 0
                b = ticks.add(at, e - k + (CUE_ON_MS if k < CUE_ON_MS else _CUE_PERIOD))
                if ticks.diff(b, nxt) < 0:
                    nxt = b
                break
            at = ticks.add(at, self.cue_ms)
            if ticks.diff(at, self.end) >= 0:
                at = _NEVER
            self.cue_at = at
        self.next = nxt
        return RUN
