"""The message schema of the serial protocol, declared once: the device serves it, the host
imports it. Messages carry data only (fixed binary layouts, names as UTF-8 text, replies as JSON
objects); nothing received is ever evaluated.

Every request gets exactly one reply with the request's sequence number: ACK (its payload is
given per request below), or ERROR. A corrupt frame is answered with NAK (sequence 0), so the
host can resend at once instead of waiting for its timeout. Layouts are little endian.

No reply grows with what is stored: replies carry counts and single names, what can grow
(the pattern list, the log) comes in pages, and every text from a program or the log is cut
to fit, so every reply fits a frame however full the device is (tests/test_hostile_protocol.py).
"""

import json
import struct

from micropython import const

from . import frame

PROTOCOL = const(2)  # bumped on any incompatible change of this file
MIN_PROTOCOL = const(2)  # oldest host protocol this firmware still serves
HEARTBEAT_TIMEOUT_MS = const(2000)  # tethered playback stops after this long without a HEARTBEAT
HEARTBEAT_MS = const(500)  # how often a tethered host sends HEARTBEAT
CHUNK = const(1020)  # data bytes per UPLOAD_CHUNK (frame.MAX_PAYLOAD minus the offset)
WINDOW = const(4)  # upload chunks a host may have in flight

# ---- requests, host -> device --------------------------------------------------------------
HELLO = const(0x10)  # u16 host protocol version -> ACK JSON hello (see hello_reply in protocol)
INFO = const(0x11)  # empty -> ACK JSON: hello fields + settings
LIST = const(0x12)  # u16 first index -> ACK JSON {"patterns": [{name, size, duration,
#                      description} | {name, size, error}], "next": index or -1}
UPLOAD_BEGIN = const(0x13)  # u32 size | 32 B SHA-256 | name -> ACK offset (resume point)
UPLOAD_CHUNK = const(0x14)  # u32 offset | data -> ACK offset: bytes the device now holds
UPLOAD_COMMIT = const(0x15)  # empty -> ACK JSON pattern {name, size, duration, description}
UPLOAD_STATUS = const(0x16)  # empty -> ACK offset, or ERROR E_NO_UPLOAD
DELETE = const(0x17)  # name -> ACK empty
PLAY = const(0x18)  # u8 flags | u32 host token | name -> ACK JSON status; tethered, only that
#                      token's HEARTBEATs keep it playing
STOP = const(0x19)  # empty -> ACK JSON status; the motor is at 0 before the reply is sent
PAUSE = const(0x1A)  # empty -> ACK JSON status
RESUME = const(0x1B)  # empty -> ACK JSON status
STATUS = const(0x1C)  # empty -> ACK JSON status (state, routine, zone, levels, "tethered"...)
SET = const(0x1D)  # "key=value" UTF-8 (an integer value as decimal) -> ACK JSON settings
LOG = const(0x1E)  # u32 first entry -> ACK JSON {"entries": [[seq, tick ms, kind, arg]],
#                     "next": entry to ask for next, or -1 when that was the last}
HEARTBEAT = const(0x1F)  # u32 host token -> ACK JSON status; renews the tether of that token
#                          only (ERROR E_STATE: tethered to another host)

# ---- replies, device -> host (0x80 and up, so a host never mistakes its own echo) ----------
ACK = const(0x80)  # payload as given by the request
ERROR = const(0x81)  # u8 code | UTF-8 text
NAK = const(0x82)  # empty, sequence 0: a corrupt frame arrived

FLAG_TETHERED = const(1)
FLAG_DEFAULT = const(2)  # PLAY also makes it the button's routine

# ---- error codes; the ERROR text says what went wrong, with the particulars ----------------
E_UNKNOWN = const(1)  # the device does not know this message type
E_MALFORMED = const(2)  # a payload does not match its layout
E_VERSION = const(3)  # protocol versions do not overlap
E_NAME = const(4)  # pattern name refused
E_NOT_FOUND = const(5)  # no pattern of that name
E_QUOTA = const(6)  # pattern count or byte quota reached
E_NO_SPACE = const(7)  # the filesystem is full
E_TOO_BIG = const(8)  # upload larger than a pattern may be
E_HASH = const(9)  # uploaded bytes do not match the announced SHA-256
E_VERIFY = const(10)  # the device's verifier rejected the program
E_NO_UPLOAD = const(11)  # chunk, status or commit without an upload in progress
E_INCOMPLETE = const(12)  # commit before all bytes arrived
E_STATE = const(13)  # not possible in the device's current state (charging, uploading...)
E_SETTING = const(14)  # unknown setting or bad value
E_STORAGE = const(15)  # any other filesystem error
E_INTERNAL = const(16)  # an unexpected fault in the firmware (the motor is stopped)


class Refused(Exception):
    """A request the device declines: args (code, text). Store and device raise it."""


def refusal(code, text):
    """The error to raise for a refused request: `raise refusal(E_NAME, "why")`."""
    return Refused(code, text)


# ---- payload layouts (both directions use these, so they cannot drift apart) ---------------


def pack_begin(size, digest, name):
    return struct.pack("<I", size) + bytes(digest) + name.encode("utf-8")


def unpack_begin(p):
    if len(p) < 36:
        raise refusal(E_MALFORMED, "UPLOAD_BEGIN too short")
    return struct.unpack_from("<I", p, 0)[0], bytes(p[4:36]), text(p[36:])


def pack_offset(offset, size):
    return struct.pack("<II", offset, size)


def unpack_offset(p):
    if len(p) != 8:
        raise refusal(E_MALFORMED, "bad upload offset reply")
    return struct.unpack_from("<II", p, 0)


def pack_u32(n):
    return struct.pack("<I", n)


def unpack_u32(p):
    if len(p) != 4:
        raise refusal(E_MALFORMED, "expected a 32-bit number")
    return p[0] | p[1] << 8 | p[2] << 16 | p[3] << 24


def pack_u16(n):
    return struct.pack("<H", n)


def unpack_u16(p):
    if len(p) != 2:
        raise refusal(E_MALFORMED, "expected a 16-bit index")
    return p[0] | p[1] << 8


def pack_error(code, message):
    """The code and as much of the text as a frame holds, cut between characters."""
    raw = message.encode("utf-8")
    n = frame.MAX_PAYLOAD - 1
    while n < len(raw) and raw[n] & 0xC0 == 0x80:  # cut inside a character: back to its start
        n -= 1
    return bytes((code,)) + raw[:n]


def unpack_error(p):
    if not p:
        return E_INTERNAL, "internal error"
    return p[0], str(bytes(p[1:]), "utf-8", "replace")


def text(p):
    """UTF-8 payload as str; refuses bytes that are not UTF-8."""
    try:
        return str(bytes(p), "utf-8")
    except UnicodeError:
        raise refusal(E_MALFORMED, "text is not UTF-8")


def pack_json(obj):
    return json.dumps(obj).encode("utf-8")


def unpack_json(p):
    return json.loads(str(bytes(p), "utf-8"))
