"""`facewave flash` with the real mpremote code against the VM board (sim/vm_board.py): the
genuine firmware and boot.py in MicroPython's WebAssembly VM, its own REPL, over a pty. The
board's flash is a folder, written back when the board stops, so each test looks at what a
board would boot, and boots it: boot.py runs on the VM board, whose raw REPL then says which
slot it put on sys.path.
"""

import ast
import functools
import hashlib
import json
import os
from pathlib import Path

import pytest
import serial

import facewave.build
from device_kit import flashed
from facewave import flash as fl
from facewave.build import LIB, PACKAGE, firmware_files
from facewave.errors import FacewaveError
from facewave.firmware import VERSION
from facewave.link import Link
from facewave.sim.serial_port import PtyPort
from facewave.sim.vm_board import VMBoard

BOOT = fl._deploy_dir() / "boot.py"

pytestmark = [
    pytest.mark.usefixtures("vm"),  # the MicroPython VM, see conftest
    pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals"),
]


def plain(flash, **kw):
    """A VM board on `flash` as it is, nothing installed (plain MicroPython if it is empty)."""
    return VMBoard(flash, **kw)


def flashed_board(flash, **kw):
    """A VM board that runs slot a, as `facewave flash` left it on an empty board."""
    return VMBoard(flash, files=flashed(), **kw)


def at_repl(board, expression):
    """The value of `expression` on a running board, read at its raw REPL entered without a soft
    reset: after boot.py, whose globals are there (BOOT_NOTE among them)."""
    from mpremote.transport_serial import SerialTransport

    t = SerialTransport(board.url, timeout=1)
    try:
        t.enter_raw_repl(soft_reset=False)
        return ast.literal_eval(t.exec("import sys\nprint(repr(%s))" % expression).decode())
    finally:
        t.close()


def after_boot(flash, expression):
    """The value of `expression` on the VM board booted from this flash, at its raw REPL."""
    with plain(flash) as board:
        return at_repl(board, expression)


def booted_slot(flash):
    """The slot boot.py puts on sys.path for this flash ("" for none)."""
    return after_boot(flash, "sys.path[0]")


def complete(flash, slot):
    """True when every file the slot's manifest names has the hash it says."""
    folder = Path(flash, slot.lstrip("/"))
    files = json.loads((folder / "manifest.json").read_text())["files"]
    return bool(files) and all(
        hashlib.sha256((folder / p).read_bytes()).hexdigest() == h for p, h in files.items()
    )


def snapshot(flash, skip=("fw", "boot.py", "main.py", "board")):
    """{relative path: bytes} of everything a flash must leave alone."""
    out = {}
    for path in Path(flash).rglob("*"):
        rel = path.relative_to(flash)
        if rel.parts[0] not in skip and path.is_file():
            out[rel.as_posix()] = path.read_bytes()
    return out


@pytest.fixture(autouse=True, scope="module")
def built_once():
    """The firmware compiled once for the module (mpy-cross takes 0.5 s a build): every flash
    here sends the same files."""
    build = firmware_files

    @functools.cache
    def once(mpy=False, package=LIB):
        return build(mpy, package)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(facewave.build, "firmware_files", lambda *a, **k: dict(once(*a, **k)))
        yield


@pytest.fixture
def flash(tmp_path):
    path = tmp_path / "flash"
    path.mkdir()
    return path


def run_flash(url, **kw):
    kw.setdefault("check", False)
    return fl.flash(url, progress=False, **kw)


def test_a_fresh_board_gets_the_compiled_package_in_slot_a(flash):
    with plain(flash) as board:
        result = run_flash(board.url, board="pico")
        with Link.open(board.url) as link:  # the final soft reset ran boot.py and main.py
            assert link.hello["firmware"] == VERSION
        assert at_repl(board, "sys.path[0]") == "/fw/a"
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
    assert not any(p.name.endswith(".tmp") for p in flash.rglob("*"))


def test_flashing_again_switches_slots_and_keeps_patterns_settings_and_board(flash):
    (flash / "patterns").mkdir()
    (flash / "patterns" / "mine.fwb").write_bytes(os.urandom(900))
    (flash / "settings.json").write_text('{"intensity": 2}')
    (flash / "board").write_text("esp32c3")
    kept = snapshot(flash)
    with plain(flash) as board:
        slots = [run_flash(board.url)["slot"] for _ in range(3)]
        assert at_repl(board, "sys.path[0]") == "/fw/a"
    assert slots == ["/fw/a", "/fw/b", "/fw/a"]
    assert snapshot(flash) == kept and (flash / "board").read_text() == "esp32c3"
    assert complete(flash, "/fw/a") and complete(flash, "/fw/b")  # the other is the fallback


@pytest.fixture(scope="module")
def flash_bytes(tmp_path_factory):
    """Bytes the host sends for one whole flash onto a board that runs slot a (to place the
    cuts)."""
    with flashed_board(tmp_path_factory.mktemp("count") / "flash") as board:
        run_flash(board.url)
    return board.received


# where the cable goes: a share of the bytes the host sends, or so many bytes before the end
# (-60: while the pointer is written, -1: after the switch, during the soft reset)
@pytest.mark.parametrize("cut", [0.01, 0.3, 0.6, 0.9, 0.99, -60, -1])
def test_a_cable_pulled_mid_flash_leaves_a_complete_slot_and_a_board_that_flashes(
    flash, flash_bytes, cut
):
    # a board that runs slot a, as `facewave flash` left it
    with flashed_board(
        flash, cut_after=flash_bytes + cut if cut < 0 else int(flash_bytes * cut)
    ) as board:
        try:
            result = run_flash(board.url)
        except FacewaveError as e:
            message, code = str(e), e.code
        else:
            message, code = "flashed: " + result["slot"], 0
    with plain(flash) as board:  # boots what the cut left, and is flashed again
        booted = at_repl(board, "sys.path[0]")
        assert booted in ("/fw/a", "/fw/b") and complete(flash, booted), message
        if code:
            assert code == 2 and "lost the connection" in message and "\n" not in message
            if booted == "/fw/a":  # cut before the board was even asked, or after
                assert (
                    "old firmware (%s, /fw/a) is intact" % VERSION in message
                    or "nothing was changed" in message
                )
            else:
                assert "is installed in /fw/b" in message
        again = run_flash(board.url)
        assert at_repl(board, "sys.path[0]") == again["slot"]
    assert complete(flash, again["slot"])


@pytest.mark.parametrize(
    "pointer, slots, expected",
    [
        (None, [], ""),
        (None, ["b"], "/fw/b"),
        ("b", ["a", "b"], "/fw/b"),
        ("a\n", ["a", "b"], "/fw/a"),
        ("b", ["a"], "/fw/a"),  # the pointer names an unfinished slot
        ("../etc", ["b"], "/fw/b"),  # a broken pointer
        ("", ["a"], "/fw/a"),
    ],
)
def test_boot_picks_the_named_slot_only_when_its_manifest_exists(flash, pointer, slots, expected):
    (flash / "boot.py").write_bytes(BOOT.read_bytes())
    for s in ("a", "b"):
        (flash / "fw" / s / "facewave").mkdir(parents=True)
    for s in slots:
        (flash / "fw" / s / "manifest.json").write_text("{}")
    if pointer is not None:
        (flash / "fw" / "slot").write_text(pointer)
    assert booted_slot(flash) == expected


def install(flash, slot, files):
    """What a finished flash leaves in `slot`: the files, then their manifest; and boot.py."""
    (flash / "boot.py").write_bytes(BOOT.read_bytes())
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
    note = "firmware in /fw/b failed its SHA-256 check; booted /fw/a"
    assert after_boot(flash, "(sys.path[0], BOOT_NOTE)") == ("/fw/a", note)


def test_boot_with_no_intact_slot_runs_no_firmware_and_says_so(flash):
    files = {"facewave/engine.mpy": os.urandom(700)}
    for s in ("a", "b"):
        install(flash, s, files)
        (flash / "fw" / s / "facewave" / "engine.mpy").write_bytes(b"garbage")
    note = "firmware in /fw/a and /fw/b failed its SHA-256 check; no intact firmware"
    assert after_boot(flash, "(sys.path[0], BOOT_NOTE)") == ("", note)
    install(flash, "b", files)  # `facewave flash` mends one
    note = "firmware in /fw/a failed its SHA-256 check; booted /fw/b"
    assert after_boot(flash, "(sys.path[0], BOOT_NOTE)") == ("/fw/b", note)


def test_a_damaged_slot_is_passed_over_and_the_firmware_logs_it(flash, tmp_path):
    files = firmware_files(mpy=True, package=PACKAGE)
    for s in ("a", "b"):
        install(flash, s, files)
    victim = flash / "fw" / "b" / "facewave" / "engine.mpy"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    (flash / "fw" / "slot").write_text("b")
    for name, data in fl.root_files().items():
        (flash / name[1:]).write_bytes(data)
    with plain(flash) as board:  # boot.py and main.py, as on a board
        with Link.open(board.url) as link:
            boot = next(e for e in link.log() if e["event"] == "boot")
    assert boot["arg"] == "firmware in /fw/b failed its SHA-256 check; booted /fw/a"


def test_a_board_running_the_firmware_is_reached_upgraded_and_keeps_its_patterns(flash):
    with VMBoard(flash, files=flashed("0.0.1")) as board:  # a board running an older firmware
        with Link.open(board.url) as link:
            assert link.info()["firmware"] == "0.0.1"
            link.upload("mine", pico_program(), progress=False)
            link.set("intensity", 2)
        result = fl.flash(board.url, progress=False)  # the handshake is checked
        assert board.handovers == 1  # mpremote's Ctrl-C reached the REPL through the firmware
        assert result["handshake"]["firmware"] == VERSION and result["slot"] == "/fw/b"
        assert result["previous_version"] == "0.0.1"
        with Link.open(board.url) as link:
            info = link.info()
            assert info["firmware"] == VERSION and info["settings"]["intensity"] == 2
            assert [p["name"] for p in link.list()] == ["mine"]
            assert link.play("mine")["state"] == "running"
        assert board.boots.count("power") == 1 and "reset" not in board.boots  # soft resets
        assert at_repl(board, "sys.path[0]") == "/fw/b"
    assert (flash / "fw" / "a" / "manifest.json").exists()  # the old slot stays as fallback
    assert complete(flash, "/fw/b")


def test_a_board_with_plain_micropython_runs_the_firmware_after_a_flash(flash):
    with plain(flash) as board:  # `facewave sim --bare`
        result = fl.flash(board.url, progress=False)
        assert result["previous"] is None and result["handshake"]["firmware"] == VERSION
        with Link.open(board.url) as link:
            link.upload("mine", pico_program(), progress=False)
            assert link.play("mine")["state"] == "running"
    assert complete(flash, "/fw/a")


def pico_program():
    from facewave.firmware import bytecode as bc

    return bc.pack(
        [
            bc.pack_insn(bc.OP_RAMP, 0, 0, 500, 0, 200),
            bc.pack_insn(bc.OP_HOLD, 0, 500, 0, 0, 2000),
        ],
        ["mine", "test"],
    )


# -- bad input: one line, exit code, nothing half written ---------------------------------------


def test_no_such_port(tmp_path):
    with pytest.raises(FacewaveError) as e:
        run_flash(str(tmp_path / "ttyACM9"))
    assert e.value.code == 2 and "no serial port" in str(e.value)


def test_a_busy_port_is_named(flash):
    with plain(flash) as board:
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
    with plain(flash, size=64 * 1024) as board:
        with pytest.raises(FacewaveError) as e:
            run_flash(board.url)
    assert e.value.code == 1 and "not enough space" in str(e.value)
    assert "nothing was installed" in str(e.value)
    assert snapshot(flash) == kept and not (flash / "fw" / "slot").exists()


def test_a_filesystem_that_fills_up_mid_copy_keeps_the_old_firmware(flash, flash_bytes):
    # a board that runs slot a, whose flash is full once half the flash has been sent
    with flashed_board(flash, fill_after=flash_bytes // 2) as board:
        with pytest.raises(FacewaveError) as e:
            run_flash(board.url)
    assert e.value.code == 1 and "filesystem is full" in str(e.value)
    assert "old firmware (%s, /fw/a) is intact" % VERSION in str(e.value)
    assert booted_slot(flash) == "/fw/a" and not (flash / "fw" / "b" / "manifest.json").exists()


def test_command_line_flash_prints_a_summary(flash, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    fl.setup_flash(parser)
    with plain(flash) as board:
        assert (
            fl.do_flash(
                parser.parse_args(["--port", board.url, "--no-check", "--board", "esp32c3"])
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "no facewave firmware" in out and "installed in /fw/a" in out
        assert fl.do_flash(parser.parse_args(["--port", board.url, "--no-check", "--json"])) == 0
        summary = json.loads(capsys.readouterr().out)
    assert summary["slot"] == "/fw/b" and summary["board"] == "esp32c3"
    assert summary["previous"] == "/fw/a" and summary["previous_version"] == VERSION
