"""Raspberry Pi Pico (RP2040): coin ERM motor through a logic-level MOSFET on GP15.

A field left out takes its default (caps: firmware/profile.py; board fields: boards/__init__.py),
chosen for this motor: a 3 V coin ERM run from a 3.7-4.2 V cell."""

# motor.start_level: a typical 3 V coin ERM starts from rest at about 2.4 V (an estimate from
# coin-motor datasheets' start voltage): 570 permille of a full 4.2 V cell. `check --board` warns
# of a start from rest below it that the kick cannot lift; measure your motor and set its own.
PROFILE = {
    "name": "pico",
    "description": "Raspberry Pi Pico (RP2040), ERM on GP15, button GP14, LED GP25",
    "pwm_freq": 20000,
    "motor": {"pin": 15, "kind": "erm", "kick_ms": 30, "kick_level": 800, "start_level": 570},
    "button": {"pin": 14},  # to ground, the internal pull-up
    "led": {"kind": "plain", "pin": 25},
    # VSYS through the Pico's own 200k/100k divider on GP29 (ADC3)
    "battery": {"pin": 29, "vref_mv": 3300, "ratio": 3000},
    # TP4056 CHRG output: open drain, low while charging
    "charger": {"pin": 13},
    # RP2040 datasheet 4.7: WATCHDOG_CTRL (0x40058000) through its atomic clear alias
    # (+0x3000), bit 30 ENABLE: the watchdog stops, as pico-sdk's watchdog_disable() does
    "wdt_off": 0x4005B000,
    "wdt_bits": 0x40000000,
}
