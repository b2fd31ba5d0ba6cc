"""What a host does to the pattern store (store.Store `s`): uploads (resumable, hashed, verified,
committed atomically; see store.py for the scheme), deletes, and the listing and quota it is
shown. Only the protocol calls this, so a device that never meets a host never holds it.
"""

import hashlib

from micropython import const

from . import verify
from .bytecode import HEADER_SIZE, VerifyError
from .messages import (
    E_HASH,
    E_INCOMPLETE,
    E_MALFORMED,
    E_NO_SPACE,
    E_NO_UPLOAD,
    E_NOT_FOUND,
    E_QUOTA,
    E_STORAGE,
    E_TOO_BIG,
    E_VERIFY,
    refusal,
)
from .store import EXT, MAX_SIZE, META, OLD, TMP, check_name

_ENOSPC = const(28)
_EEXIST = const(17)
_PIECE = const(512)  # bytes hashed at a time


def used(s):
    """(pattern count, bytes) counted against the quota."""
    names = s.names()
    total = 0
    for n in names:
        total += s.fs.size(s.path_of(n + EXT))
    return len(names), total


def free(s):
    """Bytes free on the filesystem, or -1 when the port cannot tell."""
    return s.fs.free(s.root)


def check(s, name, profile):
    """Verifier Info of a stored pattern, checked against `profile` (read in pieces)."""
    src = s.open(name)
    try:
        return verify(src, profile)
    except VerifyError as e:
        raise refusal(
            E_VERIFY, "stored pattern %r fails this device's checks: %s" % (name, e.args[0])
        )
    except OSError as e:
        raise refusal(E_STORAGE, "cannot read %r: %s" % (name, e))
    finally:
        src.close()


def delete(s, name):
    if s.size(name) < 0:
        raise refusal(E_NOT_FOUND, "no pattern called %r on the device" % name)
    try:
        s.fs.remove(s.path_of(name + EXT))
    except OSError as e:
        raise refusal(E_STORAGE, "cannot delete %r: %s" % (name, e))


def status(s):
    """(offset held, announced size) of the upload in progress."""
    if not s.upload:
        raise refusal(E_NO_UPLOAD, "no upload in progress")
    return s.offset, s.upload[1]


def begin(s, name, size, digest):
    """Start or resume an upload; answers the offset the device already holds."""
    check_name(name)
    if size < HEADER_SIZE or size > MAX_SIZE:
        raise refusal(
            E_TOO_BIG,
            "pattern %r is %d bytes; a pattern is %d to %d bytes"
            % (name, size, HEADER_SIZE, MAX_SIZE),
        )
    if len(digest) != 32:
        raise refusal(E_MALFORMED, "SHA-256 must be 32 bytes")
    count, total = used(s)
    old = s.fs.size(s.path_of(name + EXT))
    if old < 0 and count >= s.max_count:
        raise refusal(
            E_QUOTA, "the device holds its maximum of %d patterns; delete one first" % s.max_count
        )
    if total - max(old, 0) + size > s.max_bytes:
        raise refusal(
            E_QUOTA,
            "pattern %r (%d bytes) would exceed the %d-byte storage quota"
            " (%d used); delete a pattern first" % (name, size, s.max_bytes, total),
        )
    meta = "%s %d %s" % (name, size, _hex(digest))
    if s.upload and s.upload[0] == name and s.upload[1] == size and s.upload[2] == digest:
        return s.offset
    _close(s)
    held = s.fs.size(s.path_of(TMP))
    if 0 <= held <= size and _meta(s) == meta:
        s.offset = held
    else:
        held = -1
    room = free(s)
    if room >= 0 and room - s.reserve < size - max(held, 0):
        raise refusal(
            E_NO_SPACE,
            "the device's storage is full (%d bytes free, %d needed);"
            " delete a pattern first" % (max(room - s.reserve, 0), size),
        )
    try:
        if held < 0:
            _discard(s)
            f = s.fs.open(s.path_of(META), "w")
            try:
                s.fs.write(f, meta)
            finally:
                f.close()
            s.offset = 0
            s.held_file = s.fs.open(s.path_of(TMP), "wb")
        else:
            s.held_file = s.fs.open(s.path_of(TMP), "ab")
    except Exception as e:  # whatever failed, the upload cannot go on
        _fail(s, e)
    s.upload = (name, size, digest)
    return s.offset


def _meta(s):
    try:
        f = s.fs.open(s.path_of(META), "r")
        try:
            return f.read(200)
        finally:
            f.close()
    except OSError:
        return None


def write(s, offset, data):
    """Append a chunk if it starts where the held bytes end; answers the held offset.

    A duplicate or a chunk after a gap changes nothing: the reply tells the host where
    to continue."""
    if not s.upload:
        raise refusal(E_NO_UPLOAD, "no upload in progress (it was reset); start it again")
    if offset != s.offset or not data:
        return s.offset
    if offset + len(data) > s.upload[1]:
        raise refusal(E_MALFORMED, "chunk runs past the announced size")
    try:
        s.fs.write(s.held_file, data)
    except Exception as e:  # whatever failed, the upload cannot go on
        _fail(s, e)
    s.offset += len(data)
    return s.offset


def commit(s, profile):
    """Check the held bytes (size, SHA-256, verifier) and put them in place atomically."""
    if not s.upload:
        raise refusal(E_NO_UPLOAD, "no upload in progress to commit")
    name, size, digest = s.upload
    if s.offset != size:
        raise refusal(
            E_INCOMPLETE, "upload of %r incomplete: %d of %d bytes" % (name, s.offset, size)
        )
    _close(s)
    try:
        src = s.open_path(s.path_of(TMP), size)
        try:
            info = _check_held(src, name, digest, profile)
        finally:
            src.close()  # before the file goes
    except Exception:  # refused, or a fault: the upload is dropped either way
        abort(s)
        raise
    final = s.path_of(name + EXT)
    failed = None
    try:
        try:
            s.fs.rename(s.path_of(TMP), final)
        except OSError as e:
            if e.args[0] != _EEXIST:
                raise
            s.fs.rename(final, s.path_of(name + OLD))
            s.fs.rename(s.path_of(TMP), final)
    except Exception as e:  # whatever failed, the old pattern must be whole again
        failed = e
    s.upload = None
    try:
        s.settle(name)
        _discard(s)
    except Exception:  # the next boot's recovery settles it
        pass
    if failed is not None:
        raise refusal(E_STORAGE, "could not store %r: %s" % (name, failed))
    return info


def _check_held(src, name, digest, profile):
    """The held upload's Info, if it has the announced SHA-256 and the verifier accepts it."""
    try:
        if _sha256(src) != digest:
            raise refusal(
                E_HASH, "upload of %r arrived corrupted (SHA-256 mismatch); send it again" % name
            )
        return verify(src, profile)
    except VerifyError as e:
        raise refusal(E_VERIFY, "the device rejected %r: %s" % (name, e.args[0]))
    except OSError as e:
        raise refusal(E_STORAGE, "cannot read the upload of %r back: %s" % (name, e))


def _sha256(src):
    """SHA-256 of a program.File, read in pieces: no buffer of the program's size."""
    h = hashlib.sha256()
    pos = 0
    while pos < src.size:
        piece = src.read(pos, _PIECE)
        if not piece:
            break
        h.update(piece)
        pos += len(piece)
    return h.digest()


def abort(s):
    """Drop the upload in progress (nothing stored changes)."""
    _close(s)
    s.upload = None
    _discard(s)


def _close(s):
    if s.held_file:
        f = s.held_file
        s.held_file = None
        try:
            f.close()
        except OSError:
            pass


def _discard(s):
    for entry in (TMP, META):
        if s.fs.size(s.path_of(entry)) >= 0:
            s.fs.remove(s.path_of(entry))


def _fail(s, e):
    """A filesystem error during an upload: drop it, keep everything stored."""
    s.upload = None
    _close(s)
    try:
        _discard(s)
    except Exception:  # the next upload's begin discards them
        pass
    if e.args and e.args[0] == _ENOSPC:
        raise refusal(
            E_NO_SPACE, "the device's storage is full; delete a pattern and upload again"
        )
    raise refusal(E_STORAGE, "storage error during upload: %s" % e)


def _hex(b):
    return "".join("%02x" % x for x in b)
