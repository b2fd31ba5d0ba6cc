"""Import the haptic files people already have: the file read as its own tool reads it
(haptics/formats.py), its events mixed (haptics/mix.py) and written as pattern text
(haptics/text.py), which must pass the same check as any pattern before it is written.

Full scale of the source becomes `top` permille: the board's cap (max_level, or max_step if
smaller, so that a step from rest to full scale passes too) or --max. What a motor cannot
play is left out and said in Notes, one line per kind; with `strict` each is an error.
"""

import re

from .errors import FacewaveError
from .haptics import formats, mix, text
from .haptics.events import Notes


def full_scale(profile):
    """The highest level an import may reach on a board: its cap, within its step limit."""
    return min(profile.max_level, profile.max_step)


def convert(path, name, profile, top, strict=False, repeat=None):
    """(pattern source, summary lines, its Program) of the haptic file `path`, its full scale
    at `top` permille, checked against `profile`."""
    from .lang import CompileError, compile_source

    notes = Notes(str(path), strict)
    kind, events = formats.read(path, notes, repeat)  # never empty
    items = text.loops(text.statements(mix.mix(events, notes), top, profile, notes))
    name = name or _name_from(path.stem)
    lines = ['pattern %s "Imported from %s (%s)"' % (name, path.name.replace('"', "'"), kind)]
    lines += ["# " + line for line in notes.lines()]
    lines += text.source(items)
    source = "\n".join(lines) + "\n"
    try:
        program = compile_source(source, name + ".fw", profile)
    except CompileError as e:
        raise FacewaveError(
            "%s: its pattern does not pass check against %s: %s"
            % (path, profile.name, e.errors[0][3])
        ) from None
    return source, notes.lines(), program


def _name_from(stem):
    name = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_") or "imported"
    if not name[0].isalpha():
        name = "p-" + name
    return name[:32]
