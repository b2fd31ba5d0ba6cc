"""Durations and sizes as facewave writes them for people: one spelling in every command."""


def duration(ms):
    """2 h 5 min, 3 min 5 s, 45 s, 1.5 s, 0.25 s: whole seconds from 10 s on, two digits
    below."""
    if ms < 10000 and ms % 1000:
        return "%.2g s" % (ms / 1000)
    s = (ms + 500) // 1000
    if s >= 3600:
        return "%d h %d min" % (s // 3600, s % 3600 // 60) if s % 3600 else "%d h" % (s // 3600)
    if s >= 60:
        return "%d min %d s" % (s // 60, s % 60) if s % 60 else "%d min" % (s // 60)
    return "%d s" % s


def plural(n, noun):
    """1 element, 3 elements: a count with its noun agreed."""
    return "%d %s%s" % (n, noun, "" if n == 1 else "s")


def size(n):
    """512 B, 47.1 KB, 1.5 MB."""
    if n < 1024:
        return "%d B" % n
    if n < 1024 * 1024:
        return "%.1f KB" % (n / 1024)
    if n < 1024**3:
        return "%.1f MB" % (n / 1024**2)
    return "%.1f GB" % (n / 1024**3)
