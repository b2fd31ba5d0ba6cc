"""Reading a command's input files and writing its outputs: the one way every command does it.

An input is a regular file (a FIFO would block for ever, a device never ends, a folder has no
text); it is opened without blocking and judged by what was opened, not by its name. An output
is written whole or not at all: into a new file beside it, synced, then renamed over it, so a
full disk or a Ctrl-C leaves the old file as it was. `-` is standard output. What is not a
regular file is never replaced: a character device or a FIFO (/dev/null, a pipe) is written
through; a folder, a block device or a socket is refused. A symbolic link is followed, as a
shell's `>` follows it: its target is replaced and the link stays.
"""

import errno
import os
import secrets
import stat
import sys
from pathlib import Path

from .errors import FacewaveError

STDOUT = "-"


class FileProblem(FacewaveError):
    """An input that cannot be read or an output that cannot be written: `path` and `why`."""

    def __init__(self, path, why, code=1):
        super().__init__("%s: %s" % (path, why), code)
        self.path = path
        self.why = why


def _kind(mode):
    """What a file that is not a regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def _why(e):
    return e.strerror or str(e)


def read(path, limit, what="an input"):
    """The bytes of the regular file `path`, at most `limit` of them (`what` says what it
    should be, for the message); anything else is a FileProblem in one line."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise FileProblem(path, _why(e).lower()) from None
    try:
        st = os.fstat(fd)
        kind = _kind(st.st_mode)
        if kind:
            raise FileProblem(path, "%s, not %s" % (kind, what))
        if st.st_size > limit:
            raise FileProblem(path, "%d bytes; %s is at most %d" % (st.st_size, what, limit))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise FileProblem(path, _why(e).lower()) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew while we read it
        raise FileProblem(path, "more than %d bytes; %s is at most %d" % (limit, what, limit))
    return data


def to_stdout(*paths):
    """True if one of a command's outputs is `-` (its messages then go to stderr); two outputs
    on standard output are a usage error."""
    if sum(p == STDOUT for p in paths) > 1:
        raise FacewaveError("only one output can be - (standard output)", 2)
    return STDOUT in paths


def messages(*paths):
    """Where a command's messages go: stderr when one of its outputs is standard output."""
    return sys.stderr if to_stdout(*paths) else sys.stdout


def check_output(path):
    """A usage error now, before any work, for an output that cannot be written: a folder that
    does not exist, a folder or a block device in its place. write() says the rest."""
    if path is None or path == STDOUT:
        return
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise FileProblem(path, "no such folder %s" % Path(path).parent, 2) from None
        return
    except OSError as e:
        raise FileProblem(path, _why(e).lower(), 2) from None
    if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        raise FileProblem(path, "%s; name a file to write" % _kind(mode), 2)


def write(path, data):
    """Write `data` (bytes) to `path` whole, or raise a FileProblem that says why not and leave
    what was there unchanged; `-` writes to standard output."""
    if path == STDOUT:
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
        return
    check_output(path)
    target = Path(os.path.realpath(path))  # a symbolic link: its target, the link stays
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise FileProblem(path, _why(e).lower()) from None
    try:
        if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            _write_through(target, data)
        else:
            _replace(target, data, mode)
    except OSError as e:
        why = "a FIFO nobody reads" if e.errno == errno.ENXIO else _why(e).lower()
        raise FileProblem(path, "cannot write: %s" % why) from None


def _write_through(target, data):
    """A device or a FIFO: written to, never replaced; a FIFO nobody reads is an error, not a
    wait for ever."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        os.set_blocking(fd, True)
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd, data):
    """Every byte of `data` to `fd` (a write may take only part)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _replace(target, data, mode):
    """A new file beside `target`, synced, renamed over it: the old one or the new one, whole.
    It keeps the mode of the file it replaces (a new file's: the umask's)."""
    tmp = target.with_name(".%s.%s.tmp" % (target.name, secrets.token_hex(4)))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, stat.S_IMODE(mode))
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:  # a full disk, Ctrl-C: no half-written file left beside it
        tmp.unlink(missing_ok=True)
        raise
