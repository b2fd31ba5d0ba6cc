"""`facewave sim` (serve a virtual board on a port), `facewave sim run SCENARIO` and
`facewave demo`: the simulator from the command line."""

import json
import select
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import files
from .errors import FacewaveError
from .programs import board_profile
from .units import NumberError, duration, number, option, plural


def setup_sim(p):
    p.add_argument("action", nargs="?", choices=["run"], help="run: play a scenario")
    p.add_argument(
        "scenario",
        nargs="?",
        metavar="SCENARIO",
        help="a .toml scenario file, or a built-in one by name (morning; an unknown name "
        "lists them)",
    )
    p.add_argument(
        "--trace",
        metavar="OUT.csv",
        help="write the trace (ms, level, led, event): with `run`, of the whole scenario; "
        "with `sim` alone, of the live board from power-on until it stops (Ctrl-C or "
        "SIGTERM), written then; not with --vm or --rp2040",
    )
    p.add_argument(
        "--plot",
        metavar="OUT.png",
        help="plot motor level, zones, cues and events over the same time as --trace",
    )
    p.add_argument("--json", action="store_true", help="sim run: the result as JSON")
    p.add_argument(
        "--flash",
        metavar="DIR",
        help="folder used as the board's flash (kept; "
        "with --vm written back at every reset and at exit); default: a new "
        "temporary folder. With --rp2040: a FILE, the Pico's 2 MB flash image (kept)",
    )
    p.add_argument("--board", help="board profile (default: pico, or the flash's /board)")
    p.add_argument(
        "--socket",
        nargs="?",
        const=0,
        type=option(0, 65535),
        metavar="PORT",
        help="serve on socket://127.0.0.1:PORT instead of a pty (0: any free port)",
    )
    p.add_argument(
        "--baud", type=option(50, 4000000), metavar="N", help="throttle the link to N baud"
    )
    p.add_argument(
        "--bare",
        action="store_true",
        help="with --vm (implied): a board with plain "
        "MicroPython only, for trying `facewave flash`",
    )
    p.add_argument(
        "--mpy",
        action="store_true",
        help="sim run: replay the run into the "
        "firmware on the MicroPython VM too; exit 1 unless the traces are equal",
    )
    p.add_argument(
        "--vm",
        action="store_true",
        help="the firmware in MicroPython's WebAssembly "
        "VM (from `npm ci`), in real time: mpremote and `facewave flash` meet "
        "MicroPython's own REPL, as on a board; with --flash DIR, patterns and "
        "firmware stay for the next run",
    )
    setup_rp2040(
        p,
        p,
        "an emulated Raspberry Pi Pico that runs the genuine MicroPython UF2 "
        "(rp2040js, from `npm ci`), on a pty: the real port, slower",
    )


def setup_rp2040(p, group, help_text):
    """--rp2040 (in `group`, p or one of its groups) and its --uf2, for sim and bench."""
    group.add_argument("--rp2040", action="store_true", help=help_text)
    p.add_argument(
        "--uf2",
        metavar="FILE",
        help="with --rp2040: MicroPython's RPI_PICO UF2 "
        "(default: $FACEWAVE_RP2_UF2, a file or a folder holding it)",
    )


def do_sim(args):
    """Run a virtual board on a pty (or a socket); `sim run SCENARIO` plays a script."""
    if args.action == "run":
        if not args.scenario:
            from .scenarios.spec import builtin

            raise FacewaveError(
                "facewave sim run needs a SCENARIO: a .toml file or a built-in (%s)"
                % ", ".join(p.stem for p in builtin()),
                2,
            )
        return _run(args)
    if args.uf2 and not args.rp2040:
        raise FacewaveError("--uf2 goes with --rp2040", 2)
    if args.vm and args.rp2040:
        raise FacewaveError("--vm or --rp2040, not both", 2)
    if args.rp2040 and args.action is None and not args.scenario:
        return _serve_rp2040(args)
    if (args.vm or args.bare) and args.action is None and not args.scenario:
        return _serve_vm(args)
    if args.scenario:
        raise FacewaveError(
            "unexpected %r: did you mean `facewave sim run %s`?" % (args.scenario, args.scenario),
            2,
        )
    return _serve(args)


def _flash_dir(args):
    """The --flash folder, made if it is not there (kept: the user named it)."""
    try:
        Path(args.flash).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        why = "not a folder" if isinstance(e, FileExistsError) else e.strerror or e
        raise FacewaveError("--flash %s: %s" % (args.flash, why), 2) from None
    return args.flash


@contextmanager
def _flash(args):
    """The board's flash folder: --flash's, or a new temporary one removed however the block
    ends (Ctrl-C, an error, a refusal)."""
    import tempfile

    if args.flash:
        yield _flash_dir(args)
        return
    made = tempfile.mkdtemp(prefix="facewave-flash-")
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def _serve(args):
    from .sim.serial_port import PortError, open_port
    from .sim.virtual_board import VirtualBoard

    _alone(args, "a live board (they go with `sim run`)", ("mpy", "json"))
    _outputs_ok(args)  # a wrong folder said now, not after an hour of trace
    board_profile(args.board)  # an unknown board is a usage error, not a traceback from its boot
    board = port = None
    with _until_stopped() as stop, _flash(args) as flash:  # a stop at any moment cleans up
        try:
            board = VirtualBoard(flash, board=args.board, realtime=True)
            try:
                spec = "pty" if args.socket is None else "socket:%d" % args.socket
                port = open_port(spec, baud=args.baud, clock=board.seconds)
            except PortError as e:
                raise FacewaveError("cannot open the virtual board's port: %s" % e, 2) from None
            board.wire = port
            board.power_on()
            print("virtual facewave board (%s) on %s" % (board._chosen_board(), port.url))
            print("flash: %s" % board.flash_dir)
            print("try:   facewave --port %s info      (Ctrl-C here to stop the board)" % port.url)
            sys.stdout.flush()
            while not stop:
                board.step()
        finally:
            if port is not None:
                port.close()
    if board is None:  # stopped before there was a board
        return 0
    print("\nvirtual board stopped after %s" % duration(board.ms))
    _outputs(args, board, "facewave sim: the live board", board.ms)
    for what, path in (("trace", args.trace), ("plot", args.plot)):
        if path:
            print("%-6s %s" % (what + ":", path))
    return 0


def _serve_vm(args):
    """`facewave sim --vm` (or --bare): the VM board's console on a pty or a socket, until Ctrl-C
    or SIGTERM; the flash folder is written back at every reset and at exit."""
    from .sim.vm_board import VMBoard, VMBoardError

    _alone(args, "--vm", ("baud", "trace", "plot", "mpy", "json"))
    board_profile(args.board)
    firmware = None if args.bare else flashed()
    port = "pty" if args.socket is None else "socket:%d" % args.socket

    def make():
        return VMBoard(
            _flash_dir(args) if args.flash else None, files=firmware, board=args.board, port=port
        )

    def banner(board):
        return [
            "VM board (%s, MicroPython's WebAssembly VM) on %s"
            % ("plain MicroPython" if args.bare else "facewave firmware", board.url),
            "flash: %s" % (board.flash if args.flash else "not kept (no --flash DIR)"),
            "try:   mpremote connect %s      (Ctrl-C here to stop the board)" % board.url,
        ]

    board, seconds = _serve_node(make, VMBoardError, banner, lambda board: time.sleep(0.2))
    resets = len(board.boots) - 1 if board is not None else 0
    print(
        "\nVM board stopped after %s (%d reset%s)"
        % (duration(seconds * 1000), resets, "" if resets == 1 else "s")
    )
    return 0


def flashed():
    """{device path: bytes}: this facewave's firmware as `facewave flash` leaves it on a board
    that had nothing on it."""
    from .build import PACKAGE, firmware_files
    from .firmware import VERSION
    from .flash import fresh_board

    return fresh_board(firmware_files(mpy=True, package=PACKAGE), VERSION)


def _serve_rp2040(args):
    """`facewave sim --rp2040`: the emulated Pico's USB serial on a pty, until Ctrl-C."""
    from .sim.rp2040 import Rp2040Board, Rp2040Error

    _alone(args, "--rp2040", ("socket", "baud", "bare", "board", "trace", "plot", "mpy", "json"))
    if args.flash and Path(args.flash).is_dir():
        raise FacewaveError(
            "--flash %s: a folder; with --rp2040 it is a file, the Pico's 2 MB "
            "flash image" % args.flash,
            2,
        )
    typing = [sys.stdin is not None and not sys.stdin.closed]
    seen = [0]

    def banner(board):
        return [
            "emulated Raspberry Pi Pico (%s, rp2040js) on %s" % (board.uf2.name, board.port),
            "flash: %s" % (board.flash or "not kept (no --flash FILE)"),
            "try:   mpremote connect %s      (Ctrl-C here to stop the board)" % board.port,
            "type:  press [MS] | hold | release | charger on|off | battery MV | pwm",
        ]

    def poll(board):
        if typing[0] and select.select([sys.stdin], [], [], 0.2)[0]:
            line = sys.stdin.readline()
            typing[0] = bool(line)  # end of input: the board runs on
            if line.strip():
                print(_drive(board, line.split()))
        elif not typing[0]:
            time.sleep(0.2)
        for ms, why in board.reset_log[seen[0] :]:
            print("%s reset at %s of board time" % (why, duration(ms)))
            seen[0] += 1
        sys.stdout.flush()

    board, seconds = _serve_node(
        lambda: Rp2040Board(uf2=args.uf2, flash=args.flash), Rp2040Error, banner, poll
    )
    resets = board.resets if board is not None else 0
    print(
        "\nemulated Pico stopped after %s (%d reset%s)"
        % (duration(seconds * 1000), resets, "" if resets == 1 else "s")
    )
    return 0


def _drive(board, words):
    """One line typed at `facewave sim --rp2040`; answers what it did, or how to say it."""
    import threading

    verb, args = words[0], words[1:]
    try:
        if verb == "press":
            ms = number(args[0], 1, 60000) if args else 150
            board.button(True)
            threading.Timer(ms / 1000, board.button, (False,)).start()
            return "button pressed for %d ms" % ms
        if verb in ("hold", "release"):
            board.button(verb == "hold")
            return "button " + ("held" if verb == "hold" else "released")
        if verb == "charger" and args and args[0] in ("on", "off"):
            board.charger(args[0] == "on")
            return "charger " + args[0]
        if verb == "battery" and args:
            mv = number(args[0], 0, 5500)  # VSYS: a cell, or USB's 5 V
            board.battery(mv)
            return "battery at %d mV" % mv
        if verb == "pwm":
            freq, duty, by_pwm = board.pwm()
            return (
                "GP15: %.0f Hz, duty %.1f %%" % (freq, duty * 100 / 65535)
                if by_pwm and freq
                else "GP15: not driven"
            )
    except NumberError as e:
        return "%s: %s" % (verb, e)
    return "say: press [MS] | hold | release | charger on|off | battery MV | pwm"


def _alone(args, mode, options):
    """A usage error for the first of `options` (argument names) given with `mode`."""
    for name in options:
        if getattr(args, name) not in (None, False):
            raise FacewaveError("--%s does not go with %s" % (name, mode), 2)


def _serve_node(make, error, banner, poll):
    """Run a board that Node.js holds (the VM board, the emulated Pico) until Ctrl-C or
    SIGTERM: make() gives it, `error` is its exception class, banner(board) the lines that say
    how to reach it, poll(board) runs while it serves. Answers (the board, closed, or None if
    it never started; the seconds it served)."""
    board = None
    started = time.monotonic()
    with _until_stopped() as stop:
        try:
            try:
                board = make()
                board.start()
            except error as e:
                raise FacewaveError(str(e), 2) from None
            print("\n".join(banner(board)))
            sys.stdout.flush()
            while not stop:
                poll(board)
                if not board.running:
                    raise FacewaveError(
                        "%s stopped: %s" % (board.what, board.failure or "node exited"), 1
                    )
        finally:
            if board is not None:
                board.close()
    return board, time.monotonic() - started


@contextmanager
def _until_stopped():
    """Ctrl-C or SIGTERM ends the block quietly: yields a list that is no longer empty once
    one came (a loop's `while not stop`)."""
    stop = []

    def ctrl_c(signum, frame):
        if not stop:
            stop.append(signum)
            raise _Stop

    old = {sig: signal.signal(sig, ctrl_c) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    except _Stop:
        pass
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class _Stop(BaseException):
    """Ctrl-C at the terminal. Not a KeyboardInterrupt: the board takes that for mpremote's
    REPL request and carries on (VirtualBoard.step()), so the simulator would never stop."""


def _run(args):
    from .scenarios import runner
    from .scenarios import spec as sc

    _alone(args, "sim run", ("socket", "baud", "bare", "vm", "rp2040", "uf2"))
    scenario = sc.load(args.scenario)
    _outputs_ok(args)
    said = files.messages(args.trace, args.plot, files.STDOUT if args.json else None)
    flash = _flash_dir(args) if args.flash else None
    both = None
    if args.mpy:
        from .scenarios import compare

        both = compare.compare_cli(scenario, flash)
        run = both.record.run
    else:
        run = runner.play(scenario, flash)
    board = run.board
    _outputs(args, board, scenario.name, scenario.until)
    if not scenario.expects and all(ev.refused is None for ev in scenario.events):
        print(
            '%s: warning: no expectation ([[expect]], or expect = "refused"): this run held'
            " only that the device accepted every command" % scenario.path,
            file=sys.stderr,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "scenario": scenario.name,
                    "virtual_ms": scenario.until,
                    "seconds": round(run.seconds, 3),
                    "failed": [{"line": line, "message": text} for line, text in run.failures],
                    **({"mpy": both.summary()} if both else {}),
                }
            )
        )
    else:
        print(
            "%s: %s, %s of virtual time in %s"
            % (
                scenario.name,
                plural(len(scenario.events), "event"),
                duration(scenario.until),
                duration(run.seconds * 1000),
            ),
            file=said,
        )
        for line, text in run.failures:
            print("%s:%d: %s" % (scenario.path, line, text), file=sys.stderr)
        if scenario.expects and not run.failures:
            print("all %d expectations hold" % len(scenario.expects), file=said)
        if both:
            both.report()
    return 1 if run.failures or (both and both.difference) else 0


def _outputs_ok(args):
    """A usage error now for a --trace or --plot that cannot be written (see files)."""
    files.to_stdout(args.trace, args.plot)
    for path in (args.trace, args.plot):
        files.check_output(path)


def _outputs(args, board, name, until):
    """--trace and --plot of the board's run to `until` (ms since power-on)."""
    if args.trace:
        files.write(args.trace, board.csv().encode())
    if args.plot:
        from . import preview
        from .scenarios import runner

        files.write(args.plot, preview.plot(runner.trace_of(board, name, until), title=name))


def setup_demo(p):
    p.add_argument("--plot", default="facewave-demo.png", help="where to write the plot")
    p.add_argument("--trace", metavar="OUT.csv", help="also write the trace")
    p.add_argument("--board", default="pico", help="board profile of the virtual board")


def do_demo(args):
    """A whole daily session on a virtual board, faster than real time, with a plot.

    The main job: a virtual board, the daily routine uploaded over the protocol, a button
    press, a whole session in virtual time, a summary and a plot."""
    from .firmware.verifier import pct
    from .scenarios import runner

    def say(*text):
        print(*text, file=said)

    said = files.messages(args.plot, args.trace)
    _outputs_ok(args)
    board_profile(args.board)
    wall = time.perf_counter()
    s = runner.session("daily", args.board)
    board, prog, started, ended = s.board, s.program, s.started, s.ended
    trace = runner.trace_of(board, "daily", board.ms)
    played = [(t, lv) for t, lv in trace.points if started <= t <= ended]
    mean = sum(
        lv * (t1 - t0) for (t0, lv), (t1, _) in zip(played, played[1:] + [(ended, 0)])
    ) // max(1, ended - started)
    say(
        "facewave demo: a virtual %s board runs the firmware; the daily routine is uploaded"
        " over the serial protocol and started with the button" % args.board
    )
    say("  routine    %s: %s" % (prog.name, prog.info.description))
    say("  upload     %d bytes in %s of virtual time" % (len(prog.data), duration(s.upload_ms)))
    say(
        "  session    %s, from %s to %s"
        % (duration(ended - started), duration(started), duration(ended))
    )
    say(
        "  zones      "
        + ", ".join("%s at %s" % (n, duration(t - started)) for t, n in trace.zones)
    )
    say(
        "  cues       %d, at %s"
        % (len(trace.cues), ", ".join(duration(t - started) for t in trace.cues))
    )
    say(
        "  intensity  peak %s, mean %s (motor PWM as the board drives it)"
        % (pct(max((lv for _, lv in played), default=0)), pct(mean))
    )
    say("  events     " + ", ".join("%s %s" % (ev, duration(t)) for t, ev in trace.events))
    say(
        "  speed      %s of session in %s: %.0fx real time"
        % (duration(ended - started), duration(s.seconds * 1000), s.speedup)
    )
    preview_plot(board, trace, args, said)
    say("  total      %s" % duration((time.perf_counter() - wall) * 1000))
    return 0


def preview_plot(board, trace, args, said):
    from . import preview

    png = preview.plot(trace, title="facewave demo: daily routine on a virtual board")
    files.write(args.plot, png)
    print("  plot       %s" % args.plot, file=said)
    if args.trace:
        files.write(args.trace, board.csv().encode())
        print("  trace      %s" % args.trace, file=said)


# The verbs, in the order of `facewave --help` (see device_cmds.VERBS)
VERBS = (do_demo, do_sim)
SETUP = None
