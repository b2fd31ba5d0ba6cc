"""The virtual board's flash: a host directory seen through MicroPython's `open` and `os`.

Paths are the board's: "/" is the flash directory, relative paths start at the current
directory, and a path that climbs above "/" names nothing (OSError ENOENT), as a symlink that
leads out of the directory does (EACCES). Errors are plain `OSError(errno)`, printed as the board
prints them (`OSError: [Errno 2] ENOENT`). This confines the normal file APIs; it is not a
security boundary for hostile code (see sim/repl.py).
"""

import errno
import os
import posixpath
import stat as _stat
import types
import weakref

S_IFDIR = 0x4000
S_IFREG = 0x8000
BLOCK_SIZE = 4096


def _error(code):
    return OSError(code, errno.errorcode.get(code, str(code)))


class FlashFS:
    """A directory on the host as the board's flash, with the board's path rules."""

    def __init__(self, root, size=2 * 1024 * 1024):
        if not os.path.isdir(root):
            raise OSError(errno.ENOENT, "flash directory %s does not exist" % root)
        self.root = os.path.realpath(root)
        self.size = size  # bytes, for statvfs
        self.cwd = "/"
        self.open_files = weakref.WeakSet()  # closed at soft reset, as the board's VFS does

    def board_path(self, path):
        """`path` made absolute and normalised in the board's namespace."""
        if isinstance(path, bytes):
            path = path.decode()
        if not isinstance(path, str):
            raise TypeError("path must be str, not %s" % type(path).__name__)
        if "\0" in path:
            raise _error(errno.EINVAL)
        if not path.startswith("/"):
            path = posixpath.join(self.cwd, path)
        parts = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise _error(errno.ENOENT)  # above the root of the flash: nothing there
                parts.pop()
            else:
                parts.append(part)
        return "/" + "/".join(parts)

    def host_path(self, path):
        """The host file behind the board's `path`; never outside the flash directory."""
        host = os.path.join(self.root, *self.board_path(path).split("/")[1:])
        real = os.path.realpath(host)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise _error(errno.EACCES)  # a symlink planted in the flash leads out of it
        return host

    def _call(self, func, *args):
        try:
            return func(*args)
        except OSError as e:
            raise _error(e.errno or errno.EIO) from None

    # -- the board's API -----------------------------------------------------------------

    def open(self, path, mode="r", buffering=-1, encoding=None, errors=None, newline=None):
        host = self.host_path(path)
        f = self._call(open, host, mode, buffering, encoding, errors, newline)
        self.open_files.add(f)
        return f

    def listdir(self, path=""):
        return sorted(self._call(os.listdir, self.host_path(path or self.cwd)))

    def ilistdir(self, path=""):
        host = self.host_path(path or self.cwd)
        entries = []
        for name in self.listdir(path):
            st = self._call(os.lstat, os.path.join(host, name))
            if _stat.S_ISDIR(st.st_mode):
                entries.append((name, S_IFDIR, 0, 0))
            else:
                entries.append((name, S_IFREG, 0, st.st_size))
        return iter(entries)

    def stat(self, path):
        st = self._call(os.stat, self.host_path(path))
        mode = S_IFDIR if _stat.S_ISDIR(st.st_mode) else S_IFREG
        size = 0 if mode == S_IFDIR else st.st_size
        mtime = int(st.st_mtime)
        return (mode, 0, 0, 0, 0, 0, size, mtime, mtime, mtime)

    def remove(self, path):
        host = self.host_path(path)
        if os.path.isdir(host):
            raise _error(errno.EISDIR)
        self._call(os.remove, host)

    def rename(self, old, new):
        src, dst = self.host_path(old), self.host_path(new)
        if self.board_path(old) == "/" or self.board_path(new) == "/":
            raise _error(errno.EACCES)
        if os.path.isdir(dst) and not os.path.isdir(src):
            raise _error(errno.EISDIR)
        self._call(os.replace, src, dst)

    def mkdir(self, path):
        self._call(os.mkdir, self.host_path(path))

    def rmdir(self, path):
        if self.board_path(path) == "/":
            raise _error(errno.EACCES)
        self._call(os.rmdir, self.host_path(path))

    def getcwd(self):
        return self.cwd

    def chdir(self, path):
        board = self.board_path(path)
        if not os.path.isdir(self.host_path(board)):
            raise _error(errno.ENOENT)
        self.cwd = board

    def used(self):
        """Bytes the files take in whole blocks, as a flash filesystem counts them."""
        total = 0
        for folder, dirs, files in os.walk(self.root):
            total += BLOCK_SIZE * len(dirs)
            for name in files:
                try:
                    size = os.lstat(os.path.join(folder, name)).st_size
                except OSError:
                    continue
                total += -(-size // BLOCK_SIZE) * BLOCK_SIZE or BLOCK_SIZE
        return total

    def statvfs(self, path="/"):
        self.host_path(path)
        blocks = self.size // BLOCK_SIZE
        free = max(0, blocks - self.used() // BLOCK_SIZE)
        return (BLOCK_SIZE, BLOCK_SIZE, blocks, free, free, 0, 0, 0, 0, 255)

    def close_all(self):
        for f in list(self.open_files):
            try:
                f.close()
            except OSError:
                pass
        self.open_files.clear()

    def os_module(self, uname=None):
        """An `os` module for board code whose file functions go through this flash."""
        mod = types.ModuleType("os")
        for name in ("listdir", "ilistdir", "stat", "remove", "rename", "mkdir", "rmdir",
                     "getcwd", "chdir", "statvfs"):
            setattr(mod, name, getattr(self, name))
        info = uname or ("rp2", "rp2", "1.29.0", "v1.29.0 (facewave virtual board)",
                         "facewave virtual board with CPython")
        mod.uname = lambda: _Uname(info)
        mod.sync = lambda: None
        mod.urandom = os.urandom
        mod.sep = "/"
        return mod


class _Uname(tuple):
    """`os.uname()` result: a tuple with named fields, as on the board."""

    _fields = ("sysname", "nodename", "release", "version", "machine")

    def __new__(cls, values):
        return super().__new__(cls, values)

    def __getattr__(self, name):
        try:
            return self[self._fields.index(name)]
        except ValueError:
            raise AttributeError(name) from None
