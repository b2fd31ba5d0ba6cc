"""ESP32-C3 DevKitM-1: ERM on GPIO5, the BOOT button (GPIO9), the on-board RGB LED (GPIO8).

The same coin ERM as the Pico: the fields left out take the same defaults (caps:
firmware/profile.py; board fields: boards/__init__.py)."""

# motor.start_level: a typical 3 V coin ERM starts from rest at about 2.4 V (an estimate from
# coin-motor datasheets' start voltage): 570 permille of a full 4.2 V cell. `check --board` warns
# of a start from rest below it that the kick cannot lift; measure your motor and set its own.
PROFILE = {
    "name": "esp32c3",
    "description": "ESP32-C3 DevKitM-1, ERM on GPIO5, BOOT button, RGB LED on GPIO8",
    "pwm_freq": 20000,
    "motor": {"pin": 5, "kind": "erm", "kick_ms": 30, "kick_level": 800, "start_level": 570},
    "button": {"pin": 9},
    "led": {"kind": "neopixel", "pin": 8},
    # 100k/100k divider on GPIO3 (ADC1 channel 3); 11 dB attenuation reads up to ~2.5 V
    "battery": {"pin": 3, "vref_mv": 2500, "ratio": 2000, "atten": 3},
    "charger": {"pin": 10},
    # machine.Timer 0: the guard's while the loop runs; at the REPL it feeds the watchdog,
    # which cannot be stopped
    "timer": 0,
}
