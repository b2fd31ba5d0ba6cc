"""Hostile bytecode: random bytes, truncations and bit flips of the real compiled routines,
instructions with fields at their extremes, and random well-formed programs. The verifier
either refuses with one line (bytecode.VerifyError, its own type) or accepts a program that the
engine plays within the board profile's caps, never raising anything else; and
`facewave check FILE.fwb` on a hostile file exits 1 with one line, no traceback.

Programs whose CRC is recomputed after the damage get past the header's checks, so the
semantic checks are what they meet; the others show the CRC catches the damage.
"""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facewave.cli import main
from facewave.firmware import boards
from facewave.firmware import bytecode as bc
from facewave.firmware.engine import DONE, NEVER, Engine
from facewave.firmware.verifier import verify
from facewave.lang import compile_file
from facewave.library import builtin_names, builtin_path

PICO = boards.profile(boards.load("pico"))
ROUTINES = [bytes(compile_file(builtin_path(n), PICO).data) for n in builtin_names()]
EXTREMES = {
    "u8": (0, 1, 0x7F, 0xFF),
    "u16": (0, 1, 0x7FFF, 0xFFFF),
    "u32": (0, 1, 2**31, 2**32 - 1),
}
FIELDS = (
    ("x", 1, "<B", "u8"),
    ("a", 2, "<H", "u16"),
    ("b", 4, "<H", "u16"),
    ("c", 6, "<H", "u16"),
    ("t", 8, "<I", "u32"),
)  # offset within an instruction
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def recrc(data):
    """The program with its header's CRC made right for its body (and the body length field
    left as it is)."""
    data = bytearray(data)
    if len(data) >= bc.HEADER_SIZE:
        struct.pack_into("<I", data, 12, bc.crc32(bytes(data[bc.HEADER_SIZE :])))
    return bytes(data)


def judged(data):
    """The verifier's verdict: its Info, or the VerifyError's message. Anything else raised
    fails the test; a refusal must be one line."""
    try:
        return verify(data, PICO)
    except bc.VerifyError as e:
        message = e.args[0]
        assert isinstance(message, str) and message and "\n" not in message, repr(message)
        return message


def played(data, info):
    """Play an accepted program to its end on the engine, as the shell's loop does (stepping at
    each deadline it asks for): the levels stay within the caps and it ends when it says."""
    engine = Engine(PICO.step_ms)
    engine.load(data, info.count)
    level = engine.start(0)
    steps = 0
    while True:
        assert 0 <= level <= PICO.max_level
        nxt = engine.next
        if nxt == NEVER:
            break
        assert 0 <= nxt <= info.duration, (nxt, info.duration)
        level = engine.step(nxt)
        steps += 1
        assert steps <= info.duration // PICO.step_ms + 4 * info.count + 2  # no endless stepping
    assert engine.state == DONE
    assert info.duration <= PICO.session_max_ms
    assert info.peak <= PICO.max_level and info.longest_on <= PICO.max_on_ms
    assert info.energy <= PICO.thermal


def check_file(data, tmp_path, capsys):
    """`facewave check` on the bytes as a .fwb: its exit status and its output lines."""
    path = tmp_path / "hostile.fwb"
    path.write_bytes(data)
    code = main(["check", str(path), "--board", "pico"])
    out = capsys.readouterr()
    return code, out.out.splitlines() + out.err.splitlines()


def assert_judged(data):
    verdict = judged(data)
    if not isinstance(verdict, str):
        played(data, verdict)
    return verdict


# ---- strategies ----------------------------------------------------------------------------
routine = st.sampled_from(ROUTINES)


@st.composite
def truncated(draw):
    data = draw(routine)
    return data[: draw(st.integers(0, len(data) - 1))], draw(st.booleans())


@st.composite
def flipped(draw):
    data = bytearray(draw(routine))
    bits = st.integers(0, len(data) * 8 - 1)
    for bit in draw(st.lists(bits, min_size=1, max_size=8, unique=True)):  # no flip undone
        data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data), draw(st.booleans())


@st.composite
def extreme(draw):
    """One field of one instruction of a real routine at an extreme, CRC made right."""
    data = bytearray(draw(routine))
    count = struct.unpack_from("<H", data, 6)[0]
    for _ in range(draw(st.integers(1, 3))):
        at = bc.HEADER_SIZE + draw(st.integers(0, count - 1)) * bc.INSN_SIZE
        if draw(st.booleans()):
            data[at] = draw(st.sampled_from((0, 1, 5, 9, 10, 0x7F, 0xFF)))  # the opcode
        else:
            _, offset, fmt, kind = draw(st.sampled_from(FIELDS))
            struct.pack_into(fmt, data, at + offset, draw(st.sampled_from(EXTREMES[kind])))
    return recrc(data)


@st.composite
def header_extreme(draw):
    """A header field of a real routine at an extreme (count, body length, version, flags)."""
    data = bytearray(draw(routine))
    offset, fmt, kind = draw(
        st.sampled_from(((4, "<B", "u8"), (5, "<B", "u8"), (6, "<H", "u16"), (8, "<I", "u32")))
    )
    struct.pack_into(fmt, data, offset, draw(st.sampled_from(EXTREMES[kind])))
    return recrc(data) if draw(st.booleans()) else bytes(data)


@st.composite
def random_program(draw):
    """A well-formed program of random instructions: right header, right CRC, a string table;
    only the verifier's semantic checks stand between it and the motor."""
    insns = []
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.integers(0, 10))
        x = draw(st.integers(0, 9))
        a, b, c = (draw(st.integers(0, 1200) | st.integers(0, 0xFFFF)) for _ in range(3))
        t = draw(st.integers(0, 5000) | st.integers(0, 2**32 - 1))
        insns.append(bc.pack_insn(op, x, a, b, c, t))
    names = draw(st.lists(st.text(max_size=8), min_size=0, max_size=4))
    return bc.pack(insns, names)


# ---- the verifier ----------------------------------------------------------------------------
def test_every_real_routine_is_accepted_and_plays_within_the_caps():
    for data in ROUTINES:
        assert not isinstance(assert_judged(data), str)


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes(data):
    assert isinstance(assert_judged(data), str)


@SETTINGS
@given(st.binary(min_size=1, max_size=400))
def test_random_bodies_behind_a_right_header(body):
    count = max(1, len(body) // bc.INSN_SIZE)
    head = struct.pack(bc.HEADER_STRUCT, bc.MAGIC, bc.VERSION, 0, count, len(body), bc.crc32(body))
    assert_judged(head + body)


@SETTINGS
@given(truncated())
def test_truncations_of_real_routines(case):
    data, fix = case
    assert isinstance(assert_judged(recrc(data) if fix else data), str)


@SETTINGS
@given(flipped())
def test_bit_flips_of_real_routines(case):
    data, fix = case
    verdict = assert_judged(recrc(data) if fix else data)
    if not fix:
        assert isinstance(verdict, str)  # the CRC, or the header before it, catches any flip


@SETTINGS
@given(extreme())
def test_instruction_fields_at_their_extremes(data):
    assert_judged(data)


@SETTINGS
@given(header_extreme())
def test_header_fields_at_their_extremes(data):
    assert_judged(data)


@SETTINGS
@given(random_program())
def test_random_well_formed_programs(data):
    assert_judged(data)


# ---- facewave check --------------------------------------------------------------------------
HOSTILE = {
    "magic only": bc.MAGIC,
    "truncated header": ROUTINES[0][:10],
    "truncated body": ROUTINES[0][:-3],
    "bad crc": ROUTINES[0][:-1] + bytes([ROUTINES[0][-1] ^ 1]),
    "huge count": recrc(ROUTINES[0][:6] + b"\xff\xff" + ROUTINES[0][8:]),
    "huge body length": ROUTINES[0][:8] + b"\xff\xff\xff\xff" + ROUTINES[0][12:],
    "endless duration": recrc(
        ROUTINES[0][: bc.HEADER_SIZE + 8]
        + b"\xff\xff\xff\xff"
        + ROUTINES[0][bc.HEADER_SIZE + 12 :]
    ),
    "unknown opcode": recrc(
        ROUTINES[0][: bc.HEADER_SIZE] + b"\xee" + ROUTINES[0][bc.HEADER_SIZE + 1 :]
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_check_refuses_a_hostile_file_in_one_line(name, tmp_path, capsys):
    code, lines = check_file(HOSTILE[name], tmp_path, capsys)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("facewave: ")
    assert "Traceback" not in lines[0]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.one_of(extreme(), truncated().map(lambda c: c[0]), flipped().map(lambda c: c[0])))
def test_check_answers_every_hostile_file_in_one_line(data, tmp_path, capsys):
    verdict = judged(data)
    code, lines = check_file(data, tmp_path, capsys)
    if isinstance(verdict, str):
        assert code == 1 and len(lines) == 1 and lines[0].startswith("facewave: ")
    else:
        assert code == 0
    assert not any("Traceback" in line for line in lines)
