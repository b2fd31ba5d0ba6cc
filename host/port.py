"""Which serial port the massager is on, and how long to wait for it: the options every verb
that talks to a device takes (--port, --json, --timeout), found and opened the same way by the
device verbs and by `facewave flash`."""

import argparse
import os

from .errors import FacewaveError
from .link import DEFAULT_TIMEOUT
from .units import NumberError, number, option

# USB vendor:product of the boards the firmware runs on. "micropython": the board's own USB
# (MicroPython or the facewave firmware on it); "maybe": a USB-serial bridge that many ESP32
# boards carry, and many other gadgets too.
USB_IDS = {
    (0x2E8A, 0x0005): ("micropython", "Raspberry Pi Pico (MicroPython)"),
    (0x303A, 0x1001): ("micropython", "ESP32-C3/S3 built-in USB serial"),
    (0x10C4, 0xEA60): ("maybe", "CP210x USB-serial bridge (an ESP32 board?)"),
    (0x1A86, 0x7523): ("maybe", "CH340 USB-serial bridge (an ESP32 board?)"),
    (0x1A86, 0x55D4): ("maybe", "CH9102 USB-serial bridge (an ESP32 board?)"),
}
TIMEOUT_LIMITS = (0.1, 3600.0)  # seconds: --timeout and $FACEWAVE_TIMEOUT
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}


def scan():
    """Every serial port of this computer, marked with what its USB id says it is."""
    from serial.tools import list_ports

    found = []
    for p in sorted(list_ports.comports(), key=lambda p: p.device):
        usb = "%04X:%04X" % (p.vid, p.pid) if p.vid is not None else None
        kind, what = None, None
        if p.vid is not None and p.pid is not None:
            kind, what = USB_IDS.get((p.vid, p.pid), (None, None))
        found.append(
            {
                "port": p.device,
                "usb": usb,
                "kind": kind,
                "what": what or (p.description if p.description != "n/a" else "") or "",
                "serial": p.serial_number,
            }
        )
    return found


def find_port(args):
    """--port, else $FACEWAVE_PORT, else the one candidate device plugged in."""
    port = getattr(args, "port", None) or os.environ.get("FACEWAVE_PORT")
    if port:
        return port
    candidates = [p["port"] for p in scan() if p["kind"]]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise FacewaveError(
            "no device found: plug the massager in with a data cable (some "
            "cables only charge), or pass --port; `facewave ports` lists the "
            "serial ports",
            2,
        )
    raise FacewaveError(
        "%s devices found (%s): pass --port"
        % (_NUMBERS.get(len(candidates), len(candidates)), ", ".join(candidates)),
        2,
    )


def link_timeout(args):
    """--timeout, else $FACEWAVE_TIMEOUT, else DEFAULT_TIMEOUT: seconds a silent device is
    waited for."""
    value = getattr(args, "timeout", None)  # checked as timeout_option() reads it
    if value is not None:
        return value
    text = os.environ.get("FACEWAVE_TIMEOUT")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        return number(text, *TIMEOUT_LIMITS, what="seconds")
    except NumberError as e:
        raise FacewaveError("FACEWAVE_TIMEOUT: %s" % e.args[0], 2) from None


def timeout_option(p, help_text):
    """--timeout SECONDS, read as every command reads it."""
    p.add_argument(
        "--timeout",
        type=option(*TIMEOUT_LIMITS, what="seconds"),
        metavar="SECONDS",
        help=help_text,
    )


def open_link(port, timeout):
    """Link.open(port), giving up on a device silent for `timeout` seconds."""
    from .link import Link

    return Link.open(port, timeout=timeout)


def setup_link(p):
    """--port, --json and --timeout, as every verb that talks to a device has them."""
    # SUPPRESS: `facewave --port P info` works too, the verb's default must not overwrite it
    p.add_argument(
        "--port",
        "-p",
        default=argparse.SUPPRESS,
        metavar="PORT",
        help="serial port or URL (/dev/ttyACM0, COM3, socket://HOST:PORT); "
        "default $FACEWAVE_PORT, else the one device plugged in",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout_option(
        p,
        "give up on a device silent this long, resends included (default %g, or "
        "$FACEWAVE_TIMEOUT)" % DEFAULT_TIMEOUT,
    )
