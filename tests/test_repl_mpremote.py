"""The real mpremote CLI against the VM board's REPL, which is MicroPython's own (the WebAssembly
port's): exec, fs, soft and hard resets, on a pty and on a socket. What the board itself adds
to the REPL (raw-paste, soft resets, the hand-over) is tests/test_vm_board.py."""

import hashlib
import os
import subprocess
import sys

import pytest

from facewave.sim.vm_board import VMBoard

pytestmark = [
    pytest.mark.usefixtures("vm"),  # the MicroPython VM, see conftest
    pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals"),
]

# mpremote waits 10 s (or forever, on a pty) for an answer that never comes: fail sooner
MPREMOTE_TIMEOUT_S = 8


def mpremote(board, *args, check=True):
    """Run the mpremote CLI on the board's port; returns the completed process."""
    done = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", board.url, *args],
        capture_output=True,
        timeout=MPREMOTE_TIMEOUT_S,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            "mpremote %s failed: %s %s"
            % (
                " ".join(args),
                done.stdout.decode(errors="replace"),
                done.stderr.decode(errors="replace"),
            )
        )
    return done


def output(board, *args):
    return mpremote(board, *args).stdout.decode().replace("\r\n", "\n")


@pytest.fixture
def flash(tmp_path):
    return tmp_path / "flash"


@pytest.fixture
def board(flash):
    """A board with plain MicroPython (no firmware): the REPL has the console."""
    with VMBoard(flash) as b:
        yield b


def test_exec_prints_the_result(board):
    assert output(board, "exec", "print(1+1)") == "2\n"


def test_exec_over_a_socket_url(flash):
    with VMBoard(flash, port="socket") as board:
        assert board.url.startswith("socket://127.0.0.1:")
        assert output(board, "exec", "print(6*7)") == "42\n"


def test_exec_error_prints_the_board_traceback_and_fails(board):
    done = mpremote(board, "exec", "x = 1\n1/0", check=False)
    assert done.returncode == 1
    assert done.stdout.decode().replace("\r\n", "\n") == (
        "Traceback (most recent call last):\n"
        '  File "<stdin>", line 2, in <module>\n'
        "ZeroDivisionError: divide by zero\n"
    )


def test_fs_cp_round_trips_binary_and_ls_lists_it(board, flash, tmp_path):
    data = os.urandom(5 * 1024)
    local = tmp_path / "pattern.bin"
    local.write_bytes(data)
    mpremote(board, "fs", "cp", str(local), ":pattern.bin")
    board.save()
    assert (flash / "pattern.bin").read_bytes() == data
    assert "        5120 pattern.bin\n" in output(board, "fs", "ls")
    back = tmp_path / "back.bin"
    mpremote(board, "fs", "cp", ":pattern.bin", str(back))
    assert back.read_bytes() == data


def test_fs_cp_skips_an_identical_file_by_sha256_unless_forced(board, tmp_path):
    local = tmp_path / "a.txt"
    local.write_bytes(b"same bytes\n")
    mpremote(board, "fs", "cp", str(local), ":a.txt")
    assert "Up to date: a.txt" in output(board, "fs", "cp", str(local), ":a.txt")
    assert "Up to date" not in output(board, "fs", "cp", "-f", str(local), ":a.txt")
    digest = hashlib.sha256(b"same bytes\n").hexdigest()
    assert output(board, "fs", "sha256sum", "a.txt").split()[-1] == digest


def test_fs_mkdir_cp_into_it_rm_and_rmdir(board, flash, tmp_path):
    local = tmp_path / "p.fw"
    local.write_bytes(b"pattern")
    mpremote(board, "fs", "mkdir", "patterns")
    mpremote(board, "fs", "cp", str(local), ":patterns/")
    board.save()
    assert (flash / "patterns" / "p.fw").read_bytes() == b"pattern"
    assert "p.fw" in output(board, "fs", "ls", "patterns")
    mpremote(board, "fs", "rm", "patterns/p.fw")
    mpremote(board, "fs", "rmdir", "patterns")
    board.save()
    assert os.listdir(flash) == []


def test_fs_rm_of_a_missing_file_names_the_error(board):
    done = mpremote(board, "fs", "rm", "nothing.txt", check=False)
    assert done.returncode == 1
    assert "No such file or directory" in done.stderr.decode()


def test_soft_reset_clears_the_namespace_and_resume_keeps_it(board):
    output(board, "exec", "keep = 5")  # connecting soft-resets first; the value survives that
    assert output(board, "resume", "exec", "print(keep)") == "5\n"
    before = len(board.boots)
    mpremote(board, "soft-reset")
    assert board.boots[before:] == ["soft"]
    done = mpremote(board, "resume", "exec", "print(keep)", check=False)
    assert "NameError" in done.stdout.decode()


def test_reset_powers_a_fresh_vm_on(board):
    mpremote(board, "reset")  # machine.reset()
    assert output(board, "exec", "print('back')") == "back\n"
    assert "reset" in board.boots


def test_absolute_paths_are_the_flash_root(board, flash):
    mpremote(
        board,
        "exec",
        "with open('/lib.txt','w') as f:\n f.write('x')\nimport os\nos.mkdir('/lib')",
    )
    assert output(board, "exec", "import os\nprint(os.getcwd(), sorted(os.listdir('/')))") == (
        "/ ['lib', 'lib.txt']\n"
    )
    board.save()
    assert (flash / "lib.txt").read_text() == "x" and (flash / "lib").is_dir()


def test_nothing_outside_the_flash_folder_is_reached(flash, tmp_path):
    """The VM's files are its own (in memory): a symlink in the flash folder is not followed,
    and no path leads to the host's files."""
    (tmp_path / "secret.txt").write_text("secret")
    flash.mkdir()
    (flash / "inside.txt").write_text("inside")
    os.symlink(tmp_path / "secret.txt", flash / "link.txt")
    with VMBoard(flash) as board:
        for path in ("link.txt", "/../secret.txt", str(tmp_path / "secret.txt")):
            done = mpremote(board, "exec", "print(open(%r).read())" % path, check=False)
            assert done.returncode == 1 and b"OSError: [Errno 2] ENOENT" in done.stdout
        assert output(board, "exec", "print(open('inside.txt').read())") == "inside\n"
    assert (flash / "link.txt").is_symlink()  # not the board's: left alone


def test_df_reports_the_flash(board):
    lines = output(board, "df").splitlines()
    assert lines[0].split() == ["filesystem", "size", "used", "avail", "use%", "mounted", "on"]
    assert lines[1].split()[-5] == str(1408 * 1024) and lines[1].split()[-1] == "/"
