"""Careless and hostile paths given to `facewave`: inputs that are not files, outputs that are
not files or cannot be written, names that try to leave the working folder. Each gets one line
and its exit status, the temporary folder ($TMPDIR, a test folder here) keeps nothing, and
nothing on disk changes that should not.

Tried before issue 15's fixes (the 40 cases below that do not write to /dev/null or /dev/full,
which the old code, as root, replaced with a regular file): 36 failed. 7 hung: `check`,
`compile`, `preview`, `import` and `sim run` of a FIFO, `preview /dev/zero` (reading for ever)
and `sim --plot DIR` (served a board instead of refusing); `preview -o missing/x.png` was a
traceback; `-o FIFO` replaced the FIFO and `-o DIR` left DIR.tmp; `-o -` wrote a file called
`-`; a full disk left NAME.tmp beside the old output; a .fwb named `../../x` made `preview`
write `../../x.png`; `--name ""` was taken as no name; and `facewave sim --socket 99999`,
`--socket -1`, `--baud 0` and `--vm --socket 99999` each left a flash folder in $TMPDIR.
"""

import os
import resource
import signal
import stat
import struct
import subprocess
import sys
import zlib

import pytest

GOOD = 'pattern mine "A test"\nramp 0% -> 40% over 1s\nhold 2s\nramp -> 0% over 1s\n'
HAPTIC = '{"Pattern": [{"Event": {"EventType": "HapticContinuous", "EventDuration": 0.2}}]}'


@pytest.fixture
def work(tmp_path):
    """A working folder with a pattern, a haptic file (an AHAP, found by its content), a FIFO
    and a folder in it; $TMPDIR is tmp_path/temp (empty)."""
    (tmp_path / "temp").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.fw").write_text(GOOD)
    (work / "wave.json").write_text(HAPTIC)
    os.mkfifo(work / "pipe")
    (work / "dir").mkdir()
    return work


def run(work, *args, limit=None):
    """`facewave ARGS` in a subprocess in `work`, with $TMPDIR at work/../temp (asserted empty
    afterwards); `limit`: the largest file it may write (RLIMIT_FSIZE), a full disk."""

    def full_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "facewave.cli", *map(str, args)],
        capture_output=True,
        cwd=work,
        env={**os.environ, "TMPDIR": str(work.parent / "temp"), "MPLBACKEND": "Agg"},
        preexec_fn=full_disk if limit is not None else None,
        timeout=120,
    )
    assert list((work.parent / "temp").iterdir()) == []
    assert b"Traceback" not in proc.stderr
    return proc.returncode, proc.stdout, proc.stderr.decode()


def snapshot(folder):
    """{relative path: what it is}: a file's bytes, a link's target, a FIFO, a folder."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            what = ("link", os.readlink(path))
        elif stat.S_ISREG(st.st_mode):
            what = path.read_bytes()
        else:
            what = stat.S_IFMT(st.st_mode)
        out[path.relative_to(folder).as_posix()] = what
    return out


def one_line(err, text):
    assert err == text + "\n", err


# -- inputs -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, code, line",
    [
        (["check", "pipe"], 1, "facewave: pipe: a FIFO (named pipe), not a pattern file"),
        (["check", "dir"], 1, "facewave: dir: a folder, not a pattern file"),
        (["check", "/dev/null"], 1, "facewave: /dev/null: a device, not a pattern file"),
        (["compile", "pipe"], 1, "facewave: pipe: a FIFO (named pipe), not a pattern file"),
        (["preview", "pipe"], 1, "facewave: pipe: a FIFO (named pipe), not a pattern file"),
        (["preview", "/dev/zero"], 1, "facewave: /dev/zero: a device, not a pattern file"),
        (
            ["import", "pipe", "-o", "x.fw"],
            1,
            "facewave: pipe: a FIFO (named pipe), not a haptic pattern",
        ),
        (["import", "dir", "-o", "x.fw"], 1, "facewave: dir: a folder, not a haptic pattern"),
        (["sim", "run", "pipe"], 2, "facewave: pipe: a FIFO (named pipe), not a scenario file"),
    ],
)
def test_an_input_that_is_not_a_regular_file_is_refused_without_waiting(work, args, code, line):
    """A FIFO nobody writes would block a read for ever: it is opened without waiting and
    judged by what was opened."""
    before = snapshot(work)
    got, _, err = run(work, *args)
    assert got == code
    one_line(err, line)
    assert snapshot(work) == before


# -- outputs ------------------------------------------------------------------------------------
OUTPUTS = [
    ["compile", "mine.fw", "-o"],
    ["preview", "mine.fw", "-o"],
    ["preview", "mine.fw", "--csv"],
    ["import", "wave.json", "-o"],
]


@pytest.mark.parametrize("args", OUTPUTS, ids=lambda a: a[0] + a[-1])
@pytest.mark.parametrize(
    "out, code, line",
    [
        ("nofolder/x", 2, "facewave: nofolder/x: no such folder nofolder"),
        ("dir", 2, "facewave: dir: a folder; name a file to write"),
        ("pipe", 1, "facewave: pipe: cannot write: a FIFO nobody reads"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_and_nothing_changes(
    work, args, out, code, line
):
    before = snapshot(work)
    got, stdout, err = run(work, *args, out)
    assert got == code
    assert err.endswith(line + "\n"), err
    assert line + "\n" == err[err.index("facewave: ") :]
    assert snapshot(work) == before


@pytest.mark.parametrize("args", OUTPUTS, ids=lambda a: a[0] + a[-1])
def test_dev_full_is_written_through_and_its_error_said(work, args):
    """/dev/full fails every write with ENOSPC, as a full disk does: the error is one line,
    and the device node is written to, never replaced by a rename (as root, the old code
    left a regular file in /dev)."""
    got, _, err = run(work, *args, "/dev/full")
    assert got == 1
    assert err.endswith("facewave: /dev/full: cannot write: no space left on device\n"), err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize("args", OUTPUTS, ids=lambda a: a[0] + a[-1])
def test_dev_null_is_written_through(work, args):
    before = snapshot(work)
    got, _, err = run(work, *args, "/dev/null")
    assert got == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    made = {"mine.png"} if "--csv" in args else set()  # the plot's default, beside it
    assert set(snapshot(work)) - set(before) == made
    assert {k: v for k, v in snapshot(work).items() if k not in made} == before


def test_a_full_disk_leaves_the_old_output_whole_and_no_temporary_file(work):
    """RLIMIT_FSIZE makes a write past 64 bytes fail (EFBIG) as a full disk fails it (ENOSPC):
    this proves the atomic path's error handling -- the new file is written beside the old
    one, the failure is one line, the half-written new file is removed and the old output is
    untouched. (A real ENOSPC on a regular file needs a full filesystem; /dev/full above
    proves the same message for it on the write-through path.)"""
    (work / "mine.fwb").write_bytes(b"old")
    before = snapshot(work)
    code, _, err = run(work, "compile", "mine.fw", "-o", "mine.fwb", limit=64)
    assert code == 1
    one_line(err, "facewave: mine.fwb: cannot write: file too large")
    assert snapshot(work) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_a_read_only_folder_is_one_line(work):
    (work / "ro").mkdir(mode=0o555)
    code, _, err = run(work, "compile", "mine.fw", "-o", "ro/x.fwb")
    assert code == 1
    one_line(err, "facewave: ro/x.fwb: cannot write: permission denied")
    assert list((work / "ro").iterdir()) == []


def test_a_symbolic_link_is_followed_its_target_replaced_and_the_link_kept(work):
    """The choice documented in host/files.py: a link is followed, as a shell's `>` follows
    it; the rename replaces the file it points at, never the link."""
    (work / "real.fwb").write_bytes(b"old")
    (work / "link.fwb").symlink_to("real.fwb")
    (work / "dangling.fwb").symlink_to("made.fwb")
    (work / "null.fwb").symlink_to("/dev/null")
    for name in ("link.fwb", "dangling.fwb", "null.fwb"):
        code, out, err = run(work, "compile", "mine.fw", "-o", name)
        assert (code, err) == (0, ""), err
        assert out.decode().startswith("wrote %s (" % name)
    compiled = (work / "real.fwb").read_bytes()
    assert compiled.startswith(b"FWPB")
    assert (work / "made.fwb").read_bytes() == compiled
    assert [os.readlink(work / n) for n in ("link.fwb", "dangling.fwb", "null.fwb")] == [
        "real.fwb",
        "made.fwb",
        "/dev/null",
    ]
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_replaced_output_keeps_its_mode_and_nothing_is_left_beside_it(work):
    (work / "mine.fwb").write_bytes(b"old")
    (work / "mine.fwb").chmod(0o640)
    code, _, err = run(work, "compile", "mine.fw")
    assert (code, err) == (0, "")
    assert stat.S_IMODE((work / "mine.fwb").stat().st_mode) == 0o640
    assert sorted(p.name for p in work.iterdir()) == [
        "dir",
        "mine.fw",
        "mine.fwb",
        "pipe",
        "wave.json",
    ]


def test_dash_is_standard_output_and_the_messages_go_to_stderr(work):
    code, out, err = run(work, "compile", "mine.fw", "-o", "-")
    assert code == 0 and out.startswith(b"FWPB")
    assert err.startswith("wrote - (")
    code, out, err = run(work, "preview", "mine.fw", "-o", "-")
    assert code == 0 and out.startswith(b"\x89PNG\r\n\x1a\n")
    assert "\nmine: A test\n" in err and err.endswith("  plot       -\n")  # after a warning
    code, out, err = run(work, "import", "wave.json", "-o", "-")
    assert code == 0 and out.startswith(b"pattern wave ")
    assert not (work / "-").exists()
    code, out, err = run(work, "preview", "mine.fw", "-o", "-", "--csv", "-")
    assert code == 2 and out == b""
    one_line(err, "facewave: only one output can be - (standard output)")


def _named(name):
    """A compiled pattern whose name is `name` (7 characters), its CRC made right: what a
    crafted .fwb holds."""
    from facewave.lang import compile_source

    data = bytearray(compile_source(GOOD.replace("mine", "abcdefg")).data)
    at = data.index(b"abcdefg")
    data[at : at + 7] = name.encode()
    body = bytes(data[16:])
    data[12:16] = struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("verb", ["check", "compile", "preview"])
def test_a_fwb_whose_name_leaves_the_folder_is_rejected(work, verb):
    """A crafted .fwb named ../../x made `preview` write ../../x.png: the name in a .fwb is
    checked as the device checks a name, so a default output name is always a plain name in
    the working folder."""
    (work / "evil.fwb").write_bytes(_named("../../x"))
    before = snapshot(work.parent)
    code, _, err = run(work, verb, "evil.fwb")
    assert code == 1
    assert err.endswith(
        "evil.fwb: rejected: pattern name '../../x': use 1 to 32 of a-z 0-9 _ - "
        "(not starting with -)\n"
    ), err
    assert err.count("\n") == 1
    assert snapshot(work.parent) == before


@pytest.mark.parametrize(
    "args, rule",
    [
        (["import", "wave.json", "-o", "x.fw", "--name", ""], "-, starting with a letter"),
        (["import", "wave.json", "-o", "x.fw", "--name", "1x"], "-, starting with a letter"),
        (["upload", "mine.fw", "--name", ""], "- (not starting with -)"),
    ],
    ids=["import", "import-digit", "upload"],
)
def test_a_name_that_is_not_one_is_refused(work, args, rule):
    """An imported file's name follows the language's rule (a name starts with a letter), so
    what import writes always passes check; a device's may start with a digit."""
    before = snapshot(work)
    code, _, err = run(work, *args)
    assert code == 2
    assert err.splitlines()[-1] == (
        "facewave %s: error: argument --name: pattern name %r: use 1 to 32 of a-z 0-9 _ %s"
        % (args[0], args[-1], rule)
    )
    assert snapshot(work) == before


# -- the simulator leaves nothing behind ------------------------------------------------------
@pytest.mark.parametrize(
    "args, line",
    [
        (
            ["--socket", "99999"],
            "argument --socket: expected a whole number 0..65535, got '99999'",
        ),
        (["--socket", "-1"], "argument --socket: expected a whole number 0..65535, got '-1'"),
        (["--baud", "0"], "argument --baud: expected a whole number 50..4000000, got '0'"),
        (
            ["--vm", "--socket", "99999"],
            "argument --socket: expected a whole number 0..65535, got '99999'",
        ),
        (["--trace", "nofolder/t.csv"], "nofolder/t.csv: no such folder nofolder"),
        (["--plot", "dir"], "dir: a folder; name a file to write"),
        (["--board", "nosuch"], "unknown board 'nosuch': choose one of esp32c3, pico"),
        (["run", "morning", "--baud", "9600"], "--baud does not go with sim run"),
    ],
)
def test_a_refused_sim_makes_nothing(work, args, line):
    before = snapshot(work)
    code, _, err = run(work, "sim", *args)
    assert code == 2
    if line.startswith("argument "):  # argparse's usage error: its usage block, then the line
        assert err.startswith("usage: facewave sim ")
        assert err.endswith("\nfacewave sim: error: %s\n" % line), err
    else:
        one_line(err, "facewave: " + line)
    assert snapshot(work) == before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_sim_removes_its_flash_folder(work, sig):
    temp = work.parent / "temp"
    proc = subprocess.Popen(
        [sys.executable, "-m", "facewave.cli", "sim", "--socket"],
        cwd=work,
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[1].startswith("flash: %s" % temp), lines
        assert [p.name[:15] for p in temp.iterdir()] == ["facewave-flash-"]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and err == ""
    assert "virtual board stopped after" in out
    assert list(temp.iterdir()) == []
