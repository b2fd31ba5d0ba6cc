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
        self.vref = prof.battery_vref_mv
        self.ratio = prof.battery_ratio
        self.low = prof.battery_low_mv
        self.cutoff = prof.battery_cutoff_mv
        self.mv = 0  # 0: not measured (no sensing counts as a good battery)
        self.state = OK

    def millivolts(self, raw):
        """Battery mV for a read_u16() value through the profile's divider."""
        return raw * self.vref // 65535 * self.ratio // 1000

    def update(self, mv):
        """Take a reading; answer the new state."""
        self.mv = mv
        s = self.state
        if mv <= 0:
            s = OK
        elif mv < self.cutoff:
            s = CUTOFF
        elif mv < self.low:
            if s == OK or mv >= self.cutoff + _HYST_MV:
                s = LOW
        elif s == OK or mv >= self.low + _HYST_MV:
            s = OK
        elif s == CUTOFF:
            s = LOW
        self.state = s
        return s
