"""In the MicroPython VM: boot the firmware as a device does (the root boot.py, then
shell.start() and one loop pass as main.py runs them; with a host's bytes in /job.json, until
they are answered) and print the heap it holds and the firmware modules still imported (see
sim/mpvm.py boot_modules()). In parts, for the collector, as ram_job.py explains."""

import binascii
import gc  # noqa: F401  (the settle runs use it)
import json
import sys
import time

for name in ("binascii", "collections", "io", "os"):
    __import__(name)  # Python code in this VM build (micropython-lib), C on the boards
import machine  # noqa: E402  (after the standard modules: they are not the firmware's)

with open("/job.json") as f:
    job = json.load(f)
before = set(sys.modules)


class Console:  # the USB console: what a host sent, read as the shell asks
    def __init__(self, data):
        self.data = data

    def read(self, n):
        out = self.data[:n]
        self.data = self.data[n:]
        return out

    def write(self, data):
        pass

    def wait(self, ms):
        pass


console = Console(binascii.unhexlify(job["host"]))
# --- settle ---
exec(open("/boot.py").read())  # as a device boots: the root boot.py, then main.py's start
from facewave.shell import start  # noqa: E402

shell = start(machine, time, console, job["board"])
assert shell.device is not None, "the device did not start"
shell.once()
while console.data:
    shell.once()
console = None
# --- settle ---
print(" ".join(sorted(n[9:] for n in sys.modules if n not in before and n != "facewave")))
