"""The `facewave` command as a person runs it: output, exit codes, files, and bad input."""

import json
import os
import subprocess
import sys

import pytest

from facewave.cli import main


def run(*args):
    """The real console entry point in a subprocess: what a person sees."""
    proc = subprocess.run(
        [sys.executable, "-m", "facewave.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


GOOD = 'pattern mine "A test"\nramp 0% -> 40% over 1s\nhold 2s\nramp -> 0% over 1s\n'


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "mine.fw"
    path.write_text(GOOD)
    return path


def test_check_says_how_long_a_session_of_each_pattern_lasts(tmp_path):
    long = tmp_path / "long.fw"
    long.write_text('pattern long "259 s"\nhold 40% 259s\n')
    code, out, _ = run("check", long, "relax", "daily")
    assert code == 0
    notes = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert notes == [
        "longer than the default 3 min session: a session plays it once, whole (4 min 19 s)",
        "repeats to fill the default 3 min session (2.7 turns; `facewave set session` changes it)",
        "a routine with zones: a session plays its own 3 min",
    ]


def test_help_teaches():
    code, out, _ = run("--help")
    assert code == 0
    for verb in ("check", "compile", "preview", "routines", "demo", "import", "bench"):
        assert verb in out
    assert "examples:" in out
    code, out, _ = run("check", "--help")
    assert code == 0 and "FILE" in out


def test_no_command_is_a_usage_error():
    assert run()[0] == 2
    assert run("frobnicate")[0] == 2


def test_check_good_file(good):
    code, out, err = run("check", good)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "%s: ok, 4 s, 3 elements, 65 bytes of bytecode" % good,
        "  repeats to fill the default 3 min session (45 turns;"
        " `facewave set session` changes it)",
    ]


def test_check_reports_all_errors_and_fails(tmp_path, good):
    bad = tmp_path / "bad.fw"
    bad.write_text('pattern bad "x"\nhold 40%\nwave sine 1%..2% period 1s\n')
    code, out, err = run("check", good, bad)
    assert code == 1
    assert "%s: ok" % good in out
    assert "%s:2:" % bad in err and "%s:3:" % bad in err
    assert "Traceback" not in err


def test_compile_writes_bytecode_the_device_accepts(tmp_path, good):
    out = tmp_path / "mine.fwb"
    code, text, _ = run("compile", good, "-o", out)
    assert code == 0 and out.read_bytes()[:4] == b"FWPB"
    code, text, _ = run("check", out)
    assert code == 0 and "bytecode of mine" in text


def test_preview_writes_png_and_summary(tmp_path):
    png = tmp_path / "daily.png"
    code, out, _ = run("preview", "daily", "-o", png)
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        "zones      forehead at 0 s, cheeks at 45 s, jaw-line at 1 min 30 s, neck at 2 min 15 s"
    ) in out
    assert "pattern    3 min" in out


def test_routines_lists_builtins_with_descriptions():
    code, out, _ = run("routines")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and names == ["circulation", "daily", "firming", "lymph", "relax"]
    assert all(len(line.split(None, 1)[1]) > 20 for line in out.splitlines())


def test_boards_lists_each_profile_with_its_safety_caps():
    code, out, _ = run("boards")
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines[::2]] == ["esp32c3", "pico"]
    for caps in lines[1::2]:
        assert caps.split()[0] == "caps:" and "level up to 85%" in caps, out


def test_demo_summarises_and_plots(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "facewave.cli", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "daily" in proc.stdout and "facewave-demo.png" in proc.stdout
    assert (tmp_path / "facewave-demo.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "no such file"),
        ("", "empty pattern file"),
        (b"\xff\xfe\x00", "not UTF-8"),
        ("HUGE", "a pattern file is at most"),
        ('pattern p "x"\nhold 85% 1s\nhold 100% 1s\n', "above this device's cap"),
    ],
    ids=["missing", "empty", "binary", "10MB", "over-cap"],
)
def test_bad_input_one_clear_line_exit_1(tmp_path, content, message):
    path = tmp_path / "p.fw"
    if content == "HUGE":
        path.write_text("# " + "x" * (10 * 1024 * 1024))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, _, err = run("check", path)
    assert code == 1 and message in err and str(path) in err.splitlines()[0]
    assert "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path, good):
    good.chmod(0)
    code, _, err = run("check", good)
    assert code == 1 and "permission denied" in err


def test_truncated_and_corrupted_bytecode(tmp_path, good):
    out = tmp_path / "p.fwb"
    assert run("compile", good, "-o", out)[0] == 0
    data = out.read_bytes()
    (tmp_path / "short.fwb").write_bytes(data[:30])
    flipped = bytearray(data)
    flipped[-3] ^= 0x40
    (tmp_path / "flip.fwb").write_bytes(bytes(flipped))
    code, _, err = run("check", tmp_path / "short.fwb", tmp_path / "flip.fwb")
    assert code == 1
    assert err.count("facewave: ") == 2 and "does not match" in err and "CRC" in err


AHAP = {
    "Version": 1.0,
    "Pattern": [
        {
            "Event": {
                "Time": 0.0,
                "EventType": "HapticTransient",
                "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 0.6}],
            }
        },
        {
            "Event": {
                "Time": 0.2,
                "EventType": "HapticContinuous",
                "EventDuration": 1.0,
                "EventParameters": [{"ParameterID": "HapticIntensity", "ParameterValue": 0.5}],
            }
        },
        {
            "ParameterCurve": {
                "ParameterID": "HapticIntensityControl",
                "Time": 0.2,
                "ParameterCurveControlPoints": [
                    {"Time": 0, "ParameterValue": 0.4},
                    {"Time": 1.0, "ParameterValue": 1.0},
                ],
            }
        },
    ],
}


def test_import_ahap(tmp_path):
    src = tmp_path / "tap.ahap"
    src.write_text(json.dumps(AHAP))
    code, out, err = run("import", src, "-o", tmp_path / "tap.fw")
    assert code == 0, err
    text = (tmp_path / "tap.fw").read_text()
    assert text.splitlines() == [
        'pattern tap "Imported from tap.ahap (Apple AHAP)"',
        "hold 51% 30ms",  # full scale is the board's cap, 85%
        "off 170ms",
        "ramp 17% -> 42.5% over 1s",
    ]
    assert run("check", tmp_path / "tap.fw")[1].split(", ")[1] == "1.2 s"  # as long as the AHAP
    assert run("check", tmp_path / "tap.fw")[0] == 0


def test_import_android_waveform(tmp_path):
    src = tmp_path / "buzz.json"
    src.write_text(
        json.dumps({"timings": [0, 100, 50, 100], "amplitudes": [0, 128, 0, 200], "repeat": 0})
    )
    code, _, err = run("import", src, "-o", tmp_path / "buzz.fw")
    assert code == 1 and "repeats forever" in err and "--repeat N" in err
    code, _, err = run("import", src, "-o", tmp_path / "buzz.fw", "--repeat", "3")
    assert code == 0, err
    assert "repeat 3" in (tmp_path / "buzz.fw").read_text()


@pytest.mark.parametrize(
    "doc,message",
    [
        ("not json {", "not JSON"),
        (json.dumps({"hello": 1}), "no haptic format"),
        (
            json.dumps({"Pattern": [{"Event": {"Time": 0, "EventType": "AudioCustom"}}]}),
            "nothing in it for a motor to play",
        ),
    ],
)
def test_import_what_does_not_map(tmp_path, doc, message):
    src = tmp_path / "x.ahap"
    src.write_text(doc)
    code, _, err = run("import", src, "-o", tmp_path / "x.fw")
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.fw").exists()


def test_in_process_entry_point_returns_exit_codes(good, capsys):
    assert main(["check", str(good)]) == 0
    assert main(["check", str(good) + ".missing"]) == 1


def test_preview_accepts_a_compiled_file(tmp_path, good):
    assert run("compile", good, "-o", tmp_path / "m.fwb")[0] == 0
    code, out, err = run("preview", tmp_path / "m.fwb", "-o", tmp_path / "m.png")
    assert code == 0, err
    assert "pattern    4 s" in out and (tmp_path / "m.png").exists()


def test_a_name_that_is_neither_file_nor_routine(tmp_path):
    code, _, err = run("check", tmp_path / "nothere")
    assert code == 1
    assert (
        err.strip() == "facewave: %s: no such file, and no built-in routine of that name "
        "(see `facewave routines`)" % (tmp_path / "nothere")
    )
