"""The examples of README.md and docs/*.md, run as a reader would run them. Sybil (the root
conftest.py) finds every fenced block; the first word of its info string says how it runs:

- `fw`: a whole pattern file that `facewave check` accepts (saved as NAME.fw);
- `toml`: a scenario that `facewave sim run` passes (saved as NAME.toml);
- `KIND FILE` (`fw mine.fw`, `toml late.toml`): a file that the commands after it use, saved
  as FILE in the reader's folder;
- `sh`: each command line runs and exits 0;
- `console`: each `$ ` command runs and prints what the lines after it show (`…` stands for
  any text, a line of only `…` for any lines);
- `python`: runs as a script, or under pytest when it defines test functions;
- `yaml`: a CI workflow whose `run` steps run;
- `text`, `mermaid`: shown, not run (output, diagrams, layouts).

A block of any other kind, or of none, fails: nothing goes unrun by mistake. The examples of
one document share one reader's folder (a copy of docs/examples/) and the virtual boards its
commands talk to, each started when first needed: `facewave sim` for the device commands
($FACEWAVE_PORT), `facewave sim --vm` for `facewave flash` and mpremote."""

import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sybil import Region, Sybil
from sybil.integration.pytest import SybilItem
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

from device_kit import emulated_pico, facewave_sim, micropython_vm

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
RUN = ("sh", "console", "fw", "toml", "python", "yaml")
SHOWN = ("text", "mermaid")

# Ports that stand for the reader's board in a command: a named real port, the placeholder
PORTS = ("/dev/ttyACM0", "COM5", "PORT")

# Doc examples that wait for a behaviour being built (issue 14): {(document, text of the
# command or block): the feature}. Strict: once the feature works, the example passes and the
# mark fails, to be removed. None waits today.
PENDING = {}

_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&"}
_SESSION_OUTPUT = 30  # seconds a long-running command may take to print what the doc shows


def sybil(root=ROOT):
    """The Sybil of README.md and docs/*.md under `root`: one parser for every fenced block."""
    return Sybil(
        parsers=[Blocks()],
        patterns=["README.md", "docs/*.md"],
        path=str(root),
        setup=lambda namespace: namespace.update(reader=Reader(namespace)),
        teardown=lambda namespace: namespace.pop("reader").close(),
    )


def pending_marks(items):
    """Mark strict xfail the examples listed in PENDING."""
    for item in items:
        if not isinstance(item, SybilItem):
            continue
        example = item.example
        document = _name(example)
        text = example.document.text[example.start : example.end]
        for (doc, words), feature in PENDING.items():
            if doc == document and words in text:
                reason = "waits for issue 14: %s" % feature
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


# ---- finding the examples -------------------------------------------------------------------


class Blocks:
    """Every fenced block of a document, as the examples its kind makes (a line of `sh`, a
    command of `console`, a whole block otherwise); a file block is kept for the reader."""

    lexer = FencedCodeBlockLexer(language=r"[^\n]*")

    def __call__(self, document):
        for block in self.lexer(document):
            info = block.lexemes["language"].split()
            kind = info[0] if info else ""
            source = block.lexemes["source"]
            at = block.start + source.offset  # where the block's first line starts
            if len(info) == 2:
                document.namespace.setdefault("files", {})[info[1]] = str(source)
            elif kind == "sh":
                yield from _lines(at, source)
            elif kind == "console":
                yield from _session(at, source)
            elif kind in _BLOCKS and len(info) == 1:
                yield Region(block.start, block.end, str(source), _BLOCKS[kind])
            elif kind not in SHOWN or len(info) > 1:
                yield Region(block.start, block.end, block.lexemes["language"], _unknown)


def _lines(at, source):
    """A region per command of a shell block: a line, with the lines that its `\\` continues."""
    start = 0
    command = ""
    for line in source.splitlines(keepends=True):
        if not command:
            start = at
        at += len(line)
        command += line.rstrip("\n")
        if command.endswith("\\"):
            command = command[:-1] + " "
            continue
        if command.strip() and not command.lstrip().startswith("#"):
            yield Region(start, at - 1, ShellLine(command.strip()), ShellLine.evaluate)
        command = ""


def _session(at, source):
    """A region per `$ ` command of a console block, with the output shown after it."""
    lines = source.splitlines(keepends=True)
    commands = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    offsets = [at]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for n, i in enumerate(commands):
        end = commands[n + 1] if n + 1 < len(commands) else len(lines)
        shown = [line.rstrip("\n") for line in lines[i + 1 : end]]
        command = Command(lines[i][2:].strip(), shown, last=n + 1 == len(commands))
        yield Region(offsets[i], offsets[end] - 1, command, Command.evaluate)


# ---- the reader: a folder, the boards, running a command ------------------------------------


class Reader:
    """Someone trying one document's examples: a folder of their own that holds
    docs/examples/ and the document's file blocks, and the boards its commands talk to."""

    def __init__(self, namespace):
        self.root = Path(tempfile.mkdtemp(prefix="facewave-docs-"))
        self.folder = self.root / "reader"
        shutil.copytree(EXAMPLES, self.folder)
        for name, text in namespace.get("files", {}).items():
            (self.folder / name).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / name).write_text(text)
        # the reader's port and timeout are the docs' (where the VM and the Pico's UF2 are
        # found stays the machine's)
        env = {
            k: v for k, v in os.environ.items() if k not in ("FACEWAVE_PORT", "FACEWAVE_TIMEOUT")
        }
        # the Python that runs the tests, and its `facewave` and `mpremote`, come first
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.update(PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
        self.env = env
        self.boards = {}  # "sim" or "vm": (process, port)
        self.ports = {}  # a port a session shows: the one it is here (None: not started)
        self.session = []  # what a console session left running, stopped at its end

    def board(self, kind):
        """The port of this reader's `facewave sim` ("sim") or `facewave sim --vm` ("vm")."""
        if kind not in self.boards:
            if kind == "vm":
                micropython_vm()
            args = ("sim", "--vm") if kind == "vm" else ("sim",)
            (self.root / kind).mkdir()
            self.boards[kind] = facewave_sim(self.root / kind, *args)
        return self.boards[kind][1]

    def prepare(self, command):
        """(the command as it runs here, its environment, whether it runs until Ctrl-C);
        skips the test when the command cannot run on this machine."""
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            words = command.split()
        if _installs(words):
            line = re.sub(r"\s+#.*$", "", command)
            if line not in (ROOT / ".ci" / "run").read_text():
                raise AssertionError(
                    "`%s` installs packages: the docs' only such lines are the set-up lines"
                    " that CI runs as written (.ci/run)" % line
                )
            pytest.skip("a set-up line: CI runs it as written (.ci/run)")
        argv = []
        for word in words:
            if word in _OPERATORS:
                break
            argv.append(word)
        if "--rp2040" in argv:
            emulated_pico()
        env = dict(self.env)
        args = _parsed(argv)
        learned = [shown for shown in self.ports if shown in argv]
        for shown in learned:  # the board a session started
            if self.ports[shown] is None:
                pytest.skip("the board this command talks to did not start here")
            command = command.replace(shown, self.ports[shown])
        kind = None if learned else _board_kind(argv, args)
        if kind is not None:
            env["FACEWAVE_PORT"] = port = self.board(kind)
            for shown in PORTS:
                command = re.sub(r"(?<=\s)%s(?=\s|$)" % re.escape(shown), port, command)
        return command, env, _until_ctrl_c(args)

    def run(self, command):
        """Run a command line in the reader's folder: (exit status, what it printed). One that
        runs until Ctrl-C gets it once it has printed its first line, and has done well if it
        then stops without a traceback, as Ctrl-C stops it (exit 0, or 130: interrupted)."""
        command, env, until_ctrl_c = self.prepare(command)
        if not until_ctrl_c:
            return self.execute(command, env)
        proc, out = self.start(command, env, 1)
        ended = proc.poll() is not None
        code, out = self.stop(proc, out)
        if not ended:
            code = 0 if code in (0, 130) and "Traceback" not in out else code or 1
        return code, out

    def execute(self, command, env, timeout=300):
        """(exit status, what it printed) of a prepared command."""
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        return done.returncode, done.stdout

    def start(self, command, env, lines):
        """Start a command that runs until Ctrl-C; answer it and its first `lines` lines."""
        proc = subprocess.Popen(
            ["bash", "-c", "exec " + command],
            cwd=self.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out = b""
        deadline = time.monotonic() + _SESSION_OUTPUT
        while out.count(b"\n") < lines and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                break
            out += chunk
        return proc, out.decode(errors="replace")

    @staticmethod
    def stop(proc, out=""):
        """Ctrl-C, as the reader stops it: (exit status, everything it printed)."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        return proc.returncode, out + rest.decode(errors="replace")

    def end_session(self):
        """A console block's end: what it left running stops, and its ports are forgotten."""
        while self.session:
            self.stop(self.session.pop())
        self.ports.clear()

    def close(self):
        self.end_session()
        for proc, _ in self.boards.values():
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _parsed(argv):
    """The real CLI's reading of a `facewave` command line, or None."""
    if argv[:1] != ["facewave"]:
        return None
    from facewave.cli import build_parser

    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit:  # a usage error: the command itself says so when it runs
        return None


def _board_kind(argv, args):
    """Which board a command talks to: "vm" (MicroPython's REPL), "sim" (the firmware) or
    None."""
    from facewave import device_cmds, flash

    if argv[:1] == ["mpremote"]:
        return "vm"
    handler = getattr(args, "handler", None)
    if handler in flash.VERBS:
        return "vm"
    if handler in device_cmds.VERBS:
        return "sim"
    return None


def _until_ctrl_c(args):
    """Whether a command runs until Ctrl-C: a board, a tethered play, a watch without count."""
    if args is None:
        return False
    if args.command == "sim":
        return args.action is None and not args.scenario
    if args.command == "play":
        return args.tethered
    return args.command == "watch" and args.count is None


def _name(example):
    """The example's document as the repository names it (docs/simulator.md)."""
    return Path(os.path.relpath(example.path, ROOT)).as_posix()


def _installs(words):
    return "pip" in words and "install" in words


def _doc_lines(text, name, fence):
    """A block's file's `name:LINE` positions told as the document's too: the block's fence is
    on the document's line `fence`."""
    return re.sub(
        r"%s:(\d+)(?::\d+)?" % re.escape(name),
        lambda m: "%s (the document's line %d)" % (m.group(0), fence + int(m.group(1))),
        text,
    )


# ---- the kinds of examples ------------------------------------------------------------------


class ShellLine(str):
    """A command of an `sh` block: it runs in the reader's folder and exits 0."""

    @staticmethod
    def evaluate(example):
        reader = example.namespace["reader"]
        code, out = reader.run(example.parsed)
        if code != 0:
            return "`%s` exited %d:\n%s" % (example.parsed, code, out)
        return None


class Command:
    """A `$ ` command of a console block and the lines the document shows it printing."""

    def __init__(self, command, shown, last):
        self.command = command
        self.shown = shown
        self.last = last

    @staticmethod
    def evaluate(example):
        step = example.parsed
        reader = example.namespace["reader"]
        try:
            return step.run(reader)
        finally:
            if step.last:
                reader.end_session()

    def run(self, reader):
        try:
            command, env, until_ctrl_c = reader.prepare(self.command)
        except pytest.skip.Exception:
            self.learn_ports(reader, None)
            raise
        if until_ctrl_c:  # it serves the commands after it: stopped at the session's end
            proc, out = reader.start(command, env, max(1, len(self.shown)))
            reader.session.append(proc)
            self.learn_ports(reader, out)
        else:
            _, out = reader.execute(command, env)
        for shown, port in reader.ports.items():
            if port:
                out = out.replace(port, shown)
        printed = [line.rstrip() for line in out.replace("\r\n", "\n").splitlines()]
        while printed and not printed[-1]:
            printed.pop()
        shown = [line.rstrip() for line in self.shown]
        if _shows(shown, printed):
            return None
        return "`%s` printed:\n%s\n\nwhere the document shows:\n%s" % (
            self.command,
            "\n".join(printed),
            "\n".join(shown),
        )

    def learn_ports(self, reader, out):
        """A board a session starts prints its port: later commands use it for the one the
        document shows (None: the board did not start)."""
        found = re.search(r" on (\S+)$", out or "", re.MULTILINE)
        for line in self.shown:
            m = re.search(r" on (\S+)$", line)
            if m:
                reader.ports[m.group(1)] = found.group(1) if found else None


def _shows(shown, printed):
    """Whether the lines printed are the ones the document shows, where `…` in a line stands
    for any text, and a line of only `…` for any lines."""
    pattern = "".join(
        r"(?:.*\n)*" if line == "…" else ".*".join(map(re.escape, line.split("…"))) + r"\n"
        for line in shown
    )
    return re.fullmatch(pattern, "".join(line + "\n" for line in printed)) is not None


def _pattern(example):
    """A pattern block: saved as NAME.fw in the reader's folder, and `facewave check`
    accepts it."""
    reader = example.namespace["reader"]
    m = re.match(r"pattern\s+(\S+)", example.parsed)
    if not m:
        return 'a pattern block is a whole file: its first line is `pattern NAME "..."`'
    name = m.group(1) + ".fw"
    (reader.folder / name).write_text(example.parsed)
    code, out = reader.run("facewave check " + name)
    if code != 0:
        return "`facewave check` refuses it:\n" + _doc_lines(out, name, example.line)
    return None


def _scenario(example):
    """A scenario block: saved as NAME.toml, and `facewave sim run` passes it."""
    from facewave.scenarios import spec

    reader = example.namespace["reader"]
    name = spec.parse(example.parsed).name + ".toml"
    (reader.folder / name).write_text(example.parsed)
    code, out = reader.run("facewave sim run " + name)
    if code != 0:
        return "`facewave sim run` fails it:\n" + _doc_lines(out, name, example.line)
    return None


def _python(example):
    """A Python block runs in the reader's folder, as written: a script, or a test file under
    pytest when it defines test functions. Its lines are the document's lines."""
    reader = example.namespace["reader"]
    source = "\n" * example.line + example.parsed  # the block's lines are the document's
    document = _name(example)
    if "Rp2040Board" in source:
        emulated_pico()
    if "VMBoard" in source:
        micropython_vm()
    if re.search(r"^def test_", source, re.MULTILINE):
        test = reader.folder / ("test_%s_%d.py" % (Path(document).stem, example.line))
        test.write_text(source)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test.name]
        script = None
    else:
        runner = "import sys; exec(compile(sys.stdin.read(), sys.argv[1], 'exec'), {})"
        command = [sys.executable, "-c", runner, document]
        script = source
    done = subprocess.run(
        command,
        input=script,
        cwd=reader.folder,
        env=reader.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        return "it fails (%d):\n%s%s" % (done.returncode, done.stdout, done.stderr)
    return None


def _workflow(example):
    """A CI workflow: each `run` step of each job runs in the reader's folder, which stands
    for the checkout; the folder already is what the `uses` steps (checkout, Python) and an
    install step make, in the Python that runs the tests."""
    import yaml

    reader = example.namespace["reader"]
    workflow = yaml.safe_load(example.parsed)
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" in step and not _installs(step["run"].split()):
                code, out = reader.run(step["run"])
                if code != 0:
                    return "the step `%s` exited %d:\n%s" % (step["run"], code, out)
    return None


def _unknown(example):
    return "a code block says what it is: ```%s (run), or %s (shown); this one says %r" % (
        ", ".join(RUN),
        ", ".join(SHOWN),
        example.parsed,
    )


_BLOCKS = {"fw": _pattern, "toml": _scenario, "python": _python, "yaml": _workflow}
