"""Device root boot.py: put the active firmware slot on sys.path (see host/flash.py).

`facewave flash` installs the firmware in /fw/a or /fw/b and, once every file is verified,
names the slot in /fw/slot. A slot counts only when its manifest exists (written last) and
every file it names still has its SHA-256, so a broken pointer, an unfinished slot or a damaged
file (a flipped bit in flash) falls back to the other, intact slot. BOOT_NOTE says so to main.py,
which hands it to the firmware's log.
"""

import sys


def digest(path):
    """SHA-256 (hex) of a file, read in small pieces. `facewave flash` runs it on the device
    too, to check what it copied: one hash routine for both."""
    import binascii
    import hashlib

    h = hashlib.sha256()
    buf = bytearray(512)
    view = memoryview(buf)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return binascii.hexlify(h.digest()).decode()


def slot(root="/fw"):
    """(slot directory to boot from or None, the slots passed over as damaged). Needs only
    digest(): `facewave flash` runs both on the device to find the slot in use."""
    import json
    import os

    try:
        with open(root + "/slot") as f:
            name = f.read().strip()
    except OSError:
        name = ""
    damaged = []
    for s in (name, "a", "b"):
        if (s == "a" or s == "b") and root + "/" + s not in damaged:
            folder = root + "/" + s
            try:
                os.stat(folder + "/manifest.json")
            except OSError:
                continue  # never finished: not a slot
            try:
                with open(folder + "/manifest.json") as f:
                    files = json.load(f).get("files", {})
                for path in files:
                    # (boot deletes digest at the end, after its last use)
                    if digest(folder + "/" + path) != files[path]:  # noqa: F821
                        raise ValueError(path)
                return folder, damaged
            except Exception:  # unreadable manifest, missing or changed file
                damaged.append(folder)
    return None, damaged


def safe():
    """The motor pin low and the watchdog stopped before anything else runs: a soft reset
    (mpremote does one) re-runs this file but not main.py, so nothing else would touch the pin,
    and no loop feeds the watchdog until main.py starts one (it arms the watchdog again).
    Everything it imports is bound to locals only, so the firmware can drop the board data once
    booted."""
    try:
        import machine

        from facewave import boards, shell

        data = boards.load(boards.chosen())
        shell.motor_off(machine, data)
        shell.watchdog_off(machine, data.get("wdt_off", 0), data.get("wdt_bits", 0))
    except Exception:  # no firmware in the slot yet, or no such board: no motor pin known
        pass


_slot, _damaged = slot()
if _slot:
    sys.path.insert(0, _slot)
BOOT_NOTE = ""
if _damaged:
    BOOT_NOTE = "firmware in %s failed its SHA-256 check; %s" % (
        " and ".join(_damaged),
        "booted " + _slot if _slot else "no intact firmware",
    )
    print("facewave: " + BOOT_NOTE)
safe()
del digest, slot, safe, _slot, _damaged  # needed once: their RAM goes to the firmware
