"""MicroPython's REPL on the virtual board's console, so the real `mpremote` can drive it.

The board hands its console to a `ReplConsole` when it drops to the REPL (at boot without
main.py, or after Ctrl-C); the console then answers what a MicroPython 1.29 board answers:

- the friendly REPL (`>>> `, echo, `... ` continuation, Ctrl-C, Ctrl-D soft reset, Ctrl-E paste);
- the raw REPL (Ctrl-A: `raw REPL; CTRL-B to exit\\r\\n>`; code, Ctrl-D; `OK`, stdout, `\\x04`,
  traceback, `\\x04`, `>`) and raw-paste mode (`\\x05A\\x01` -> `R\\x01`, a 128-byte window and one
  `\\x01` per window consumed), which is what mpremote uses for every command;
- soft reset (`MPY: soft reboot`, a fresh namespace, open files closed, `on_soft_reset` so the
  board can run boot.py again) and `machine.reset()` (`on_reset`).

Code runs under CPython `exec` with MicroPython-like modules: `os` and `open` go through the
virtual flash (sim/flashfs.py: "/" is the flash directory, nothing outside it can be named),
`time`, `machine`, `sys`, `gc`, `micropython`, and the pure modules mpremote uses (hashlib,
binascii, struct, json, ...). Other imports fail as on a board. Ctrl-C interrupts running code.

This is an emulation for testing tools, NOT a security sandbox: the file confinement holds for
the normal `open`/`os` APIs, but Python code that sets out to escape (through object
introspection, for one) can reach the host with the simulator's rights. Run only code you trust.
"""

import binascii
import builtins as _builtins
import codeop
import errno
import hashlib
import struct
import sys
import threading
import time
import traceback
import types

import micropython as _micropython
from .flashfs import FlashFS

VERSION = "1.29.0"
BANNER = (b"MicroPython v" + VERSION.encode()
          + b" on 2025-01-01; facewave virtual board with CPython\r\n"
          + b'Type "help()" for more information.\r\n')
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PROMPT = b">>> "
CONTINUE = b"... "
PASTE_BANNER = b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
SOFT_REBOOT = b"MPY: soft reboot\r\n"
PASTE_WINDOW = 128  # half of MICROPY_REPL_STDIN_BUFFER_MAX (256), as the board announces

FRIENDLY = "friendly"
RAW = "raw"
RAW_PASTE = "raw-paste"
PASTE = "paste"

_CTRL_A, _CTRL_B, _CTRL_C, _CTRL_D, _CTRL_E = 1, 2, 3, 4, 5
_TRACE_EVERY = 512  # line events between two looks for a Ctrl-C from the host
_PURE_MODULES = {"binascii": binascii, "hashlib": hashlib, "struct": struct}
_IMPORTABLE = ("json", "math", "cmath", "errno", "random", "re", "collections", "array",
               "heapq")  # host modules with no file access, imported when first asked for


class HardReset(BaseException):
    """machine.reset() was called (a BaseException, so `except Exception` cannot stop it)."""


class SoftReset(BaseException):
    """machine.soft_reset() or sys.exit() was called."""


class ReplConsole:
    """The REPL of the virtual board on `port` (anything with write(bytes), read_available()).

    Feed it the bytes from the host with `feed()` (or let `poll()` read the port). It writes its
    answers to the port. `on_soft_reset(run_main)` is called after `MPY: soft reboot`; it may run
    boot.py and, when `run_main` is true, main.py; returning True means the board has taken the
    console back, and the console stays `active == False` until `start()` is called again (bytes
    left unprocessed are in `take_pending()`). `on_reset()` is called by `machine.reset()`; without
    it the console restarts as if powered on. `modules` replaces or extends the modules board code
    can import (e.g. {"time": virtual_time, "machine": fake_machine}); `machine.reset` and
    `machine.soft_reset` stay the console's.
    """

    def __init__(self, port, flash_dir, on_soft_reset=None, on_reset=None, modules=None,
                 flash_size=2 * 1024 * 1024):
        self.port = port
        self.flash = FlashFS(flash_dir, size=flash_size)
        self.on_soft_reset = on_soft_reset
        self.on_reset = on_reset
        self.extra_modules = dict(modules or {})
        self.mode = FRIENDLY
        self.active = False
        self.resets = 0  # soft resets so far
        self._pending = bytearray()
        self._line = bytearray()
        self._block = []  # friendly REPL: lines of an unfinished compound statement
        self._after_cr = False
        self._escape = 0  # friendly REPL: bytes of an escape sequence still to skip
        self._window = 0
        self._running = False
        self._trace_count = 0
        self._new_namespace()

    # -- driving the console --------------------------------------------------------------

    def start(self, mode=FRIENDLY, banner=True):
        """Take the console: print the banner and the prompt of `mode` (FRIENDLY or RAW)."""
        self.active = True
        self.mode = mode
        del self._line[:]
        self._block = []
        if mode == RAW:
            self._write(RAW_BANNER + b">")
        else:
            self._write((BANNER if banner else b"") + PROMPT)
        self._process()

    def poll(self):
        """Read what the host sent and answer it (only while the REPL has the console)."""
        if not self.active:
            return
        data = self.port.read_available()
        if data:
            self.feed(data)

    def feed(self, data):
        """Bytes from the host, answered at once (code they complete runs here)."""
        self._pending += data
        self._process()

    def take_pending(self):
        """Bytes received but not processed because the console is not active."""
        data = bytes(self._pending)
        del self._pending[:]
        return data

    # -- input state machine --------------------------------------------------------------

    def _process(self):
        while self.active and self._pending and not self._running:
            data = bytes(self._pending)
            del self._pending[:]
            for i, c in enumerate(data):
                if self.mode == RAW:
                    self._raw_char(c)
                elif self.mode == RAW_PASTE:
                    self._raw_paste_char(c)
                elif self.mode == PASTE:
                    self._paste_char(c)
                else:
                    self._friendly_char(c)
                if not self.active or self._pending:
                    # a reset handed the console back, or bytes came in while code ran: the
                    # rest of this batch goes first
                    self._pending[:0] = data[i + 1:]
                    break

    def _raw_char(self, c):
        line = self._line
        if c == _CTRL_A:
            self._raw_ctrl_a()
        elif c == _CTRL_B:
            del line[:]
            self.mode = FRIENDLY
            self._write(b"\r\n" + BANNER + PROMPT)
        elif c == _CTRL_C:
            del line[:]
        elif c == _CTRL_D:
            self._write(b"OK")
            if not line:
                self._write(b"\r\n")
                self._soft_reset()
                return
            source = bytes(line)
            del line[:]
            if self._run_raw(source):
                self._write(b">")
        else:
            line.append(c)

    def _raw_ctrl_a(self):
        line = self._line
        if len(line) == 2 and line[0] == _CTRL_E:
            known = line[1] == ord("A")
            del line[:]
            if known:
                self.mode = RAW_PASTE
                self._window = PASTE_WINDOW
                self._write(b"R\x01" + struct.pack("<H", PASTE_WINDOW) + b"\x01")
            else:
                self._write(b"R\x00")
            return
        del line[:]
        self._write(RAW_BANNER + b">")

    def _raw_paste_char(self, c):
        line = self._line
        if c == _CTRL_D or c == _CTRL_C:
            self._write(b"\x04")  # end of data acknowledged
            source = bytes(line)
            del line[:]
            self.mode = RAW
            if c == _CTRL_C:
                self._write(b"\x04" + self._format_exception(KeyboardInterrupt()) + b"\x04>")
            elif self._run_raw(source):
                self._write(b">")
            return
        line.append(c)
        self._window -= 1
        if self._window == 0:
            self._window = PASTE_WINDOW
            self._write(b"\x01")  # the host may send another window

    def _friendly_char(self, c):
        line = self._line
        after_cr, self._after_cr = self._after_cr, c == 13
        if self._escape:
            self._escape -= 1
            if self._escape == 1 and not (c == ord("[") or c == ord("O")):
                self._escape = 0
            return
        if c == _CTRL_A:
            del line[:]
            self._block = []
            self.mode = RAW
            self._write(b"\r\n" + RAW_BANNER + b">")
        elif c == _CTRL_B:
            del line[:]
            self._block = []
            self._write(b"\r\n" + BANNER + PROMPT)
        elif c == _CTRL_C:
            del line[:]
            self._block = []
            self._write(b"\r\n" + PROMPT)
        elif c == _CTRL_D:
            if not line and not self._block:
                self._write(b"\r\n")
                self._soft_reset()
        elif c == _CTRL_E:
            del line[:]
            self._block = []
            self.mode = PASTE
            self._write(PASTE_BANNER)
        elif c in (8, 127):
            if line:
                del line[-1]
                self._write(b"\b \b")
        elif c == 27:
            self._escape = 2  # ESC [ X: cursor keys are not supported; skip them
        elif c == 10 and after_cr:
            pass
        elif c in (10, 13):
            self._write(b"\r\n")
            self._friendly_line(bytes(line).decode("utf-8", "replace"))
            del line[:]
        elif c >= 32 or c == 9:
            line.append(c)
            self._write(bytes((c,)))

    def _friendly_line(self, text):
        self._block.append(text)
        source = "\n".join(self._block)
        if len(self._block) > 1 and text.strip():
            self._write(CONTINUE)
            return
        try:
            complete = codeop.compile_command(source, "<stdin>", "single")
        except (SyntaxError, ValueError, OverflowError):
            complete = True  # let the run report the error as the board does
        if complete is None and text.strip():
            self._write(CONTINUE)
            return
        self._block = []
        if source.strip():
            self._run_friendly(source)
        if self.active and self.mode == FRIENDLY:
            self._write(PROMPT)

    def _paste_char(self, c):
        line = self._line
        if c == _CTRL_C:
            del line[:]
            self.mode = FRIENDLY
            self._write(b"\r\n" + PROMPT)
        elif c == _CTRL_D:
            source = bytes(line)
            del line[:]
            self.mode = FRIENDLY
            self._write(b"\r\n")
            self._run(source, "exec", sys_stdout_eof=False)
            if self.active and self.mode == FRIENDLY:
                self._write(PROMPT)
        elif c == 13:
            line.append(10)
            self._write(b"\r\n=== ")
        elif c != 10:
            line.append(c)
            self._write(bytes((c,)))

    # -- running code ---------------------------------------------------------------------

    def _run_raw(self, source):
        """Run raw REPL code; True when the REPL carries on (no reset happened)."""
        return self._run(source, "exec", sys_stdout_eof=True)

    def _run_friendly(self, source):
        try:
            compile(source, "<stdin>", "eval")
            self._run(source, "eval", sys_stdout_eof=False)
        except SyntaxError:
            self._run(source, "single", sys_stdout_eof=False)

    def _run(self, source, kind, sys_stdout_eof):
        """Compile and run; True when the REPL carries on (no reset happened)."""
        error = None
        reset = None
        _micropython.kbd_intr(3)  # the REPL re-arms Ctrl-C for every run, as the board does
        self._running = True
        self._trace_count = 0
        previous_trace = sys.gettrace()
        try:
            code = compile(source, "<stdin>", "exec" if kind == "single" else kind)
            sys.settrace(self._tracer)
            try:
                value = eval(code, self.namespace)
            finally:
                sys.settrace(previous_trace)
            if kind == "eval" and value is not None:
                self.namespace["_"] = value
                self._stdout_write(repr(value) + "\n")
        except HardReset as e:
            reset = e
        except (SoftReset, SystemExit) as e:
            reset = e
        except BaseException as e:  # noqa: BLE001  (all the code raises is the REPL's to print)
            error = e
        finally:
            self._running = False
        if isinstance(reset, HardReset):
            self._hard_reset()
            return False
        if sys_stdout_eof:
            self._write(b"\x04")
        if error is not None:
            self._write(self._format_exception(error))
        if sys_stdout_eof:
            self._write(b"\x04")
        if reset is not None:
            self._soft_reset()
            return False
        return True

    def _tracer(self, frame, event, arg):
        if event == "call" and frame.f_globals.get("__name__", "").startswith(__package__):
            return None  # the emulator's own code (the port, the flash): never re-entered
        self._trace_count += 1
        if self._trace_count >= _TRACE_EVERY:
            self._trace_count = 0
            self._check_interrupt()
        return self._tracer

    def _check_interrupt(self):
        """Look at the host's bytes while code runs: Ctrl-C raises KeyboardInterrupt in it."""
        data = self.port.read_available()
        if not data:
            return
        at = data.find(b"\x03")
        if at >= 0 and _micropython._kbd_intr == 3:
            self._pending += data[at + 1:]
            raise KeyboardInterrupt
        self._pending += data

    def _sleep(self, seconds):
        """time.sleep for board code: the port keeps running and Ctrl-C interrupts it."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            self._check_interrupt()
            left = end - time.monotonic()
            if left <= 0:
                return
            wait = getattr(self.port, "wait", None)
            if wait is None:
                time.sleep(min(left, 0.01))
            else:
                wait(min(left, 0.05))

    def _format_exception(self, e):
        lines = ["Traceback (most recent call last):"]
        if isinstance(e, SyntaxError) and e.filename == "<stdin>":
            lines.append('  File "<stdin>", line %d' % (e.lineno or 1))
        for frame in traceback.extract_tb(e.__traceback__):
            if frame.filename == "<stdin>":
                lines.append('  File "%s", line %d, in %s' % (frame.filename, frame.lineno,
                                                               frame.name))
        if isinstance(e, OSError):
            name = "OSError"
            if e.errno in errno.errorcode:
                message = "[Errno %d] %s" % (e.errno, errno.errorcode[e.errno])
            else:
                message = " ".join(str(a) for a in e.args)
        elif isinstance(e, SyntaxError):
            name, message = type(e).__name__, e.msg
        else:
            name = type(e).__name__
            message = str(e) if e.args else ""
            if isinstance(e, KeyError) and e.args:
                message = repr(e.args[0])
        lines.append("%s: %s" % (name, message))
        return ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")

    # -- resets ---------------------------------------------------------------------------

    def _soft_reset(self):
        self.resets += 1
        self._write(SOFT_REBOOT)
        self.flash.close_all()
        self._new_namespace()
        raw = self.mode in (RAW, RAW_PASTE)
        self.mode = RAW if raw else FRIENDLY
        del self._line[:]
        self._block = []
        took = self.on_soft_reset(not raw) if self.on_soft_reset else False
        if took:
            self.active = False
        elif raw:
            self._write(RAW_BANNER + b">")
        else:
            self._write(BANNER + PROMPT)

    def _hard_reset(self):
        self.flash.close_all()
        self._new_namespace()
        self.mode = FRIENDLY
        del self._line[:]
        self._block = []
        self.active = False
        if self.on_reset:
            self.on_reset()
        else:
            self.start()

    # -- what board code sees -------------------------------------------------------------

    def _write(self, data):
        self.port.write(data)

    def _stdout_write(self, text):
        if isinstance(text, (bytes, bytearray, memoryview)):
            self._write(bytes(text))
        else:
            self._write(str(text).replace("\n", "\r\n").encode("utf-8", "replace"))
        return len(text)

    def _new_namespace(self):
        """A fresh interpreter state, as after a reset."""
        self.modules = {}
        board_builtins = dict(vars(_builtins))
        for name in ("breakpoint", "copyright", "credits", "license", "exit", "quit"):
            board_builtins.pop(name, None)
        board_builtins.update(
            open=self.flash.open,
            print=self._print,
            input=self._input,
            help=self._help,
            __import__=self._import,
        )
        self._builtins = board_builtins
        self.namespace = {"__name__": "__main__", "__builtins__": board_builtins}

    def _print(self, *args, sep=" ", end="\n", file=None):
        text = (sep if sep is not None else " ").join(str(a) for a in args)
        text += end if end is not None else "\n"
        if file is None:
            self._stdout_write(text)
        else:
            file.write(text)

    def _mount(self, *args, **kwargs):
        """vfs.mount() lists the one filesystem, the flash at /; it cannot be changed."""
        if args or kwargs:
            raise OSError(errno.EPERM, "EPERM")
        return [(_Vfs(), "/")]

    def _input(self, prompt=""):
        raise OSError(errno.EPERM, "input() is not supported by the virtual board's REPL")

    def _help(self, *args):
        self._print("facewave virtual board: MicroPython REPL emulation under CPython.\n"
                    "os and open see the board's flash; Ctrl-D soft reset, Ctrl-A raw REPL.")

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level:
            raise ImportError("no module named '%s'" % name)
        if name.startswith("u") and name[1:] in ("os", "time", "sys", "io", "hashlib",
                                                 "binascii", "struct", "json", "errno"):
            name = name[1:]
        module = self.modules.get(name)
        if module is None:
            module = self._make_module(name)
            if module is None:
                raise ImportError("no module named '%s'" % name)
            self.modules[name] = module
        return module

    def _make_module(self, name):
        given = self.extra_modules.get(name)
        if name == "machine":
            return self._machine_module(given)
        if given is not None:
            return given
        if name == "os":
            return self.flash.os_module()
        if name == "io":
            return _module("io", open=self.flash.open, BytesIO=__import__("io").BytesIO,
                           StringIO=__import__("io").StringIO)
        if name == "time":
            return self._time_module()
        if name == "sys":
            return self._sys_module()
        if name == "gc":
            return _module("gc", collect=lambda: 0, mem_free=lambda: 180000,
                           mem_alloc=lambda: 20000, enable=lambda: None, disable=lambda: None,
                           isenabled=lambda: True, threshold=lambda *a: -1)
        if name == "micropython":
            return _micropython
        if name == "vfs":
            return _module("vfs", mount=self._mount, umount=self._mount)
        if name == "builtins":
            return _module("builtins", **self._builtins)
        if name in _PURE_MODULES:
            return _PURE_MODULES[name]
        if name in _IMPORTABLE:
            return __import__(name)
        return None

    def _machine_module(self, base):
        def reset():
            raise HardReset

        def soft_reset():
            raise SoftReset

        own = {"reset": reset, "soft_reset": soft_reset}
        if base is not None:
            return _Overlay("machine", base, own)
        return _module("machine", unique_id=lambda: b"\xfa\xce\x00\x00\x00\x00\x00\x01",
                       freq=lambda *a: 125000000, idle=lambda: None, reset_cause=lambda: 1,
                       bootloader=reset, PWRON_RESET=1, SOFT_RESET=5, **own)

    def _time_module(self):
        period = 1 << 30

        def ticks_diff(a, b):
            return ((a - b + period // 2) % period) - period // 2

        sleep = self._sleep
        return _module(
            "time",
            sleep=sleep,
            sleep_ms=lambda ms: sleep(ms / 1000),
            sleep_us=lambda us: sleep(us / 1000000),
            ticks_ms=lambda: int(time.monotonic() * 1000) % period,
            ticks_us=lambda: int(time.monotonic() * 1000000) % period,
            ticks_add=lambda t, d: (t + d) % period,
            ticks_diff=ticks_diff,
            time=lambda: int(time.time()),
            time_ns=time.time_ns,
            localtime=lambda *s: time.localtime(*s)[:8],
            gmtime=lambda *s: time.gmtime(*s)[:8],
            mktime=lambda t: int(time.mktime(tuple(t[:8]) + (-1,))),
        )

    def _sys_module(self):
        console = self

        class _Stream:
            def write(self, text):
                return console._stdout_write(text)

            def flush(self):
                pass

        stream = _Stream()
        stream.buffer = _module("buffer", write=self._stdout_write)

        def print_exception(e, file=None):
            (file or stream).write(self._format_exception(e).decode().replace("\r\n", "\n"))

        implementation = types.SimpleNamespace(
            name="micropython", version=(1, 29, 0, ""), _machine="facewave virtual board",
            _mpy=0x0A06)
        return _module(
            "sys", stdout=stream, stderr=stream, argv=[], path=["", ".frozen", "/lib"],
            platform="rp2", implementation=implementation, byteorder="little",
            version="3.4.0; MicroPython v" + VERSION, version_info=(3, 4, 0),
            maxsize=(1 << 31) - 1, modules=self.modules, exit=_exit,
            print_exception=print_exception,
        )


def _exit(code=0):
    raise SystemExit(code)


def _module(name, **attrs):
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


class _Vfs:
    def __repr__(self):
        return "<VfsLfs2>"


class _Overlay(types.ModuleType):
    """A module that is `base` except for the attributes given."""

    def __init__(self, name, base, own):
        super().__init__(name)
        self.__dict__.update(own)
        self._base = base

    def __getattr__(self, name):
        return getattr(self._base, name)


class ConsoleThread:
    """Runs a port and its REPL console in a background thread: for tests and small tools.

    The simulator's board loop drives the console itself; this is the same loop on its own.
    """

    def __init__(self, console, tick_s=0.02):
        self.console = console
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="repl-console", daemon=True)
        self.error = None

    def start(self):
        self._thread.start()
        return self

    def _loop(self):
        try:
            self.console.start()
            while not self._stop.is_set():
                self.console.port.wait(self.tick_s)
                self.console.poll()
        except BaseException as e:  # kept for the test that started the thread to report
            self.error = e
            raise

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    """`python -m facewave.sim.repl FLASH_DIR [--socket [PORT]] [--baud N]`: serve a REPL."""
    import argparse

    from .serial_port import PortError, open_port

    parser = argparse.ArgumentParser(
        prog="python -m facewave.sim.repl",
        description="Serve the virtual board's MicroPython REPL on a pty or a loopback socket.")
    parser.add_argument("flash", help="directory that is the board's flash")
    parser.add_argument("--socket", nargs="?", const=0, type=int, metavar="PORT",
                        help="listen on socket://127.0.0.1:PORT instead of a pty (0: any)")
    parser.add_argument("--baud", type=int, help="throttle to this line rate")
    args = parser.parse_args(argv)
    try:
        spec = "pty" if args.socket is None else "socket:%d" % args.socket
        port = open_port(spec, baud=args.baud)
        console = ReplConsole(port, args.flash)
    except (PortError, OSError) as e:
        print("facewave: %s" % (e.args[-1] if isinstance(e, OSError) else e), file=sys.stderr)
        return 1
    print(port.url, flush=True)
    thread = ConsoleThread(console).start()
    try:
        while thread._thread.is_alive():
            thread._thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        thread.stop()
        port.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
