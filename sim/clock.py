"""A virtual clock for running the firmware on CPython: time moves only when told to.

It offers what the firmware and its board shell take from MicroPython's `time`: ticks_ms,
ticks_add, ticks_diff and sleep_ms, with ticks wrapping at 2**30 as on a 32-bit board, so a
simulation can start just before the wrap (Clock(start=WRAP - 5000)). sleep_ms() jumps: the
simulation runs as fast as the CPU allows. Things that happen "while time passes" (timer
callbacks, the watchdog) register with every(), and run at their due ticks inside advance().
"""
WRAP = 1 << 30  # ticks_ms period on 32-bit ports


def ticks_add(t, d):
    return (t + d) % WRAP


def ticks_diff(a, b):
    return (a - b + WRAP // 2) % WRAP - WRAP // 2


class Clock:
    def __init__(self, start=0):
        self.ms = start  # virtual milliseconds since an arbitrary origin (never wraps)
        self._waiters = []  # [due ms, period ms, callback]

    def ticks_ms(self):
        return self.ms % WRAP

    ticks_add = staticmethod(ticks_add)
    ticks_diff = staticmethod(ticks_diff)

    def sleep_ms(self, ms):
        self.advance(ms)

    def sleep(self, s):
        self.advance(int(s * 1000))

    def advance(self, ms):
        """Move time on by ms, running every due callback at its own tick."""
        end = self.ms + max(0, int(ms))
        while True:
            due = [w for w in self._waiters if w[0] <= end]
            if not due:
                break
            w = min(due, key=lambda w: w[0])
            self.ms = max(self.ms, w[0])
            if w[1]:
                w[0] += w[1]
            else:
                self._waiters.remove(w)
            w[2]()
        self.ms = end

    def every(self, period, callback, once=False):
        """Call callback() each `period` ms of virtual time (once: only the first); answers a
        handle for cancel()."""
        w = [self.ms + period, 0 if once else period, callback]
        self._waiters.append(w)
        return w

    def cancel(self, handle):
        if handle in self._waiters:
            self._waiters.remove(handle)


_saved = {}


def install(clock):
    """Give CPython's `time` module MicroPython's ticks_ms/ticks_add/ticks_diff/sleep_ms,
    bound to `clock`. These names do not exist in CPython, so nothing else changes;
    time.sleep and time.time stay real. uninstall() removes them."""
    import time

    for name in ("ticks_ms", "ticks_add", "ticks_diff", "sleep_ms"):
        if name not in _saved:
            _saved[name] = getattr(time, name, None)
        setattr(time, name, getattr(clock, name))


def uninstall():
    import time

    for name, old in _saved.items():
        if old is None:
            if hasattr(time, name):
                delattr(time, name)
        else:
            setattr(time, name, old)
    _saved.clear()
