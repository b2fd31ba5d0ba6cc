"""The frame codec: round trips, CRC, resynchronisation, the REPL's interrupt, and fuzzing."""

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from facewave.firmware import frame

RESERVED = (1, 2, 3, 4, 5, 0x0A, 0x0D)


def decode_all(dec, data, chunks=None):
    """Feed `data` in the given chunk sizes; answer the events with their payloads."""
    out = []
    pos = 0
    for size in chunks or [len(data)]:
        part = data[pos : pos + size]
        pos += size
        i = 0
        while i < len(part):
            i = dec.feed(part, i)
            if dec.event == frame.FRAME:
                out.append(("frame", dec.type, dec.seq, bytes(dec.payload())))
            elif dec.event != frame.NONE:
                out.append((dec.event,))
            assert len(dec.buf) == frame.HEADER + frame.MAX_PAYLOAD + 4
    return out


@settings(max_examples=200)
@given(st.binary(max_size=frame.MAX_PAYLOAD), st.integers(0, 255), st.integers(0, 255))
def test_round_trip_and_no_console_control_bytes(payload, ftype, seq):
    wire = frame.encode(ftype, seq, payload)
    assert not any(b in wire for b in RESERVED)
    assert wire.count(frame.SYNC) == 1 and wire[0] == frame.SYNC
    assert decode_all(frame.Decoder(), wire) == [("frame", ftype, seq, payload)]


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=300), st.data())
def test_a_flipped_byte_is_never_accepted(payload, data):
    wire = bytearray(frame.encode(0x14, 7, payload))
    i = data.draw(st.integers(1, len(wire) - 1))
    wire[i] ^= data.draw(st.integers(1, 255))
    events = decode_all(frame.Decoder(), bytes(wire))
    assert all(e[0] != "frame" for e in events)


@settings(max_examples=300)
@given(
    st.binary(max_size=3000), st.lists(st.integers(1, 700), max_size=20), st.binary(max_size=200)
)
def test_garbage_in_any_chunking_then_a_valid_frame_is_decoded(garbage, cuts, payload):
    garbage = garbage.replace(b"\x03", b"").replace(b"\x01", b"")
    good = frame.encode(0x1C, 42, payload)
    # a CR ends any half frame the garbage left open, as mpremote's interrupt does
    stream = garbage + b"\r" + good
    chunks = cuts + [len(stream)]
    dec = frame.Decoder()
    events = decode_all(dec, stream, chunks)
    assert events[-1] == ("frame", 0x1C, 42, payload)
    assert dec._n == 0


@settings(max_examples=300)
@given(st.binary(max_size=4000), st.lists(st.integers(1, 500), max_size=30))
def test_random_streams_never_crash_or_grow_the_decoder(stream, cuts):
    dec = frame.Decoder()
    buf = dec.buf
    decode_all(dec, stream, cuts + [len(stream)])
    assert dec.buf is buf and len(buf) == frame.HEADER + frame.MAX_PAYLOAD + 4
    # and it still answers the next frame
    assert decode_all(dec, b"\r" + frame.encode(1, 2, b"ok"))[-1] == ("frame", 1, 2, b"ok")


def test_oversize_length_is_refused_at_the_header():
    dec = frame.Decoder()
    # a header announcing 60,000 bytes: rejected after 4 bytes, nothing buffered
    events = decode_all(dec, bytes([frame.SYNC, 0x60, 0xEA, 0x10, 0x00]))
    assert events == [] and dec._n == 0 and dec.errors == 1
    try:
        frame.encode(1, 1, bytes(frame.MAX_PAYLOAD + 1))
    except ValueError as e:
        assert "exceeds" in str(e)
    else:
        raise AssertionError("oversize payload encoded")


def test_interrupt_between_frames_is_a_repl_request():
    dec = frame.Decoder()
    stream = frame.encode(1, 1, b"a") + b"\r\x03" + b"\r\x01"
    events = decode_all(dec, stream)
    assert events == [("frame", 1, 1, b"a"), (frame.REPL,), (frame.REPL,)]


def test_mpremote_interrupt_breaks_a_half_sent_frame():
    dec = frame.Decoder()
    half = frame.encode(1, 1, os.urandom(100))[:50]
    events = decode_all(dec, half + b"\r\x03")
    assert (frame.REPL,) in events and dec.key == 3


def test_stray_ctrl_c_inside_a_frame_is_only_corruption():
    dec = frame.Decoder()
    wire = bytearray(frame.encode(1, 1, bytes(40)))
    wire[20] = 3
    events = decode_all(dec, bytes(wire))
    assert (frame.REPL,) not in events and (frame.BAD,) in events


def test_stuffing_overhead_on_random_data():
    payload = os.urandom(frame.MAX_PAYLOAD)
    grown = len(frame.encode(0, 0, payload)) / len(payload)
    print("wire bytes per payload byte, random 1 KB frame: %.4f" % grown)
    assert grown < 1.06


def test_noise_after_a_broken_frame_cannot_ask_for_the_repl():
    """A flipped byte that happens to be Ctrl-C, in the garbage of a frame noise broke."""
    from facewave.firmware import frame as fr

    dec = fr.Decoder()
    good = fr.encode(0x10, 1, b"hello")
    broken = bytearray(fr.encode(0x10, 2, b"x" * 40))
    broken[10] = 0x0A  # a reserved byte: the frame is abandoned, the rest is garbage
    events = []
    stream = bytes(good) + bytes(broken[:20]) + b"\x03" + bytes(broken[20:])
    pos = 0
    while pos < len(stream):
        pos = dec.feed(stream, pos)
        events.append(dec.event)
    assert fr.REPL not in events
    dec.feed(b"\r\x03")
    assert dec.event == fr.REPL  # mpremote's interrupt still gets through


def test_a_plain_ctrl_c_on_a_quiet_line_asks_for_the_repl():
    from facewave.firmware import frame as fr

    dec = fr.Decoder()
    dec.feed(fr.encode(0x10, 1, b"ok"))
    assert dec.event == fr.FRAME
    dec.feed(b"\x03")
    assert dec.event == fr.REPL


def test_a_frame_split_in_two_at_every_byte_is_decoded():
    """The decoder takes runs of plain bytes at once: a cut anywhere, in the header, in a run,
    between an ESC and the byte it stuffs, must not matter."""
    payload = bytes(range(256)) * 2  # every reserved value, so ESC pairs all along
    wire = frame.encode(0x14, 9, payload)
    assert frame.ESC in wire
    for cut in range(1, len(wire)):
        dec = frame.Decoder()
        assert decode_all(dec, wire, [cut, len(wire)]) == [("frame", 0x14, 9, payload)], cut


def test_a_frame_cut_short_and_filled_with_esc_is_refused_and_the_next_decodes():
    """What the board's console gives for the bytes of a frame that did not come in time
    (firmware/console.py): the frame is BAD (answered with NAK) once its header came, and the
    line stays usable."""
    wire = frame.encode(0x14, 9, os.urandom(600))
    for cut, bad in ((2, []), (20, [(frame.BAD,)]), (len(wire) - 1, [(frame.BAD,)])):
        dec = frame.Decoder()
        filled = wire[:cut] + bytes([frame.ESC]) * (len(wire) - cut)
        events = decode_all(dec, filled + frame.encode(0x1C, 3))
        assert events == [*bad, ("frame", 0x1C, 3, b"")], cut
