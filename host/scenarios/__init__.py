"""Scenarios: scripted runs of the virtual board with expectations (spec: the file format,
runner: playing and judging one, compare: the same run on CPython and MicroPython, fixture:
the `virtual_board` pytest fixture), and the built-in ones (*.toml)."""
