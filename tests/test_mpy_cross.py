"""Every firmware file compiles with mpy-cross: MicroPython's own compiler accepts it, so the
device can import it (and `facewave flash` can precompile it to .mpy, host/build.py)."""

from facewave import build


def test_every_firmware_file_compiles_with_mpy_cross(tmp_path):
    sources = build.firmware_sources()
    assert "engine.py" in sources and "verifier.py" in sources
    failed = []
    for rel, path in sources.items():
        out = tmp_path / rel.replace("/", "_")
        try:
            build.compile_mpy(path, out.with_suffix(".mpy"))
        except build.BuildError as err:
            failed.append("%s: %s" % (rel, err))
    assert not failed, "mpy-cross rejects:\n" + "\n".join(failed)


def test_mpy_cross_reports_what_it_rejects(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return (x := 1) = 2\n")
    try:
        build.compile_mpy(bad, tmp_path / "bad.mpy")
    except build.BuildError as err:
        assert "bad.py" in str(err) and "line 2" in str(err)
    else:
        raise AssertionError("mpy-cross accepted a syntax error")


def test_the_firmware_tree_is_the_package_without_the_root_files():
    files = build.firmware_files()
    assert files["/lib/facewave/engine.py"] == build.firmware_sources()["engine.py"].read_bytes()
    assert "/lib/facewave/boards/pico.py" in files
    assert not [path for path in files if "/deploy/" in path]  # boot.py, main.py: the root's


def test_the_compiled_firmware_names_its_files_as_the_device_holds_them():
    """A device's traceback names facewave/engine.py, never the build machine's folders."""
    files = build.firmware_files(mpy=True, package=build.PACKAGE)
    here = str(build.firmware_sources()["engine.py"].parent).encode()
    assert files and not [path for path, data in files.items() if here in data]
    assert b"facewave/engine.py" in files["facewave/engine.mpy"]
    assert set(files) == {path[len("/lib/") : -3] + ".mpy" for path in build.firmware_files()}
