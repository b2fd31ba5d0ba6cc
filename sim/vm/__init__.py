"""What runs inside the MicroPython VM: job files and the harness shared with CPython."""
