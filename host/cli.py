"""`facewave`: compile, check, preview and play massage patterns; talk to and flash a device.

One command table (verb -> handler, argument setup, help), gathered from the modules that
hold the handlers (pattern_cmds, sim_cmds, device_cmds, flash), none of which imports this
one; errors are translated once, here: a FacewaveError or CompileError prints one plain
message and exits 1 (operation failed) or 2 (usage or connection problem). Heavy imports stay
inside handlers so `facewave --help` is instant.
"""

import argparse
import sys

from . import device_cmds, flash, pattern_cmds, sim_cmds
from .errors import FacewaveError

# The modules that hold the verbs, in the order of `facewave --help`: each lists its handlers
# (VERBS, do_VERB), whose docstring's first paragraph is the verb's help, and sets up a verb's
# arguments with its setup_VERB, or SETUP where it has none. None of them imports this one.
MODULES = (pattern_cmds, sim_cmds, device_cmds, flash)


def commands():
    """{verb: (handler, setup or None, help)} of every module's verbs."""
    table = {}
    for module in MODULES:
        for handler in module.VERBS:
            verb = handler.__name__[3:]
            help_text = " ".join(handler.__doc__.split("\n\n")[0].split())
            table[verb] = (handler, getattr(module, "setup_" + verb, module.SETUP), help_text)
    return table


EPILOG = """examples:
  facewave routines                 the built-in routines
  facewave check my.fw              errors as file:line:col, exit 1 if any
  facewave preview lymph -o l.png   what the device drives the motor with, and a plot
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
        prog="facewave",
        description=__doc__.splitlines()[0] if __doc__ else None,  # None: python -OO
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .firmware import VERSION

    parser.add_argument("--version", action="version", version="facewave " + VERSION)
    parser.add_argument(
        "--port", "-p", metavar="PORT", help="the device's serial port, for the device commands"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, (handler, setup, help_text) in commands().items():
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
