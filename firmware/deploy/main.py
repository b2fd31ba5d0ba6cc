# facewave main.py: start the firmware (boot.py has put the active slot on sys.path).
# board.run() drives the motor pin low before it imports anything else.
from facewave import board

board.run()
