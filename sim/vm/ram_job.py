"""In the MicroPython VM: the heap the firmware modules of /job.json hold once imported (see
sim/mpvm.py firmware_ram()). The job runs in parts, one after the other in the same VM: this
VM's conservative collector frees garbage only a run or two after the run that left it, so each
reading comes after "# --- settle ---": three runs that collect and print the heap in use."""

import gc  # noqa: F401  (the settle runs use it)
import json
import sys

for name in ("binascii", "collections", "io", "os", "time"):
    __import__(name)  # Python code in this VM build (micropython-lib), C on the boards
with open("/job.json") as f:
    names = json.load(f)["modules"]
done = []
skipped = []
# --- settle ---
for name in names:
    try:
        __import__("facewave." + name)
        done.append(name)
    except ImportError:  # a board module that needs `machine`, which the VM lacks
        skipped.append(name)
        sys.modules.pop("facewave." + name, None)
# --- settle ---
print(" ".join(done))
print(" ".join(skipped))
