"""ESP32-C3 DevKitM-1: ERM on GPIO5, the BOOT button (GPIO9), the on-board RGB LED (GPIO8)."""

PROFILE = {
    "name": "esp32c3",
    "description": "ESP32-C3 DevKitM-1, ERM on GPIO5, BOOT button, RGB LED on GPIO8",
    "max_level": 850,
    "max_step": 850,
    "slew": 10000,
    "max_on_ms": 600000,
    "session_max_ms": 1200000,
    "thermal": 540000000,
    "step_ms": 10,
    "pwm_freq": 20000,
    "motor": {"pin": 5, "kind": "erm", "soft_ms": 200, "kick_ms": 30, "kick_level": 800,
              "fade_ms": 500, "rest_ms": 10000},
    "button": {"pin": 9, "active": 0, "pull": "up", "debounce_ms": 30, "long_ms": 1000,
               "double_ms": 350, "stuck_ms": 15000,
               "short": "next", "long": "power", "double": "intensity"},
    "led": {"kind": "neopixel", "pin": 8, "active": 1},
    # 100k/100k divider on GPIO3 (ADC1 channel 3); 11 dB attenuation reads up to ~2.5 V
    "battery": {"pin": 3, "vref_mv": 2500, "ratio": 2000, "atten": 3, "low_mv": 3500,
                "cutoff_mv": 3300, "period_ms": 5000},
    "charger": {"pin": 10, "active": 0, "pull": "up"},
    "session": {"default_ms": 180000, "cue_ms": 30000, "idle_off_ms": 600000,
                "pause_off_ms": 60000},
    "intensity": (400, 550, 700, 850, 1000),
    "wdt_ms": 5000,
    "timer": 0,
}
