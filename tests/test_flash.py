"""`facewave flash` against the virtual board's REPL over a pty, with the real mpremote code:
the simulator's whole board (plain MicroPython, or running the firmware) where the handshake
matters, and a REPL stand-in where a test pulls the cable or shrinks the flash.

The board's flash is a directory, so each test looks at what a board would boot: boot.py itself
is run by the REPL emulation (and once by the real MicroPython VM) to see which slot it picks.
"""
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
import serial
from conftest import SerialBoard
from device_kit import LoopPort
from facewave import flash as fl
from facewave.build import PACKAGE, firmware_files
from facewave.errors import FacewaveError
from facewave.firmware import VERSION
from facewave.firmware import boards
from facewave.firmware.boards import pico
from facewave.firmware.device import Device
from facewave.firmware.protocol import Protocol
from facewave.firmware.settings import Settings
from facewave.firmware.store import Store
from facewave.link import Link
from facewave.sim import mpvm
from facewave.sim.repl import ReplConsole
from facewave.sim.serial_port import PtyPort

BOOT = fl._deploy_dir() / "boot.py"

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals")


def after_boot(flash, expression):
    """The value of `expression` once boot.py has run on this flash, run by the REPL."""
    port = LoopPort()
    console = ReplConsole(port, flash)
    console.start()
    console.feed(b"\x01")
    del port.out[:]
    console.feed(BOOT.read_bytes() + b"\nprint(repr(%s))\x04" % expression.encode())
    out, err, _ = bytes(port.out)[2:].split(b"\x04")
    assert err == b"", err
    return eval(out.decode().strip().splitlines()[-1])  # after any line boot.py printed


def booted_slot(flash):
    """The slot boot.py puts on sys.path for this flash ("" for none)."""
    return after_boot(flash, "sys.path[0]")


def complete(flash, slot):
    """True when every file the slot's manifest names has the hash it says."""
    folder = Path(flash, slot.lstrip("/"))
    files = json.loads((folder / "manifest.json").read_text())["files"]
    return bool(files) and all(
        hashlib.sha256((folder / p).read_bytes()).hexdigest() == h for p, h in files.items())


def snapshot(flash, skip=("fw", "boot.py", "main.py", "board")):
    """{relative path: bytes} of everything a flash must leave alone."""
    out = {}
    for path in Path(flash).rglob("*"):
        rel = path.relative_to(flash)
        if rel.parts[0] not in skip and path.is_file():
            out[rel.as_posix()] = path.read_bytes()
    return out


class Board(threading.Thread):
    """A virtual board: the REPL on a pty; with `firmware`, a fake board shell that runs the
    real device protocol when main.py and a slot are installed, as main.py would, reporting the
    slot manifest's version, and hands the console back to the REPL on Ctrl-C / Ctrl-A."""

    def __init__(self, flash, port=None, firmware=False, cut_after=None, flash_size=None):
        super().__init__(daemon=True)
        self.flash = flash
        self.port = port or PtyPort()
        self.firmware = firmware
        self.cut_after = cut_after  # host bytes after which the cable is pulled
        self.received = 0
        self.resets = []  # run_main of every soft reset
        self.proto = None
        self.handbacks = 0  # times the firmware gave the console to the REPL
        self.running = True
        kw = {"flash_size": flash_size} if flash_size else {}
        self.console = ReplConsole(self.port, flash, on_soft_reset=self._soft, **kw)
        self.url = self.port.url

    def _soft(self, run_main):
        self.resets.append(run_main)
        return bool(run_main and self._boot())

    def _boot(self):
        slot = booted_slot(self.flash)
        if not (self.firmware and slot and Path(self.flash, "main.py").exists()):
            return False
        version = json.loads(Path(self.flash, slot[1:], "manifest.json").read_text())["version"]
        prof = boards.profile(dict(pico.PROFILE, name="test-board"))
        settings = Settings(os.path.join(self.flash, "settings.json"),
                            session_ms=prof.session_default_ms, cue_ms=prof.session_cue_ms)
        store = Store(os.path.join(self.flash, "patterns"))
        device = Device(prof, store, settings)
        device.boot(0)
        self.proto = Protocol(device, store, prof, version=version)
        return True

    def _read(self):
        data = self.port.read_available()
        self.received += len(data)
        if self.cut_after is not None and self.received >= self.cut_after:
            self.port.close()  # the cable is pulled: the host's next read or write fails
            self.running = False
            return b""
        return data

    def run(self):
        if not self._boot():
            self.console.start()
        start = time.monotonic()
        while self.running:
            self.port.wait(0.01)
            data = self._read()
            if not data:
                continue
            if self.console.active:
                self.console.feed(data)
                continue
            proto = self.proto
            out = proto.feed(int((time.monotonic() - start) * 1000), data)
            if out:
                self.port.write(out)
            if proto.repl:  # the shell raises KeyboardInterrupt: the REPL has the console
                self.handbacks += 1
                self.port.write(b"Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n")
                self.console.start(banner=False)
                self.console.feed(proto.rest)

    def close(self):
        self.running = False
        self.join(5)
        self.port.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def flash(tmp_path):
    path = tmp_path / "flash"
    path.mkdir()
    return path


def run_flash(url, **kw):
    kw.setdefault("check", False)
    return fl.flash(url, progress=False, **kw)


def test_a_fresh_board_gets_the_compiled_package_in_slot_a(flash):
    with Board(flash) as board:
        result = run_flash(board.url, board="pico")
    assert result["slot"] == "/fw/a" and result["previous"] is None
    assert result["version"] == VERSION and result["handshake"] is None
    assert (flash / "fw" / "slot").read_text() == "a"
    assert (flash / "board").read_text() == "pico"
    assert (flash / "boot.py").read_bytes() == BOOT.read_bytes()
    # the very files mpy-cross makes of firmware/, boards too, and nothing from deploy/
    want = firmware_files(mpy=True, package=PACKAGE)
    slot = flash / "fw" / "a"
    got = {p.relative_to(slot).as_posix(): p.read_bytes() for p in slot.rglob("*.mpy")}
    assert got == want and "facewave/boards/esp32c3.mpy" in got
    manifest = json.loads((slot / "manifest.json").read_text())
    assert manifest["version"] == VERSION and set(manifest["files"]) == set(want)
    assert complete(flash, "/fw/a")
    assert booted_slot(flash) == "/fw/a"
    assert board.resets[-1] is True  # the final soft reset runs boot.py and main.py
    assert not any(p.name.endswith(".tmp") for p in flash.rglob("*"))


def test_flashing_again_switches_slots_and_keeps_patterns_settings_and_board(flash):
    (flash / "patterns").mkdir()
    (flash / "patterns" / "mine.fwb").write_bytes(os.urandom(900))
    (flash / "settings.json").write_text('{"intensity": 2}')
    (flash / "board").write_text("esp32c3")
    kept = snapshot(flash)
    with Board(flash) as board:
        slots = [run_flash(board.url)["slot"] for _ in range(3)]
    assert slots == ["/fw/a", "/fw/b", "/fw/a"]
    assert snapshot(flash) == kept and (flash / "board").read_text() == "esp32c3"
    assert complete(flash, "/fw/a") and complete(flash, "/fw/b")  # the other is the fallback
    assert booted_slot(flash) == "/fw/a"


def count_host_bytes(flash):
    """Bytes the host sends for one whole flash (to place the cuts)."""
    with Board(flash) as board:
        run_flash(board.url)
    return board.received


# where the cable goes: a share of the bytes the host sends, or so many bytes before the end
# (-60: while the pointer is written, -1: after the switch, during the soft reset)
@pytest.mark.parametrize("cut", [0.01, 0.3, 0.6, 0.9, 0.99, -60, -1])
def test_a_cable_pulled_mid_flash_leaves_a_complete_slot_and_a_board_that_flashes(flash, cut):
    total = count_host_bytes(flash)  # the board now runs slot a
    with Board(flash, cut_after=total + cut if cut < 0 else int(total * cut)) as board:
        try:
            result = run_flash(board.url)
        except FacewaveError as e:
            message, code = str(e), e.code
        else:
            message, code = "flashed: " + result["slot"], 0
    booted = booted_slot(flash)
    assert booted in ("/fw/a", "/fw/b") and complete(flash, booted), message
    if code:
        assert code == 2 and "lost the connection" in message and "\n" not in message
        if booted == "/fw/a":  # cut before the board was even asked, or after
            assert ("old firmware (%s, /fw/a) is intact" % VERSION in message
                    or "nothing was changed" in message)
        else:
            assert "is installed in /fw/b" in message
    with Board(flash) as board:
        again = run_flash(board.url)
    assert booted_slot(flash) == again["slot"] and complete(flash, again["slot"])


@pytest.mark.parametrize("pointer, slots, expected", [
    (None, [], ""),
    (None, ["b"], "/fw/b"),
    ("b", ["a", "b"], "/fw/b"),
    ("a\n", ["a", "b"], "/fw/a"),
    ("b", ["a"], "/fw/a"),  # the pointer names an unfinished slot
    ("../etc", ["b"], "/fw/b"),  # a broken pointer
    ("", ["a"], "/fw/a"),
])
def test_boot_picks_the_named_slot_only_when_its_manifest_exists(flash, pointer, slots,
                                                                 expected):
    for s in ("a", "b"):
        (flash / "fw" / s / "facewave").mkdir(parents=True)
    for s in slots:
        (flash / "fw" / s / "manifest.json").write_text("{}")
    if pointer is not None:
        (flash / "fw" / "slot").write_text(pointer)
    assert booted_slot(flash) == expected


def install(flash, slot, files):
    """What a finished flash leaves in `slot`: the files, then their manifest."""
    for path, data in files.items():
        target = flash / "fw" / slot / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (flash / "fw" / slot / "manifest.json").write_bytes(fl.manifest(VERSION, files))


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "manifest"])
def test_boot_passes_over_a_slot_whose_files_fail_their_hash(flash, damage):
    files = {"facewave/engine.mpy": os.urandom(700), "facewave/shell.mpy": os.urandom(900)}
    install(flash, "a", files)
    install(flash, "b", files)
    (flash / "fw" / "slot").write_text("b")
    victim = flash / "fw" / "b" / "facewave" / "engine.mpy"
    if damage == "flip":
        raw = bytearray(victim.read_bytes())
        raw[123] ^= 0x10
        victim.write_bytes(bytes(raw))
    elif damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-1])
    elif damage == "delete":
        victim.unlink()
    else:
        (flash / "fw" / "b" / "manifest.json").write_text('{"files": ')
    assert booted_slot(flash) == "/fw/a"
    note = after_boot(flash, "BOOT_NOTE")
    assert note == "firmware in /fw/b failed its SHA-256 check; booted /fw/a"


def test_boot_with_no_intact_slot_runs_no_firmware_and_says_so(flash):
    files = {"facewave/engine.mpy": os.urandom(700)}
    for s in ("a", "b"):
        install(flash, s, files)
        (flash / "fw" / s / "facewave" / "engine.mpy").write_bytes(b"garbage")
    assert booted_slot(flash) == ""
    note = after_boot(flash, "BOOT_NOTE")
    assert note == "firmware in /fw/a and /fw/b failed its SHA-256 check; no intact firmware"
    install(flash, "b", files)  # `facewave flash` mends one
    assert booted_slot(flash) == "/fw/b"
    note = after_boot(flash, "BOOT_NOTE")
    assert note == "firmware in /fw/a failed its SHA-256 check; booted /fw/b"


def test_a_damaged_slot_is_caught_on_real_micropython_and_logged_by_the_firmware(vm):
    files = firmware_files(mpy=True, package=PACKAGE)
    tree = {}
    for s in ("a", "b"):
        tree.update({"/fw/%s/%s" % (s, p): data for p, data in files.items()})
        tree["/fw/%s/manifest.json" % s] = fl.manifest(VERSION, files)
    raw = bytearray(tree["/fw/b/facewave/engine.mpy"])
    raw[len(raw) // 2] ^= 0x01
    tree["/fw/b/facewave/engine.mpy"] = bytes(raw)
    tree.update({"/fw/slot": "b", "/boot.py": BOOT.read_text(),
                 **mpvm.vm_lib()})
    out = mpvm.run("exec(open('/boot.py').read())\n"  # puts the slot before /lib
                   "import machine, time\nfrom facewave import shell as fw\n"
                   "shell = fw.start(machine, time, None, 'pico', note=BOOT_NOTE)\n"
                   "print(fw.__file__)\nprint(shell.device.log.entries()[0][2:])",
                   files=tree, timeout=60)
    lines = out.strip().splitlines()
    note = "firmware in /fw/b failed its SHA-256 check; booted /fw/a"
    assert lines == ["facewave: " + note, "/fw/a/facewave/shell.mpy", str(("boot", note))]


def test_boot_py_runs_on_real_micropython_and_imports_the_slot(vm):
    files = {"/fw/b/" + p: data for p, data in firmware_files(True, PACKAGE).items()}
    files.update({"/fw/slot": "b", "/fw/b/manifest.json": "{}", "/boot.py": BOOT.read_text()})
    out = mpvm.run("exec(open('/boot.py').read())\nimport facewave.engine\n"
                   "print(facewave.engine.__file__)", files=files, timeout=60)
    assert out.strip() == "/fw/b/facewave/engine.mpy"


def test_a_board_running_the_firmware_is_reached_upgraded_and_keeps_its_patterns(tmp_path):
    # the simulator's whole board running an older firmware (its slot manifest says 0.0.1)
    board = SerialBoard(tmp_path / "flash", version="0.0.1")
    try:
        with Link.open(board.url) as link:
            assert link.info()["firmware"] == "0.0.1"
            link.upload("mine", pico_program(), progress=False)
        result = fl.flash(board.url, progress=False)  # the handshake is checked
        events = board.call(lambda b: [ev for _, _, _, ev in b.rows])
        assert "repl" in events  # mpremote's Ctrl-C reached the REPL through the firmware
        assert result["handshake"]["firmware"] == VERSION and result["slot"] == "/fw/b"
        with Link.open(board.url) as link:
            assert link.info()["firmware"] == VERSION
            assert [p["name"] for p in link.list()] == ["mine"]
    finally:
        board.stop()
    flash = tmp_path / "flash"
    assert (flash / "fw" / "a" / "manifest.json").exists()  # the old slot stays as fallback
    assert complete(flash, "/fw/b") and booted_slot(flash) == "/fw/b"


def test_a_board_with_plain_micropython_runs_the_firmware_after_a_flash(tmp_path):
    board = SerialBoard(tmp_path / "flash", firmware=False)  # `facewave sim --bare`
    try:
        result = fl.flash(board.url, progress=False)
        assert result["previous"] is None and result["handshake"]["firmware"] == VERSION
        with Link.open(board.url) as link:
            link.upload("mine", pico_program(), progress=False)
            assert link.play("mine")["state"] == "running"
    finally:
        board.stop()
    assert complete(tmp_path / "flash", "/fw/a")


def pico_program():
    from facewave.firmware import bytecode as bc

    return bc.pack([bc.pack_insn(bc.OP_RAMP, 0, 0, 500, 0, 200),
                    bc.pack_insn(bc.OP_HOLD, 0, 500, 0, 0, 2000)], ["mine", "test"])


# -- bad input: one line, exit code, nothing half written ---------------------------------------

def test_no_such_port(tmp_path):
    with pytest.raises(FacewaveError) as e:
        run_flash(str(tmp_path / "ttyACM9"))
    assert e.value.code == 2 and "no serial port" in str(e.value)


def test_a_busy_port_is_named(flash):
    with Board(flash) as board:
        with serial.serial_for_url(board.url, exclusive=True):
            with pytest.raises(FacewaveError) as e:
                run_flash(board.url)
    assert e.value.code == 2 and "is busy" in str(e.value)


def test_a_port_without_micropython_is_told_and_left_alone(flash):
    with PtyPort() as port:  # nothing answers
        with pytest.raises(FacewaveError) as e:
            run_flash(port.url, timeout=1)
    assert e.value.code == 2 and "no MicroPython REPL answered" in str(e.value)
    assert "nothing was changed" in str(e.value)


def test_an_unknown_board_is_refused_before_the_port_is_opened(tmp_path):
    with pytest.raises(FacewaveError) as e:
        run_flash(str(tmp_path / "nothing"), board="../pico")
    assert e.value.code == 2 and "unknown board '../pico'" in str(e.value)
    assert "pico" in str(e.value).split("choose one of")[1]


def test_a_small_flash_is_refused_before_anything_is_written(flash):
    (flash / "patterns").mkdir()
    (flash / "patterns" / "mine.fwb").write_bytes(b"x" * 5000)
    kept = snapshot(flash)
    with Board(flash, flash_size=64 * 1024) as board:
        with pytest.raises(FacewaveError) as e:
            run_flash(board.url)
    assert e.value.code == 1 and "not enough space" in str(e.value)
    assert "nothing was installed" in str(e.value)
    assert snapshot(flash) == kept and not (flash / "fw" / "slot").exists()


def test_a_filesystem_that_fills_up_mid_copy_keeps_the_old_firmware(flash):
    count_host_bytes(flash)  # slot a installed
    with Board(flash) as board:
        fs = board.console.flash
        real_open = fs.open

        def open_with_quota(path, mode="r", *args, **kwargs):
            f = real_open(path, mode, *args, **kwargs)
            if "w" in mode and fs.board_path(path).startswith("/fw/b/facewave/e"):
                def full(data):
                    raise OSError(28, "ENOSPC")
                f.write = full
            return f

        fs.open = open_with_quota  # in place from the soft reset mpremote starts with
        with pytest.raises(FacewaveError) as e:
            run_flash(board.url)
    assert e.value.code == 1 and "filesystem is full" in str(e.value)
    assert "old firmware (%s, /fw/a) is intact" % VERSION in str(e.value)
    assert booted_slot(flash) == "/fw/a" and not (flash / "fw" / "b" / "manifest.json").exists()


def test_command_line_flash_prints_a_summary(flash, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    fl.add_arguments(parser)
    with Board(flash) as board:
        assert fl.run(parser.parse_args(["--port", board.url, "--no-check", "--board",
                                         "esp32c3"])) == 0
        out = capsys.readouterr().out
        assert "no facewave firmware" in out and "installed in /fw/a" in out
        assert fl.run(parser.parse_args(["--port", board.url, "--no-check", "--json"])) == 0
        summary = json.loads(capsys.readouterr().out)
    assert summary["slot"] == "/fw/b" and summary["board"] == "esp32c3"
    assert summary["previous"] == "/fw/a" and summary["previous_version"] == VERSION
