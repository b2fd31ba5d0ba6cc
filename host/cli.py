"""`facewave`: compile, check, preview and play massage patterns; talk to and flash a device.

One command table (verb -> handler, argument setup), handlers named do_<verb>; errors are
translated once, here: a FacewaveError or CompileError prints one plain message and exits
1 (operation failed) or 2 (usage or connection problem). Heavy imports stay inside handlers
so `facewave --help` is instant.
"""
import argparse
import sys
from pathlib import Path

from . import device_cmds, flash, library, sim_cmds
from .errors import FacewaveError
from .programs import board_profile, load_program


def _profile(args):
    return board_profile(getattr(args, "board", None))


# -- pattern commands ---------------------------------------------------------------------------
def do_check(args):
    from .lang import CompileError
    from .preview import seconds

    profile = _profile(args)
    failed = 0
    for name in args.files:
        try:
            prog = load_program(name, profile)
        except (CompileError, FacewaveError) as e:
            print(e if isinstance(e, CompileError) else "facewave: %s" % e, file=sys.stderr)
            failed += 1
            continue
        if prog.elements is None:
            print("%s: ok, bytecode of %s, %s, %d instructions, %d bytes"
                  % (name, prog.name, seconds(prog.info.duration), prog.info.count,
                     len(prog.data)))
        else:
            print("%s: ok, %s, %d elements, %d bytes of bytecode"
                  % (name, seconds(prog.info.duration), prog.elements, len(prog.data)))
    return 1 if failed else 0


def do_compile(args):
    prog = load_program(args.file, _profile(args))
    out = Path(args.output or Path(args.file).with_suffix(".fwb").name)
    _write_atomic(out, prog.data)
    print("wrote %s (%d bytes, %d ms)" % (out, len(prog.data), prog.info.duration))
    return 0


def do_preview(args):
    from . import playback, preview

    profile = _profile(args)
    prog = load_program(args.file, profile)
    trace = playback.play(prog, profile)
    print("\n".join(preview.summary_lines(prog, trace)))
    out = args.output or prog.name + ".png"
    preview.plot(trace, out)
    print("  plot       %s" % out)
    return 0


def do_boards(args):
    from importlib import import_module

    from .firmware import boards

    for path in sorted(Path(boards.__file__).parent.glob("*.py")):
        if path.stem != "__init__":
            data = import_module("facewave.firmware.boards." + path.stem).PROFILE
            print("%-10s %s" % (path.stem, data.get("description", "")))
            print("%-10s caps: %s" % ("", device_cmds.caps_line(data)))
    return 0


def do_routines(args):
    for name in library.builtin_names():
        print("%-12s %s" % (name, library.describe(library.builtin_path(name))))
    return 0


def do_import(args):
    from . import importers
    from .lang import CompileError, compile_file

    text = importers.convert(Path(args.file), args.name, args.repeat)
    out = Path(args.output)
    _write_atomic(out, text.encode())
    try:
        prog = compile_file(out, _profile(args))
    except CompileError as e:
        print(e, file=sys.stderr)
        raise FacewaveError("wrote %s, but it does not pass check (see above); edit it"
                            % out) from None
    print("wrote %s (%d ms)" % (out, prog.info.duration))
    return 0


def do_bench(args):
    from . import bench

    if args.rp2040:
        from .bench_rp2040 import run_rp2040_bench

        run_rp2040_bench(print, args.uf2)
    else:
        (bench.run_link_bench if args.link else bench.run_bench)(print)
    return 0


def _write_atomic(path, data):
    """Never leave a half-written output: write beside it, then rename over it."""
    import os

    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise FacewaveError("cannot write %s: %s" % (path, e.strerror or e)) from None


# -- the table ----------------------------------------------------------------------------------
def _board_arg(p):
    p.add_argument("--board", help="judge against this board's caps (default: the generic caps)")


def _setup_check(p):
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="pattern files, built-in names or compiled .fwb files")
    _board_arg(p)


def _setup_compile(p):
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT", help="bytecode file (default NAME.fwb)")
    _board_arg(p)


def _setup_preview(p):
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT.png", help="plot file (default NAME.png)")
    _board_arg(p)


def _setup_bench(p):
    how = p.add_mutually_exclusive_group()
    how.add_argument("--link", action="store_true", help="the serial link instead: upload times,"
                     " throughput and status round trip through a virtual board at 115200 baud")
    how.add_argument("--rp2040", action="store_true", help="the figures on the emulated Pico "
                     "(the genuine MicroPython UF2 in rp2040js), in board time: flash, RAM, "
                     "status round trip, uploads beside mpremote's fs cp")
    p.add_argument("--uf2", metavar="FILE", help="with --rp2040: the RPI_PICO UF2 (default: "
                   "$FACEWAVE_RP2_UF2)")


def _setup_import(p):
    p.add_argument("file", metavar="FILE", help="an Apple .ahap file or an Android waveform "
                   "(.json with timings, amplitudes and repeat)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.fw")
    p.add_argument("--name", help="pattern name (default: from the file name)")
    p.add_argument("--repeat", type=int, metavar="N",
                   help="turns to play a waveform that repeats forever")
    _board_arg(p)


COMMANDS = {
    "check": (do_check, _setup_check, "compile and verify pattern files; exit 1 if any fails"),
    "compile": (do_compile, _setup_compile, "write a pattern's bytecode"),
    "preview": (do_preview, _setup_preview, "plot a pattern's intensity over time"),
    "routines": (do_routines, None, "list the built-in routines"),
    "boards": (do_boards, None, "list the board profiles (pins and safety caps)"),
    "demo": (sim_cmds.do_demo, sim_cmds.setup_demo,
             "a whole daily session on a virtual board, faster than real time, with a plot"),
    "sim": (sim_cmds.do_sim, sim_cmds.setup_sim,
            "run a virtual board on a pty (or a socket); `sim run SCENARIO` plays a script"),
    "import": (do_import, _setup_import, "convert an Apple AHAP or Android waveform file"),
    "bench": (do_bench, _setup_bench, "measure engine speed and MicroPython memory figures "
              "(--link: the serial link's)"),
    **device_cmds.COMMANDS,
    "flash": (flash.run, flash.add_arguments, "install or upgrade the firmware (mpy-cross + "
              "mpremote); stored patterns and settings are kept"),
}

EPILOG = """examples:
  facewave routines                 the built-in routines
  facewave check my.fw              errors as file:line:col, exit 1 if any
  facewave preview lymph -o l.png   intensity curve with zones and cues
  facewave demo                     a whole daily session, faster than real time
  facewave ports                    serial ports, the massager marked
  facewave upload daily             compile for the plugged-in device and store it
  facewave play daily               play it (`facewave stop` stops it)

device commands take --port PORT (or $FACEWAVE_PORT; default: the one device plugged in),
--json for scripts and --timeout SECONDS. Exit status: 0 ok, 1 refused or failed, 2 usage or
connection problem.
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="facewave", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from .firmware import VERSION

    parser.add_argument("--version", action="version", version="facewave " + VERSION)
    parser.add_argument("--port", "-p", metavar="PORT",
                        help="the device's serial port, for the device commands")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (handler, setup, help_text) in COMMANDS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        if setup:
            setup(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv=None):
    from .lang import CompileError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except CompileError as e:
        print(e, file=sys.stderr)
        return 1
    except FacewaveError as e:
        print("facewave: %s" % e, file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("facewave: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `facewave ... | head`: the reader has gone; so do we, quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
