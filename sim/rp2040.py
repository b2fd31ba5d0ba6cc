"""The emulated Raspberry Pi Pico: the genuine MicroPython UF2 running on rp2040js (an RP2040
emulator in JavaScript), its USB serial on a pseudo-terminal.

The third level of the virtual board, under the simulator's own board (the firmware on CPython
with fake hardware) and the MicroPython VM (the firmware on the WebAssembly port): here the
official MicroPython for the Pico runs on an emulated chip, so `facewave flash`, `mpremote` and
the firmware meet the real port's REPL, littlefs, USB CDC, watchdog, PWM and ADC.

    with Rp2040Board(flash="pico-flash.bin") as pico:
        subprocess.run(["mpremote", "connect", pico.port, "exec", "print(1+1)"])
        pico.button(True)
        print(pico.pwm(), pico.board_ms(), pico.resets)

The emulator is `sim/rp2040_board.mjs` (Node.js), driven over a pipe of JSON lines. A relay
thread passes bytes between the pty and the emulated USB CDC, and raises DTR while a program
holds the pty open, as a USB host does for /dev/ttyACM0.
"""

import base64
import os
import select
import shutil
from pathlib import Path

from . import node
from .node_board import NodeBoard
from .serial_port import PortError, raw_pty

RUNNER = Path(__file__).with_name("rp2040_board.mjs")
NPM_PACKAGE = "rp2040js"
UF2_DOWNLOAD = "micropython.org/download/RPI_PICO/"
BOOTROM_NAME = "bootrom-b1.bin"
BUTTON_PIN = 14  # active low, pull-up (firmware/boards/pico.py)
CHARGER_PIN = 13  # TP4056 CHRG: open drain, low while charging
BATTERY_ADC = 3  # GP29: VSYS through the Pico's 200k/100k divider
VREF_MV = 3300
_HUP_POLL_S = 0.01  # how often to look for a program opening the pty while none has it


class Rp2040Error(Exception):
    """The emulated Pico cannot be started or has failed; the message is one line."""


def battery_raw(mv):
    """The 12-bit ADC3 value for a cell of `mv` millivolts (VSYS/3 against 3.3 V)."""
    return max(0, min(4095, int(mv * 4095 // (3 * VREF_MV))))


def find_uf2(uf2=None):
    """The MicroPython UF2 for the Pico: `uf2` (a file, or a folder holding RPI_PICO-*.uf2),
    else $FACEWAVE_RP2_UF2 (the same); refuses with where to get it."""
    where = "uf2=%s" % uf2 if uf2 else None
    if uf2 is None:
        uf2 = os.environ.get("FACEWAVE_RP2_UF2") or None
        where = "FACEWAVE_RP2_UF2=%s" % uf2
    if not uf2:
        raise Rp2040Error(
            "no MicroPython UF2 for the Pico: set FACEWAVE_RP2_UF2 to the official "
            "RPI_PICO UF2 (from %s) or to a folder holding it and %s"
            % (UF2_DOWNLOAD, BOOTROM_NAME)
        )
    path = Path(uf2)
    if path.is_dir():
        found = sorted(path.glob("RPI_PICO-*.uf2"), key=_version_key)
        if not found:
            raise Rp2040Error(
                "%s: the folder holds no RPI_PICO-*.uf2 (get it from %s)" % (where, UF2_DOWNLOAD)
            )
        return found[-1]
    if not path.is_file():
        raise Rp2040Error(
            "%s: no such file (get the RPI_PICO UF2 from %s)" % (where, UF2_DOWNLOAD)
        )
    return path


def _version_key(path):
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def find_bootrom(uf2_path, bootrom=None):
    """The RP2040 boot ROM: `bootrom`, else $FACEWAVE_RP2_BOOTROM, else bootrom-b1.bin next to
    the UF2, else next to the UF2 that $FACEWAVE_RP2_UF2 names (or in its folder)."""
    if bootrom is None:
        bootrom = os.environ.get("FACEWAVE_RP2_BOOTROM") or None
    if bootrom:
        candidates = [Path(bootrom)]
    else:
        candidates = [Path(uf2_path).with_name(BOOTROM_NAME)]
        env = os.environ.get("FACEWAVE_RP2_UF2")
        if env:
            env = Path(env)
            candidates.append(env / BOOTROM_NAME if env.is_dir() else env.with_name(BOOTROM_NAME))
    for path in candidates:
        if path.is_file():
            return path
    raise Rp2040Error(
        "no RP2040 boot ROM at %s: set FACEWAVE_RP2_BOOTROM, or put %s (the "
        "16 KB B1 ROM, as rp2040js's demo uses it) next to the UF2" % (candidates[0], BOOTROM_NAME)
    )


def find_emulator():
    """(node executable, rp2040js package folder); refuses with what to install."""
    return node.find_package(NPM_PACKAGE, "dist/esm/index.js", "FACEWAVE_RP2040JS", Rp2040Error)


class Rp2040Board(NodeBoard):
    """An emulated Raspberry Pi Pico running the genuine MicroPython UF2.

    `uf2`, `bootrom`: see find_uf2() / find_bootrom(). `flash`: a file that holds the board's
    whole 2 MB flash, loaded if it exists and saved after writes and at close (None: a blank
    flash, lost at close). `speed`: board time per wall time while the board idles (1: real
    time; 0: idle time skipped). Busy code runs at what the emulator manages (0.2-0.5x).
    """

    error = Rp2040Error
    what = "the emulated Pico"

    def __init__(self, uf2=None, flash=None, bootrom=None, speed=1.0):
        super().__init__()
        self.uf2 = find_uf2(uf2)
        self.bootrom = find_bootrom(self.uf2, bootrom)
        self.node, self.package = find_emulator()
        self.flash = None if flash is None else Path(flash)
        self.speed = speed
        self.port = None  # the path programs open (a link to the current pty), once started
        self.pty = None  # the current pty's own path (a new one after each reset)
        self._linkdir = None
        self.resets = 0  # watchdog resets (also machine.reset(), which is one) seen so far
        self.boots = 0  # times MicroPython's USB has enumerated (1 after start)
        self.reset_log = []  # (board ms, "watchdog" | "forced") for each reset
        self.breaks = []  # (board ms, code, pc) of BKPT/UDF the core hit (a crash, a panic)
        self.warnings = []  # (board ms, message): what rp2040js met and does not emulate
        self.connected = False  # a program holds the port open (DTR raised)
        self._master = -1
        self._trace = []  # (board ms, freq_hz, duty_u16) at each change
        self._pwm = None  # the motor pin's last state (the emulator's pwm event)
        self._out = bytearray()  # board -> host bytes not yet written to the pty

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self, timeout=60.0):
        """Start the emulator and the pty; return once MicroPython's USB has enumerated."""
        if self._proc is not None:
            return self
        argv = [
            self.node,
            str(RUNNER),
            "--uf2",
            str(self.uf2),
            "--bootrom",
            str(self.bootrom),
            "--rp2040js",
            str(self.package),
            "--speed",
            repr(float(self.speed)),
        ]
        if self.flash is not None:
            argv += ["--flash", str(self.flash)]
        try:
            self._open_pty()
            self._spawn(argv)
            self.wait_usb(1, timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _release(self):
        """The pty and its link go with the emulator."""
        if self._master >= 0:
            os.close(self._master)
            self._master = -1
        self._remove_link()

    # -- inputs ----------------------------------------------------------------------------

    def button(self, pressed):
        """Press (True) or release (False) the button on GP14 (active low)."""
        self.pin(BUTTON_PIN, not pressed)

    def charger(self, on):
        """Plug the charger in (True: CHRG on GP13 pulled low) or out."""
        self.pin(CHARGER_PIN, not on)

    def battery(self, mv):
        """The cell's voltage in millivolts, as ADC3 (GP29, VSYS/3) reads it."""
        self.adc(BATTERY_ADC, battery_raw(mv))

    def pin(self, gpio, high):
        """Drive input pin `gpio` high or low (pull-ups are not emulated: this is the level)."""
        self._send({"c": "pin", "pin": int(gpio), "v": 1 if high else 0})

    def adc(self, channel, raw):
        """ADC `channel` (0-3: GP26-29, 4: temperature) reads `raw` (12 bits) from now on."""
        self._send({"c": "adc", "ch": int(channel), "raw": max(0, min(4095, int(raw)))})

    # -- outputs ---------------------------------------------------------------------------

    def pwm(self):
        """The motor pin GP15 now: (freq_hz, duty_u16, driven_by_pwm). driven_by_pwm is True
        while the pin's function is PWM. freq_hz comes from the registers (1000.002 for
        freq=1000) and is 0 unless the pin is PWM and slice 7 is enabled; when it is 0,
        duty_u16 is the pin's steady level (65535 high, 0 low or not driven)."""
        s = self.pwm_state()
        if not s:
            raise Rp2040Error("the emulated Pico is not started")
        return s["freq"], s["duty"], s["pwm"]

    def pwm_state(self):
        """Everything read back about GP15: freq, duty, pwm (function select is PWM), en (slice
        enabled), fn (function select number), top, cc (channel B compare), div (DIV register),
        phase (phase-correct), inv (B inverted), oe / level (the pin's output enable and level),
        ms (board time of the change). The last state is kept after close()."""
        with self._cond:
            return dict(self._pwm or {})

    def pwm_trace(self, since_ms=None, settle_ms=0):
        """[(board_ms, freq_hz, duty_u16)] at each change of the motor's frequency or duty since
        start (or since `since_ms`, e.g. a mark()); board_ms is a float, the board time of the
        register write. Setting up a PWM takes several writes a few microseconds apart (freq,
        then duty, then enable), each a row; with `settle_ms` a row followed by another within
        that time is left out, so that only the settled values remain (0.1 is plenty)."""
        with self._cond:
            rows = [t for t in self._trace if since_ms is None or t[0] >= since_ms]
        if settle_ms:
            rows = [
                r
                for r, nxt in zip(rows, rows[1:] + [None])
                if nxt is None or nxt[0] - r[0] > settle_ms
            ]
        return rows

    def mark(self):
        """The board time now, for pwm_trace(since_ms=...)."""
        return self.board_ms()

    def board_ms(self):
        """The emulated clock in milliseconds since the first power-on (it runs on across
        resets)."""
        return self.query()["ms"]

    def query(self, timeout=10.0):
        """The emulator's state: ms, boot, resets, usb (enumerated), dtr, queued (host bytes the
        board has not taken yet), pwm, inputs, adc."""
        return self._request({"c": "query"}, timeout)

    def save_flash(self, timeout=10.0):
        """Write the flash file now (it is also written by itself after writes and at close)."""
        self._request({"c": "save"}, timeout)

    # -- waiting ---------------------------------------------------------------------------

    def wait_usb(self, boots=None, timeout=60.0):
        """Wait until MicroPython's USB has enumerated `boots` times in all (default: once more
        than now, i.e. after the next reset); answers the count."""
        with self._cond:
            want = self.boots + 1 if boots is None else boots
            self._wait(
                lambda: self.boots >= want,
                timeout,
                "MicroPython's USB did not enumerate within %.0f s" % timeout,
            )
            return self.boots

    def wait_reset(self, resets=None, timeout=60.0):
        """Wait until `resets` resets have happened (default: one more than now) and USB is back
        after it."""
        with self._cond:
            want = self.resets + 1 if resets is None else resets
            self._wait(
                lambda: self.resets >= want, timeout, "no watchdog reset within %.0f s" % timeout
            )
            self._wait(
                lambda: self.boots > want,
                timeout,
                "USB did not come back within %.0f s of the reset" % timeout,
            )
            return self.resets

    # -- events, the pty and the relay ------------------------------------------------------

    def _event(self, m):
        kind = m.pop("e", None)
        if kind == "tx":
            if self.connected:
                self._out += base64.b64decode(m["d"])
            return
        with self._cond:
            if kind == "pwm":
                self._pwm = m
                if not self._trace or self._trace[-1][1:] != (m["freq"], m["duty"]):
                    self._trace.append((m["ms"], m["freq"], m["duty"]))
            elif kind == "usb":
                if self._master < 0:
                    self._open_pty()
                self.boots += 1
            elif kind == "reset":
                self._unplug()
                self.resets = m["n"]
                self.reset_log.append((m["ms"], m["why"]))
            elif kind == "break":
                self.breaks.append((m["ms"], m["code"], m["pc"]))
            elif kind == "warn":
                self.warnings.append((m["ms"], m["msg"]))
            elif kind in ("state", "saved") and "id" in m:
                self._replies[m["id"]] = m
            self._cond.notify_all()

    def _open_pty(self):
        """A new pty, linked from `port`: the board's USB device has (re-)enumerated."""
        import tempfile

        if self._linkdir is None:
            self._linkdir = tempfile.mkdtemp(prefix="facewave-pico-")
            self.port = os.path.join(self._linkdir, "ttyACM0")
        try:
            master, path = raw_pty()
        except PortError as e:
            raise Rp2040Error(str(e)) from None
        assert self.port is not None  # set with _linkdir, the first time
        tmp = self.port + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(path, tmp)
        os.replace(tmp, self.port)
        self.pty = path
        self._hup = select.poll()
        self._hup.register(master, select.POLLIN)
        self._master = master

    def _unplug(self):
        """The board has reset: its USB device is gone, and with it the port. A program that
        holds it sees a hang-up (EIO), as with /dev/ttyACM0; the path comes back at the next
        enumeration."""
        if self.connected:
            self._set_connected(False)
        if self._master >= 0:
            os.close(self._master)
            self._master = -1
        if self.port and os.path.lexists(self.port):
            os.unlink(self.port)

    def _remove_link(self):
        if self._linkdir is not None:
            shutil.rmtree(self._linkdir, ignore_errors=True)
            self._linkdir = None

    def _host_present(self):
        return not any(ev & select.POLLHUP for _, ev in self._hup.poll(0))

    def _set_connected(self, on):
        self.connected = on
        if not on:
            del self._out[:]
            import termios

            try:  # what the board sent that the last program did not read: gone with it
                termios.tcflush(self._master, termios.TCOFLUSH)
            except (OSError, termios.error):
                pass
        if not self._exit_error:
            self._send({"c": "dtr", "v": on})

    def _watch(self, poller):
        """DTR follows the pty's hang-up; the pty is watched while a program holds it."""
        present = self._master >= 0 and self._host_present()
        if present != self.connected:
            self._set_connected(present)
        if not self.connected:
            return _HUP_POLL_S * 1000
        poller.register(self._master, select.POLLIN | (select.POLLOUT if self._out else 0))
        return 200

    def _serve(self, events):
        if self.connected:
            self._relay(events.get(self._master, 0))

    def _relay(self, ev):
        if ev & (select.POLLIN | select.POLLHUP):
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, OSError):
                data = b""
            if data:
                self._send({"c": "rx", "d": base64.b64encode(data).decode()})
        if self._out:
            try:
                n = os.write(self._master, self._out)
                del self._out[:n]
            except BlockingIOError:
                pass
            except OSError:
                del self._out[:]
