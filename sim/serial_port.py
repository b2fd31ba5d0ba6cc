"""The virtual board's USB console, opened by the real host tools exactly like a USB port.

Two transports with one interface:

- `PtyPort`: a pseudo-terminal; its `path` (e.g. /dev/pts/3) is what pyserial, mpremote and
  `facewave --port` open. The slave side is put in raw mode (no echo, no CR/LF translation) and
  made readable and writable by its owner only.
- `SocketPort`: a TCP listener on the loopback interface, opened as `socket://127.0.0.1:PORT`
  (pyserial's URL handler), for systems without ptys. One host at a time, like a serial port.

Both are driven from a single-threaded loop: `service()` does the non-blocking I/O,
`read_available()` returns the bytes the board has received, `write()` queues bytes for the
host, `wait(timeout)` sleeps until there is something to do, `fileno()` is the descriptor to
watch. A host may close the port and open it again: `connected` follows it, output written while
nobody listens is dropped (as a USB console does), and `connections` counts the hosts so far.

With `baud=N` both directions are throttled to a UART's line rate, 10 bits per byte (start,
8 data, stop), in the time of `clock` (seconds; the wall clock by default, the virtual clock in
the simulator): transfer times are then realistic, and computable with `line_time()`.

Neither direction grows with what the host does: the port holds at most RX_HELD bytes from the
host and TX_HELD for it (`dropped` counts what did not fit), so a flood of any length, or a host
that never reads, costs the board a few kilobytes, as on a board.
"""

import errno
import ipaddress
import os
import select
import socket
import time

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
# What the port holds for the board, each way, as a board's USB CDC buffers do (TinyUSB's
# FIFOs, a few hundred bytes): past RX_HELD the host's bytes wait in its own driver (its
# write blocks), past TX_HELD what the board writes while nobody reads is dropped.
RX_HELD = 256
TX_HELD = 4096
_HUP_POLL_S = 0.02  # how often a loop waiting on a closed pty looks for a host again


class PortError(Exception):
    """A port that cannot be created or opened; the message is one line for the user."""


def line_time(nbytes, baud):
    """Seconds that `nbytes` take on a UART line at `baud` (10 bits per byte)."""
    return nbytes * BITS_PER_BYTE / baud


class Line:
    """One direction of a serial line: bytes pushed at a time come out at the line rate.

    Without a baud rate bytes pass at once. With one, the k-th byte of a burst that starts at
    `start` is due at start + (k + 1) byte times; a burst starts when pushed or when the line
    finishes the previous one, whichever is later.
    """

    def __init__(self, baud=None):
        self.baud = baud
        self.free_at = None  # when the last byte pushed is through (None: never used)
        self._bursts = []  # [start time, bytes, count already taken]

    def push(self, data, now):
        if not data:
            return
        if self.baud is None:
            self._bursts.append([now, bytes(data), 0])
            return
        start = now if self.free_at is None or self.free_at < now else self.free_at
        self.free_at = start + line_time(len(data), self.baud)
        self._bursts.append([start, bytes(data), 0])

    def pop(self, now, limit=None):
        """The bytes that are through the line by `now` (at most `limit` of them)."""
        out = bytearray()
        while self._bursts and (limit is None or len(out) < limit):
            burst = self._bursts[0]
            start, data, taken = burst
            if self.baud is None:
                due = len(data)
            else:
                # a small tolerance so that a byte due exactly at `now` is not held back by
                # floating-point rounding of the byte time
                due = min(len(data), int((now - start) * self.baud / BITS_PER_BYTE + 1e-6))
            if limit is not None:
                due = min(due, taken + limit - len(out))
            if due > taken:
                out += data[taken:due]
                burst[2] = due
            if due < len(data):
                break
            self._bursts.pop(0)
        return bytes(out)

    def next_due(self):
        """When the next byte comes out of the line (None: nothing in it)."""
        if not self._bursts:
            return None
        start, _, taken = self._bursts[0]
        if self.baud is None:
            return start
        return start + line_time(taken + 1, self.baud)

    @property
    def backlog(self):
        """Bytes pushed and not yet taken out."""
        return sum(len(b[1]) - b[2] for b in self._bursts)

    def clear(self):
        self._bursts.clear()


class _Port:
    """The part shared by the pty and the socket: lines, throttling, connection state."""

    url = ""

    def __init__(self, baud=None, clock=time.monotonic):
        if baud is not None and baud <= 0:
            raise PortError("baud rate must be positive, not %r" % (baud,))
        self.baud = baud
        self.clock = clock
        self.connected = False
        self.connections = 0  # hosts that have opened the port so far
        self.rx = Line(baud)  # host -> board
        self.tx = Line(baud)  # board -> host
        self._out = bytearray()  # bytes through the tx line that the host has not taken yet
        self.dropped = 0  # bytes the board wrote that did not fit in TX_HELD
        self._closed = False
        # how much to take from the host at once when throttled: about 20 ms of line time, so
        # that arrival times stay close to the line rate and the host feels back-pressure
        self._rx_chunk = RX_HELD if baud is None else max(1, baud // BITS_PER_BYTE // 50)

    # -- the interface the board loop uses -------------------------------------------------

    def read_available(self, limit=None):
        """Bytes received from the host so far, at most `limit` (b"" when none); never
        blocks."""
        self.service()
        return self.rx.pop(self.clock(), limit)

    def write(self, data):
        """Queue bytes for the host; dropped when no host has the port open, or past
        TX_HELD while the host does not read."""
        self.service()
        if self.connected and data:
            room = max(0, TX_HELD - self.pending_output)
            self.dropped += max(0, len(data) - room)
            self.tx.push(data[:room], self.clock())
            self.service()

    def service(self):
        """Do the pending non-blocking I/O: connections, reading, writing due bytes."""
        if self._closed:
            return
        self._check_connection()
        if not self.connected:
            return
        now = self.clock()
        room = RX_HELD - self.rx.backlog
        if not self._rx_busy(now) and room > 0:
            data = self._read(min(self._rx_chunk, room))
            if data:
                self.rx.push(data, now)
        if self.connected:
            self._out += self.tx.pop(now)
            if self._out:
                self._flush()

    def next_deadline(self):
        """Clock time at which throttled bytes next come due (None: nothing waiting)."""
        times = [t for t in (self.rx.next_due(), self.tx.next_due()) if t is not None]
        if self.connected and self._rx_busy(self.clock()):
            times.append(self.rx.free_at)  # the line can take the host's next bytes then
        return min(times) if times else None

    @property
    def pending_output(self):
        """Bytes written by the board that have not reached the host yet."""
        return self.tx.backlog + len(self._out)

    def wait(self, timeout):
        """Sleep (wall clock) until the host sends something, or at most `timeout` seconds."""
        self.service()
        if self._closed:
            return
        deadline = self.next_deadline()
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - self.clock()))
        if not self.connected and self._hup_busy():
            time.sleep(min(timeout, _HUP_POLL_S))
            self.service()
            return
        # while the throttled line is busy the host's bytes wait in the kernel: sleep instead
        rfds = [] if self._rx_busy(self.clock()) else [self.fileno()]
        wfds = [self.fileno()] if self._out else []
        if rfds or wfds:
            select.select(rfds, wfds, [], timeout)
        else:
            time.sleep(timeout)
        self.service()

    def close(self):
        self._closed = True
        self.connected = False
        self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self.url)

    # -- hooks of the transports ----------------------------------------------------------

    def _rx_busy(self, now):
        return self.rx.free_at is not None and self.rx.free_at > now

    def _set_connected(self, connected):
        if connected and not self.connected:
            self.connections += 1
        if not connected:
            self.tx.clear()
            del self._out[:]
        self.connected = connected

    def _hup_busy(self):
        return False

    def fileno(self):
        """The descriptor select() waits on."""
        raise NotImplementedError

    def _check_connection(self):
        """Notice a host opening or closing the port (_set_connected)."""
        raise NotImplementedError

    def _read(self, n):
        """Up to n bytes from the host, b"" when none; never blocks."""
        raise NotImplementedError

    def _flush(self):
        """Send what of self._out the host takes now, removing it from self._out."""
        raise NotImplementedError

    def _close(self):
        raise NotImplementedError


def raw_pty():
    """(master fd, slave path) of a new pseudo-terminal in raw mode, readable and writable by
    its owner only, the master non-blocking. The slave is closed so that the master sees a
    hang-up while no host has it open; the pty lives on (with its raw settings) as long as the
    master is open."""
    if not hasattr(os, "openpty"):
        raise PortError("pseudo-terminals are not available here; use a socket:// port")
    import termios
    import tty

    try:
        master, slave = os.openpty()
    except OSError as e:
        raise PortError("cannot create a pseudo-terminal: %s" % e.strerror) from None
    try:
        path = os.ttyname(slave)
        tty.setraw(slave, termios.TCSANOW)
        os.fchmod(slave, 0o600)
    except OSError as e:
        os.close(master)
        raise PortError("cannot set up the pseudo-terminal: %s" % e.strerror) from None
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    return master, path


class PtyPort(_Port):
    """The console as a pseudo-terminal: `path` is what the host opens."""

    def __init__(self, baud=None, clock=time.monotonic):
        super().__init__(baud, clock)
        master, self.path = raw_pty()
        self._fd = master
        self._poll = select.poll()
        self._poll.register(master, select.POLLIN)
        self.url = self.path

    def fileno(self):
        return self._fd

    def _check_connection(self):
        hup = any(ev & select.POLLHUP for _, ev in self._poll.poll(0))
        if hup == self.connected:
            self._set_connected(not hup)

    def _hup_busy(self):
        return True  # a closed pty polls as always ready, so waiting must sleep instead

    def _read(self, n):
        try:
            return os.read(self._fd, n)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:  # the host closed the port
                self._set_connected(False)
                return b""
            raise

    def _flush(self):
        try:
            n = os.write(self._fd, self._out)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno == errno.EIO:
                self._set_connected(False)
                return
            raise
        del self._out[:n]

    def _close(self):
        if self._fd >= 0:
            self._poll.unregister(self._fd)
            os.close(self._fd)
            self._fd = -1


class SocketPort(_Port):
    """The console as a TCP port on the loopback interface: `url` is `socket://host:port`."""

    def __init__(self, port=0, host="127.0.0.1", baud=None, clock=time.monotonic):
        super().__init__(baud, clock)
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise PortError("the virtual port listens on loopback only, not on %s" % host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        # SO_REUSEADDR lets a restarted simulator take its port back from TIME_WAIT; on the
        # platforms we run on it still refuses a port that another program listens on.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
            listener.listen(1)
        except OSError as e:
            listener.close()
            if e.errno == errno.EADDRINUSE:
                raise PortError("port %d on %s is already in use" % (port, host)) from None
            raise PortError("cannot listen on %s:%d: %s" % (host, port, e.strerror)) from None
        listener.setblocking(False)
        self._listener = listener
        self._client = None
        self.host = host
        self.port = listener.getsockname()[1]
        self.url = "socket://%s:%d" % (
            "[%s]" % host if family == socket.AF_INET6 else host,
            self.port,
        )

    def fileno(self):
        return (self._client or self._listener).fileno()

    def _check_connection(self):
        try:
            conn, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        if self._client is not None:
            conn.close()  # busy, like a serial port another program has open
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = conn
        self._set_connected(True)

    def _drop_client(self):
        assert self._client is not None
        self._client.close()
        self._client = None
        self._set_connected(False)

    def _read(self, n):
        assert self._client is not None  # service() reads only while connected
        try:
            data = self._client.recv(n)
        except BlockingIOError:
            return b""
        except OSError:
            data = b""
        if not data:
            self._drop_client()
        return data

    def _flush(self):
        assert self._client is not None  # service() flushes only while connected
        try:
            n = self._client.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            self._drop_client()
            return
        del self._out[:n]

    def _close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        self._listener.close()


def open_port(spec=None, baud=None, clock=time.monotonic):
    """The port named by `spec`: None or "pty" for a pty, "socket" or "socket:PORT" for TCP."""
    if spec in (None, "pty"):
        return PtyPort(baud=baud, clock=clock)
    if spec == "socket" or spec.startswith("socket:"):
        number = spec.partition(":")[2].lstrip("/") or "0"
        host = "127.0.0.1"
        if number.count(":") == 1:  # socket://HOST:PORT
            host, number = number.split(":")
        try:
            port = int(number)
        except ValueError:
            raise PortError("bad port number %r in %r" % (number, spec)) from None
        if not 0 <= port < 65536:
            raise PortError("port number %d out of range 0..65535" % port)
        return SocketPort(port, host=host, baud=baud, clock=clock)
    raise PortError("unknown port kind %r (use pty or socket[:PORT])" % spec)
