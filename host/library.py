"""The built-in routines shipped with facewave, and how `play NAME` finds a pattern."""

from pathlib import Path

ROUTINES = Path(__file__).parent / "routines"


def builtin_names():
    return sorted(p.stem for p in ROUTINES.glob("*.fw"))


def builtin_path(name):
    path = ROUTINES / (name + ".fw")
    return path if name and "/" not in name and path.is_file() else None


def resolve(name, directory):
    """A pattern file NAME.fw beside the including file wins over a built-in of that name."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    local = Path(directory) / (name + ".fw")
    if local.is_file():
        return local.resolve()
    return builtin_path(name)


def describe(path):
    """The quoted description from a pattern file's header line, without compiling it."""
    from .lang.lexer import tokenize

    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        tokens = tokenize(line, number)
        if tokens:
            return tokens[2].text.strip('"') if len(tokens) > 2 else ""
    return ""
