"""Play a scenario on a virtual board in fast mode: its events at their exact times, then judge
its expectations against the trace."""

import shutil
import tempfile
from collections import deque

from ..errors import FacewaveError
from ..firmware.profile import Profile
from ..firmware.verifier import pct
from ..link import Refused
from ..sim.virtual_board import SimSerial, VirtualBoard
from . import spec as sc

PRESS_MS = {"short": 150, "long": 1500}
DOUBLE_GAP_MS = 150
BROWNOUT_MV = 3000
BROWNOUT_MS = 2000


class Run:
    """A finished scenario: the board (and its trace) and what failed, as (line, message)
    in the order of the file: a command the device refused (or accepted, when it had to
    refuse it), or did not answer, and each expectation that does not hold."""

    def __init__(self, scenario, board, failures, seconds):
        self.scenario = scenario
        self.board = board
        self.failures = failures
        self.seconds = seconds  # wall time taken


class CommandRefused(Refused):
    """The device said no to a command: `command` as it was written, `reason` the device's
    words, `code` one of messages.E_*. The `virtual_board` fixture raises it."""

    def __init__(self, command, reason, code):
        super().__init__(code, "the device refused %s: %s" % (command, reason))
        self.command = command
        self.reason = reason


def host(board):
    """A host link to the board, talking in the board's virtual time."""
    from ..link import Link

    link = Link(SimSerial(board, timeout=0.5), name="virtual board", clock=board.seconds)
    link.handshake()
    return link


def compile_for(board_link, name):
    """A built-in routine or a pattern file, compiled against the device's own caps."""
    from ..programs import load_program

    return load_program(name, Profile(board_link.hello["caps"]))


def _scenario_pattern(scenario, link, name):
    from ..lang import CompileError

    try:
        return compile_for(link, name)
    except (CompileError, FacewaveError) as e:
        raise sc.ScenarioError(
            "%s:%d: pattern %r: %s" % (scenario.path, scenario.patterns_line, name, e)
        ) from None


def play(scenario, flash_dir=None, tape=None):
    """Run `scenario` on a new VirtualBoard (writing its inputs on `tape`, a replay.Tape, if
    given) and judge it; answers a Run."""
    import time

    started = time.perf_counter()
    made = None if flash_dir else tempfile.mkdtemp(prefix="facewave-sim-")
    board = VirtualBoard(
        flash_dir or made, board=scenario.board, start_tick=scenario.start_tick, tape=tape
    )
    undo, failures = [], []
    try:
        board.power_on()
        link = None
        if scenario.patterns:
            link = host(board)
            for name in scenario.patterns:
                prog = _scenario_pattern(scenario, link, name)
                link.upload(prog.name, prog.data)
                board.event("uploaded " + prog.name)
        ready = deque()
        for ev in scenario.events:
            board.at(ev.at, lambda ev=ev: ready.append(ev))
        while board.ms < scenario.until:
            board.step()
            while ready:
                link = _apply(scenario, board, ready.popleft(), link, undo, failures)
    finally:
        for restore in reversed(undo):
            restore()
        if made:  # the trace is in memory; a flash nobody named is not kept
            shutil.rmtree(made, ignore_errors=True)
    for e in scenario.expects:
        why = judge(board, e)
        if why:
            failures.append((e.line, "expected %s: %s" % (e.describe(), why)))
    failures.sort(key=lambda f: f[0])
    return Run(scenario, board, failures, time.perf_counter() - started)


class Session:
    """One whole session of a stored routine started with the button (see session())."""

    def __init__(self, board, program, upload_ms, started, ended, seconds):
        self.board = board
        self.program = program
        self.upload_ms = upload_ms  # virtual time of the upload
        self.started = started  # ms since power-on
        self.ended = ended
        self.seconds = seconds  # wall time of the session alone

    @property
    def speedup(self):
        return (self.ended - self.started) / 1000 / max(self.seconds, 1e-9)


def session(routine="daily", board_name="pico"):
    """A fresh virtual board: upload `routine` over the protocol, make it the default, press
    the button, run until the session is over: what `facewave demo` shows and times."""
    import time

    from ..firmware import device as dv

    flash = tempfile.mkdtemp(prefix="facewave-demo-")
    try:
        board = VirtualBoard(flash, board=board_name)
        board.power_on()
        link = host(board)
        prog = compile_for(link, routine)
        sent = board.ms
        link.upload(prog.name, prog.data)
        upload_ms = board.ms - sent
        link.set("routine", prog.name)
        board.event("press short")
        press(board, "short")
        wall = time.perf_counter()
        running = False
        while board.ms < 60 * 60 * 1000:
            board.step()
            shell = board.shell
            assert shell is not None  # nothing here gives the console to the REPL
            assert shell.device is not None, "the firmware failed to boot"
            now_running = shell.device.state == dv.RUNNING
            if running and not now_running:
                break
            running = now_running
        wall = time.perf_counter() - wall
        board.run_for(1000)
    finally:
        shutil.rmtree(flash, ignore_errors=True)
    started = board.device_events("start")[0]
    ended = (board.device_events("end") or board.device_events("stop"))[0]
    return Session(board, prog, upload_ms, started, ended, wall)


def _apply(scenario, board, ev, link, undo, failures):
    kind, value = ev.kind, ev.value
    shown = (
        value
        if not isinstance(value, (list, tuple))
        else " ".join(str(v) for v in value if v not in ("", None))
    )
    board.event("%s %s" % (kind, shown))
    if kind == "press":
        press(board, value)
    elif kind == "battery":
        board.set_battery(value)
    elif kind == "charger":
        board.set_charger(value)
    elif kind == "serial":
        board.host_write(value)
    elif kind == "link":
        board.console.faults = value
    elif kind == "command":
        link = _command(scenario, board, link, ev, failures)
    elif kind == "fault":
        _fault(board, value, undo)
    return link


def press(board, how):
    """Press the button: "short", "long", "double" or ("hold", ms)."""
    if how == "double":
        board.press(100, then=lambda: board.at(board.ms + DOUBLE_GAP_MS, lambda: board.press(100)))
    else:
        board.press(how[1] if isinstance(how, tuple) else PRESS_MS[how])


def send(board, link, args, text):
    """Send a command (`args` as device_cmds.parse leaves them) as `facewave` sends it;
    answers the device's reply. A refusal goes in the trace and is raised as CommandRefused."""
    from ..device_cmds import request

    try:
        return request(link, args)
    except Refused as e:
        board.event("refused: %s" % e)
        raise CommandRefused(text, str(e), e.code) from None


def _command(scenario, board, link, ev, failures):
    """A scenario's command event: a failure unless the device answers as the event expects;
    answers the link for the next command (None after a link that failed: a new one then)."""
    from ..lang import CompileError
    from ..link import LinkError

    text = " ".join(ev.value)
    try:
        link = link or host(board)
        send(board, link, ev.args, text)
    except CommandRefused as e:
        if ev.refused is None:
            failures.append((ev.line, str(e)))
        elif ev.refused not in e.reason:
            failures.append((ev.line, "%s (the refusal must say %r)" % (e, ev.refused)))
        return link
    except LinkError as e:
        board.event("no answer: %s" % e)
        failures.append((ev.line, "%s: %s" % (text, e)))
        return None
    except (CompileError, FacewaveError) as e:
        raise sc.ScenarioError("%s:%d: %s: %s" % (scenario.path, ev.line, text, e)) from None
    if ev.refused is not None:
        failures.append((ev.line, "expected the device to refuse %s: it accepted it" % text))
    return link


def _fault(board, value, undo):
    name, arg = value
    if name == "power-cut":
        board.power_cut()
    elif name == "power-cut-at-write":
        board.fs.cut_at = board.fs.writes + arg
    elif name == "brownout":
        mv = board.battery_mv
        board.set_battery(BROWNOUT_MV)
        board.at(board.ms + BROWNOUT_MS, lambda: board.set_battery(mv))
    elif name == "stuck-button":
        board.jam_button()
    elif name == "watchdog-starve":
        board.starve_watchdog()
    elif name == "exception":
        restore = board.inject(arg)
        if restore is None:
            raise sc.ScenarioError("fault exception %s: no such firmware function" % arg)
        undo.append(restore)


# -- expectations ---------------------------------------------------------------------------------
def levels(board):
    """(ms, level) at each change, in time order."""
    out = []
    for t, lv, _, _ in sorted(board.rows, key=lambda r: r[0]):
        if not out or out[-1][1] != lv:
            out.append((t, lv))
    return out


def _level_at(points, t):
    lv = 0
    for at, value in points:
        if at > t:
            break
        lv = value
    return lv


def judge(board, e):
    """None if the expectation holds, else why not (one line)."""
    rows = sorted(board.rows, key=lambda r: r[0])
    points = levels(board)
    tol = e.options.get("tolerance", 0)
    if e.kind == "max_level":
        peak = max((lv for _, lv in points), default=0)
        return None if peak <= e.value else "the motor reached %s" % pct(peak)
    if e.kind == "motor":
        by = e.options["by"]
        until = e.options.get("until", float("inf"))
        late = [(t, lv) for t, lv in points if by < t < until and lv != e.value]
        if _level_at(points, by) != e.value:
            return "the motor was at %s at %d ms" % (pct(_level_at(points, by)), by)
        if late:
            return "the motor went to %s at %d ms" % (pct(late[0][1]), late[0][0])
        return None
    if e.kind == "cue":
        cues = [t for t, _, _, ev in rows if ev == "cue"]
        if any(abs(t - e.value) <= tol for t in cues):
            return None
        near = min(cues, key=lambda t: abs(t - e.value)) if cues else None
        return "no cue within %d ms of %d ms (%s)" % (
            tol,
            e.value,
            "nearest at %d ms" % near if near is not None else "no cues at all",
        )
    if e.kind == "event":
        hits = [t for t, _, _, ev in rows if ev == e.value or ev.startswith(e.value + " ")]
        if "at" not in e.options:
            return None if hits else "no %r event" % e.value
        if any(abs(t - e.options["at"]) <= tol for t in hits):
            return None
        return "no %r event within %d ms of %d ms (%s)" % (
            e.value,
            tol,
            e.options["at"],
            "seen at " + ", ".join(map(str, hits[:5])) if hits else "never seen",
        )
    # state
    at = e.options["at"]
    state = "off"
    for t, _, led, _ in rows:
        if t > at:
            break
        state = led
    return None if state == e.value else "the device was %s at %d ms" % (state, at)


def trace_of(board, name, until):
    """The run as a playback.Trace in the board's ms, for the plot of `facewave preview`:
    the motor level, zones, cues by kind (the pattern's "cue", the session's "cue N") and the
    events worth a mark."""
    from ..playback import Trace

    prof = getattr(board, "prof", None)
    trace = Trace(name, prof.max_level if prof is not None else 1000)
    trace.points = levels(board)
    trace.duration = until
    for t, _, _, ev in sorted(board.rows, key=lambda r: r[0]):
        if ev.startswith("zone "):
            trace.zones.append((t, ev[5:]))
        elif ev == "cue":
            trace.cues.append(t)
        elif ev.startswith("cue "):
            trace.session_cues.append(t)
    trace.events = marked_events(board)
    return trace


def marked_events(board):
    """Device events worth a mark on a plot (not every button edge)."""
    from ..firmware import log

    quiet = ("boot", "cue", "off", "settings", "upload", "button", "pattern", "intensity", "zone")
    keep = tuple(name for name in log.NAMES if name not in quiet)
    keep += ("power cut", "watchdog reset", "repl")  # the world's, not the device log's
    return [
        (t, ev) for t, _, _, ev in sorted(board.rows, key=lambda r: r[0]) if ev.startswith(keep)
    ]
