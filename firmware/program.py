"""A program as the verifier and the engine read it: by instruction index, from memory (the host,
the simulator) or from the store's file (the device).

A device never holds a whole program. Its heap does not move and fragments: after a few uploads
and deletes a Pico with 177 KB free had no 32 KB block left, and a pattern the quota allows could
no longer be read. So a stored program is read a block of instructions at a time into a buffer
made when it is opened, and what a read allocates stays small whatever the program's size.

Both kinds answer the same calls: `at(pc)` the offset of instruction pc in `.buf` (valid until
the next call), `read(pos, n)` up to n bytes at pos, `size`, and `close()`.
"""

from micropython import const

from .bytecode import HEADER_SIZE, INSN_SIZE

_BLOCK = const(16)  # instructions per read from a file: 192 bytes


class Image:
    """A whole program in memory."""

    def __init__(self, data):
        self.buf = data
        self.size = len(data)

    def at(self, pc):
        return HEADER_SIZE + pc * INSN_SIZE

    def read(self, pos, n):
        return bytes(self.buf[pos : pos + n])

    def close(self):
        pass


class File:
    """A program in an open file (binary mode), which it closes; `at` allocates nothing, so the
    engine reads through it in the tick path."""

    def __init__(self, f, size):
        self._f = f
        self.size = size
        self.buf = bytearray(_BLOCK * INSN_SIZE)
        self._block = -1

    def at(self, pc):
        block = pc // _BLOCK
        if block != self._block:
            self._f.seek(HEADER_SIZE + block * (_BLOCK * INSN_SIZE))
            self._f.readinto(self.buf)
            self._block = block
        return (pc - block * _BLOCK) * INSN_SIZE

    def read(self, pos, n):
        self._f.seek(pos)
        return self._f.read(n)

    def close(self):
        self._f.close()  # a second close does nothing


def source(program):
    """The program as something to read by index: a File or an Image as it is, bytes wrapped."""
    return program if hasattr(program, "at") else Image(program)
