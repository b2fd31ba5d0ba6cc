"""Raspberry Pi Pico (RP2040): coin ERM motor through a logic-level MOSFET on GP15."""

PROFILE = {
    "name": "pico",
    "description": "Raspberry Pi Pico (RP2040), ERM on GP15, button GP14, LED GP25",
    # safety caps (firmware/profile.py): a 3 V coin motor run from a 3.7-4.2 V cell
    "max_level": 850,
    "max_step": 850,
    "slew": 10000,
    "max_on_ms": 600000,
    "session_max_ms": 1200000,
    "thermal": 540000000,
    "step_ms": 10,
    # board
    "pwm_freq": 20000,
    "motor": {"pin": 15, "kind": "erm", "soft_ms": 200, "kick_ms": 30, "kick_level": 800,
              "fade_ms": 500, "rest_ms": 10000},
    "button": {"pin": 14, "active": 0, "pull": "up", "debounce_ms": 30, "long_ms": 1000,
               "double_ms": 350, "stuck_ms": 15000,
               "short": "next", "long": "power", "double": "intensity"},
    "led": {"kind": "plain", "pin": 25, "active": 1},
    # VSYS through the Pico's own 200k/100k divider on GP29 (ADC3)
    "battery": {"pin": 29, "vref_mv": 3300, "ratio": 3000, "low_mv": 3500, "cutoff_mv": 3300,
                "period_ms": 5000},
    # TP4056 CHRG output: open drain, low while charging
    "charger": {"pin": 13, "active": 0, "pull": "up"},
    "session": {"default_ms": 180000, "cue_ms": 30000, "idle_off_ms": 600000,
                "pause_off_ms": 60000},
    "intensity": (400, 550, 700, 850, 1000),
    "wdt_ms": 5000,
    # RP2040 datasheet 4.7: WATCHDOG_CTRL (0x40058000) through its atomic clear alias
    # (+0x3000), bit 30 ENABLE: the watchdog stops, as pico-sdk's watchdog_disable() does
    "wdt_off": 0x4005B000,
    "wdt_bits": 0x40000000,
    "timer": -1,
}
