"""The verifier: nothing it accepts can misbehave, nothing it is fed can make it crash."""

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from facewave.firmware import bytecode as bc
from facewave.firmware.bytecode import VerifyError
from facewave.firmware.profile import Profile
from facewave.firmware.verifier import verify
from facewave.lang import compile_file
from facewave.library import builtin_names, builtin_path
from facewave.playback import Trace, pattern

PROFILE = Profile()
BUILTINS = [compile_file(builtin_path(n)).data for n in builtin_names()]


class _Prog:
    def __init__(self, data, info):
        self.data = data
        self.info = info
        self.name = info.name


def check_behaviour(data, profile=PROFILE):
    """Verify; if accepted, play it and hold the verifier to every promise it made."""
    try:
        info = verify(data, profile)
    except VerifyError as e:
        assert isinstance(e.args[0], str) and isinstance(e.args[1], int)
        return None
    trace = pattern(_Prog(data, info), profile)
    assert trace.duration == info.duration
    levels = [lv for _, lv in trace.points]
    assert all(0 <= lv <= profile.max_level for lv in levels)
    assert max(levels, default=0) <= info.peak
    pairs = zip([0] + levels, levels + [0])
    assert all(abs(a - b) <= profile.max_step for a, b in pairs)
    energy = sum(
        lv * (t1 - t0)
        for (t0, lv), (t1, _) in zip(trace.points, trace.points[1:] + [(trace.duration, 0)])
    )
    assert energy <= info.energy <= profile.thermal
    assert longest_on(trace) <= info.longest_on <= profile.max_on_ms
    return info


def longest_on(trace: Trace):
    best = run = 0
    for (t0, lv), (t1, _) in zip(trace.points, trace.points[1:] + [(trace.duration, 0)]):
        run = run + (t1 - t0) if lv else 0
        best = max(best, run)
    return best


def reseal(body_and_header):
    """Recompute length and CRC so a mutation reaches the semantic checks."""
    data = bytearray(body_and_header)
    body = bytes(data[bc.HEADER_SIZE :])
    data[8:12] = len(body).to_bytes(4, "little")
    data[12:16] = bc.crc32(body).to_bytes(4, "little")
    return bytes(data)


def test_builtins_pass_and_keep_their_promises():
    for data in BUILTINS:
        assert check_behaviour(data) is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_only_ever_rejected(data):
    check_behaviour(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bodies_behind_a_valid_header(body):
    count = max(1, len(body) // bc.INSN_SIZE)
    header = bc.MAGIC + bytes([bc.VERSION, 0]) + count.to_bytes(2, "little") + bytes(8)
    check_behaviour(reseal(header + body))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(BUILTINS),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
    st.booleans(),
)
def test_mutated_programs(data, edits, fix_crc):
    data = bytearray(data)
    for pos, value in edits:
        data[pos % len(data)] = value
    check_behaviour(reseal(data) if fix_crc else bytes(data))


# Structured random programs, so that many of them are accepted and then played.
levels = st.integers(0, 1000)
durations = st.integers(1, 4000)


def leaf():
    return st.one_of(
        st.builds(
            lambda a, b, t: [(bc.OP_HOLD, 0, a, b, 0, t)], levels, st.integers(0, 100), durations
        ),
        st.builds(
            lambda x, a, b, t: [(bc.OP_RAMP, x, a, b, 0, t)],
            st.integers(0, 3),
            levels,
            levels,
            durations,
        ),
        st.builds(
            lambda x, a, b, c, t: [(bc.OP_WAVE, x, min(a, b), max(a, b), c, t)],
            st.integers(0, 3),
            levels,
            levels,
            st.integers(2, 5000),
            durations,
        ),
        st.builds(
            lambda x, a, b, c: [(bc.OP_CUE, x, a, b, c, 0)],
            st.integers(1, 4),
            st.integers(1, 1000),
            st.integers(1, 300),
            st.integers(0, 300),
        ),
        st.builds(lambda s: [(bc.OP_SEED, 0, s, 0, 0, 0)], st.integers(1, 65535)),
    )


def _loop(n, body):
    return [(bc.OP_LOOP, 0, n, 0, "end", 0)] + body + [(bc.OP_END, 0, 0, 0, "open", 0)]


blocks = st.recursive(
    st.lists(leaf(), min_size=1, max_size=4).map(lambda xs: sum(xs, [])),
    lambda inner: st.one_of(
        st.builds(_loop, st.integers(1, 20), inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: sum(xs, [])),
    ),
    max_leaves=12,
)


def _zone(name, length, prelude, body):
    return (
        [(bc.OP_ZONE, 0, name, "rep", "end", length)]
        + prelude
        + ["REP"]
        + body
        + [(bc.OP_END, 0, 0, 0, "open", 0)]
    )


programs = st.lists(
    st.one_of(
        blocks,
        st.builds(
            _zone,
            st.just(2),
            st.integers(1, 60000),
            st.lists(leaf(), max_size=1).map(lambda xs: sum(xs, [])),
            blocks,
        ),
    ),
    min_size=1,
    max_size=3,
).map(lambda xs: sum(xs, []))


def assemble(items):
    """Resolve the symbolic jump fields into instruction indices, then pack."""
    insns, stack = [], []
    for item in items:
        if item == "REP":
            insns[stack[-1]][3] = len(insns)
            continue
        insn = list(item)
        if insn[0] in (bc.OP_LOOP, bc.OP_ZONE):
            stack.append(len(insns))
        elif insn[0] == bc.OP_END:
            opener = stack.pop()
            insn[4] = opener
            insns[opener][4] = len(insns)
        insns.append(insn)
    return bc.pack([bc.pack_insn(*i) for i in insns], ["random", "generated", "zone"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_structured_programs_keep_every_promise(items):
    check_behaviour(assemble(items))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_a_gentler_profile_is_still_respected(items):
    gentle = Profile(
        {
            "max_level": 500,
            "max_step": 300,
            "slew": 2000,
            "max_on_ms": 20000,
            "thermal": 5000000,
            "session_max_ms": 60000,
            "step_ms": 20,
        }
    )
    check_behaviour(assemble(items), gentle)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_some_structured_programs_are_accepted(items):
    """Guards the test above against a generator that only ever makes rejects."""
    try:
        verify(assemble(items), PROFILE)
    except VerifyError:
        assume(False)


def test_rejections_name_the_instruction():
    bad = bc.pack(
        [bc.pack_insn(bc.OP_HOLD, a=100, t=100), bc.pack_insn(bc.OP_HOLD, a=950, t=100)],
        ["x", "y"],
    )
    try:
        verify(bad, PROFILE)
    except VerifyError as e:
        assert e.args[1] == 1 and "cap of 85%" in e.args[0]
    else:
        raise AssertionError("accepted a level over the cap")


def test_loop_jump_targets_are_checked():
    insns = [
        bc.pack_insn(bc.OP_LOOP, a=2, c=5),
        bc.pack_insn(bc.OP_HOLD, a=100, t=10),
        bc.pack_insn(bc.OP_END, c=0),
    ]
    for data in (
        bc.pack(insns, ["x", "y"]),
        bc.pack(insns[:2] + [bc.pack_insn(bc.OP_END, c=1)], ["x", "y"]),
        bc.pack([bc.pack_insn(bc.OP_LOOP, a=0, c=2)] + insns[1:], ["x", "y"]),
    ):
        try:
            verify(data, PROFILE)
        except VerifyError:
            continue
        raise AssertionError("accepted a broken loop")
