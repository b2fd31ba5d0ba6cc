"""The harness both interpreters run, as it is: CPython against facewave.firmware, the VM
against the firmware as a device names it (facewave), so a trace from each is comparable by
construction (see sim/mpvm.py traces() and checks())."""

try:
    from facewave.firmware import bytecode, engine, profile, ticks, verifier
except ImportError:  # MicroPython: the firmware package is `facewave`, as on a device
    from facewave import bytecode, engine, profile, ticks, verifier


def play(data, pdict, now, events):
    """The board shell's loop in virtual time: start at `now`, then step at each deadline the
    engine asks for. events: (ms after the start, "pause" | "resume" | "stop"), in time order,
    each applied before a step due at the same tick. Rows: (tick, level, zone, cues)."""
    prof = profile.Profile(pdict)
    e = engine.Engine(prof.step_ms)
    e.load(data, verifier.verify(data, prof).count)
    start = now
    rows = [(now, e.start(now), e.zone, e.cues)]
    k = 0
    while True:
        nxt = e.next
        if k < len(events):
            at = ticks.add(start, events[k][0])
            if nxt == engine.NEVER or ticks.diff(at, nxt) <= 0:
                kind = events[k][1]
                if kind == "pause":
                    e.pause(at)
                elif kind == "resume":
                    e.resume(at)
                else:
                    e.stop()
                rows.append((at, e.level, e.zone, e.cues))
                k += 1
                continue
        if nxt == engine.NEVER:
            return rows
        rows.append((nxt, e.step(nxt), e.zone, e.cues))


def check(data, pdict):
    """The verifier's verdict as one line."""
    try:
        info = verifier.verify(data, profile.Profile(pdict))
    except bytecode.VerifyError as err:
        return "reject pc=%d %s" % (err.args[1], err.args[0])
    return "accept count=%d duration=%d energy=%d peak=%d longest_on=%d name=%s zones=%s" % (
        info.count,
        info.duration,
        info.energy,
        info.peak,
        info.longest_on,
        info.name,
        ",".join(info.zones),
    )
