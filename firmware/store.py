"""Pattern storage on the device's filesystem: sanitised names, a quota, resumable uploads and
commits that a power cut cannot tear.

An upload goes to `.upload` (its name, size and SHA-256 in `.upload.meta`, so it resumes after a
reset), is read back, hashed and verified, and only then renamed over `<name>.fwb`. Where the
filesystem's rename will not replace (FAT), the old file is first renamed to `<name>.old`, and
start-up finishes or undoes that step, so every moment has the old or the new pattern complete.

The filesystem is reached through an `FS` object (a thin layer over `os`), so tests can put a
fault in any single operation.
"""
import hashlib
import os

from micropython import const

from . import bytecode
from . import verifier
from .messages import E_HASH, E_INCOMPLETE, E_MALFORMED, E_NAME, E_NO_SPACE, E_NO_UPLOAD
from .messages import E_NOT_FOUND, E_QUOTA, E_STORAGE, E_TOO_BIG, E_VERIFY, refusal

MAX_NAME = const(32)
MAX_SIZE = const(32784)  # largest program: header + bytecode.MAX_BODY
_ENOSPC = const(28)
_EEXIST = const(17)
_ENOENT = const(2)
_EXT = ".fwb"
_TMP = ".upload"
_META = ".upload.meta"
_OLD = ".old"
# stems that name firmware or settings files; refused even though they could not collide
_FIRMWARE = ("main", "boot", "facewave", "settings", "profile", "lib", "patterns")


class FS:
    """The few filesystem calls the store makes, over `os` (MicroPython and CPython)."""

    def open(self, path, mode):
        return open(path, mode)

    def write(self, f, data):
        f.write(data)
        f.flush()
        if hasattr(os, "fsync"):
            os.fsync(f.fileno())

    def rename(self, old, new):
        os.rename(old, new)

    def remove(self, path):
        os.remove(path)

    def size(self, path):
        """Size in bytes, or -1 when the file does not exist."""
        try:
            return os.stat(path)[6]
        except OSError:
            return -1

    def listdir(self, path):
        return os.listdir(path)

    def mkdir(self, path):
        os.mkdir(path)

    def free(self, path):
        """Bytes free for new data, or -1 when the port cannot tell."""
        if not hasattr(os, "statvfs"):
            return -1
        st = os.statvfs(path)
        return st[1] * st[4]


def check_name(name):
    """Refuse any name that is not 1..32 of a-z 0-9 _ - (so no path parts, no dots)."""
    ok = 0 < len(name) <= MAX_NAME and name[0] != "-"
    if ok:
        for ch in name:
            if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "_" or ch == "-"):
                ok = False
                break
    if not ok:
        shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
        raise refusal(E_NAME, "pattern name %s: use 1 to %d of a-z 0-9 _ - (not starting with -)"
               % (shown, MAX_NAME))
    if name in _FIRMWARE:
        raise refusal(E_NAME, "pattern name %r is reserved for the firmware" % name)
    return name


class Store:
    """Patterns in one directory; at most one upload in progress."""

    def __init__(self, root="patterns", fs=None, max_count=32, max_bytes=131072,
                 reserve=4096):
        self.root = root
        self.fs = fs or FS()
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.reserve = reserve  # free bytes kept back for the filesystem's own metadata
        self._f = None
        self.upload = None  # (name, size, digest) of the upload in progress
        self.offset = 0
        if self.fs.size(root) < 0:
            self.fs.mkdir(root)
        self._recover()

    def _path(self, name):
        return self.root + "/" + name

    def _recover(self):
        """Finish or undo a replace that a reset interrupted; keep a resumable upload."""
        for entry in self.fs.listdir(self.root):
            if entry.endswith(_OLD):
                stem = entry[:-len(_OLD)]
                if self.fs.size(self._path(stem + _EXT)) >= 0:
                    self.fs.remove(self._path(entry))
                else:
                    self.fs.rename(self._path(entry), self._path(stem + _EXT))
        if self.fs.size(self._path(_META)) >= 0 and self.fs.size(self._path(_TMP)) < 0:
            self.fs.remove(self._path(_META))

    # ---- reading ----

    def names(self):
        out = []
        for entry in self.fs.listdir(self.root):
            if entry.endswith(_EXT) and not entry.startswith("."):
                out.append(entry[:-len(_EXT)])
        out.sort()
        return out

    def size(self, name):
        return self.fs.size(self._path(check_name(name) + _EXT))

    def used(self):
        """(pattern count, bytes) counted against the quota."""
        names = self.names()
        total = 0
        for n in names:
            total += self.fs.size(self._path(n + _EXT))
        return len(names), total

    def free(self):
        return self.fs.free(self.root)

    def read(self, name):
        size = self.size(name)
        if size < 0:
            raise refusal(E_NOT_FOUND, "no pattern called %r on the device" % name)
        return self._read(self._path(name + _EXT), size)

    def _read(self, path, size):
        if size > MAX_SIZE:
            raise refusal(E_TOO_BIG, "%s is %d bytes, more than a pattern may be" % (path, size))
        data = bytearray(size)
        try:
            f = self.fs.open(path, "rb")
            try:
                got = f.readinto(data)
            finally:
                f.close()
        except OSError as e:
            raise refusal(E_STORAGE, "cannot read %s: %s" % (path, e))
        if got != size:
            raise refusal(E_STORAGE, "short read of %s" % path)
        return data

    def load(self, name, profile):
        """(program bytes, verifier Info) of a stored pattern, checked against `profile`."""
        data = self.read(name)
        try:
            return data, verifier.verify(data, profile)
        except verifier.VerifyError as e:
            raise refusal(E_VERIFY, "stored pattern %r fails this device's checks: %s"
                   % (name, e.args[0]))

    def delete(self, name):
        if self.size(name) < 0:
            raise refusal(E_NOT_FOUND, "no pattern called %r on the device" % name)
        try:
            self.fs.remove(self._path(name + _EXT))
        except OSError as e:
            raise refusal(E_STORAGE, "cannot delete %r: %s" % (name, e))

    # ---- uploading ----

    def begin(self, name, size, digest):
        """Start or resume an upload; answers the offset the device already holds."""
        check_name(name)
        if size < bytecode.HEADER_SIZE or size > MAX_SIZE:
            raise refusal(E_TOO_BIG, "pattern %r is %d bytes; a pattern is %d to %d bytes"
                   % (name, size, bytecode.HEADER_SIZE, MAX_SIZE))
        if len(digest) != 32:
            raise refusal(E_MALFORMED, "SHA-256 must be 32 bytes")
        count, total = self.used()
        old = self.fs.size(self._path(name + _EXT))
        if old < 0 and count >= self.max_count:
            raise refusal(E_QUOTA, "the device holds its maximum of %d patterns; delete one first"
                   % self.max_count)
        if total - max(old, 0) + size > self.max_bytes:
            raise refusal(E_QUOTA, "pattern %r (%d bytes) would exceed the %d-byte storage quota"
                   " (%d used); delete a pattern first" % (name, size, self.max_bytes, total))
        meta = "%s %d %s" % (name, size, _hex(digest))
        if self.upload and self.upload[0] == name and self.upload[1] == size \
                and self.upload[2] == digest:
            return self.offset
        self._close()
        held = self.fs.size(self._path(_TMP))
        if 0 <= held <= size and self._meta() == meta:
            self.offset = held
        else:
            held = -1
        free = self.free()
        if free >= 0 and free - self.reserve < size - max(held, 0):
            raise refusal(E_NO_SPACE, "the device's storage is full (%d bytes free, %d needed);"
                   " delete a pattern first" % (max(free - self.reserve, 0), size))
        try:
            if held < 0:
                self._discard()
                f = self.fs.open(self._path(_META), "w")
                try:
                    self.fs.write(f, meta)
                finally:
                    f.close()
                self.offset = 0
                self._f = self.fs.open(self._path(_TMP), "wb")
            else:
                self._f = self.fs.open(self._path(_TMP), "ab")
        except OSError as e:
            self._fail(e)
        self.upload = (name, size, digest)
        return self.offset

    def _meta(self):
        try:
            f = self.fs.open(self._path(_META), "r")
            try:
                return f.read(200)
            finally:
                f.close()
        except OSError:
            return None

    def write(self, offset, data):
        """Append a chunk if it starts where the held bytes end; answers the held offset.

        A duplicate or a chunk after a gap changes nothing: the reply tells the host where
        to continue."""
        if not self.upload:
            raise refusal(E_NO_UPLOAD, "no upload in progress (it was reset); start it again")
        if offset != self.offset or not data:
            return self.offset
        if offset + len(data) > self.upload[1]:
            raise refusal(E_MALFORMED, "chunk runs past the announced size")
        try:
            self.fs.write(self._f, data)
        except OSError as e:
            self._fail(e)
        self.offset += len(data)
        return self.offset

    def status(self):
        if not self.upload:
            raise refusal(E_NO_UPLOAD)
        return self.offset, self.upload[1]

    def commit(self, profile):
        """Check the held bytes (size, SHA-256, verifier) and put them in place atomically."""
        if not self.upload:
            raise refusal(E_NO_UPLOAD, "no upload in progress to commit")
        name, size, digest = self.upload
        if self.offset != size:
            raise refusal(E_INCOMPLETE, "upload of %r incomplete: %d of %d bytes"
                   % (name, self.offset, size))
        self._close()
        data = self._read(self._path(_TMP), size)
        if hashlib.sha256(data).digest() != digest:
            self.abort()
            raise refusal(E_HASH, "upload of %r arrived corrupted (SHA-256 mismatch); send it again"
                   % name)
        try:
            info = verifier.verify(data, profile)
        except verifier.VerifyError as e:
            self.abort()
            raise refusal(E_VERIFY, "the device rejected %r: %s" % (name, e.args[0]))
        final = self._path(name + _EXT)
        try:
            try:
                self.fs.rename(self._path(_TMP), final)
            except OSError as e:
                if e.args[0] != _EEXIST:
                    raise
                self.fs.rename(final, self._path(name + _OLD))
                self.fs.rename(self._path(_TMP), final)
                self.fs.remove(self._path(name + _OLD))
            self.fs.remove(self._path(_META))
        except OSError as e:
            self.upload = None
            raise refusal(E_STORAGE, "could not store %r: %s" % (name, e))
        self.upload = None
        return info

    def abort(self):
        """Drop the upload in progress (nothing stored changes)."""
        self._close()
        self.upload = None
        self._discard()

    def _close(self):
        if self._f:
            f = self._f
            self._f = None
            try:
                f.close()
            except OSError:
                pass

    def _discard(self):
        for entry in (_TMP, _META):
            if self.fs.size(self._path(entry)) >= 0:
                self.fs.remove(self._path(entry))

    def _fail(self, e):
        """A filesystem error during an upload: drop it, keep everything stored."""
        self.upload = None
        self._close()
        try:
            self._discard()
        except OSError:
            pass
        if e.args and e.args[0] == _ENOSPC:
            raise refusal(E_NO_SPACE, "the device's storage is full; delete a pattern and upload again")
        raise refusal(E_STORAGE, "storage error during upload: %s" % e)


def _hex(b):
    return "".join("%02x" % x for x in b)
