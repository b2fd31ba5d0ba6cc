"""Haptic files people already have, read as their own tools read them, and written back.

read (formats.py: the format found by content) -> Events (events.py) -> mix.py -> text.py:
pattern source a person can read, at the device's scale. export.py writes a pattern as AHAP.
"""
