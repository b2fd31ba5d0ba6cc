"""The VM board: the genuine firmware in MicroPython's WebAssembly VM (npm package
@micropython/micropython-webassembly-pyscript), whose own REPL takes the console when the
firmware hands it over, as on a board. Its console is a serial port of sim/serial_port.py (a
pty, or a socket) that host tools and mpremote open; it runs in real time (the VM's clock is
the wall clock).

    with VMBoard(files=flashed) as board:  # flashed: what `facewave flash` leaves on a board
        subprocess.run(["mpremote", "connect", board.url, "exec", "print(1+1)"])

The fast tier's REPL, where the emulated Pico (sim/rp2040.py) is the slow and faithful one.
Node.js holds the VM (sim/vm_board.mjs: boot.py and main.py, the firmware's loop in passes, the
REPL, soft resets; sim/vm/port.py is its Python side); this module bridges the port to it
(sim/node_board.py). The flash is a folder: each new VM (power-on, every reset) is loaded from
it, and what the VM holds is written back at every reset, at save() and at close, so the
folder is the flash between two VMs (and between two runs of `facewave sim --vm --flash DIR`).
`machine` is the virtual hardware (sim/vm/machine.py), its clock brought to the wall time: a
starved watchdog resets the board, and runs on through a soft reset, as on rp2.
"""

import base64
import select
import shutil
import tempfile
from pathlib import Path

from .mpvm import HARDWARE, VM_DIR, find_vm
from .node_board import NodeBoard
from .serial_port import PortError, open_port

RUNNER = Path(__file__).with_name("vm_board.mjs")
# the port's own modules in the VM, by the names it imports them by
MODULES = {"vm_port": VM_DIR / "port.py", "machine": VM_DIR / "machine.py", "hardware": HARDWARE}
_HUP_POLL_MS = 20  # how often to look for a host opening the port while none has it


class VMBoardError(Exception):
    """The VM board cannot be started or has failed; the message is one line."""


class VMBoard(NodeBoard):
    """One VM board. `flash`: its folder (None: a new temporary one, removed at close). `files`
    ({path on the flash: bytes}, what `facewave flash` leaves) go into a flash that has no
    /main.py; without them such a flash is plain MicroPython: the REPL only. `board`: a board
    profile, written to /board (as `facewave flash --board` does). `port`: "pty" or
    "socket[:PORT]" (see serial_port.open_port). `size`: the flash's size in bytes (None: a
    Pico's). `cut_after`: the cable is pulled once the host has sent that many bytes; the board
    runs on. `fill_after`: from then on the flash is full (something else took the room)."""

    error = VMBoardError
    what = "the VM board"

    def __init__(
        self,
        flash=None,
        files=None,
        board=None,
        port="pty",
        size=None,
        cut_after=None,
        fill_after=None,
    ):
        super().__init__()
        self._own = flash is None
        self.flash = Path(tempfile.mkdtemp(prefix="facewave-vm-") if flash is None else flash)
        self.flash.mkdir(parents=True, exist_ok=True)
        if files and not (self.flash / "main.py").exists():
            for path, data in files.items():
                (self.flash / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
                (self.flash / path.lstrip("/")).write_bytes(data)
        if board:
            (self.flash / "board").write_text(board)
        try:
            self.port = open_port(port)  # there at once; the board answers once started
        except PortError as e:
            if self._own:  # a refused port leaves no flash folder behind
                shutil.rmtree(self.flash, ignore_errors=True)
            raise VMBoardError(str(e)) from None
        self.size = size
        self.cut_after = cut_after
        self.fill_after = fill_after
        self.received = 0  # bytes the host has sent
        self.boots = []  # why each VM was made: "power", "soft", "reset" (machine), "watchdog"
        self.handovers = 0  # times the firmware gave the console to the REPL
        self._ready = False

    @property
    def url(self):
        """What host tools open: the pty's path or the socket:// URL."""
        return self.port.url

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self, timeout=30.0):
        """Power the board on; return once it has booted."""
        try:
            vm = find_vm()
        except RuntimeError as e:  # no node, no npm package
            raise VMBoardError(str(e)) from None
        argv = [
            vm.node,
            str(RUNNER),
            "--micropython",
            str(vm.package / "micropython.mjs"),
            "--flash",
            str(self.flash),
        ]
        for name, path in MODULES.items():
            argv += ["--module", "%s=%s" % (name, path)]
        if self.size:
            argv += ["--size", str(self.size)]
        try:
            self._spawn(argv)
            with self._cond:
                self._wait(
                    lambda: self._ready,
                    timeout,
                    "the VM board did not boot within %.0f s" % timeout,
                )
        except BaseException:
            self.close()
            raise
        return self

    def query(self, timeout=10.0):
        """The board's state: mode ("firmware", "repl", "paste"), boots, used and size (bytes
        of the flash)."""
        return self._request({"c": "query"}, timeout)

    def save(self, timeout=10.0):
        """Write what the VM holds back to the flash folder now (resets and close() do too)."""
        self._request({"c": "save"}, timeout)

    def _release(self):
        self.port.close()
        if self._own:
            shutil.rmtree(self.flash, ignore_errors=True)

    # -- the relay -------------------------------------------------------------------------

    def _event(self, m):
        kind = m.get("e")
        if kind == "tx":
            if not self._cut:
                self.port.write(base64.b64decode(m["d"]))
            return
        with self._cond:
            if kind == "boot":
                self.boots.append(m["why"])
            elif kind == "repl":
                self.handovers += 1
            elif kind == "ready":
                self._ready = True
            elif kind in ("state", "saved") and "id" in m:
                self._replies[m["id"]] = m
            self._cond.notify_all()

    @property
    def _cut(self):
        return self.cut_after is not None and self.received >= self.cut_after

    def _watch(self, poller):
        port = self.port
        if self._cut:
            return 200
        port.service()  # the connection, and what the host has sent so far
        if not port.connected:
            return _HUP_POLL_MS
        poller.register(
            port.fileno(), select.POLLIN | (select.POLLOUT if port.pending_output else 0)
        )
        return 0 if port.rx.backlog else 200  # read already: to the board at once

    def _serve(self, events):
        if self._cut:
            return
        data = self.port.read_available()
        if self.cut_after is not None:
            data = data[: self.cut_after - self.received]
        if data:
            before = self.received
            self.received += len(data)
            self._send({"c": "rx", "d": base64.b64encode(data).decode()})
            fill = self.fill_after
            if fill is not None and before < fill <= self.received:
                self._send({"c": "fill"})
        if self._cut:
            self.port.close()  # the cable is pulled: the host's next read or write fails
