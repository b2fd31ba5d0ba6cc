"""In the MicroPython VM: the harness (harness.py) over the programs of /job.json. "play":
each trace after a line "=", one row per line; "check": each verdict, hex-encoded (a mangled
program name may hold any character, a line break too)."""

import binascii
import json

import harness

with open("/job.json") as f:
    job = json.load(f)
for hexdata, pdict, now, events in job["programs"]:
    data = binascii.unhexlify(hexdata)
    if job["mode"] == "check":
        print(binascii.hexlify(harness.check(data, pdict).encode()).decode())
        continue
    print("=")
    for row in harness.play(data, pdict, now, [tuple(ev) for ev in events]):
        print("%d %d %d %d" % row)
