"""The protocol in virtual time: the real device core (device.Device behind
protocol.Protocol) at the far end of a pyserial-like wire whose bytes take the time a
115200-baud line gives them, with faults to inject, and a host Link on it."""

import random

from facewave.firmware import boards
from facewave.firmware import bytecode as bc
from facewave.firmware.boards import pico
from facewave.firmware.device import Device
from facewave.firmware.protocol import Protocol
from facewave.firmware.settings import Settings
from facewave.firmware.store import Store
from facewave.link import Link

BAUD = 115200


def hold_program(count=1, name="p", ms=500, pad=0):
    """A program of `count` holds (alternating on and off) and `pad` bytes of zone names."""
    insns = [bc.pack_insn(bc.OP_HOLD, a=300 if i % 2 == 0 else 0, t=ms) for i in range(count)]
    strings = [name, "test pattern"]
    while pad > 0:
        strings.append("z" * min(pad, 255))
        pad -= 256
    return bc.pack(insns, strings)


def make_device(tmp_path, **store_args):
    """The real device core on a Pico profile, its patterns in a directory."""
    prof = boards.profile(dict(pico.PROFILE, name="test-board"))
    store = Store(str(tmp_path / "patterns"), **store_args)
    settings = Settings(
        str(tmp_path / "settings.json"),
        session_ms=prof.session_default_ms,
        cue_ms=prof.session_cue_ms,
    )
    device = Device(prof, store, settings)
    device.boot(0)
    return Protocol(device, store, prof)


def started(proto):
    """Names of the patterns the device has started, from its log."""
    return [e[3] for e in proto.device.log.entries() if e[2] == "start"]


class VirtualWire:
    """A pyserial-like host end of a serial line to a Protocol, in virtual time.

    Both directions carry 10 bits per byte at `baud`. Faults apply per byte (drop, duplicate,
    flip) and per write (a stall of the line); the device answers `device_ms` after a frame
    ends, as a board busy writing flash would. `cut_after` bytes from the host, the cable goes.
    """

    def __init__(
        self,
        proto,
        baud=BAUD,
        seed=0,
        drop=0.0,
        dup=0.0,
        flip=0.0,
        stall=0.0,
        device_ms=2,
        cut_after=None,
    ):
        self.proto = proto
        self.byte_time = 10.0 / baud
        self.rng = random.Random(seed)
        self.drop, self.dup, self.flip, self.stall = drop, dup, flip, stall
        self.device_ms = device_ms
        self.cut_after = cut_after
        self.t = 0.0
        self.timeout = 0.5
        self.queues = ([], [])  # host->device, device->host: [arrival time, bytes]
        self.free = [0.0, 0.0]
        self.rx = bytearray()
        self.sent = [0, 0]  # bytes put on each line
        self.repl_requests = 0
        self.port = "virtual"

    def clock(self):
        return self.t

    def _faulty(self, data):
        if not (self.drop or self.dup or self.flip):
            return data
        out = bytearray()
        rng = self.rng
        for b in data:
            r = rng.random()
            if r < self.drop:
                continue
            if r < self.drop + self.flip:
                b ^= rng.randrange(1, 256)
            out.append(b)
            if rng.random() < self.dup:
                out.append(b)
        return bytes(out)

    def _push(self, way, data, now):
        if way == 0 and self.cut_after is not None:
            data = data[: max(0, self.cut_after - self.sent[0])]
        data = self._faulty(data)
        self.sent[way] += len(data)
        start = max(now, self.free[way])
        if self.stall and self.rng.random() < self.stall:
            start += self.rng.uniform(0.01, 0.3)
        for i in range(0, len(data), 64):  # the device sees a frame arrive piece by piece
            piece = data[i : i + 64]
            start += len(piece) * self.byte_time
            self.queues[way].append([start, piece])
        self.free[way] = max(self.free[way], start)

    def write(self, data):
        self._push(0, bytes(data), self.t)
        return len(data)

    def _step(self, until):
        """Run the earliest event due by `until`; False when there is none."""
        h2d, d2h = self.queues
        tick = self.proto.next / 1000.0 if self.proto.next >= 0 else None
        times = [q[0][0] for q in self.queues if q]
        if tick is not None:
            times.append(tick)
        if not times or min(times) > until:
            return False
        self.t = max(self.t, min(times))
        now = int(self.t * 1000)
        if h2d and h2d[0][0] <= self.t:
            out = self.proto.feed(now, h2d.pop(0)[1])
            if self.proto.repl:  # line noise looked like Ctrl-C: count it, carry on
                self.proto.repl = False
                self.repl_requests += 1
            if out:
                self._push(1, out, self.t + self.device_ms / 1000.0)
        elif d2h and d2h[0][0] <= self.t:
            self.rx += d2h.pop(0)[1]
        else:
            self.proto.tick(now)
        return True

    def advance(self, seconds):
        until = self.t + seconds
        while self._step(until):
            pass
        self.t = until

    @property
    def in_waiting(self):
        while self._step(self.t):
            pass
        return len(self.rx)

    def read(self, n=1):
        deadline = self.t + (self.timeout or 0)
        while not self.rx and self._step(deadline):
            pass
        if not self.rx:
            self.t = max(self.t, deadline)
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out

    def close(self):
        pass


def connect(proto, **wire_args):
    wire = VirtualWire(proto, **wire_args)
    link = Link(wire, name="virtual", clock=wire.clock)
    link.handshake()
    return wire, link
