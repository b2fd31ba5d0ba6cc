"""Hostile faults on the virtual board (and, replayed, the MicroPython VM): a hung loop, a fault
path that fails, an upload whose storage fails. Each case asserts the motor level over time,
the device state after, and that the stored patterns did not change.

The hang is the board's "firmware hangs" fault (VirtualBoard.starve_watchdog): no loop pass
runs until the watchdog resets the board, while its timers run on, as the guard's hard
interrupt does on rp2. The last healthy pass is read off the trace: the watchdog resets
5,001 ms after its last feed, which that pass made.
"""

import shutil
from pathlib import Path

import pytest

from device_kit import board_link
from facewave.firmware import messages as m
from facewave.firmware.profile import Profile
from facewave.lang import compile_source
from facewave.link import Refused
from facewave.scenarios import compare, runner
from facewave.scenarios import spec as sc

WDT_MS = 5000  # the pico profile's watchdog
GUARD_MS = 250  # the motor at 0 this soon after the last healthy pass
STEADY = 'pattern steady "a steady drive"\nhold 40% 20s\n'
HANG = """
name = "hang"
patterns = ["steady.fw"]
until = "12s"

[[at]]
time = "1s"
command = "play steady"

[[at]]
time = "3s"
fault = "watchdog-starve"

[[at]]
time = "10s"
command = "status"

[[expect]]
state = "idle"
at = "11s"
"""


def _program(link, level="40%", name="steady"):
    text = STEADY.replace("steady", name).replace("40%", level)
    return compile_source(text, name + ".fw", Profile(link.hello["caps"]))


def _with_steady(tmp_path):
    """A virtual board that holds the steady pattern, and a link to it."""
    board, link = board_link(tmp_path)
    prog = _program(link)
    link.upload(prog.name, prog.data)
    return board, link


def _playing(tmp_path):
    """A board 2 s into playing the steady pattern: (board, link, what it stores)."""
    board, link = _with_steady(tmp_path)
    before = _stored(board)
    link.play("steady")
    board.run_for(2000)
    return board, link, before


def _stored(board):
    """{file: bytes} of the pattern folder of the board's flash."""
    folder = Path(board.flash.path("/patterns"))
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _level_at(rows, t):
    """The motor level the trace shows at ms `t` (the last row at or before it)."""
    level = 0
    for ms, lv, _, _ in sorted(rows, key=lambda r: r[0]):
        if ms > t:
            break
        level = lv
    return level


def _hang_figures(rows, levels=None):
    """(last healthy pass, first ms of motor 0 after the hang, watchdog reset), from a board's
    trace (`levels`: the firmware's rows to read the motor from, by default the same)."""
    levels = rows if levels is None else levels
    hang = next(ms for ms, _, _, ev in rows if ev == "hang")
    reset = next(ms for ms, _, _, ev in rows if ev == "watchdog reset" and ms > hang)
    healthy = reset - WDT_MS - 1
    zero = min(ms for ms, lv, _, _ in levels if hang <= ms and lv == 0)
    return healthy, zero, reset


def _assert_guarded(rows, levels=None):
    healthy, zero, reset = _hang_figures(rows, levels)
    rows = rows if levels is None else levels
    assert _level_at(rows, healthy) > 0  # the motor was driving when the loop stopped
    assert zero - healthy <= GUARD_MS
    assert zero < reset
    assert all(lv == 0 for ms, lv, _, _ in rows if zero <= ms <= reset)  # and stayed at 0


@pytest.fixture
def hang(tmp_path):
    (tmp_path / "steady.fw").write_text(STEADY)
    path = tmp_path / "hang.toml"
    path.write_text(HANG)
    return sc.load(path)


def test_a_hung_loop_stops_the_motor_within_250_ms_not_at_the_watchdog_reset(tmp_path):
    board, link, before = _playing(tmp_path)
    board.starve_watchdog()
    _assert_guarded(board.rows)
    healthy, zero, reset = _hang_figures(board.rows)
    print(
        "\nhung loop: motor 0 %d ms after the last healthy pass, %d ms before the reset"
        % (zero - healthy, reset - zero)
    )
    board.run_for(500)
    assert link.status()["state"] == "idle"  # the board came back, and answers
    assert board.level() == 0
    assert _stored(board) == before


def test_the_hang_scenario_holds_and_the_guard_acts_the_same_on_the_micropython_vm(vm, hang):
    both = compare.compare(hang, vm=vm)
    assert both.record.run.failures == []
    assert both.difference is None
    assert both.vm.rows == both.record.rows
    _assert_guarded(both.record.run.board.rows, both.vm.rows)


def test_the_guard_leaves_a_healthy_session_alone(tmp_path):
    """No trip while the loop passes: the session's trace has no drop to 0 the pattern lacks."""
    board, link = _with_steady(tmp_path)
    link.play("steady")
    board.run_for(10000)
    start = min(ms for ms, lv, _, _ in board.rows if lv > 0)
    assert all(lv > 0 for ms, lv, _, _ in board.rows if start <= ms <= board.ms)


@pytest.mark.parametrize(
    "targets",
    [["shell.Shell.motor_zero"], ["shell.Shell.motor_zero"] * 2, ["shell.Shell._fail"]],
    ids=["motor_zero", "motor_zero-twice", "_fail"],
)
def test_a_fault_path_that_fails_stops_the_motor_and_the_board_comes_back(tmp_path, targets):
    board, link, before = _playing(tmp_path)
    assert board.level() > 0
    at = board.ms
    # a fault, then its path's (twice: the path fails again in the next pass, which fails too)
    undo = [board.inject(target) for target in targets] + [board.inject("engine.Engine.step")]
    board.run_for(100)
    for restore in reversed(undo):
        restore()
    # the pin went low in the pass that failed (the PWM's route had failed)
    zero = min(ms for ms, lv, _, _ in board.rows if ms >= at and lv == 0)
    assert zero - at <= 60  # the next loop pass
    board.run_for(WDT_MS + 500)  # the simulator runs on; no healthy pass feeds the watchdog
    events = [ev for ms, _, _, ev in board.rows if ms >= at]
    assert "watchdog reset" in events
    assert all(lv == 0 for ms, lv, _, _ in board.rows if ms >= zero)
    assert link.status()["state"] == "idle"
    assert _stored(board) == before
    link.play("steady")  # and it plays again
    board.run_for(1000)
    assert board.level() > 0


@pytest.mark.parametrize(
    "target, when",
    [
        ("store.FS.write", "storage error during upload"),
        ("store.FS.open", "storage error during upload"),
        ("store.FS.rename", "could not store 'steady'"),
    ],
)
def test_a_storage_fault_in_an_upload_drops_it_and_leaves_the_device_idle(tmp_path, target, when):
    """Replacing a stored pattern: the fault is one refusal; play and stop work at once; the
    old pattern is whole and nothing of the upload is left."""
    board, link = _with_steady(tmp_path)
    before = _stored(board)
    new = _program(link, level="60%")
    undo = board.inject(target)
    with pytest.raises(Refused) as refused:
        link.upload(new.name, new.data)
    undo()
    assert refused.value.code == m.E_STORAGE
    assert str(refused.value).count("\n") == 0 and when in str(refused.value)
    assert "fault injected into %s" % target in str(refused.value)  # it reached the firmware
    assert link.status()["state"] == "idle"
    assert _stored(board) == before
    link.play("steady")
    board.run_for(1000)
    assert board.level() > 0
    link.stop()
    board.run_for(100)
    assert board.level() == 0
    assert link.status()["state"] == "idle"
    link.upload(new.name, new.data)  # and the next upload goes through
    assert _stored(board) == {"steady.fwb": bytes(new.data)}


def test_a_fault_while_removing_the_uploads_leftovers_still_stores_the_pattern(tmp_path):
    board, link = _with_steady(tmp_path)
    new = _program(link, level="60%")
    undo = board.inject("store.FS.remove")
    link.upload(new.name, new.data)
    undo()
    assert _stored(board)["steady.fwb"] == bytes(new.data)
    board.power_cut()  # the next boot's recovery removes what was left
    board.run_for(500)
    assert _stored(board) == {"steady.fwb": bytes(new.data)}


def test_a_scenario_fault_reaches_the_firmwares_own_filesystem_calls(tmp_path):
    """`exception store.FS.write` fires on the virtual board: the upload is refused, and the
    device plays what it had."""
    shutil.copy(Path(__file__).parent.parent / "host" / "routines" / "relax.fw", tmp_path)
    path = tmp_path / "fs.toml"
    path.write_text(
        'patterns = ["relax.fw"]\nuntil = "8s"\n\n'
        '[[at]]\ntime = "1s"\nfault = "exception store.FS.write"\n\n'
        '[[at]]\ntime = "2s"\ncommand = "upload relax.fw"\nexpect = "refused"\n'
        'reason = "fault injected into store.FS.write"\n\n'
        '[[at]]\ntime = "4s"\ncommand = "play relax"\n\n'
        '[[expect]]\nstate = "running"\nat = "6s"\n'
    )
    run = runner.play(sc.load(path))
    assert run.failures == []
