"""In the MicroPython VM: replay /tape.json into the firmware (sim/replay_driver.py) and print
the rows, the console output and the VM's own time for it, as one JSON line."""

import binascii
import json
import sys
import time

import hardware
import replay_driver


def load(name):
    __import__("facewave." + name)
    return sys.modules["facewave." + name]


with open("/tape.json") as f:
    tape = json.load(f)
t0 = time.ticks_ms()
r = replay_driver.replay(tape, load, binascii.unhexlify, hardware)
ms = time.ticks_diff(time.ticks_ms(), t0)
print(json.dumps({"rows": r.rows, "out": binascii.hexlify(r.out).decode(), "ms": ms}))
