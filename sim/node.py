"""Finding Node.js and an npm package of the project's package.json (the MicroPython VM, the
RP2040 emulator): `npm ci` in the checkout installs them."""

import os
import shutil
from pathlib import Path


def find_package(name, marker, env, error):
    """(node executable, package folder) for npm package `name`: $`env` if set (the package's
    folder), else a node_modules folder above this package or the current directory. `marker`
    is a file inside the package that proves it; `error` the exception class to refuse with,
    saying what to install."""
    node = shutil.which("node")
    if node is None:
        raise error(
            "node (Node.js >= 18) is not on PATH; install it, then run `npm ci` in the "
            "facewave checkout"
        )
    given = os.environ.get(env)
    if given:
        if not (Path(given) / marker).is_file():
            raise error("%s=%s is not the folder of the npm package %s" % (env, given, name))
        return node, Path(given)
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            package = folder / "node_modules" / name
            if (package / marker).is_file():
                return node, package
    raise error(
        "the npm package %s is not installed; run `npm ci` in the facewave checkout, "
        "or set %s to the package's folder" % (name, env)
    )
