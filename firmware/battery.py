"""The battery: ADC reading to millivolts, and ok / low / cut-off with hysteresis.

Low warns and shortens sessions; cut-off allows no motor. A state is left only when the voltage
has come back a margin above its threshold, so the sag of a starting motor cannot flap it.
"""

from micropython import const

OK = const(0)
LOW = const(1)
CUTOFF = const(2)
NAMES = ("ok", "low", "cut-off")
_HYST_MV = const(100)


class Battery:
    def __init__(self, prof):
        self.prof = prof  # read every few seconds only: no copies of its fields
        self.mv = 0  # 0: not measured (no sensing counts as a good battery)
        self.state = OK

    def millivolts(self, raw):
        """Battery mV for a read_u16() value through the profile's divider."""
        p = self.prof
        return raw * p.battery_vref_mv // 65535 * p.battery_ratio // 1000

    def update(self, mv):
        """Take a reading; answer the new state."""
        self.mv = mv
        low = self.prof.battery_low_mv
        cutoff = self.prof.battery_cutoff_mv
        s = self.state
        if mv <= 0:
            s = OK
        elif mv < cutoff:
            s = CUTOFF
        elif mv < low:
            if s == OK or mv >= cutoff + _HYST_MV:
                s = LOW
        elif s == OK or mv >= low + _HYST_MV:
            s = OK
        elif s == CUTOFF:
            s = LOW
        self.state = s
        return s
