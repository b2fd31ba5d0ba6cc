"""The device side of the serial protocol: frames in, replies out, commands to the device core.

Like the engine it never reads a clock: the board shell calls `feed(now, data)` with whatever
arrived on the console and writes back the bytes it answers, and calls `tick(now)` when `next`
(the tethered-playback deadline, or NEVER) is due.

It drives the device core (device.Device) through these members only:

    play(now, name)              start a stored pattern; DeviceError (one line) if it cannot
    stop(now), pause(now), resume(now)
    state, routine, level, charging, zone(), settings, session, battery, motor
                                 what STATUS reports
    settings                     .values() -> dict, .set(key, value) (SettingsError if bad)
    set_intensity(now, step)     the intensity setting, applied at once
    dirty                        set True after a settings change, so the shell saves them
    log                          .entries(since) -> [(seq, tick, kind name, arg)], .add():
                                 a stored or deleted pattern is logged
    upload(now, on)              an upload is going on (motor off) / ended (rescan patterns)
    rescan(now)                  the stored patterns changed
    fault(now, message)          the one safe state, after an unexpected exception

When Ctrl-C or Ctrl-A arrives between frames, `feed` stops the device and sets `repl`; the
shell then restores kbd_intr(3) and raises KeyboardInterrupt, handing the console to the REPL
(`rest` holds the bytes that followed, for a shell that can pass them on).
"""

from micropython import const

from . import VERSION, frame, log, ticks, upload
from . import messages as m
from .device import STATES, DeviceError
from .settings import SettingsError
from .store import check_name

NEVER = const(-1)
_LIST_BUDGET = const(900)  # JSON bytes per LIST/LOG page, under frame.MAX_PAYLOAD
_LIST_CHECK = const(4096)  # program bytes a LIST page verifies (at least one pattern)
_TEXT = const(256)  # JSON bytes of a program's or the log's text in a reply (see _fit)


class Protocol:
    heartbeat_timeout_ms = m.HEARTBEAT_TIMEOUT_MS

    def __init__(self, device, store, profile, board=None, version=VERSION):
        self.device = device
        self.store = store
        self.profile = profile
        self.board = board or profile.name
        self.version = version
        self.dec = frame.Decoder()
        self.next = NEVER  # tethered-playback deadline
        self.tethered = False
        self.owner = 0  # the token of the host whose HEARTBEATs keep the tether
        self.repl = False
        self.rest = b""
        self.timeouts = 0  # tethered playbacks stopped for want of a heartbeat
        self._last_crc = -1
        self._last_reply = b""
        self._handlers = {
            m.HELLO: self._hello,
            m.INFO: self._info,
            m.LIST: self._list,
            m.UPLOAD_BEGIN: self._begin,
            m.UPLOAD_CHUNK: self._chunk,
            m.UPLOAD_COMMIT: self._commit,
            m.UPLOAD_STATUS: self._upload_status,
            m.DELETE: self._delete,
            m.PLAY: self._play,
            m.STOP: self._stop,
            m.PAUSE: self._pause,
            m.RESUME: self._resume,
            m.STATUS: self._status,
            m.SET: self._set,
            m.LOG: self._log,
            m.HEARTBEAT: self._heartbeat,
        }

    def feed(self, now, data):
        """Consume console bytes; answer the bytes to send back."""
        self.tick(now)
        out = []
        dec = self.dec
        pos = 0
        end = len(data)
        while pos < end:
            pos = dec.feed(data, pos)
            ev = dec.event
            if ev == frame.FRAME:
                out.append(self._reply(now))
            elif ev == frame.BAD:
                out.append(frame.encode(m.NAK, 0))
            elif ev == frame.REPL:
                self._untether()
                self.device.stop(now)
                self.repl = True
                self.rest = bytes(data[pos - 1 if dec.key == 1 else pos :])
                break
        return b"".join(out)

    def wanted(self):
        """Bytes the shell may read next without reading past a REPL request (frame.py)."""
        return self.dec.wanted()

    def tick(self, now):
        """Stop a tethered playback whose host has gone silent."""
        if self.tethered and ticks.diff(now, self.next) >= 0:
            self._untether()
            self.timeouts += 1
            self.device.stop(now)

    def untether(self):
        """For the shell: playback started another way (button) no longer needs the host."""
        self._untether()

    def _untether(self):
        self.tethered = False
        self.next = NEVER

    def _reply(self, now):
        dec = self.dec
        ftype = dec.type
        if ftype != m.UPLOAD_CHUNK and dec.crc == self._last_crc:
            return self._last_reply  # the host resent a request whose reply it missed
        handler = self._handlers.get(ftype)
        try:
            if handler is None:
                raise m.refusal(m.E_UNKNOWN, "unknown message type 0x%02x" % ftype)
            out = frame.encode(m.ACK, dec.seq, handler(now, dec.payload()))
        except m.Refused as e:
            out = frame.encode(m.ERROR, dec.seq, m.pack_error(e.args[0], e.args[1]))
        except DeviceError as e:
            out = frame.encode(m.ERROR, dec.seq, m.pack_error(m.E_STATE, e.args[0]))
        except Exception as e:  # one safe state: motor off, then say why
            self._untether()
            text = "firmware fault, motor stopped: %s %s" % (type(e).__name__, e)
            self.device.fault(now, text)
            out = frame.encode(m.ERROR, dec.seq, m.pack_error(m.E_INTERNAL, text))
        if m.UPLOAD_BEGIN <= ftype <= m.UPLOAD_STATUS:
            self.device.upload(now, 1 if self.store.upload else 0)
        self._last_crc = dec.crc
        self._last_reply = out
        return out

    # ---- handlers: (now, payload) -> reply payload ----

    def hello(self):
        """What a host needs to know first (also the start of INFO)."""
        count, used = upload.used(self.store)
        return {
            "firmware": self.version,
            "protocol": m.PROTOCOL,
            "min_protocol": m.MIN_PROTOCOL,
            "board": self.board,
            "capabilities": ["upload", "resume", "tethered", "log"],
            "free": upload.free(self.store),
            "patterns": count,
            "used": used,
            "quota_count": self.store.max_count,
            "quota_bytes": self.store.max_bytes,
            "max_payload": frame.MAX_PAYLOAD,
            "chunk": m.CHUNK,
            "window": m.WINDOW,
            "heartbeat_ms": self.heartbeat_timeout_ms,
            "caps": self.profile.caps(),
        }

    def _hello(self, now, p):
        m.unpack_u16(p)
        return m.pack_json(self.hello())

    def _info(self, now, p):
        out = self.hello()
        out["settings"] = self.device.settings.values()
        return m.pack_json(out)

    def _list(self, now, p):
        start = m.unpack_u16(p)
        names = self.store.names()
        items = []
        budget = _LIST_BUDGET
        checked = 0  # program bytes verified for this reply
        i = start
        while i < len(names):
            name = names[i]
            size = self.store.size(name)
            if checked and checked + size > _LIST_CHECK:
                break  # the host asks for the rest: no reply verifies more than one pattern
            checked += size
            try:
                info = upload.check(self.store, name, self.profile)
                item = {
                    "name": name,
                    "size": size,
                    "duration": info.duration,
                    "description": _fit(info.description),
                }
            except m.Refused as e:
                item = {"name": name, "size": size, "error": _fit(e.args[1])}
            budget -= len(m.pack_json(item)) + 2
            if budget < 0 and items:
                break
            items.append(item)
            i += 1
        return m.pack_json({"patterns": items, "next": i if i < len(names) else -1})

    def _begin(self, now, p):
        size, digest, name = m.unpack_begin(p)
        return m.pack_offset(upload.begin(self.store, name, size, digest), size)

    def _chunk(self, now, p):
        if len(p) < 4:
            raise m.refusal(m.E_MALFORMED, "UPLOAD_CHUNK too short")
        offset = p[0] | p[1] << 8 | p[2] << 16 | p[3] << 24
        held = upload.write(self.store, offset, p[4:])
        return m.pack_offset(held, self.store.upload[1])

    def _commit(self, now, p):
        name = self.store.upload[0] if self.store.upload else ""
        info = upload.commit(self.store, self.profile)
        size = self.store.size(name)
        self.device.log.add(now, log.PATTERN, "stored %s (%d bytes)" % (name, size))
        return m.pack_json(
            {
                "name": name,
                "size": size,
                "duration": info.duration,
                "description": _fit(info.description),
            }
        )

    def _upload_status(self, now, p):
        offset, size = upload.status(self.store)
        return m.pack_offset(offset, size)

    def _delete(self, now, p):
        name = check_name(m.text(p))
        self.device.release(now, name)
        upload.delete(self.store, name)
        self.device.log.add(now, log.PATTERN, "deleted " + name)
        self.device.rescan(now)
        return b""

    def _play(self, now, p):
        if len(p) < 6:
            raise m.refusal(m.E_MALFORMED, "PLAY needs flags, a host token and a name")
        name = check_name(m.text(p[5:]))
        if self.store.size(name) < 0:
            raise m.refusal(m.E_NOT_FOUND, "no pattern called %r on the device" % name)
        self.device.play(now, name, p[0] & m.FLAG_DEFAULT)
        if p[0] & m.FLAG_TETHERED:
            self.tethered = True
            self.owner = m.unpack_u32(p[1:5])
            self.next = ticks.add(now, self.heartbeat_timeout_ms)
        else:
            self._untether()
        return m.pack_json(self._state(now))

    def _stop(self, now, p):
        self._untether()
        self.device.stop(now)
        return m.pack_json(self._state(now))

    def _pause(self, now, p):
        self.device.pause(now)
        return m.pack_json(self._state(now))

    def _resume(self, now, p):
        self.device.resume(now)
        return m.pack_json(self._state(now))

    def _status(self, now, p):
        return m.pack_json(self._state(now))

    def _state(self, now):
        """The device's state for the host: STATUS, and the reply to every command."""
        d = self.device
        s = d.session
        return {
            "state": STATES[d.state],
            "routine": d.routine,
            "intensity": d.settings.intensity,
            "level": d.level,
            "elapsed_ms": s.elapsed(now) if s.active else 0,
            "left_ms": s.left(now) if s.active else 0,
            "cues": s.cues,
            "battery_mv": d.battery.mv,
            "battery": ("ok", "low", "empty")[d.battery.state],
            "charging": d.charging,
            "heat": d.motor.heat,
            "zone": _fit(d.zone()),
            "tethered": self.tethered,
            "now": now,
        }  # the device's clock, so the host can date log entries

    def _set(self, now, p):
        line = m.text(p)
        eq = line.find("=")
        if eq <= 0:
            raise m.refusal(m.E_MALFORMED, "SET needs key=value")
        key = line[:eq]
        value = line[eq + 1 :]
        digits = value[1:] if value[:1] == "-" else value
        if digits and digits.isdigit() and max(digits) <= "9":  # CPython's isdigit takes ²
            value = int(value)
        cap = self.profile.session_max_ms
        if key == "session_ms" and isinstance(value, int) and value > cap:
            # taken, the board would cut every session to its cap without a word
            raise m.refusal(
                m.E_SETTING, "session must be at most %d s on this board (its cap)" % (cap // 1000)
            )
        try:
            if key == "intensity" and isinstance(value, int):
                self.device.set_intensity(now, value)
            else:
                self.device.settings.set(key, value)
                self.device.dirty = True
        except (SettingsError, DeviceError) as e:
            raise m.refusal(m.E_SETTING, e.args[0])
        return m.pack_json(self.device.settings.values())

    def _log(self, now, p):
        since = m.unpack_u32(p)
        out = []
        nxt = -1
        budget = _LIST_BUDGET
        for seq, tick, kind, arg in self.device.log.entries(since):
            if isinstance(arg, str):
                arg = _fit(arg)
            entry = [seq, tick, kind, arg]
            budget -= len(m.pack_json(entry)) + 2
            if budget < 0 and out:
                nxt = seq
                break
            out.append(entry)
        return m.pack_json({"entries": out, "next": nxt})

    def _heartbeat(self, now, p):
        token = m.unpack_u32(p)
        if self.tethered:
            if token != self.owner:
                raise m.refusal(m.E_STATE, "the tethered playback belongs to another host")
            self.next = ticks.add(now, self.heartbeat_timeout_ms)
        return m.pack_json(self._state(now))


def _fit(text):
    """`text` cut so that its JSON takes at most _TEXT bytes, however hostile its characters
    (one takes up to 12 bytes: a pair of \\u escapes); what fits stays whole."""
    if len(m.pack_json(text)) > _TEXT:
        text = text[: (_TEXT - 2) // 12]
    return text
