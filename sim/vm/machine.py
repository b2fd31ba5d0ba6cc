"""`machine` in the MicroPython VM, which has none: the virtual hardware of sim/hardware.py
on a clock that does not move (what the VM tier measures does not wait; the VM board brings it
to the wall time, sim/vm/port.py)."""

from hardware import Clock, Hardware

hw = Hardware(Clock(), record=False)
_m = hw.machine()
Pin = _m.Pin
PWM = _m.PWM
ADC = _m.ADC
WDT = _m.WDT
Timer = _m.Timer
mem32 = _m.mem32
bitstream = _m.bitstream
reset_cause = _m.reset_cause
unique_id = _m.unique_id
reset = _m.reset  # SystemExit, counted in hw.resets: the VM board powers a fresh VM on


def soft_reset():
    raise SystemExit  # as MicroPython's own: the REPL asks for a soft reset
