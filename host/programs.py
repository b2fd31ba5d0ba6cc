"""A pattern file, a compiled .fwb or a built-in routine, as a Program judged against a profile.

Every command that takes a pattern (check, compile, preview, upload, the simulator's scenarios,
bench) comes here, so a name means the same thing to all of them, and a compiled file gets the
device's own verifier.
"""

from pathlib import Path

from . import files, library
from .errors import FacewaveError


def board_profile(board=None):
    """The profile of firmware/boards' `board`, its caps and its motor, session and intensity
    fields (the generic caps alone for None), to judge patterns by; an unknown board is a usage
    error that names the known ones."""
    from .firmware import boards
    from .firmware.profile import Profile

    return _profile(board, boards.profile) if board else Profile()


def device_profile(board):
    """The whole profile of firmware/boards' `board`, caps and board fields (motor, intensity
    steps, session timings): what a device of that kind plays a pattern with; an unknown board
    is a usage error that names the known ones."""
    from .firmware import boards

    return _profile(board, boards.profile)


def _profile(board, make):
    from .firmware import boards
    from .firmware.profile import ProfileError

    try:
        return make(boards.load(board))
    except boards.UnknownBoard as e:
        raise FacewaveError(str(e), 2) from None
    except ProfileError as e:
        raise FacewaveError("board profile %s: %s" % (board, e), 2) from None


def load_program(path_or_name, profile):
    """A pattern file, a compiled .fwb file (checked by the device's verifier), or the name of
    a built-in routine, as a Program judged against `profile`'s caps."""
    from .firmware import bytecode
    from .lang import Program, compile_file
    from .lang.compiler import MAX_SOURCE_BYTES

    path = Path(path_or_name)
    if not path.exists():
        if not library.builtin_path(path_or_name):
            raise FacewaveError(
                "%s: no such file, and no built-in routine of that name (see "
                "`facewave routines`)" % path_or_name
            )
        path = library.builtin_path(path_or_name)
        assert path is not None  # it was found just above
    data = files.read(path, MAX_SOURCE_BYTES, "a pattern file")
    if path.suffix == ".fwb" or data.startswith(bytecode.MAGIC):  # a damaged .fwb too
        return Program(data, _verify_bytecode(path, data, profile), [], None, str(path))
    return compile_file(path, profile)


def _verify_bytecode(name, data, profile):
    """The device's own check of a compiled file, and of the name in it (a default output
    name is made of it: `../../x` must not reach a path)."""
    from .firmware import bytecode
    from .firmware.messages import Refused
    from .firmware.store import check_name
    from .firmware.verifier import verify

    try:
        info = verify(data, profile)
        check_name(info.name)
        return info
    except bytecode.VerifyError as e:
        where = " (instruction %d)" % e.args[1] if e.args[1] >= 0 else ""
        raise FacewaveError("%s: rejected%s: %s" % (name, where, e.args[0])) from None
    except Refused as e:
        raise FacewaveError("%s: rejected: %s" % (name, e.args[1])) from None


def pattern_name(text):
    """A --name, checked as the device checks a pattern's name (an empty one too): argparse's
    type for it."""
    import argparse

    from .firmware.messages import Refused
    from .firmware.store import check_name

    try:
        return check_name(text)
    except Refused as e:
        raise argparse.ArgumentTypeError(e.args[1]) from None


def source_name(text):
    """A name for a pattern file that is written (import --name): the language's rule, which
    also keeps the device's; argparse's type for it."""
    import argparse

    from .lang.lexer import NAME, NAME_RULE

    if not NAME.match(text):
        raise argparse.ArgumentTypeError("pattern name %r: use %s" % (text, NAME_RULE))
    return text


def session_note(info, session_ms, whose):
    """How long a session of this program lasts, as the device decides it (the verifier's
    Info.session_ms()), said in the words of `whose` session ("the device's", "a default")."""
    from .units import duration

    if info.zones:
        return "a routine with zones: a session plays its own %s" % duration(info.duration)
    length = info.session_ms(session_ms)
    setting = "%s %s session" % (whose, duration(session_ms))
    if length == info.duration and info.duration != session_ms:
        return "longer than %s: a session plays it once, whole (%s)" % (
            setting,
            duration(info.duration),
        )
    turns = session_ms / info.duration
    return "repeats to fill %s (%s turns; `facewave set session` changes it)" % (
        setting,
        ("%.1f" % turns).rstrip("0").rstrip("."),
    )
