"""The pattern bytecode: a 16-byte header, fixed-size instructions and a string table.

    header  magic b"FWPB" | version u8 | flags u8 | count u16 | body length u32 | CRC32 u32
    body    count x 12-byte instruction | u8 string count | (u8 length, UTF-8 bytes)...

An instruction is  op u8 | x u8 | a u16 | b u16 | c u16 | t u32  (little endian). Fixed size
keeps the engine's reads to plain indexing (no allocation) and makes jump targets instruction
indices. Strings: 0 is the pattern name, 1 its description, 2.. the zone names.
"""

import binascii
import struct

from micropython import const

MAGIC = b"FWPB"
VERSION = const(1)
HEADER_SIZE = const(16)
INSN_SIZE = const(12)
MAX_INSNS = const(2048)
MAX_BODY = const(32768)
MAX_DEPTH = const(8)  # nested loops; the engine preallocates this many frames

# Opcodes. Field use:  x, a, b, c, t  (unused fields must be 0)
OP_HOLD = const(1)  # a level, b random variation (+/-), t duration
OP_RAMP = const(2)  # x easing, a from, b to, t duration
OP_WAVE = const(3)  # x shape, a low, b high, c period ms, t duration
OP_LOOP = const(4)  # a count, c index of the matching END
OP_END = const(5)  # c index of the matching LOOP or ZONE
OP_CUE = const(6)  # x count, a level, b on ms, c off ms
OP_ZONE = const(7)  # a string index of the zone name, c index of its END, t zone length
OP_SEED = const(8)  # a seed of the pseudo-random variation (1..65535)
OP_FREQ = const(9)  # a motor PWM frequency in Hz (0: the profile's)

EASE_LINEAR = const(0)
EASE_IN = const(1)
EASE_OUT = const(2)
EASE_IN_OUT = const(3)

WAVE_SINE = const(0)
WAVE_TRIANGLE = const(1)
WAVE_SQUARE = const(2)
WAVE_SAW = const(3)

OP_NAMES = ("", "hold", "ramp", "wave", "loop", "end", "cue", "zone", "seed", "freq")
EASE_NAMES = ("linear", "ease-in", "ease-out", "ease-in-out")
WAVE_NAMES = ("sine", "triangle", "square", "saw")

HEADER_STRUCT = "<4sBBHII"  # struct layouts, for the writer here and the reader (verifier.py)
INSN_STRUCT = "<BBHHHI"


class FormatError(ValueError):
    """The bytes are not a readable facewave program (before any semantic check)."""


class VerifyError(ValueError):
    """The verifier refuses the program. args: (message, instruction index or -1 for the whole
    program, the profile cap it breaks or None); for the caps on the whole program
    (session_max_ms, thermal, max_on_ms) also its duration, energy and longest motor-on run up
    to that instruction, which the host says in a person's units. Declared here, not in
    verifier.py, because a device loads the verifier for each check only (firmware.verify): the
    class must outlive it."""


def crc32(data):
    return binascii.crc32(data) & 0xFFFFFFFF


def pack_insn(op, x=0, a=0, b=0, c=0, t=0):
    return struct.pack(INSN_STRUCT, op, x, a, b, c, t)


def pack(insns, strings):
    """Build a program from packed instructions and a list of str (name, description, zones)."""
    body = bytearray()
    for insn in insns:
        body += insn
    body.append(len(strings))
    for s in strings:
        raw = s.encode("utf-8")
        if len(raw) > 255:
            raise FormatError("string longer than 255 bytes: %r" % s[:40])
        body.append(len(raw))
        body += raw
    return struct.pack(HEADER_STRUCT, MAGIC, VERSION, 0, len(insns), len(body), crc32(body)) + body
