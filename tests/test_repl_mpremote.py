"""The real mpremote CLI against the virtual board's REPL, and the REPL's wire format itself."""

import hashlib
import os
import subprocess
import sys
import threading

import pytest
from device_kit import LoopPort
from facewave.sim.repl import BANNER, RAW, ConsoleThread, ReplConsole
from facewave.sim.serial_port import PtyPort, SocketPort

# mpremote waits 10 s (or forever, on a pty) for an answer that never comes: fail sooner
MPREMOTE_TIMEOUT_S = 8


class Board:
    """A port, a REPL console on it and the thread that runs them; counts resets."""

    def __init__(self, flash, port):
        self.flash = flash
        self.port = port
        self.soft_resets = 0
        self.hard_reset = threading.Event()
        self.console = ReplConsole(port, flash, on_soft_reset=self._soft, on_reset=self._hard)
        self.thread = ConsoleThread(self.console)

    def _soft(self, run_main):
        self.soft_resets += 1
        return False

    def _hard(self):
        self.hard_reset.set()
        self.console.start()

    def mpremote(self, *args, check=True):
        """Run the mpremote CLI on this board's port; returns the completed process."""
        done = subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", self.port.url, *args],
            capture_output=True, timeout=MPREMOTE_TIMEOUT_S, check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError("mpremote %s failed: %s %s" % (
                " ".join(args), done.stdout.decode(errors="replace"),
                done.stderr.decode(errors="replace")))
        return done

    def output(self, *args):
        return self.mpremote(*args).stdout.decode().replace("\r\n", "\n")


@pytest.fixture
def flash(tmp_path):
    path = tmp_path / "flash"
    path.mkdir()
    return path


@pytest.fixture
def board(flash):
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals")
    with PtyPort() as port:
        b = Board(flash, port)
        with b.thread:
            yield b
        assert b.thread.error is None


def test_exec_prints_the_result(board):
    assert board.output("exec", "print(1+1)") == "2\n"


def test_exec_over_a_socket_url(flash):
    with SocketPort() as port:
        b = Board(flash, port)
        with b.thread:
            assert b.output("exec", "print(6*7)") == "42\n"


def test_exec_error_prints_the_board_traceback_and_fails(board):
    done = board.mpremote("exec", "x = 1\n1/0", check=False)
    assert done.returncode == 1
    assert done.stdout.decode().replace("\r\n", "\n") == (
        "Traceback (most recent call last):\n"
        '  File "<stdin>", line 2, in <module>\n'
        "ZeroDivisionError: division by zero\n")


def test_fs_cp_round_trips_binary_and_ls_lists_it(board, flash, tmp_path):
    data = os.urandom(5 * 1024)
    local = tmp_path / "pattern.bin"
    local.write_bytes(data)
    board.mpremote("fs", "cp", str(local), ":pattern.bin")
    assert (flash / "pattern.bin").read_bytes() == data
    listing = board.output("fs", "ls")
    assert "        5120 pattern.bin\n" in listing
    back = tmp_path / "back.bin"
    board.mpremote("fs", "cp", ":pattern.bin", str(back))
    assert back.read_bytes() == data


def test_fs_cp_skips_an_identical_file_by_sha256_unless_forced(board, flash, tmp_path):
    local = tmp_path / "a.txt"
    local.write_bytes(b"same bytes\n")
    board.mpremote("fs", "cp", str(local), ":a.txt")
    assert "Up to date: a.txt" in board.output("fs", "cp", str(local), ":a.txt")
    assert "Up to date" not in board.output("fs", "cp", "-f", str(local), ":a.txt")
    digest = hashlib.sha256(b"same bytes\n").hexdigest()
    assert board.output("fs", "sha256sum", "a.txt").split()[-1] == digest


def test_fs_mkdir_cp_into_it_rm_and_rmdir(board, flash, tmp_path):
    local = tmp_path / "p.fw"
    local.write_bytes(b"pattern")
    board.mpremote("fs", "mkdir", "patterns")
    board.mpremote("fs", "cp", str(local), ":patterns/")
    assert (flash / "patterns" / "p.fw").read_bytes() == b"pattern"
    assert "p.fw" in board.output("fs", "ls", "patterns")
    board.mpremote("fs", "rm", "patterns/p.fw")
    board.mpremote("fs", "rmdir", "patterns")
    assert os.listdir(flash) == []


def test_fs_rm_of_a_missing_file_names_the_error(board):
    done = board.mpremote("fs", "rm", "nothing.txt", check=False)
    assert done.returncode == 1
    assert "No such file or directory" in done.stderr.decode()


def test_soft_reset_clears_the_namespace_and_resume_keeps_it(board):
    board.output("exec", "keep = 5")  # connecting soft-resets first; the value survives that
    assert board.output("resume", "exec", "print(keep)") == "5\n"
    before = board.soft_resets
    board.mpremote("soft-reset")
    assert board.soft_resets == before + 1
    done = board.mpremote("resume", "exec", "print(keep)", check=False)
    assert "NameError" in done.stdout.decode()


def test_reset_calls_the_board(board):
    board.mpremote("reset")
    assert board.hard_reset.wait(5)
    assert board.output("exec", "print('back')") == "back\n"


def test_ctrl_c_from_the_next_command_stops_a_running_loop(board):
    board.mpremote("exec", "--no-follow", "while True:\n pass")
    assert board.output("exec", "print('interrupted')") == "interrupted\n"


@pytest.mark.parametrize("code", [
    "open('/../../etc/passwd')",
    "open('../../../../etc/passwd')",
    "import os\nos.chdir('/')\nos.chdir('..')",
    "import os\nos.listdir('/..')",
    "open('../outside.txt', 'w')",
    "import os\nos.rename('inside.txt', '/../outside.txt')",
    "import io\nio.open('/../secret.txt')",
])
def test_code_cannot_reach_outside_the_flash(board, flash, tmp_path, code):
    (tmp_path / "secret.txt").write_text("secret")
    (flash / "inside.txt").write_text("inside")
    done = board.mpremote("exec", code, check=False)
    assert done.returncode == 1
    assert "OSError: [Errno 2] ENOENT" in done.stdout.decode()
    assert not (tmp_path / "outside.txt").exists()
    assert (flash / "inside.txt").read_text() == "inside"


def test_a_symlink_out_of_the_flash_is_refused(board, flash, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", flash / "link.txt")
    done = board.mpremote("exec", "print(open('link.txt').read())", check=False)
    assert done.returncode == 1
    assert "OSError: [Errno 13] EACCES" in done.stdout.decode()


def test_absolute_paths_are_the_flash_root(board, flash):
    board.mpremote("exec", "with open('/lib.txt','w') as f:\n f.write('x')\n"
                   "import os\nos.mkdir('/lib')")
    assert (flash / "lib.txt").read_text() == "x" and (flash / "lib").is_dir()
    assert board.output("exec", "import os\nprint(os.getcwd(), sorted(os.listdir('/')))") == (
        "/ ['lib', 'lib.txt']\n")


def test_df_reports_the_flash(board):
    lines = board.output("df").splitlines()
    assert lines[0].split() == ["filesystem", "size", "used", "avail", "use%", "mounted", "on"]
    assert lines[1].split()[0] == "<VfsLfs2>" and lines[1].split()[-1] == "/"


# -- the wire format, byte for byte (a loopback port, no tool) ----------------------------


@pytest.fixture
def loop(flash):
    port = LoopPort()
    console = ReplConsole(port, flash)
    console.start()
    port.take()
    return port, console


def test_raw_repl_exchange_is_byte_exact(loop):
    port, console = loop
    console.feed(b"\r\x03\r\x01")
    assert port.take().endswith(b"\r\nraw REPL; CTRL-B to exit\r\n>")
    console.feed(b"print('a')\nprint('b')\x04")
    assert port.take() == b"OKa\r\nb\r\n\x04\x04>"
    console.feed(b"import nothing\x04")
    assert port.take() == (b"OK\x04Traceback (most recent call last):\r\n"
                           b'  File "<stdin>", line 1, in <module>\r\n'
                           b"ImportError: no module named 'nothing'\r\n\x04>")
    console.feed(b"\x04")
    assert port.take() == b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
    console.feed(b"\r\x02")
    assert port.take().startswith(b"\r\nMicroPython v1.29.0 on ")


def test_raw_paste_flow_control(loop):
    port, console = loop
    console.feed(b"\x01")
    port.take()
    console.feed(b"\x05A\x01")
    assert port.take() == b"R\x01\x80\x00\x01"  # window 128, and a second window free
    code = b"x = '" + b"y" * 300 + b"'\nprint(len(x))"
    console.feed(code[:128])
    assert port.take() == b"\x01"
    console.feed(code[128:256])
    assert port.take() == b"\x01"
    console.feed(code[256:] + b"\x04")
    assert port.take() == b"\x04300\r\n\x04\x04>"


def test_unknown_raw_paste_command_is_refused(loop):
    port, console = loop
    console.feed(b"\x01")
    port.take()
    console.feed(b"\x05B\x01")
    assert port.take() == b"R\x00"


def test_friendly_repl_echoes_continues_blocks_and_pastes(loop):
    port, console = loop
    console.feed(b"for i in range(2):\r")
    assert port.take() == b"for i in range(2):\r\n... "
    console.feed(b" print(i)\r\r")
    assert port.take() == b" print(i)\r\n... \r\n0\r\n1\r\n>>> "
    console.feed(b"\x05")
    assert port.take() == b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
    console.feed(b"a = 2\rprint(a)\x04")
    assert port.take() == b"a = 2\r\n=== print(a)\r\n2\r\n>>> "
    console.feed(b"\x03")
    assert port.take() == b"\r\n>>> "


def test_board_can_take_the_console_back_at_soft_reset(flash):
    port = LoopPort()
    runs = []
    console = ReplConsole(port, flash,
                          on_soft_reset=lambda run_main: runs.append(run_main) or True)
    console.start()
    port.take()
    console.feed(b"\x04for the firmware")  # Ctrl-D at >>>: soft reset, main.py takes over
    assert runs == [True]
    assert port.take() == b"\r\nMPY: soft reboot\r\n"
    assert not console.active
    assert console.take_pending() == b"for the firmware"
    console.start(RAW)
    assert port.take() == b"raw REPL; CTRL-B to exit\r\n>"


def test_machine_reset_without_a_board_restarts_the_repl(loop):
    port, console = loop
    console.feed(b"\x01")
    port.take()
    console.feed(b"x = 1\nimport machine\nmachine.reset()\x04")
    assert port.take() == b"OK" + BANNER + b">>> "  # no end markers: the board went away
    console.feed(b"\x01x\x04")
    assert b"NameError" in port.take()
