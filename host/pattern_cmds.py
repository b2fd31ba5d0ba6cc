"""The verbs of `facewave` that need no device: check, compile, preview and import pattern
files, list the built-in routines and the boards, bench the engine."""

import sys
from pathlib import Path

from . import files, library
from .errors import FacewaveError
from .programs import board_profile, device_profile, load_program, session_note, source_name
from .sim_cmds import setup_rp2040
from .units import duration, option, plural


def do_check(args):
    """Compile and verify pattern files; exit 1 if any fails."""
    from .firmware import boards
    from .lang import CompileError

    profile = board_profile(args.board)
    session_ms = getattr(profile, "session_default_ms", boards.default("session.default_ms"))
    failed = 0
    for name in args.files:
        try:
            prog = load_program(name, profile)
        except (CompileError, FacewaveError) as e:
            print(e if isinstance(e, CompileError) else "facewave: %s" % e, file=sys.stderr)
            failed += 1
            continue
        _warn(prog)
        if prog.elements is None:
            print(
                "%s: ok, bytecode of %s, %s, %s, %s"
                % (
                    name,
                    prog.name,
                    duration(prog.info.duration),
                    plural(prog.info.count, "instruction"),
                    plural(len(prog.data), "byte"),
                )
            )
        else:
            print(
                "%s: ok, %s, %s, %s of bytecode"
                % (
                    name,
                    duration(prog.info.duration),
                    plural(prog.elements, "element"),
                    plural(len(prog.data), "byte"),
                )
            )
        print("  " + session_note(prog.info, session_ms, "the default"))
    return 1 if failed else 0


def _warn(prog):
    """The compiler's warnings about a program, on stderr: they leave the exit status alone."""
    if prog.warnings:
        print(prog.warning_text(), file=sys.stderr)


def do_compile(args):
    """Write a pattern's bytecode."""
    files.check_output(args.output)
    prog = load_program(args.file, board_profile(args.board))
    _warn(prog)
    out = args.output or Path(args.file).with_suffix(".fwb").name  # in the working folder
    files.write(out, prog.data)
    print(
        "wrote %s (%s, %s)" % (out, plural(len(prog.data), "byte"), duration(prog.info.duration)),
        file=files.messages(out),
    )
    return 0


def do_preview(args):
    """Show what the device drives the motor with for a pattern: a summary and a plot."""
    from . import playback, preview
    from .device_cmds import setting_value
    from .firmware.settings import Settings

    said = files.messages(args.output, args.csv)
    for path in (args.output, args.csv):
        files.check_output(path)
    prof = device_profile(args.board)
    settings = Settings(session_ms=prof.session_default_ms, cue_ms=prof.session_cue_ms)
    for key, text in (("intensity", args.intensity), ("session", args.session)):
        if text is not None:
            settings.set(*setting_value(key, text))
    prog = load_program(args.file, prof)
    _warn(prog)
    trace = playback.play(prog, prof, settings)
    print("\n".join(preview.summary_lines(prog, trace, prof, settings)), file=said)
    if args.csv:
        files.write(args.csv, trace.csv().encode())
        print("  csv        %s" % args.csv, file=said)
    out = args.output or prog.name + ".png"  # a checked name: in the working folder
    png = preview.plot(
        trace,
        title="%s on %s at intensity %d/5: what the motor is driven with"
        % (prog.name, prof.name, settings.intensity),
    )
    files.write(out, png)
    print("  plot       %s" % out, file=said)
    return 0


def do_boards(args):
    """List the board profiles (pins and safety caps)."""
    from .device_cmds import caps_line
    from .firmware import boards

    for name in boards.names():
        data = boards.load(name)
        print("%-10s %s" % (name, data.get("description", "")))
        print("%-10s caps: %s" % ("", caps_line(boards.profile(data).caps())))
    return 0


def do_routines(args):
    """List the built-in routines."""
    for name in library.builtin_names():
        print("%-12s %s" % (name, library.describe(library.builtin_path(name))))
    return 0


def do_import(args):
    """Convert a haptic file (Apple AHAP, Meta .haptic, Android VibrationEffect) to a pattern.

    Its approximations, one line per kind, go to stderr; --strict makes them errors."""
    from . import importers

    out = args.output
    files.check_output(out)
    profile = device_profile(args.board)
    top = _top(args.max, profile)
    text, notes, prog = importers.convert(
        Path(args.file), args.name, profile, top, args.strict, args.repeat
    )
    for line in notes:
        print("facewave: %s: %s" % (args.file, line), file=sys.stderr)
    files.write(out, text.encode())
    print("wrote %s (%s)" % (out, duration(prog.info.duration)), file=files.messages(out))
    return 0


def _top(text, profile):
    """--max as permille: at most the board's own full scale (importers.full_scale)."""
    import re

    from .haptics.text import level
    from .importers import full_scale

    top = full_scale(profile)
    if text is None:
        return top
    m = re.match(r"([0-9]{1,3})(?:\.([0-9]))?%\Z", text)
    value = int(m.group(1)) * 10 + int(m.group(2) or 0) if m else 0
    if not 1 <= value <= top:
        raise FacewaveError(
            "--max: expected a level 0.1%%..%s (the cap of %s), got %r"
            % (level(top), profile.name, text),
            2,
        )
    return value


def do_export(args):
    """Write a pattern's trace as Apple AHAP, to feel it through any AHAP player."""
    from .haptics import export
    from .importers import full_scale

    files.check_output(args.ahap)
    profile = device_profile(args.board)
    prog = load_program(args.file, profile)
    files.write(args.ahap, export.ahap(prog, profile, full_scale(profile)))
    print(
        "wrote %s (%s)" % (args.ahap, duration(prog.info.duration)), file=files.messages(args.ahap)
    )
    return 0


def do_bench(args):
    """Measure engine speed and MicroPython memory figures (--link: the serial link's)."""
    from . import bench

    if args.rp2040:
        from .bench_rp2040 import run_rp2040_bench

        run_rp2040_bench(print, args.uf2)
    else:
        (bench.run_link_bench if args.link else bench.run_bench)(print)
    return 0


# -- arguments ----------------------------------------------------------------------------------
def _board_arg(p):
    p.add_argument("--board", help="judge against this board's caps (default: the generic caps)")


def setup_check(p):
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="pattern files, built-in names or compiled .fwb files",
    )
    _board_arg(p)


def setup_compile(p):
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT", help="bytecode file (default NAME.fwb)")
    _board_arg(p)


def setup_preview(p):
    import argparse

    from .firmware.settings import Settings

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = """\
The pattern plays on the firmware's own device model, with the board's profile and these
settings, in virtual time: intensity, soft start and kick, the session's length (the summary
says whether the pattern plays whole, repeats or is cut), the session's cues, forced rests and
the fade at the end. What it shows is what the board's PWM drives, to the millisecond: `--csv`
equals a virtual board's trace of the same program with the same settings.

examples:
  facewave preview lymph                        a new pico's session of lymph: lymph.png
  facewave preview mine.fw --intensity 5 --session 5min -o mine.png
  facewave preview daily --csv daily.csv        also the motor level at each change
"""
    p.add_argument("file", metavar="FILE", help="a pattern file, a built-in name or a .fwb file")
    p.add_argument("-o", "--output", metavar="OUT.png", help="plot file (default NAME.png)")
    p.add_argument(
        "--csv",
        metavar="OUT.csv",
        help="also write `ms,level`: the motor level (permille of full drive) at each change, "
        "in ms from the moment play starts, as the simulator's trace gives it",
    )
    p.add_argument(
        "--intensity",
        metavar="N",
        help="the intensity step 1..5 it plays at (default: %d, a new device's)"
        % Settings().intensity,
    )
    p.add_argument(
        "--session",
        metavar="DURATION",
        help="the session length setting, as `facewave set session` takes it (e.g. 5min): how "
        "long a pattern without zones plays (default: the board's)",
    )
    p.add_argument(
        "--board",
        default="pico",
        help="the board whose profile plays it: caps, motor, intensity steps, session "
        "(default: pico; `facewave boards` lists them)",
    )


def setup_bench(p):
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--link",
        action="store_true",
        help="the serial link instead: upload times,"
        " throughput and status round trip through a virtual board at 115200 baud",
    )
    setup_rp2040(
        p,
        how,
        "the figures on the emulated Pico (the genuine MicroPython UF2 in "
        "rp2040js), in board time: flash, RAM, status round trip, uploads beside "
        "mpremote's fs cp",
    )


def setup_import(p):
    p.add_argument(
        "file",
        metavar="FILE",
        help="an Apple .ahap, a Meta Haptics Studio .haptic or an Android VibrationEffect "
        "(JSON: timings, amplitudes and repeat, or a composition's primitives), found by content",
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT.fw", help="- for stdout")
    p.add_argument("--name", type=source_name, help="pattern name (default: from the file name)")
    p.add_argument(
        "--repeat",
        type=option(1, 65535),
        metavar="N",
        help="turns to play a waveform that repeats forever",
    )
    p.add_argument(
        "--board",
        default="pico",
        help="the board it is for: its cap is the source's full scale and the result passes "
        "its check (default: pico)",
    )
    p.add_argument(
        "--max",
        metavar="LEVEL",
        help="the level the source's full scale becomes instead (e.g. 60%%), at most the cap",
    )
    p.add_argument(
        "--strict", action="store_true", help="refuse the file instead of approximating it"
    )


def setup_export(p):
    p.add_argument("file", metavar="FILE", help="a pattern file, a built-in name or a .fwb file")
    p.add_argument(
        "--ahap", required=True, metavar="OUT.ahap", help="the AHAP file to write (- for stdout)"
    )
    p.add_argument(
        "--board",
        default="pico",
        help="the board whose cap is full scale (intensity 1.0) and whose profile plays it "
        "(default: pico)",
    )


# The verbs, in the order of `facewave --help` (see device_cmds.VERBS)
VERBS = (
    do_check,
    do_compile,
    do_preview,
    do_routines,
    do_boards,
    do_import,
    do_export,
    do_bench,
)
SETUP = None
