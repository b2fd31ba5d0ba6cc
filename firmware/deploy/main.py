# facewave main.py: start the firmware (boot.py has put the active slot on sys.path and set
# BOOT_NOTE). shell.run() drives the motor pin low before it imports anything else.
from facewave import shell

shell.run(note=globals().get("BOOT_NOTE", ""))
