"""The board's USB serial console, for the shell (shell.run): in a module of its own, so that
only a board that runs its loop on a real port holds it (the simulator brings its own).

Inside a frame the console reads the rest in one go, and MicroPython's
sys.stdin.buffer.readinto(n) returns only once n bytes came. While none is there, the port's
stdin (mp_hal_stdin_rx_chr) asks the dupterm stream for one before it sleeps until the next
interrupt (the guard's timer wakes it at least every 50 ms). Attached for that one read,
Deadline has nothing before its time and then ESC for each byte still missing: ESC ESC breaks
the frame (frame.py), the decoder answers NAK and hunts for the next one, so a host that stops
in the middle of a frame costs one read of _WAIT_MS, never the loop or the watchdog.
"""

import io

from micropython import const

_CHUNK = const(256)  # console bytes read at a time
_WAIT_MS = const(20)  # for the rest of a frame in flight: 256 bytes take 22 ms at 115200 baud
_ESC = const(0x7D)


class UsbConsole:
    """The USB serial console through sys.stdin.buffer, into buffers made once. Polling tells
    only that a byte is there, and a read of n bytes blocks until all n came: between frames
    the console takes one byte after a poll (50 us a byte on a Pico); inside a frame the rest
    is in flight, so it takes what the decoder wants in one read (8 us a byte), bounded by a
    deadline (Deadline, below) where the port has os.dupterm."""

    def __init__(self):
        import os
        import select
        import sys
        import time

        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self._buf = bytearray(_CHUNK)
        self._view = memoryview(self._buf)
        self._one = bytearray(1)
        self._clock = time
        self._dupterm = getattr(os, "dupterm", None)
        self._deadline = Deadline(time)

    def wait(self, ms):
        for _ in self._poll.ipoll(ms):
            break

    def read(self, limit):
        """Up to `limit` bytes that have arrived, as a view valid until the next read."""
        n = 0
        limit = limit if limit < _CHUNK else _CHUNK
        one = self._one
        buf = self._buf
        ipoll = self._poll.ipoll
        dupterm = self._dupterm
        while n < limit:
            for _ in ipoll(0):
                break
            else:
                break  # nothing (more) has arrived
            if n == 0 and limit > 1 and dupterm is not None:
                return self._whole(limit, dupterm)
            self._in.readinto(one)
            buf[n] = one[0]
            n += 1
        return self._view[:n] if n else b""

    def _whole(self, limit, dupterm):
        """`limit` bytes in one read, ESC for those not there within _WAIT_MS."""
        c = self._clock
        d = self._deadline
        d.due = c.ticks_add(c.ticks_ms(), _WAIT_MS)
        view = self._view[:limit]
        old = dupterm(d, 0)
        try:
            self._in.readinto(view)
        finally:
            dupterm(old, 0)
        return view

    def write(self, data):
        self._out.write(data)


class Deadline(io.IOBase):
    """The dupterm stream of one read that must end by `due` (see above)."""

    def __init__(self, clock):
        self.clock = clock
        self.due = clock.ticks_ms()  # after which the read is given ESC

    def readinto(self, buf):
        c = self.clock
        if c.ticks_diff(c.ticks_ms(), self.due) < 0:
            return None  # no byte yet: the port sleeps until the next interrupt
        buf[0] = _ESC
        return 1

    def write(self, data):
        return len(data)  # what is printed goes to the USB alone

    def ioctl(self, request, arg):
        return 0  # never ready: a poll of stdin reports the USB's bytes only
