"""The host side of the serial protocol: talk to a facewave device over any pyserial URL.

`Link.open(port)` opens the port (a device path, a pty, or `socket://host:port`), shakes hands
and checks protocol versions; its methods are the device commands. Every failure surfaces as
one exception class, LinkError, whose message is one plain-English line; Refused (a LinkError)
means the device understood and said no, anything else is the connection.
The framing and the message schema come from the firmware, so the two ends cannot drift.
"""

import hashlib
import random
import time

import serial

from .firmware import frame, messages
from .firmware.store import check_name

BAUDRATE = 115200
DEFAULT_TIMEOUT = 5.0  # seconds of silence from a device before giving up on it, resends included
_RESENDS = 3  # resends a request's first wait is sized for: waits double, the first is 1/15
_LONGEST_WAIT_S = 8.0  # a frame lost on a long timeout is sent again after this at most
_CHECK_WAIT_S = 3.0  # see Link._checking
_GARBAGE_KEPT = 256  # recent bytes outside frames, to recognise a REPL prompt
# Tries in a row (sends of a request, go-backs of an upload) that get nowhere while the device
# does answer (NAKs, damaged frames) before a link is called too noisy. A go-back costs about
# a window on the wire: giving up on a link that passes nothing takes some 25 s at 115200 baud.
# With 0.2 % of bytes damaged a 1 KB chunk gets through one time in eight, and 64 failures in
# a row come once in 3500 chunks: a 32 KB upload gets there (slowly) 99 times in 100.
_NOISY_TRIES = 64
# message type -> name, for messages; the values are the firmware's (the device needs no names)
_NAMES = {
    getattr(messages, name): name
    for name in (
        "HELLO",
        "INFO",
        "LIST",
        "UPLOAD_BEGIN",
        "UPLOAD_CHUNK",
        "UPLOAD_COMMIT",
        "UPLOAD_STATUS",
        "DELETE",
        "PLAY",
        "STOP",
        "PAUSE",
        "RESUME",
        "STATUS",
        "SET",
        "LOG",
        "HEARTBEAT",
        "ACK",
        "ERROR",
        "NAK",
    )
}


class LinkError(Exception):
    """The connection failed: no port, busy port, no answer, wrong firmware, cable pulled."""

    exit_status = 2


class Refused(LinkError):
    """The device understood and said no (an ERROR reply, what the firmware raised as
    messages.Refused or refused as device.DeviceError): `code` is one of messages.E_*."""

    exit_status = 1

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


def open_port(port, baudrate=BAUDRATE, timeout=0.5):
    """A pyserial port for a device path or URL, with its errors said plainly."""
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=timeout, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as e:
        text = str(e)
        errno = getattr(e, "errno", None)
        if errno == 16 or "lock" in text or "busy" in text.lower():
            raise LinkError(
                "port %s is busy: another program (a terminal, mpremote, Thonny) has"
                " it open; close it and try again" % port
            ) from None
        if errno == 13 or "ermission" in text:
            raise LinkError(
                "no permission to open %s (on Linux, add yourself to the 'dialout'"
                " group and log in again)" % port
            ) from None
        if "refused" in text:
            raise LinkError(
                "nothing answers at %s (connection refused): is the simulator"
                " (`facewave sim`) running, and is the port number right?" % port
            ) from None
        if errno == 2 or "No such file" in text:
            raise LinkError(
                "there is no serial port %s: is the device plugged in? `facewave"
                " ports` lists the ports" % port
            ) from None
        raise LinkError("cannot open %s: %s" % (port, text)) from None


class Link:
    """A conversation with one device. Use `Link.open(port)`; it is a context manager."""

    def __init__(
        self, port, name=None, timeout=DEFAULT_TIMEOUT, retries=_RESENDS, clock=time.monotonic
    ):
        self.port = port  # pyserial-like: write(), read(n), in_waiting, timeout, close()
        self.name = name or getattr(port, "port", None) or "the device"
        # Seconds of silence before giving up, resends included: the first wait for a reply is
        # sized so that `retries` resends, each waiting twice the last, end at `timeout`
        self.timeout = timeout
        self.wait = timeout / (2 ** (retries + 1) - 1)
        self.clock = clock
        self.hello = None
        self.resent = 0  # frames sent again (timeouts, NAKs, gaps): a link-quality figure
        self.naks = 0  # the device's reports of a corrupt frame from us: a link-quality figure
        self._replies = 0  # good frames from the device (not our own echoed by a REPL)
        self._dec = frame.Decoder()
        self._rx = b""
        self._pos = 0
        self._seq = random.randrange(256)  # a new host never matches the last reply cached
        self.token = random.getrandbits(32)  # whose tether it is: only ours renew ours
        self._garbage = bytearray()

    @classmethod
    def open(cls, port, baudrate=BAUDRATE, timeout=DEFAULT_TIMEOUT, retries=_RESENDS):
        """Open `port` and shake hands; raises LinkError with the reason when it cannot, or
        when the device stays silent for `timeout` seconds."""
        link = cls(open_port(port, baudrate), name=port, timeout=timeout, retries=retries)
        try:
            link.handshake()
        except BaseException:
            link.close()
            raise
        return link

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.port.close()
        except Exception:  # noqa: BLE001  closing a vanished port must not hide the real error
            pass

    # ---- the wire ----

    def _write(self, data):
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as e:
            raise self._lost(e) from None

    def _lost(self, e):
        return LinkError(
            "lost the connection to %s (cable pulled or device reset?): %s" % (self.name, e)
        )

    def _recv(self, deadline):
        """The next reply frame (type, seq, payload bytes), or None once `deadline` passes."""
        dec = self._dec
        while True:
            while self._pos < len(self._rx):
                before = dec.garbage
                self._pos = dec.feed(self._rx, self._pos)
                if dec.garbage != before:
                    self._garbage += self._rx[max(0, self._pos - 64) : self._pos]
                    del self._garbage[:-_GARBAGE_KEPT]
                if dec.event == frame.FRAME and dec.type >= messages.ACK:
                    self._replies += 1
                    if dec.type == messages.NAK:
                        self.naks += 1
                    return dec.type, dec.seq, bytes(dec.payload())
            left = deadline - self.clock()
            if left <= 0:
                return None
            try:
                self.port.timeout = left
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as e:
                raise self._lost(e) from None
            self._rx = self._rx[self._pos :] + data
            self._pos = 0

    def _next_seq(self):
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _damage(self):
        """A count that grows with every sign of a damaged link: NAKs and, once a facewave
        device has answered, corrupt frames and stray bytes (before that, they may be another
        device, a REPL or a wrong baud rate talking)."""
        dec = self._dec
        return self.naks + (dec.errors + dec.garbage if self.hello is not None else 0)

    def _heard(self):
        """A count that grows with whatever comes back from the device."""
        return self._replies + self._damage()

    def request(self, mtype, payload=b"", timeout=None):
        """Send one request, resending with backoff; answers the ACK payload."""
        seq = self._next_seq()
        data = frame.encode(mtype, seq, payload)
        tries = _Tries(self, timeout or self.wait)
        while True:
            self._write(data)
            deadline = self.clock() + tries.wait
            while True:
                reply = self._recv(deadline)
                if reply is None:
                    break
                rtype, rseq, rpayload = reply
                if rtype == messages.NAK:
                    break
                if rseq != seq:
                    continue  # a late reply to an earlier request
                if rtype == messages.ERROR:
                    raise Refused(*messages.unpack_error(rpayload))
                return rpayload
            if tries.failed():
                raise self._gave_up(tries, mtype)
            self.resent += 1

    def _prompt(self):
        """What a silent board says to a CR and a Ctrl-B: a MicroPython REPL echoes our frames
        without a prompt (after `mpremote resume`, say) but answers a CR with `>>> `, or `... `
        when the echo left a bracket open, and its raw REPL (an mpremote that did not finish)
        says nothing until Ctrl-B takes it back to the `>>> `; a running facewave takes both
        as noise between frames."""
        try:
            self.port.write(b"\r\x02")
            self.port.timeout = min(self.wait, 0.5)
            return self.port.read(256)
        except (serial.SerialException, OSError):
            return b""

    def _gave_up(self, tries, mtype, done=None):
        """The error for a request, or an upload (`done`: bytes held, size), that got nowhere:
        either its answers kept coming back damaged, or nothing came back at all."""
        if tries.busy:  # answers came, undamaged, but none to this
            what = (
                "takes no more of the upload (%d of %d bytes held)" % done
                if done
                else "not to %s" % _NAMES.get(mtype, "this request")
            )
            return LinkError(
                "%s answers, but %s: is it still busy with what an earlier"
                " program sent? Try again in a few seconds" % (self.name, what)
            )
        if tries.noisy and done:
            return LinkError(
                "upload to %s stalled at %d of %d bytes: the link is too noisy,"
                " frames keep arriving damaged; try another USB cable or port,"
                " then run the upload again to resume" % ((self.name,) + done)
            )
        if tries.noisy:
            return LinkError(
                "the link to %s is too noisy, frames keep arriving damaged (%s):"
                " try another USB cable or port" % (self.name, _NAMES.get(mtype, "request"))
            )
        if done:
            return LinkError(
                "upload to %s stalled at %d of %d bytes: cable pulled or device"
                " reset? Run the upload again to resume" % ((self.name,) + done)
            )
        if self.hello is not None:
            return LinkError(
                "%s stopped answering (%s): cable pulled or device reset?"
                % (self.name, _NAMES.get(mtype, "request"))
            )
        seen = bytes(self._garbage) + self._prompt()
        if any(sign in seen for sign in (b">>>", b"\r\n... ", b"raw REPL", b"MicroPython")):
            return LinkError(
                "%s is at the MicroPython prompt: press Ctrl-D there or run `mpremote connect"
                " %s reset` to start facewave (`facewave flash --port %s` installs it if it is"
                " missing)" % (self.name, self.name, self.name)
            )
        return LinkError(
            "no answer from %s: it is not a facewave device, or its firmware is"
            " not running (`facewave flash` installs it)" % self.name
        )

    # ---- commands ----

    def handshake(self):
        """HELLO: learn the device and check that our protocol versions overlap."""
        self.hello = None
        hello = messages.unpack_json(
            self.request(messages.HELLO, messages.pack_u16(messages.PROTOCOL))
        )
        if hello.get("protocol", 0) < messages.MIN_PROTOCOL:
            raise LinkError(
                "the device on %s runs older firmware %s (protocol %s; this facewave"
                " needs %d): update it with `facewave flash --port %s`"
                % (
                    self.name,
                    hello.get("firmware"),
                    hello.get("protocol"),
                    messages.MIN_PROTOCOL,
                    self.name,
                )
            )
        if hello.get("min_protocol", 0) > messages.PROTOCOL:
            raise LinkError(
                "the device on %s runs firmware %s, newer than this facewave understands:"
                " install the facewave that flashed it, or put this one's firmware on it with"
                " `facewave flash --port %s`" % (self.name, hello.get("firmware"), self.name)
            )
        self.hello = hello
        return hello

    def info(self):
        """Firmware, board, storage, caps and settings (the hello and INFO), and the status."""
        info = messages.unpack_json(self.request(messages.INFO))
        info["status"] = self.status()
        return info

    def list(self):
        """Every stored pattern: dicts with name, size, duration (ms), description."""
        out = []
        start = 0
        while start >= 0:
            page = messages.unpack_json(
                self.request(messages.LIST, messages.pack_u16(start), self._checking())
            )
            out += page["patterns"]
            start = page["next"]
        return out

    def _checking(self):
        """The first wait for a request the device answers only after verifying a program
        (PLAY, UPLOAD_COMMIT, LIST): a Pico takes about 1 ms per instruction, 2.2 s for the
        largest program."""
        return max(self.wait, _CHECK_WAIT_S)

    def delete(self, name):
        self.request(messages.DELETE, _name(name))

    def play(self, name, tethered=False, default=False):
        """Start a stored pattern. Tethered: it stops unless this link's heartbeat() keeps
        coming. Default: it also becomes the routine the button plays."""
        flags = (messages.FLAG_TETHERED if tethered else 0) | (
            messages.FLAG_DEFAULT if default else 0
        )
        payload = bytes((flags,)) + messages.pack_u32(self.token) + _name(name)
        return messages.unpack_json(self.request(messages.PLAY, payload, self._checking()))

    def stop(self):
        return messages.unpack_json(self.request(messages.STOP))

    def pause(self):
        return messages.unpack_json(self.request(messages.PAUSE))

    def resume(self):
        return messages.unpack_json(self.request(messages.RESUME))

    def status(self):
        return messages.unpack_json(self.request(messages.STATUS))

    def set(self, key, value):
        """Change a setting; answers all settings."""
        setting = ("%s=%s" % (key, value)).encode("utf-8")
        return messages.unpack_json(self.request(messages.SET, setting))

    def log(self, since=0):
        """The device's event log: dicts with seq, ms (device ticks), event, arg."""
        entries = []
        while since >= 0:
            page = messages.unpack_json(self.request(messages.LOG, messages.pack_u32(since)))
            entries += [
                {"seq": e[0], "ms": e[1], "event": e[2], "arg": e[3]} for e in page["entries"]
            ]
            since = page["next"]
        return entries

    def heartbeat(self):
        """Keep this link's tethered playback going (send every messages.HEARTBEAT_MS);
        answers the status. Refused if another host's tether holds the device."""
        return messages.unpack_json(
            self.request(messages.HEARTBEAT, messages.pack_u32(self.token))
        )

    def upload_status(self):
        """(offset held, size) of the device's upload in progress."""
        return messages.unpack_offset(self.request(messages.UPLOAD_STATUS))

    def upload(self, name, data, progress=False):
        """Store `data` (verified bytecode) as pattern `name`; answers the device's summary.

        Resumes where an earlier, broken upload of the same bytes stopped. Chunks are sent
        with several in flight (the device answers each with the offset it holds); a gap or
        a timeout makes the sender go back to that offset. If the device finds the bytes
        corrupted once they are all there, the upload starts over once."""
        _name(name)
        data = bytes(data)
        digest = hashlib.sha256(data).digest()
        for attempt in range(2):
            offset, _ = messages.unpack_offset(
                self.request(messages.UPLOAD_BEGIN, messages.pack_begin(len(data), digest, name))
            )
            self._send_chunks(data, offset, progress, name)
            try:
                return messages.unpack_json(
                    self.request(messages.UPLOAD_COMMIT, b"", self._checking())
                )
            except Refused as e:
                if e.code != messages.E_HASH or attempt:
                    raise
        raise AssertionError("unreachable")

    def _send_chunks(self, data, acked, progress, name):
        size = len(data)
        hello = self.hello or {}
        chunk = min(hello.get("chunk", messages.CHUNK), messages.CHUNK)
        window = max(1, min(hello.get("window", messages.WINDOW), messages.WINDOW)) * chunk
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(
                total=size, initial=acked, unit="B", unit_scale=True, desc=name, leave=False
            )
        sent = acked
        # Each go-back starts a new round. Answers to frames of an earlier round tell nothing
        # new about what was lost, so a burst of them (a NAK, then gaps) goes back once.
        rounds = 0
        inflight = {}  # seq -> (chunk offset, round), in sending order (answers come in it)
        sent_at = {}  # seq -> when its chunk was sent
        rtt = _Rtt(self.wait)
        tries = _Tries(self, rtt.wait)
        try:
            while acked < size:
                while sent < size and sent - acked < window:
                    n = min(chunk, size - sent)
                    seq = self._next_seq()
                    head = bytes((sent & 0xFF, sent >> 8 & 0xFF, sent >> 16 & 0xFF, sent >> 24))
                    self._write(
                        frame.encode(messages.UPLOAD_CHUNK, seq, head + data[sent : sent + n])
                    )
                    inflight.pop(seq, None)  # a seq come round again goes to the end
                    inflight[seq] = (sent, rounds)
                    sent_at[seq] = self.clock()
                    sent += n
                reply = self._recv(self.clock() + tries.wait)
                back = acked
                if reply is None:  # what is unanswered is lost, but the device may hold
                    inflight.clear()  # part of a frame: the next one breaks it, NAK
                    inflight[None] = (acked, -1)
                elif reply[0] == messages.NAK:  # the oldest frame still unanswered arrived corrupt
                    if inflight and _oldest(inflight)[1] != rounds:
                        continue
                elif reply[1] in inflight:
                    rtype, rseq, rpayload = reply
                    start, sent_in = _oldest(inflight, until=rseq)
                    if rtype == messages.ERROR:
                        raise Refused(*messages.unpack_error(rpayload))
                    held, _ = messages.unpack_offset(rpayload)
                    if held > acked:
                        if bar:
                            bar.update(held - acked)
                        acked = held
                        sent = max(sent, held)
                        rtt.sample(self.clock() - sent_at.get(rseq, self.clock()))
                        tries = _Tries(self, rtt.wait)
                    if held > start or held >= sent or sent_in != rounds:
                        continue
                    back = held  # the device has a gap before this chunk
                else:
                    continue  # a late answer to an earlier request
                if tries.failed():
                    raise self._gave_up(tries, messages.UPLOAD_CHUNK, (acked, size))
                sent = back
                rounds += 1
                self.resent += 1
        finally:
            if bar:
                bar.close()


class _Rtt:
    """How long to wait for a chunk's answer: the longest of the link's first wait and three times
    the smoothed time chunks take to be answered (as TCP sets its retransmission timeout). A
    board that takes 150 ms a chunk, or an emulated one at a third of its speed, is waited for
    instead of being sent every chunk of the window again."""

    def __init__(self, floor):
        self.floor = floor
        self.smooth = 0.0

    def sample(self, seconds):
        self.smooth = seconds if not self.smooth else self.smooth * 0.875 + seconds * 0.125

    @property
    def wait(self):
        return max(self.floor, 3 * self.smooth)


class _Tries:
    """The tries of one request or upload since it last got anywhere, and when to stop: when
    the device has been silent for the link's timeout (each wait doubles, so a busy device gets
    time, and the last ends at the timeout), or after _NOISY_TRIES tries while the device
    answers, with NAKs or damaged frames."""

    def __init__(self, link, wait):
        self.link = link
        self.first = wait
        self.heard = link._heard()
        self.since = link.clock()  # when the device was last heard from, or the first try
        self.silent = 0  # tries in a row with nothing back
        self.count = 0
        self.damage = link._damage()
        self.noisy = False  # gave up although the device answered: with NAKs, damaged frames
        self.busy = False  # gave up although the device answered, all of it undamaged

    @property
    def wait(self):
        """Seconds to wait for an answer now: never past the link's timeout of silence."""
        left = self.since + self.link.timeout - self.link.clock()
        return min(self.first * 2**self.silent, max(self.first, _LONGEST_WAIT_S), left)

    def failed(self):
        """One more try that got nowhere; True: give up."""
        heard, self.heard = self.heard, self.link._heard()
        self.count += 1
        if heard != self.heard:
            self.silent = 0
            self.since = self.link.clock()
        else:
            self.silent += 1
        if self.link.clock() - self.since >= self.link.timeout - 1e-3:  # 1 ms: float sums
            return True
        if self.count < _NOISY_TRIES:
            return False
        self.noisy = self.link._damage() > self.damage
        self.busy = not self.noisy
        return True


def _oldest(inflight, until=None):
    """Take the oldest frame of the in-flight table, or the one of seq `until` and every older
    one (answers come in order, so those were lost whole); answers its value."""
    while True:
        seq = next(iter(inflight))
        value = inflight.pop(seq)
        if until is None or seq == until:
            return value


def _name(name):
    """The device's own name rule, checked before sending (the same code, the same message)."""
    try:
        return check_name(name).encode("utf-8")
    except messages.Refused as e:
        raise Refused(*e.args) from None
