"""Framing of the serial protocol, shared by the device and the host.

The protocol shares the USB console with the MicroPython REPL, so a frame must be inert to the
REPL and the REPL's interrupt must be recognisable between frames. A frame on the wire is

    SYNC (0x7E) | stuffed( length u16 | type u8 | seq u8 | payload | CRC32 u32 )   (little endian)

where `length` is the payload length (at most MAX_PAYLOAD) and the CRC32 (binascii, so C speed
on the device) covers length..payload. Stuffing replaces each reserved byte b by ESC, b ^ 0x20.
Reserved: SYNC, ESC, the REPL's control bytes 0x01..0x05 (raw REPL, exit, Ctrl-C, Ctrl-D,
paste) and CR/LF (so a frame sent to a board sitting at the prompt never ends a line and never
runs anything). That is 9 of 256 values: random binary grows by 3.5 %.

Bytecode is full of small little-endian numbers (levels and times of 256..1535 have a high
byte of 1..5), so about 13 % of its bytes are reserved. Before stuffing, byte i of the frame is
therefore whitened, XORed with a fixed pseudo-random table (as radio links whiten data): any
content that is not built against the table then costs about 3.5 %, and zeros cost nothing.

Outside a frame, 0x03 (Ctrl-C) or 0x01 (Ctrl-A) is a request for the REPL (mpremote sends
`\\r\\x03` then `\\r\\x01`) when it follows a CR, or a quiet line (nothing but good frames
since the last one). A reserved byte inside a frame aborts that frame, so `\\r\\x03` always
reaches the decoder as a REPL request, even after a half-sent frame. After a frame broken by
noise the bytes that follow are garbage until a CR or a good frame, so a flipped byte cannot
hand the console over.
"""

import binascii
import struct

from micropython import const

SYNC = const(0x7E)
ESC = const(0x7D)
MAX_PAYLOAD = const(1024)
HEADER = const(4)  # length u16, type u8, seq u8
OVERHEAD = const(9)  # SYNC + header + CRC32, before stuffing

# decoder events
NONE = const(0)
FRAME = const(1)  # a good frame: .type, .seq, .payload()
BAD = const(2)  # a frame with a plausible header was corrupt or cut short (answer: NAK)
REPL = const(3)  # Ctrl-C or Ctrl-A between frames: hand the console to the REPL

_HUNT = const(0)
_BODY = const(1)
_CRC = const(4)
_CR = const(0x0D)

# 1 for each byte value that is stuffed
_RESERVED = bytes(1 if b in (1, 2, 3, 4, 5, 0x0A, 0x0D, ESC, SYNC) else 0 for b in range(256))


def _whitening():
    """256 pseudo-random bytes, none reserved (so a run of zeros needs no stuffing)."""
    out = bytearray(256)
    x = 1
    i = 0
    while i < 256:
        x = (x * 75 + 74) % 65537  # the ZX81 generator: small ints only
        if not _RESERVED[x & 0xFF]:
            out[i] = x & 0xFF
            i += 1
    return bytes(out)


_WHITE = _whitening()


def encode(ftype, seq, payload=b""):
    """One frame ready for the wire."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload of %d bytes exceeds %d" % (n, MAX_PAYLOAD))
    raw = bytearray(HEADER + n + _CRC)
    struct.pack_into("<HBB", raw, 0, n, ftype & 0xFF, seq & 0xFF)
    raw[HEADER : HEADER + n] = payload
    struct.pack_into(
        "<I", raw, HEADER + n, binascii.crc32(memoryview(raw)[: HEADER + n]) & 0xFFFFFFFF
    )
    out = bytearray(2 * len(raw) + 1)  # made once at its largest: appends would reallocate
    out[0] = SYNC
    k = 1
    i = 0
    res = _RESERVED
    white = _WHITE
    for b in raw:  # iterating costs less than indexing: the device encodes every reply
        b ^= white[i & 0xFF]
        i += 1
        if res[b]:
            out[k] = ESC
            out[k + 1] = b ^ 0x20
            k += 2
        else:
            out[k] = b
            k += 1
    return bytes(memoryview(out)[:k])


class Decoder:
    """Incremental frame decoder fed arbitrary chunks; its only buffer is made once.

    `pos = feed(data, pos)` consumes bytes until one event or the end of `data` and answers where
    it stopped; `event` says what happened. The payload view is valid until the next feed.
    """

    def __init__(self, max_payload=MAX_PAYLOAD):
        self.max_payload = max_payload
        self.buf = bytearray(HEADER + max_payload + _CRC)
        self.event = NONE
        self.type = 0
        self.seq = 0
        self.length = 0
        self.key = 0  # the control byte of a REPL event
        self.crc = 0  # CRC of the last good frame: identifies a resent request
        self.frames = 0  # good frames
        self.errors = 0  # corrupt frames
        self.garbage = 0  # bytes skipped outside frames
        self._last = 0  # the byte before this one
        self._quiet = True  # nothing but good frames since the last good frame (or the start)
        self.reset()

    def reset(self):
        """Forget any partial frame."""
        self._state = _HUNT
        self._esc = False
        self._n = 0
        self._need = HEADER

    def wanted(self):
        """How many bytes a reader may take before this decoder could meet a REPL request:
        one between frames, the rest of the frame inside one (stuffing only lengthens it).
        mpremote sends `\\r\\x03\\r\\x01` at once; reading no further than this leaves
        the `\\r\\x01` unread for the REPL."""
        if self._state == _HUNT:
            return 1
        return self._need - self._n

    def payload(self):
        return memoryview(self.buf)[HEADER : HEADER + self.length]

    def _bad(self):
        # BAD (worth a NAK) only once the header was plausible, so garbage is not answered
        self.event = BAD if self._need > HEADER else NONE
        self.errors += 1
        self._quiet = False
        self.reset()

    def feed(self, data, pos=0):
        # The byte loop keeps the decoder's state in locals (an attribute is a dictionary
        # lookup on MicroPython, a few of them per byte cost more than the rest of the work);
        # every way out stores them back.
        self.event = NONE
        buf = self.buf
        res = _RESERVED
        white = _WHITE
        end = len(data)
        state = self._state
        last = self._last
        esc = self._esc
        n = self._n
        need = self._need
        while pos < end:
            b = data[pos]
            if state != _HUNT and not esc and not res[b]:
                # a run of plain bytes, to the end of the header or the frame: the same work
                # as below, a third of the bytecode a byte (most bytes of a frame come here)
                stop = pos + need - n
                if stop > end:
                    stop = end
                k = n
                for b in data[pos:stop]:
                    if res[b]:
                        break
                    buf[n] = b ^ white[n & 0xFF]
                    n += 1
                pos += n - k
                last = data[pos - 1]
            else:
                pos += 1
                before = last
                last = b
                if state == _HUNT:
                    if b == SYNC:
                        state = _BODY
                    elif (b == 3 or b == 1) and (before == _CR or self._quiet):
                        self._last = last
                        self.key = b
                        self.event = REPL
                        return pos
                    elif b != _CR:
                        self.garbage += 1
                        self._quiet = False
                    continue
                if res[b]:
                    if b == ESC and not esc:
                        esc = True
                        continue
                    # a reserved byte inside a frame breaks it; SYNC also starts the next
                    # one. So mpremote's CR aborts a half-sent frame and its Ctrl-C then
                    # arrives in the hunt, while a stray Ctrl-C inside a frame is corruption.
                    self._last = last
                    self._need = need
                    self._bad()
                    if b == SYNC:
                        self._state = _BODY
                    return pos
                if esc:
                    b ^= 0x20
                    esc = False
                    if not res[b]:
                        self._last = last
                        self._need = need
                        self._bad()
                        return pos
                buf[n] = b ^ white[n & 0xFF]
                n += 1
            if n < need:
                continue
            if n == HEADER:
                length = buf[0] | buf[1] << 8
                if length > self.max_payload:
                    self._last = last
                    self._need = need
                    self._bad()
                    return pos
                need = HEADER + length + _CRC
                continue
            self._last = last
            length = n - HEADER - _CRC
            crc = buf[n - 4] | buf[n - 3] << 8 | buf[n - 2] << 16 | buf[n - 1] << 24
            if binascii.crc32(memoryview(buf)[: n - _CRC]) & 0xFFFFFFFF != crc:
                self._need = need
                self._bad()
                return pos
            self.crc = crc
            self.type = buf[2]
            self.seq = buf[3]
            self.length = length
            self.frames += 1
            self._quiet = True
            self.reset()
            self.event = FRAME
            return pos
        self._state = state
        self._last = last
        self._esc = esc
        self._n = n
        self._need = need
        return pos
