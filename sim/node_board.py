"""A board that Node.js runs (the emulated Pico, sim/rp2040.py; the VM board, sim/vm_board.py):
the child process driven over JSON lines, one object a line each way, and the thread that
relays its events and the board's console.

A subclass names its error class (`error`, raised with one-line messages) and what it is
(`what`, for them), and gives the four hooks at the end. Commands go through a writer thread,
so that no caller, and not the relay (the only reader of the child's events), ever blocks on a
full pipe. A child that is left running at exit, or when SIGTERM comes, is stopped.
"""

import atexit
import json
import os
import queue
import select
import signal
import subprocess
import threading
import time

_open_boards = set()
_lock = threading.Lock()
_sigterm_hooked = False


def _close_all():
    for board in list(_open_boards):
        board.close()


def _on_sigterm(signum, frame):
    """SIGTERM with nobody else handling it: stop the boards (their flash is saved, their ports
    go), then die of the signal as the process would have."""
    _close_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _track(board):
    global _sigterm_hooked
    with _lock:
        _open_boards.add(board)
        if not _sigterm_hooked:
            _sigterm_hooked = True
            atexit.register(_close_all)
            if (
                threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
            ):
                signal.signal(signal.SIGTERM, _on_sigterm)


class NodeBoard:
    error = RuntimeError
    what = "the board"

    def __init__(self):
        self._proc = None
        self._lines = queue.Queue()  # command lines for the child's stdin
        self._cond = threading.Condition()
        self._replies = {}
        self._next_id = 0
        self._stderr = []
        self._threads = []
        self._stop = False
        self._closed = False
        self._exit_error = None

    def _spawn(self, argv):
        """Start the child and the threads that serve it."""
        _track(self)
        # a session of its own: Ctrl-C at a terminal reaches us, and we stop the child
        self._proc = proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for target, pipe in (
            (self._pump, proc.stdout),
            (self._write_stdin, proc.stdin),
            (self._read_stderr, proc.stderr),
        ):
            t = threading.Thread(
                target=target, args=(proc, pipe), daemon=True, name="node-" + target.__name__
            )
            t.start()
            self._threads.append(t)

    def close(self):
        """Stop the child (it saves the flash first), free the console. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        _open_boards.discard(self)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._lines.put(b'{"c":"quit"}\n')
            self._lines.put(None)  # then the end of its stdin
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._stop = True
        self._lines.put(None)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5)
        if proc is not None:
            for f in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    if f is not None:
                        f.close()
                except (OSError, ValueError):
                    pass
        self._release()
        with self._cond:
            self._cond.notify_all()

    @property
    def failure(self):
        """Why the child stopped by itself (a one-line message), or None."""
        return self._exit_error

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None and not self._closed

    def _wait(self, cond, timeout, what):
        """Under self._cond: until cond(), or raise self.error(what) after `timeout` s."""
        deadline = time.monotonic() + timeout
        while not cond():
            if self._exit_error or self._closed:
                raise self.error(self._exit_error or "%s is closed" % self.what)
            left = deadline - time.monotonic()
            if left <= 0:
                raise self.error(what)
            self._cond.wait(min(left, 0.5))

    # -- the control channel ---------------------------------------------------------------

    def _send(self, msg):
        """Queue a command for the writer thread."""
        self._check_alive()
        self._lines.put((json.dumps(msg, separators=(",", ":")) + "\n").encode())

    def _write_stdin(self, proc, stdin):
        try:
            while True:
                line = self._lines.get()
                if line is None:
                    break
                stdin.write(line)
                stdin.flush()
        except (OSError, ValueError):
            pass  # the child has gone; the relay reports why
        finally:
            try:
                stdin.close()
            except (OSError, ValueError):
                pass

    def _request(self, msg, timeout):
        """Send `msg` with a new id; answer the event the child answers it with."""
        with self._cond:
            self._next_id += 1
            rid = msg["id"] = self._next_id
        self._send(msg)
        with self._cond:
            self._wait(
                lambda: rid in self._replies,
                timeout,
                "%s did not answer within %.0f s" % (self.what, timeout),
            )
            return self._replies.pop(rid)

    def _check_alive(self):
        if self._proc is None:
            raise self.error("%s is not started" % self.what)
        if self._exit_error:
            raise self.error(self._exit_error)
        if self._closed:
            raise self.error("%s is closed" % self.what)

    # -- the relay -------------------------------------------------------------------------

    def _pump(self, proc, stdout):
        """Relay thread: the child's events, and the console's bytes both ways."""
        out = stdout.fileno()
        os.set_blocking(out, False)
        pending = b""
        try:
            while not self._stop:
                poller = select.poll()
                poller.register(out, select.POLLIN)
                events = dict(poller.poll(self._watch(poller)))
                if out in events:
                    try:
                        chunk = os.read(out, 1 << 16)
                    except BlockingIOError:
                        chunk = None
                    if chunk == b"":
                        break  # the child has exited
                    if chunk:
                        pending += chunk
                        *lines, pending = pending.split(b"\n")
                        for line in lines:
                            try:
                                event = json.loads(line) if line.strip() else None
                            except ValueError:
                                event = None  # not ours (a library printing): not an event
                            if isinstance(event, dict):
                                self._event(event)
                self._serve(events)
        except Exception as e:  # noqa: BLE001  a failure here must not hang the callers
            self._exit_error = "the relay failed: %s" % e
        finally:
            self._finish(proc)

    def _finish(self, proc):
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        for t in self._threads:
            if t.name == "node-_read_stderr":
                t.join(timeout=2)  # its last lines: why the child stopped
        with self._cond:
            if not self._closed and not self._exit_error:
                why = next((ln.strip() for ln in self._stderr if ln.strip()), "")
                self._exit_error = why or "%s exited (code %s)" % (self.what, rc)
            self._cond.notify_all()

    def _read_stderr(self, proc, stderr):
        for raw in stderr:
            self._stderr.append(raw.decode("utf-8", "replace").rstrip("\n"))
            del self._stderr[:-50]

    # -- what a subclass gives -------------------------------------------------------------

    def _event(self, msg):
        """One event from the child."""
        raise NotImplementedError

    def _watch(self, poller):
        """Register the console's descriptors with `poller`; answer how long the relay may
        wait for them, ms."""
        raise NotImplementedError

    def _serve(self, events):
        """Move the console's bytes, once the poll has answered `events` ({fd: mask})."""
        raise NotImplementedError

    def _release(self):
        """Free the console, at close."""
        raise NotImplementedError
