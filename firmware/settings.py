"""Persisted settings: selected routine, intensity step, session length, use counters.

One small file, `fws1 <crc32>` on the first line and JSON after it. Saving writes a temporary
file, syncs it where the filesystem can, and renames it over the old one (removing the old
first where rename will not replace, as on FAT). Loading takes the file if its checksum holds,
else the temporary one if a save was cut between its write and its rename, else the defaults,
and says which in `note`. A power cut at any step therefore leaves the old or the new settings.

The filesystem is reached through an object with open/write/rename/remove (store.FS has them),
so tests can cut the power at any single step.
"""

import binascii
import json

from micropython import const

from .store import is_name

_MAGIC = "fws1"
_MAX_FILE = const(1024)
_BIG = const(0x3FFFFFFF)

# name: (lowest, highest); routine is a string. Defaults below, session ones from the profile.
_RANGES = {
    "intensity": (1, 5),
    "session_ms": (10000, 3600000),
    "cue_ms": (0, 600000),
    "sessions": (0, _BIG),  # sessions ever run
    "use_s": (0, _BIG),  # seconds of motor session time ever
    "day": (0, _BIG),  # day number the host last set (the device has no calendar)
    "day_sessions": (0, _BIG),
    "day_s": (0, _BIG),
}


class SettingsError(ValueError):
    pass


class Settings:
    # the settings, set from `defaults` by _apply() (declared for the type checker only)
    routine: str
    intensity: int
    session_ms: int
    cue_ms: int
    sessions: int
    use_s: int
    day: int
    day_sessions: int
    day_s: int

    def __init__(self, path="settings.json", fs=None, session_ms=180000, cue_ms=30000):
        self.path = path
        self.tmp = path + ".tmp"
        self._fs = fs
        self.defaults = {
            "routine": "",
            "intensity": 3,
            "session_ms": session_ms,
            "cue_ms": cue_ms,
            "sessions": 0,
            "use_s": 0,
            "day": 0,
            "day_sessions": 0,
            "day_s": 0,
        }
        self.note = ""  # what load() found, for the log
        self._apply(self.defaults)

    @property
    def fs(self):
        if self._fs is None:
            from .store import FS

            self._fs = FS()
        return self._fs

    def values(self):
        out = {}
        for key in self.defaults:
            out[key] = getattr(self, key)
        return out

    def set(self, key, value):
        """Change one setting; SettingsError (one line) if the key or value is wrong."""
        if key not in self.defaults:
            raise SettingsError("no setting called %r" % key)
        check = dict(self.values())
        check[key] = value
        bad = _invalid(check)
        if bad:
            raise SettingsError(bad)
        setattr(self, key, value)

    def _apply(self, values):
        for key in self.defaults:
            setattr(self, key, values[key])

    def load(self):
        """Read the file; on any fault fall back as described above. Answers `note`."""
        values, why = self._read(self.path)
        if values is None:
            values, _ = self._read(self.tmp)
            if values is None:
                self._apply(self.defaults)
                self.note = "%s, using defaults" % why
                return self.note
            why = "restored from an interrupted save"
        self._apply(values)
        self.note = why
        return self.note

    def _read(self, path):
        try:
            f = self.fs.open(path, "rb")
            try:
                raw = f.read(_MAX_FILE + 1)
            finally:
                f.close()
        except OSError:
            return None, "no settings file"
        try:
            head, body = bytes(raw).split(b"\n", 1)
            magic, crc = head.decode().split(" ")
            if magic != _MAGIC or len(raw) > _MAX_FILE:
                return None, "settings file of an unknown format"
            if int(crc, 16) != binascii.crc32(body) & 0xFFFFFFFF:
                return None, "settings file corrupt (checksum)"
            data = json.loads(body)
        except (ValueError, UnicodeError):
            return None, "settings file corrupt (unreadable)"
        if not isinstance(data, dict):
            return None, "settings file corrupt (not a table)"
        values = dict(self.defaults)
        for key in self.defaults:
            if key in data:
                values[key] = data[key]
        bad = _invalid(values)
        if bad:
            return None, "settings file rejected (%s)" % bad
        return values, "loaded"

    def save(self):
        """Write atomically; OSError goes to the caller (the old file is then intact)."""
        body = json.dumps(self.values()).encode()
        data = ("%s %08x\n" % (_MAGIC, binascii.crc32(body) & 0xFFFFFFFF)).encode() + body
        fs = self.fs
        f = fs.open(self.tmp, "wb")
        try:
            fs.write(f, data)
        finally:
            f.close()
        try:
            fs.rename(self.tmp, self.path)
        except OSError:  # FAT: rename does not replace
            fs.remove(self.path)
            fs.rename(self.tmp, self.path)


def _invalid(values):
    """A one-line reason the values are unacceptable, or "" if they are fine."""
    r = values["routine"]
    if not isinstance(r, str) or (r and not is_name(r)):
        return "routine must be a pattern name"
    for key, (lo, hi) in _RANGES.items():
        v = values[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
            return "%s must be an integer %d..%d" % (key, lo, hi)
    return ""
