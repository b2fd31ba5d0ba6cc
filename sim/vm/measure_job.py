"""In the MicroPython VM: play the program of /job.json once to warm up, then count the bytes
the engine allocates over its steps and time them (see sim/mpvm.py measure())."""

import binascii
import gc
import json

from facewave import engine, profile, program, verifier

try:
    from js import performance

    def clock_us():
        return performance.now() * 1000
except ImportError:
    import time

    def clock_us():
        return time.ticks_us()


def measure(data, pdict, n, now, timed, stored):
    prof = profile.Profile(pdict)
    e = engine.Engine(prof.step_ms)
    if stored:  # read from a file in pieces, as a device plays a stored pattern
        with open("/measured.fwb", "wb") as f:
            f.write(data)
        data = program.File(open("/measured.fwb", "rb"), len(data))
    e.load(data, verifier.verify(data, prof).count)
    never = engine.NEVER
    e.start(now)
    while e.next != never:  # warm-up: one whole play, so every path and attribute exists
        e.step(e.next)
    e.start(now)
    gc.collect()
    gc.disable()  # no collection may hide an allocation
    a = gc.mem_alloc()
    i = 0
    while i < n:  # a while loop: `for ... in range` allocates its iterator
        nxt = e.next
        if nxt == never:
            e.start(now)
        else:
            e.step(nxt)
        i += 1
    used = gc.mem_alloc() - a
    gc.enable()
    if not timed:
        print(used, 0, 0, 0)
        return
    over = 1e9  # the cost of reading the clock, taken off each step's time
    i = 0
    while i < 1000:
        t0 = clock_us()
        over = min(over, clock_us() - t0)
        i += 1
    # Each step's time is the least of 3 plays of the same steps: a pause of the host (its
    # garbage collector, another process) is not the engine's.
    ns = [1 << 29] * n
    for _ in range(3):
        e.start(now)
        gc.collect()
        gc.disable()  # reading the clock makes floats: keep their collection out of the figures
        i = 0
        while i < n:
            nxt = e.next
            t0 = clock_us()
            if nxt == never:
                e.start(now)
            else:
                e.step(nxt)
            ns[i] = min(ns[i], int((clock_us() - t0 - over) * 1000))
            i += 1
        gc.enable()
    ns.sort()
    print(used, sum(ns) // n, ns[n * 99 // 100], ns[-1])


with open("/job.json") as f:
    job = json.load(f)
measure(
    binascii.unhexlify(job["data"]),
    job["profile"],
    job["steps"],
    job["now"],
    job["timed"],
    job["stored"],
)
