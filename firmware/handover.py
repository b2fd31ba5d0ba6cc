"""The console goes back to the REPL (mpremote's Ctrl-C between frames, a plain Ctrl-C with no
protocol): what the shell does then, loaded only then, so a booted board does not hold it."""

import micropython

from .shell import watchdog_off


def hand_over(shell):
    """Motor off, the guard stopped (the loop stops on purpose, and its timer may be the one
    the REPL needs), Ctrl-C live again, and the watchdog stopped (or fed by a timer where the
    chip cannot stop it) so the board does not reset under mpremote."""
    shell.motor_zero()
    if shell.guard is not None:
        shell.guard.deinit()
    micropython.kbd_intr(3)
    prof = shell.prof
    if not watchdog_off(shell.m, prof.wdt_off, prof.wdt_bits):
        _feed(shell)


def _feed(shell):
    """A timer feeds the watchdog the chip cannot stop, until the next soft reset."""
    try:
        shell.timer = shell.m.Timer(shell.prof.timer)
        shell.timer.init(period=shell.prof.wdt_ms // 4, callback=lambda t: shell.wdt.feed())
    except Exception:
        pass
