"""The serial protocol under hostile and careless input: noise, damaged and truncated frames,
valid frames with hostile payloads, a device filled to its quota, a second program on the line,
floods, and a board left at the MicroPython prompt.

Every input gets exactly one answer (ACK or ERROR for a request, at most NAKs for noise), the
device never goes to its error state, nothing stored is lost, and the next good frame gets its
reply. The REPL hand-over bytes (0x01, 0x03 between frames) are a command, not noise: the noise
strategies leave them out, and tests/test_protocol.py covers the hand-over.
"""

import json
import os
import struct

import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_kit import stored
from facewave.firmware import bytecode as bc
from facewave.firmware import frame, log
from facewave.firmware import messages as m
from facewave.firmware.device import RUNNING, STATES
from facewave.link import Link, LinkError, Refused
from facewave.sim import hardware, serial_port
from facewave.sim.virtual_board import SimSerial, VirtualBoard
from test_device_cli import FAST, one_line_error, run, run_json
from virtual_wire import connect, hold_program, make_device

KEPT = "kept-pattern-with-a-long-name-32"  # stored before the hostile input, and still after
SEQ = 0x5A  # the good frame sent after each hostile input
HOSTILE = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def frames(data):
    """The frames in `data`: [(type, seq, payload)]."""
    dec = frame.Decoder()
    out = []
    pos = 0
    while pos < len(data):
        pos = dec.feed(data, pos)
        if dec.event == frame.FRAME:
            out.append((dec.type, dec.seq, bytes(dec.payload())))
    return out


class Device:
    """The real protocol and device core, with KEPT stored, fed as the board shell feeds it."""

    def __init__(self, tmp_path):
        self.proto = make_device(tmp_path)
        _, link = connect(self.proto)
        link.upload(KEPT, hold_program(name=KEPT))
        self.kept = stored(self.proto.store, KEPT)
        self.now = 1000

    def feed(self, data):
        self.now += 10
        out = self.proto.feed(self.now, data)
        if self.proto.repl:  # only bytes that hand over may do so (see the module's docstring)
            assert b"\x03" in data or b"\x01" in data
            self.proto.repl = False
        return frames(out)

    def check(self):
        """Not in the error state, KEPT intact, and a good frame answered."""
        assert STATES[self.proto.device.state] != "error"
        replies = self.feed(b"\r" + frame.encode(m.STATUS, SEQ))
        assert replies and replies[-1][:2] == (m.ACK, SEQ)
        assert all(r[0] == m.NAK for r in replies[:-1])
        assert m.unpack_json(replies[-1][2])["state"] != "error"
        assert stored(self.proto.store, KEPT) == self.kept


@pytest.fixture
def device(tmp_path):
    return Device(tmp_path)


# ---- strategies ----------------------------------------------------------------------------

REQUESTS = [
    m.HELLO,
    m.INFO,
    m.LIST,
    m.UPLOAD_BEGIN,
    m.UPLOAD_CHUNK,
    m.UPLOAD_COMMIT,
    m.UPLOAD_STATUS,
    m.DELETE,
    m.PLAY,
    m.STOP,
    m.PAUSE,
    m.RESUME,
    m.STATUS,
    m.SET,
    m.LOG,
    m.HEARTBEAT,
]
u32 = st.integers(0, 2**32 - 1)
names = st.one_of(
    st.binary(max_size=40),  # not UTF-8, empty, too long
    st.text(max_size=40).map(lambda s: s.encode("utf-8")),
    st.just(KEPT.encode() + b"\xff"),
)
# numbers as SET may meet them: ASCII, too big, empty, spaced, and digits that are not ASCII
# (Arabic-Indic and fullwidth four, a superscript two)
digits = st.sampled_from(
    ["4", "-1", "99999999999999999999", "", "\u0664", "\uff14", "\u00b2", " 4", "0x4"]
)


@st.composite
def payloads(draw, mtype):
    """A payload for `mtype`: a hostile one of its own layout, or any bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=frame.MAX_PAYLOAD))  # wrong lengths, any content
    if mtype in (m.HELLO, m.LIST):
        return draw(st.binary(max_size=4))  # a u16, or too short or too long
    if mtype in (m.LOG, m.HEARTBEAT):
        return draw(st.one_of(u32.map(m.pack_u32), st.binary(max_size=6)))
    if mtype == m.UPLOAD_BEGIN:
        return (
            struct.pack("<I", draw(u32)) + draw(st.binary(min_size=32, max_size=32)) + draw(names)
        )
    if mtype == m.UPLOAD_CHUNK:
        return m.pack_u32(draw(u32)) + draw(st.binary(max_size=64))
    if mtype == m.DELETE:
        return draw(names)
    if mtype == m.PLAY:
        return bytes([draw(st.integers(0, 255))]) + m.pack_u32(draw(u32)) + draw(names)
    if mtype == m.SET:
        key = draw(st.sampled_from(["intensity", "session_ms", "cue_ms", "routine", "x" * 900]))
        return ("%s=%s" % (key, draw(st.one_of(digits, st.text(max_size=40))))).encode()
    return draw(st.binary(max_size=8))  # the empty requests, given something


@st.composite
def requests(draw):
    mtype = draw(st.one_of(st.sampled_from(REQUESTS), st.integers(0, 255)))
    return mtype, draw(payloads(mtype))


noise = st.binary(min_size=1, max_size=4096).map(
    lambda b: b.replace(b"\x01", b"\x00").replace(b"\x03", b"\x00")
)


# ---- hostile frames, one at a time ------------------------------------------------------------


@HOSTILE
@given(req=requests(), seq=st.integers(0, 255))
def test_a_valid_frame_with_a_hostile_payload_gets_one_answer(device, req, seq):
    mtype, payload = req
    replies = device.feed(b"\r" + frame.encode(mtype, seq, payload))
    assert len(replies) == 1
    rtype, rseq, rpayload = replies[0]
    assert rseq == seq and rtype in (m.ACK, m.ERROR)
    if rtype == m.ERROR:
        code, text = m.unpack_error(rpayload)
        assert code != m.E_INTERNAL and text and "\n" not in text
    device.check()


@HOSTILE
@given(data=noise)
def test_noise_gets_at_most_naks(device, data):
    assert all(r[0] == m.NAK for r in device.feed(data))
    device.check()


@HOSTILE
@given(req=requests(), data=st.data())
def test_a_damaged_or_cut_frame_gets_at_most_a_nak(device, req, data):
    wire = bytearray(frame.encode(req[0], 7, req[1]))
    if data.draw(st.booleans(), "cut"):
        del wire[data.draw(st.integers(0, len(wire) - 1), "at") :]
    else:
        bits = st.lists(st.integers(0, 8 * len(wire) - 1), min_size=1, max_size=3, unique=True)
        for bit in data.draw(bits, "flips"):
            wire[bit // 8] ^= 1 << bit % 8
    if not (b"\x01" in wire or b"\x03" in wire):  # a flip that makes a hand-over is one
        assert all(r[0] == m.NAK for r in device.feed(bytes(wire)))
    device.check()


@HOSTILE
@given(payload=payloads(m.SET))
def test_a_hostile_setting_gets_one_answer_and_changes_nothing_else(device, payload):
    before = device.proto.device.settings.values()
    ((rtype, _, rpayload),) = device.feed(b"\r" + frame.encode(m.SET, 9, payload))
    after = device.proto.device.settings.values()
    if rtype == m.ERROR:
        assert m.unpack_error(rpayload)[0] in (m.E_MALFORMED, m.E_SETTING) and after == before
    else:
        assert [k for k in after if after[k] != before[k]] in (
            [],
            [payload.split(b"=")[0].decode()],
        )
    device.check()


def test_set_with_digits_int_cannot_read_is_refused(device):
    replies = device.feed(b"\r" + frame.encode(m.SET, 3, "intensity=²".encode()))
    assert replies[0][0] == m.ERROR and m.unpack_error(replies[0][2])[0] == m.E_SETTING
    device.check()


# ---- item 1: no reply grows with what is stored ---------------------------------------------

WORST = ("\x00" * 255, '"' * 255, "\U0001f600" * 63)  # 1530, 510 and 756 JSON bytes


def worst_program(name):
    """A program whose description and zone names take the most JSON a string can."""
    insns = []
    for z in range(2):
        base = len(insns)
        insns.append(bc.pack_insn(bc.OP_ZONE, 0, 2 + z, base + 1, base + 2, 60000))
        insns.append(bc.pack_insn(bc.OP_HOLD, 0, 300, 0, 0, 1000))
        insns.append(bc.pack_insn(bc.OP_END, 0, 0, 0, base, 0))
    return bc.pack(insns, [name, *WORST])  # description, then the two zones


def fill(link, quota):
    """The quota of patterns with 32-character names, each of the worst texts."""
    names = ["p%02d-" % i + "x" * 28 for i in range(quota)]
    for name in names:
        link.upload(name, worst_program(name))
    return names


def test_every_reply_fits_with_the_quota_full(tmp_path):
    proto = make_device(tmp_path)
    wire, link = connect(proto)
    names = fill(link, proto.store.max_count)
    for i in range(60):  # long log entries, the longest text an entry can hold
        proto.device.log.add(0, log.ERROR, WORST[i % 3] * 8)
    assert [p["name"] for p in link.list()] == names
    assert link.set("routine", names[-1])["routine"] == names[-1]
    link.play(names[-1], tethered=True)
    wire.advance(0.1)
    answers = {
        "hello": link.handshake,
        "info": link.info,
        "status": link.status,
        "heartbeat": link.heartbeat,
        "pause": link.pause,
        "resume": link.resume,
        "log": link.log,
        "list": link.list,
        "stop": link.stop,
        "play": lambda: link.play(names[0]),
    }
    for what, call in answers.items():
        assert call(), what
    assert link.status()["zone"]  # a zone plays, its name cut to fit
    # requests refused with texts that embed what was sent, or the longest refusals
    refused = [
        lambda: link.upload("q" * 32, hold_program()),  # the quota is full
        lambda: link.request(m.UPLOAD_CHUNK, m.pack_u32(2**32 - 1) + bytes(1020)),
        lambda: link.request(m.UPLOAD_COMMIT),
        link.upload_status,
        lambda: link.request(m.DELETE, b"\xff" * 1024),
        lambda: link.request(m.SET, ("\U0001f600" * 250 + "=1").encode()),
        lambda: link.request(m.PLAY, b"\x00" + m.pack_u32(0) + ("\x00" * 1019).encode()),
        lambda: link.request(0x5A, bytes(1024)),
        lambda: link.request(m.LIST, b"\xff\xff\xff"),
        lambda: link.request(m.LOG, b""),
    ]
    for call in refused:
        with pytest.raises(Refused) as e:
            call()
        assert e.value.code != m.E_INTERNAL, e.value
    assert STATES[proto.device.state] != "error"
    assert proto.device.state == RUNNING and proto.device.routine == names[0]
    assert [p["name"] for p in link.list()] == names


@pytest.fixture
def full_board(serial_board):
    """A board on a pty holding its quota of the worst patterns, as `facewave` meets it."""
    with Link.open(serial_board.url) as link:
        names = fill(link, link.hello["quota_count"])
    return serial_board, names


def test_the_device_commands_work_on_a_full_device(full_board):
    board, names = full_board
    url = board.url
    for verb in (["status"], ["info"], ["log"], ["play", names[5]], ["status"], ["stop"]):
        code, out, err = run(*verb, "--port", url)
        assert code == 0 and err == "", (verb, err)
    listing = run_json("list", "--port", url)["patterns"]
    assert [p["name"] for p in listing] == names
    info = run_json("info", "--port", url)
    assert info["patterns"] == len(names) and info["status"]["state"] == "idle"
    assert board.call(lambda b: STATES[b.shell.device.state]) == "idle"


def test_an_older_device_is_told_to_be_flashed(tmp_path):
    proto = make_device(tmp_path)
    hello = proto.hello
    proto.hello = lambda: dict(hello(), protocol=m.PROTOCOL - 1, min_protocol=m.PROTOCOL - 1)
    with pytest.raises(LinkError) as e:
        connect(proto)
    assert "older firmware" in str(e.value) and "`facewave flash --port virtual`" in str(e.value)
    assert "\n" not in str(e.value) and e.value.exit_status == 2


# ---- item 2: the tether belongs to the host that asked for it --------------------------------


def test_a_second_program_polling_does_not_keep_a_dead_hosts_tether(tmp_path):
    proto = make_device(tmp_path)
    wire, host = connect(proto)
    host.upload("a", hold_program(200, ms=1000))
    host.play("a", tethered=True)
    for _ in range(6):  # the host that asked keeps it going
        wire.advance(m.HEARTBEAT_MS / 1000)
        host.heartbeat()
    assert proto.device.state == RUNNING
    gone = wire.t  # the host dies; another program goes on polling
    for seq in range(20):
        wire.advance(m.HEARTBEAT_MS / 1000)
        now = int(wire.t * 1000)
        for request in (frame.encode(m.STATUS, seq), frame.encode(m.HEARTBEAT, seq, bytes(4))):
            (reply,) = frames(proto.feed(now, request))
            assert reply[1] == seq and reply[0] in (m.ACK, m.ERROR)
    assert proto.device.state != RUNNING and proto.device.level == 0 and proto.timeouts == 1
    stop = [e[1] for e in proto.device.log.entries() if e[2] == "stop"][-1]
    assert stop / 1000 - gone <= m.HEARTBEAT_TIMEOUT_MS / 1000 + 0.01


def test_another_hosts_heartbeat_is_refused_while_the_tether_is_held(tmp_path):
    proto = make_device(tmp_path)
    wire, host = connect(proto)
    host.upload("a", hold_program(200, ms=1000))
    host.play("a", tethered=True)
    other = Link(wire, name="virtual", clock=wire.clock)
    other.handshake()
    with pytest.raises(Refused) as e:
        other.heartbeat()
    assert e.value.code == m.E_STATE and "another host" in str(e.value)
    assert host.heartbeat()["tethered"] and proto.device.state == RUNNING


# ---- item 7: floods --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zeros", "random"])
def test_the_board_answers_within_100_ms_of_a_flood(tmp_path, kind):
    """1 MB at 115200 baud (91 s of line time), in the board's virtual time: the flood ends when
    the host's write returns, as a write to a port returns once the port holds the rest."""
    board = VirtualBoard(tmp_path / "flash", baud=115200)
    board.power_on()
    port = SimSerial(board, timeout=0.5)
    with Link(port, name="virtual board", clock=board.seconds) as link:
        link.handshake()
        flood = bytes(1 << 20) if kind == "zeros" else os.urandom(1 << 20)
        port.write(flood.replace(b"\x01", b"\x00").replace(b"\x03", b"\x00"))
        end = board.ms
        port.reset_input_buffer()  # the NAKs the flood earned
        assert board.to_board.backlog <= serial_port.RX_HELD
        assert len(board.console.buf) <= hardware.RX_BUFFER
        assert link.status()["state"] == "idle"
        assert board.ms - end < 100
    assert STATES[board.shell.device.state] != "error"


def test_a_host_that_never_reads_costs_the_board_a_few_kilobytes(tmp_path):
    board = VirtualBoard(tmp_path / "flash")
    board.power_on()
    port = SimSerial(board, timeout=0.5)
    port.write(b"".join(frame.encode(m.STATUS, seq) for seq in range(20000)))
    assert board.to_host.backlog <= serial_port.TX_HELD and board.dropped > 4_000_000
    while port.read(1 << 16):  # the host reads at last, until the board has answered all
        pass
    with Link(port, name="virtual board", clock=board.seconds) as link:
        assert link.handshake()["protocol"] == m.PROTOCOL and link.status()["state"] == "idle"


def test_a_flood_through_a_pty_is_held_in_bounded_buffers(serial_board):
    """What the board holds of a host's flood stays bounded, whatever the flood's length."""
    with serial.serial_for_url(serial_board.url, timeout=0.5) as host:
        chunk = os.urandom(1 << 16).replace(b"\x01", b"\x00").replace(b"\x03", b"\x00")
        held = []
        for _ in range(16):  # 1 MB
            host.write(chunk)
            held.append(serial_board.call(lambda b: (b.wire.rx.backlog, len(b.console.buf))))
        host.write(b"\r" + frame.encode(m.STATUS, SEQ))
        got = b""
        for _ in range(40):  # 20 s at most
            got += host.read(4096)
            replies = frames(got)
            if any(r[1] == SEQ for r in replies):
                break
    assert max(rx for rx, _ in held) <= serial_port.RX_HELD
    assert max(con for _, con in held) <= hardware.RX_BUFFER
    assert json.loads(next(r for r in replies if r[1] == SEQ)[2])["state"] == "idle"


# ---- item 8: a board left at the MicroPython prompt ------------------------------------------


def test_a_board_left_at_the_prompt_is_named_so(serial_board):
    with serial.serial_for_url(serial_board.url, timeout=0.5) as terminal:
        terminal.write(b"\r\x03")  # a Ctrl-C in a terminal: the REPL takes the console
        assert b"KeyboardInterrupt" in terminal.read(200)
    code, _, err = run("status", "--port", serial_board.url, *FAST)
    assert code == 2
    line = one_line_error(err, "at the MicroPython prompt: press Ctrl-D")
    assert "`mpremote connect %s reset`" % serial_board.url in line
    assert "not a facewave device" not in line
    with serial.serial_for_url(serial_board.url, timeout=0.5) as terminal:
        terminal.write(b"\x04")  # Ctrl-D, as the line says: facewave runs again
    assert run_json("status", "--port", serial_board.url)["state"] == "idle"


def test_a_newer_device_says_what_to_install(tmp_path):
    """facewave is not a published package: the way back is the facewave that flashed the
    device, or this one's firmware."""
    proto = make_device(tmp_path)
    hello = proto.hello
    proto.hello = lambda: dict(hello(), protocol=m.PROTOCOL + 1, min_protocol=m.PROTOCOL + 1)
    with pytest.raises(LinkError) as e:
        connect(proto)
    assert "newer than this facewave understands" in str(e.value)
    assert "`facewave flash --port virtual`" in str(e.value) and "pip" not in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("char", ["é", "€", "😀"])
def test_an_error_text_longer_than_a_frame_is_cut_between_characters(tmp_path, char):
    """A fault's text is the exception's, of any length: the ERROR frame holds what fits,
    never half a character (the host would show U+FFFD)."""
    proto = make_device(tmp_path)
    _, link = connect(proto)
    link.upload("a", hold_program())
    link.play("a")

    def broken():
        raise RuntimeError(char * 2000)

    proto.device.zone = broken  # read for the reply, after the stop
    with pytest.raises(Refused) as e:
        link.stop()
    text = str(e.value)
    assert e.value.code == m.E_INTERNAL and "\ufffd" not in text
    assert text.endswith(char) and len(text.encode("utf-8")) > frame.MAX_PAYLOAD - 1 - 4
    assert proto.device.level == 0
