"""Pattern storage on the device's filesystem: sanitised names, opening, and recovery at boot
from a replace that a power cut interrupted. What only a host does to the store (uploads, deletes,
listings, the quota) is in upload.py, loaded with the protocol.

An upload goes to `.upload` (its name, size and SHA-256 in `.upload.meta`, so it resumes after a
reset), is read back, hashed and verified, and only then renamed over `<name>.fwb`. Where the
filesystem's rename will not replace (FAT), the old file is first renamed to `<name>.old`, and
start-up finishes or undoes that step, so every moment has the old or the new pattern complete.

The filesystem is reached through an `FS` object (a thin layer over `os`), so tests can put a
fault in any single operation.
"""

import os

from micropython import const

from .program import File

MAX_NAME = const(32)
MAX_SIZE = const(32784)  # largest program: header + bytecode.MAX_BODY
# file names in the store's directory (upload.py writes the last three)
EXT = ".fwb"
TMP = ".upload"
META = ".upload.meta"
OLD = ".old"
# stems that name firmware or settings files; refused even though they could not collide
_FIRMWARE = ("main", "boot", "facewave", "settings", "profile", "lib", "patterns")


def refusal(code, text):
    """messages.refusal(messages.<code>, text): the protocol's schema is loaded when the store
    refuses something, not to list or play patterns."""
    from . import messages

    return messages.refusal(getattr(messages, code), text)


class FS:
    """The few filesystem calls the store makes, over `os` and open() (MicroPython and CPython),
    or over a `disk` that has the same calls (open among them): the simulator's flash, under
    these very calls, so that a fault put into one of them reaches the firmware."""

    def __init__(self, disk=None):
        self.os = disk or os
        self._open = disk.open if disk else open

    def open(self, path, mode):
        return self._open(path, mode)

    def write(self, f, data):
        f.write(data)
        f.flush()
        if hasattr(self.os, "fsync"):
            self.os.fsync(f.fileno())

    def rename(self, old, new):
        self.os.rename(old, new)

    def remove(self, path):
        self.os.remove(path)

    def size(self, path):
        """Size in bytes, or -1 when the file does not exist."""
        try:
            return self.os.stat(path)[6]
        except OSError:
            return -1

    def listdir(self, path):
        return self.os.listdir(path)

    def mkdir(self, path):
        self.os.mkdir(path)

    def free(self, path):
        """Bytes free for new data, or -1 when the port cannot tell."""
        if not hasattr(self.os, "statvfs"):
            return -1
        st = self.os.statvfs(path)
        return st[1] * st[4]


def is_name(name):
    """1..32 of a-z 0-9 _ - (so no path parts, no dots), not starting with -."""
    if not 0 < len(name) <= MAX_NAME or name[0] == "-":
        return False
    for ch in name:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "_" or ch == "-"):
            return False
    return True


def check_name(name):
    """Refuse any name that is not a name (is_name) or is a firmware file's."""
    if not is_name(name):
        shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
        raise refusal(
            "E_NAME",
            "pattern name %s: use 1 to %d of a-z 0-9 _ - (not starting with -)"
            % (shown, MAX_NAME),
        )
    if name in _FIRMWARE:
        raise refusal("E_NAME", "pattern name %r is reserved for the firmware" % name)
    return name


class Store:
    """Patterns in one directory, and the state of the upload in progress (see upload.py)."""

    def __init__(self, root="patterns", fs=None, max_count=32, max_bytes=131072, reserve=4096):
        self.root = root
        self.fs = fs or FS()
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.reserve = reserve  # free bytes kept back for the filesystem's own metadata
        self.held_file = None
        self.upload = None  # (name, size, digest) of the upload in progress
        self.offset = 0
        if self.fs.size(root) < 0:
            self.fs.mkdir(root)
        self._recover()

    def path_of(self, name):
        return self.root + "/" + name

    def _recover(self):
        """Finish or undo a replace that a reset interrupted; keep a resumable upload."""
        for entry in self.fs.listdir(self.root):
            if entry.endswith(OLD):
                self.settle(entry[: -len(OLD)])
        if self.fs.size(self.path_of(META)) >= 0 and self.fs.size(self.path_of(TMP)) < 0:
            self.fs.remove(self.path_of(META))

    def settle(self, stem):
        """After a replace of pattern `stem`, however far it went: the new file if it is in
        place, else the old one back."""
        old = self.path_of(stem + OLD)
        if self.fs.size(old) >= 0:
            if self.fs.size(self.path_of(stem + EXT)) >= 0:
                self.fs.remove(old)
            else:
                self.fs.rename(old, self.path_of(stem + EXT))

    # ---- reading ----

    def names(self):
        out = []
        for entry in self.fs.listdir(self.root):
            if entry.endswith(EXT) and not entry.startswith("."):
                out.append(entry[: -len(EXT)])
        out.sort()
        return out

    def size(self, name):
        return self.fs.size(self.path_of(check_name(name) + EXT))

    def open(self, name):
        """Stored pattern `name` as a program.File, read in pieces (the caller closes it)."""
        size = self.size(name)
        if size < 0:
            raise refusal("E_NOT_FOUND", "no pattern called %r on the device" % name)
        return self.open_path(self.path_of(name + EXT), size)

    def open_path(self, path, size):
        if size > MAX_SIZE:
            raise refusal("E_TOO_BIG", "%s is %d bytes, more than a pattern may be" % (path, size))
        try:
            return File(self.fs.open(path, "rb"), size)
        except OSError as e:
            raise refusal("E_STORAGE", "cannot read %s: %s" % (path, e))
