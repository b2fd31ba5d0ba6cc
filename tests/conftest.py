import pytest

from facewave.firmware.profile import Profile


@pytest.fixture
def profile():
    return Profile()


# ---- a device on a serial port, for the tests of the device commands ------------------------

class SerialBoard:
    """The real device core and protocol served on one of the simulator's ports, in real time:
    what a host sees of a board running the firmware. `url` is what `--port` takes; `unplug()`
    pulls the cable (the port goes away)."""

    def __init__(self, root, kind="pty"):
        import threading

        from facewave.firmware import boards
        from facewave.firmware.device import Device
        from facewave.firmware.protocol import Protocol
        from facewave.firmware.settings import Settings
        from facewave.firmware.store import Store
        from facewave.sim import serial_port

        root.mkdir(parents=True, exist_ok=True)
        prof = Profile(dict(boards.load("pico"), name="test-board"), board=True)
        store = Store(str(root / "patterns"))
        settings = Settings(str(root / "settings.json"), session_ms=prof.session_default_ms,
                            cue_ms=prof.session_cue_ms)
        settings.load()
        self.device = Device(prof, store, settings)
        self.device.boot(0)
        self.proto = Protocol(self.device, store, prof)
        self.port = serial_port.open_port(kind)
        self.url = self.port.url
        self._running = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        import time

        start = time.monotonic()
        while self._running:
            self.port.wait(0.005)
            now = int((time.monotonic() - start) * 1000)
            data = self.port.read_available()
            out = self.proto.feed(now, data) if data else b""
            self.proto.tick(now)
            self.device.tick(now)
            if self.device.dirty:
                self.device.settings.save()
                self.device.dirty = False
            if out:
                self.port.write(out)

    def unplug(self):
        if self._running:
            self._running = False
            self._thread.join()
            self.port.close()


@pytest.fixture
def serial_board(tmp_path):
    board = SerialBoard(tmp_path / "flash")
    yield board
    board.unplug()


@pytest.fixture
def device_port(serial_board):
    """The port of a board running the firmware (a pty path)."""
    return serial_board.url
