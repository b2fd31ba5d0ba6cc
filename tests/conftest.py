import pytest

from device_kit import micropython_vm
from facewave.firmware.profile import Profile


@pytest.fixture(scope="session")
def vm():
    """The real MicroPython VM (WebAssembly, from `npm ci`), or the test skipped (failed under
    CI)."""
    return micropython_vm()


@pytest.fixture
def profile():
    return Profile()


# ---- a virtual board on a serial port, for the tests of the device commands -----------------


class SerialBoard:
    """The simulator's whole virtual board (the firmware's own board shell on fake hardware)
    served in real time on one of the simulator's ports from a background thread, as
    `facewave sim` serves it: what a host sees of a board running the firmware.

    `url` is what `--port` takes. Everything that touches the board from a test goes through
    `call(fn)`, between two loop iterations. `unplug()` pulls the cable: the port goes away and
    the board runs on with nobody listening; `stop()` ends the thread."""

    def __init__(self, root, kind="pty", baud=None, board=None):
        import threading

        from facewave.sim import serial_port
        from facewave.sim.virtual_board import VirtualBoard

        self.board = VirtualBoard(root, board=board, realtime=True)
        self.port = serial_port.open_port(kind, baud=baud, clock=self.board.seconds)
        self.board.wire = self.port
        self.url = self.port.url
        self.flash = root
        self.board.power_on()
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while self._running:
            with self._lock:
                self.board.step()

    def call(self, fn):
        """fn(board) between two loop iterations of the board; answers what fn answers."""
        with self._lock:
            return fn(self.board)

    def unplug(self):
        """The cable is pulled: the host's end fails; the board keeps running on its own."""

        def pull(board):
            board.wire = None
            self.port.close()

        self.call(pull)

    def stop(self):
        if self._running:
            self._running = False
            self._thread.join(5)
            self.port.close()


def set_version(board, version):
    """Make the flash say `version` is installed (the active slot's manifest), as an older
    `facewave flash` would have left it; the firmware reports it from its next boot."""
    import json

    with board.flash.open("/fw/slot") as f:
        slot = f.read().strip()
    with board.flash.open("/fw/%s/manifest.json" % slot, "w") as f:
        f.write(json.dumps({"version": version, "files": {}}))


@pytest.fixture
def serial_board(tmp_path):
    board = SerialBoard(tmp_path / "flash")
    yield board
    board.stop()


@pytest.fixture
def device_port(serial_board):
    """The port of a board running the firmware (a pty path)."""
    return serial_board.url
