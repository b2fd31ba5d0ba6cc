"""The device verbs of `facewave`: talk to the massager, say plainly what went wrong.

Every verb takes --port (any pyserial URL; default $FACEWAVE_PORT, else the one device plugged
in), --json (one JSON document on stdout, or one object per line for the live verbs) and
--timeout; port.py finds and opens the device they name. The conversation itself is
link.Link; this module turns its answers into text and its LinkError into the one-line
FacewaveError of the command line (exit 1 when the device said no, 2 when there is no usable
connection).
"""

import argparse
import json
import signal
import sys
import time
from contextlib import contextmanager

from .errors import FacewaveError
from .port import (
    DEFAULT_TIMEOUT,
    find_port,
    link_timeout,
    open_link,
    scan,
    setup_link,
    timeout_option,
)
from .programs import pattern_name
from .units import NumberError, duration, number, option, plural, size

# ---- the connection -----------------------------------------------------------------------------


@contextmanager
def connected(args):
    """A Link to the device the arguments name; its failures become one-line errors."""
    from .link import LinkError

    port = find_port(args)
    timeout = link_timeout(args)
    try:
        with open_link(port, timeout) as link:
            yield link
    except LinkError as e:
        raise FacewaveError(str(e), e.exit_status) from None


def _caps_profile(link):
    """The device's own caps, so the host's check of a pattern is the device's check."""
    from .firmware.profile import Profile, ProfileError

    try:
        return Profile(link.hello.get("caps") or {})
    except ProfileError as e:
        raise FacewaveError(
            "the device on %s reports caps this facewave cannot use (%s): "
            "update facewave or reflash the device" % (link.name, e),
            2,
        ) from None


# ---- output -------------------------------------------------------------------------------------


def _json(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def status_line(st):
    """One line of the device's state: for play, stop, pause, resume and watch."""
    state = st.get("state", "?")
    parts = [state]
    if state in ("running", "paused"):
        parts[0] += " " + (st.get("routine") or "?")
        if st.get("zone"):
            parts.append("zone " + st["zone"])
        parts.append("%s left" % duration(st.get("left_ms", 0)))
        if st.get("tethered"):
            parts.append("tethered")
    parts.append("intensity %s/5" % st.get("intensity", "?"))
    parts.append(_battery(st))
    return ", ".join(parts)


def _battery(st):
    mv = st.get("battery_mv") or 0
    text = (
        "battery %.2f V %s" % (mv / 1000, st.get("battery", ""))
        if mv
        else "battery %s" % st.get("battery", "?")
    )
    return text + (" (charging)" if st.get("charging") else "")


def _table(rows):
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print("%-*s  %s" % (width, key, value))


# ---- verbs --------------------------------------------------------------------------------------


def do_ports(args):
    """List serial ports, marking the boards facewave runs on."""
    ports = scan()
    if args.probe:
        for p in ports:
            if p["kind"]:
                p["probe"] = _probe(p["port"], link_timeout(args))
    width = _listing(
        args,
        {"ports": ports},
        ports,
        "port",
        "no serial ports found: plug the massager in with a data cable",
    )
    if width is None:
        return 0
    for p in ports:
        mark = {"micropython": "*", "maybe": "?"}.get(p["kind"], " ")
        print("%s %-*s  %-9s  %s" % (mark, width, p["port"], p["usb"] or "-", p["what"]))
        probe = p.get("probe")
        if probe:
            print("  %*s  %s" % (width, "", probe.get("summary") or probe.get("error")))
    print("* a MicroPython board, ? perhaps one (a USB-serial bridge); --probe asks each")
    return 0


def _probe(port, timeout):
    from .link import LinkError

    try:
        with open_link(port, timeout) as link:
            h = link.hello
            assert h is not None  # open_link() answers a link that has shaken hands
            return {
                "facewave": True,
                "firmware": h.get("firmware"),
                "protocol": h.get("protocol"),
                "board": h.get("board"),
                "summary": "facewave %s, board %s, %s"
                % (h.get("firmware"), h.get("board"), plural(h.get("patterns", 0), "pattern")),
            }
    except LinkError as e:
        return {"facewave": False, "error": str(e)}


def do_info(args):
    """The device: firmware, board, storage, caps, settings."""
    with connected(args) as link:
        info = request(link, args)
    info["port"] = link.name
    if args.json:
        _json(info)
        return 0
    caps = info.get("caps", {})
    settings = info.get("settings", {})
    free = info.get("free", -1)
    quota_left = info.get("quota_bytes", 0) - info.get("used", 0)
    room = quota_left if free < 0 else min(free, quota_left)
    _table(
        [
            ("port", link.name),
            ("firmware", "%s (protocol %s)" % (info.get("firmware"), info.get("protocol"))),
            ("board", info.get("board")),
            ("capabilities", ", ".join(info.get("capabilities", []))),
            (
                "storage",
                "%d of %d patterns, %s used, room for %s more"
                % (
                    info.get("patterns", 0),
                    info.get("quota_count", 0),
                    size(info.get("used", 0)),
                    size(max(0, room)),
                ),
            ),
            ("caps", caps_line(caps)),
            (
                "settings",
                "routine %s, intensity %s/5, session %s"
                % (
                    settings.get("routine") or "(first stored)",
                    settings.get("intensity"),
                    duration(settings.get("session_ms", 0)),
                ),
            ),
            ("state", status_line(info.get("status", {}))),
        ]
    )
    return 0


def caps_line(caps):
    """A board's safety caps in words: for `info` and `facewave boards`."""
    return (
        "level up to %s, steps up to %s, %s%%/s slew, motor on at most %s, sessions up to %s"
        % (
            _pct(caps.get("max_level", 0)),
            _pct(caps.get("max_step", 0)),
            caps.get("slew", 0) // 10,
            duration(caps.get("max_on_ms", 0)),
            duration(caps.get("session_max_ms", 0)),
        )
    )


def _pct(permille):
    return "%g%%" % (permille / 10)


def _listing(args, payload, rows, key, empty):
    """A listing's JSON (`payload`), or its `empty` line when there are no rows: then None;
    else the width of its first column, the rows' `key`."""
    if args.json:
        _json(payload)
        return None
    if not rows:
        print(empty)
        return None
    return max(len(row[key]) for row in rows)


def do_list(args):
    """The patterns stored on the device."""
    with connected(args) as link:
        patterns = request(link, args)
    width = _listing(
        args,
        {"port": link.name, "patterns": patterns},
        patterns,
        "name",
        "no patterns on the device: `facewave upload daily` stores the daily routine",
    )
    if width is None:
        return 0
    rows = [
        (
            p["name"],
            "-" if "error" in p else duration(p["duration"]),
            size(p.get("size", 0)),
            "unusable: %s" % p["error"] if "error" in p else p.get("description", ""),
        )
        for p in patterns
    ]
    long = max(len(row[1]) for row in rows)
    big = max(len(row[2]) for row in rows)
    for name, length, stored, text in rows:
        print("%-*s  %*s  %*s  %s" % (width, name, long, length, big, stored, text))
    return 0


def do_upload(args):
    """Compile a pattern for the device and store it there."""
    with connected(args) as link:
        summary = request(link, args, progress=not args.json and sys.stderr.isatty())
    summary["port"] = link.name
    if args.json:
        _json(summary)
    else:
        for line in summary["warnings"]:  # what compiles but misleads, as `check` says it
            print(line, file=sys.stderr)
        print(
            "uploaded %s to %s: %s, %s"
            % (summary["name"], link.name, duration(summary["duration"]), size(summary["size"]))
        )
        print("  " + summary["session"])
    return 0


def do_delete(args):
    """Delete a pattern from the device."""
    with connected(args) as link:
        request(link, args)
    if args.json:
        _json({"port": link.name, "deleted": args.name})
    else:
        print("deleted %s" % args.name)
    return 0


def do_play(args):
    """Play a stored pattern."""
    if args.tethered:
        return _tethered(args)
    with connected(args) as link:
        st = request(link, args)
    if args.json:
        _json(st)
    else:
        print(status_line(st))
        print("it plays on without this computer; `facewave stop` stops it")
    return 0


def _tethered(args):
    """Play and keep the playback alive until it ends, Ctrl-C, or this process is told to go
    (kill, a closed terminal); then stop it. If this process dies without a word, the device
    stops by itself when the heartbeats stop."""
    from .firmware import messages
    from .link import LinkError

    old = {sig: signal.signal(sig, _interrupt) for sig in _STOP_SIGNALS}
    show = _Live(args.json)
    timeout_ms = messages.HEARTBEAT_TIMEOUT_MS
    try:
        with connected(args) as link:
            assert link.hello is not None  # connected() answers a link that has shaken hands
            timeout_ms = link.hello.get("heartbeat_ms", timeout_ms)
            period = max(0.05, min(messages.HEARTBEAT_MS, timeout_ms // 4) / 1000)
            try:
                try:
                    st = request(link, args)
                    show(st)
                    if not args.json:
                        print(
                            "tethered: Ctrl-C stops it; so does losing this computer (within"
                            " %s)" % duration(timeout_ms),
                            file=sys.stderr,
                        )
                    while st.get("state") in ("running", "paused"):
                        time.sleep(period)
                        st = link.heartbeat()  # only this link's heartbeats keep it playing
                        show(st)
                except KeyboardInterrupt:
                    for sig in [signal.SIGINT] + _STOP_SIGNALS:  # a second Ctrl-C: stop anyway
                        before = signal.signal(sig, signal.SIG_IGN)
                        old.setdefault(sig, before)
                    show(link.stop())
            except LinkError as e:
                raise FacewaveError(
                    "%s; the device stops a tethered playback by itself within"
                    " %s" % (e, duration(timeout_ms)),
                    e.exit_status,
                ) from None
    finally:
        show.end()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0


_STOP_SIGNALS = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class _Live:
    """Status shown as it changes: a refreshed line on a terminal, a line per change in a
    file, one JSON object per line with --json."""

    def __init__(self, as_json):
        self.as_json = as_json
        self.tty = sys.stdout.isatty()
        self.last = None

    def __call__(self, st):
        if self.as_json:
            _json(st)
            return
        line = status_line(st)
        if self.tty:
            sys.stdout.write("\r" + line + "\x1b[K")
            sys.stdout.flush()
        elif line != self.last:
            print(line, flush=True)
        self.last = line

    def end(self):
        if self.tty and not self.as_json and self.last is not None:
            print()


def _simple(method, help_text):
    def handler(args):
        with connected(args) as link:
            st = request(link, args)
        if args.json:
            _json(st)
        else:
            print(status_line(st))
        return 0

    handler.__name__ = handler.__qualname__ = "do_" + method
    handler.__doc__ = help_text
    return handler


do_stop = _simple("stop", "Stop playing (the motor stops at once).")
do_pause = _simple("pause", "Pause the session.")
do_resume = _simple("resume", "Resume a paused session.")


def do_status(args):
    """What plays, time left, zone, battery."""
    with connected(args) as link:
        st = request(link, args)
    if args.json:
        _json(st)
        return 0
    state = st.get("state", "?")
    rows = [("state", state + (" (tethered)" if st.get("tethered") else ""))]
    if state in ("running", "paused"):
        rows.append(("playing", st.get("routine") or "?"))
        rows.append(("zone", st.get("zone") or "-"))
        left, played = st.get("left_ms", 0), duration(st.get("elapsed_ms", 0))
        rows.append(("time left", "%s (%s played)" % (duration(left), played)))
        rows.append(("level", _pct(st.get("level", 0))))
    rows.append(("intensity", "%s/5" % st.get("intensity")))
    rows.append(("battery", _battery(st)[len("battery ") :]))
    _table(rows)
    return 0


# ---- settings -----------------------------------------------------------------------------------

# what a person types -> (device setting, help)
SETTINGS = {
    "intensity": ("intensity", "motor strength step, 1..5"),
    "session": ("session_ms", "length of a session of a pattern without zones, e.g. 3min"),
    "cue": ("cue_ms", "how often to cue a move to the next area, e.g. 30s; 0 for never"),
    "routine": ("routine", "what the button plays: the name of a stored pattern"),
}


def setting_value(key, text):
    """The device key and value for `set KEY VALUE`, checked with the firmware's own rules."""
    from .firmware.settings import _RANGES, Settings, SettingsError

    if key not in SETTINGS:
        raise FacewaveError(
            "no setting %r; the settings are: %s"
            % (key, "; ".join("%s (%s)" % (k, h) for k, (_, h) in SETTINGS.items())),
            2,
        )
    device_key = SETTINGS[key][0]
    if device_key == "routine":
        from .firmware import messages
        from .firmware.store import check_name

        try:
            return device_key, check_name(text)
        except messages.Refused as e:
            raise FacewaveError("routine: %s" % e.args[1], 2) from None
    if device_key == "intensity":
        try:
            value = number(text, *_RANGES[device_key])
        except NumberError:
            value = None
    else:
        value = 0 if text == "0" else _ms(text)
    try:
        if value is None:
            raise SettingsError("")
        Settings().set(device_key, value)
    except SettingsError:
        lo, hi = _RANGES[device_key]
        if device_key == "intensity":
            wanted = "a whole number %d..%d" % (lo, hi)
        else:
            wanted = "a duration from %s to %s, like 3min or 90s" % (_typed(lo), _typed(hi))
            if lo == 0:
                wanted += ", or 0"
        raise FacewaveError("%s must be %s, not %r" % (key, wanted, text), 2) from None
    return device_key, value


def _typed(ms):
    """A duration as a person types it back: 60min, 10s (the units a setting reads)."""
    return "%dmin" % (ms // 60000) if ms % 60000 == 0 else "%ds" % (ms // 1000)


def _ms(text):
    from .lang.lexer import SyntaxProblem, Token
    from .lang.lexer import duration as parse

    try:
        return parse(Token(text.replace(" ", ""), 0, 0))
    except SyntaxProblem:
        return None


def do_set(args):
    """Change a setting: intensity, session, cue, routine."""
    device_key, value = setting_value(args.key, args.value)  # a usage error needs no device
    with connected(args) as link:
        settings = request(link, args)
    if args.json:
        _json(settings)
        return 0
    shown = settings.get(device_key, value)
    if device_key.endswith("_ms"):
        shown = duration(shown) if shown else "never"
    print("%s set to %s" % (args.key, shown))
    return 0


# ---- the event log ------------------------------------------------------------------------------


def do_log(args):
    """The device's event log."""
    from .firmware import ticks

    with connected(args) as link:
        entries = link.log()
        now = link.status().get("now")  # the device's clock, to date the entries
    wall = time.time()
    for e in entries:
        if now is not None:
            e["ago_s"] = ticks.diff(now, e["ms"]) / 1000
            e["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(wall - e["ago_s"]))
    if args.json:
        _json({"port": link.name, "entries": entries})
        return 0
    if not entries:
        print("the log is empty")
        return 0
    for e in entries:
        when = (
            time.strftime("%H:%M:%S", time.localtime(wall - e["ago_s"]))
            if "ago_s" in e
            else "%10.3f s" % (e["ms"] / 1000)
        )
        arg = e["arg"]
        if e["event"] == "upload":
            arg = "begins" if arg else "ends"
        print("%s  %-15s %s" % (when, e["event"], "" if arg in (0, None, "") else arg))
    return 0


# ---- watch --------------------------------------------------------------------------------------


def do_watch(args):
    """Live status until Ctrl-C."""
    show = _Live(args.json)
    n = 0
    try:
        with connected(args) as link:
            while True:
                show(link.status())
                n += 1
                if args.count and n >= args.count:
                    break
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        show.end()
    return 0


# ---- requests: a verb's words, parsed and sent one way ------------------------------------------

# The verbs that are one request to the device: what a scenario's `command` and the
# virtual_board fixture send, parsed and sent as `facewave VERB` parses and sends them.
REQUESTS = ("play", "stop", "pause", "resume", "status", "set", "upload", "delete", "info", "list")


class _Words(argparse.ArgumentParser):
    """A verb's own arguments, whose complaint is raised with how to write the verb rather
    than printed with an exit."""

    def error(self, message):
        raise FacewaveError("%s; write %r" % (message, self.words()), 2)

    def words(self):
        """The verb as a scenario writes it: "play NAME [--tethered]" (no link options)."""
        out = [self.prog]
        for action in self._actions:
            name = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
            if not action.option_strings:
                out.append(name)
            elif action.dest not in ("port", "json", "timeout"):
                value = "" if action.nargs == 0 else " " + name
                out.append("[%s%s]" % (action.option_strings[-1], value))
        return " ".join(out)


def parse(words):
    """The words of `facewave VERB ARGS` (["set", "session", "20min"]) parsed by the verb's own
    argument setup, for a scenario's command and the fixture; a usage problem (an unknown
    verb, a missing or extra word, a value the setting cannot take) is a FacewaveError."""
    verb = words[0] if words else ""
    if verb not in REQUESTS:
        raise FacewaveError(
            "unknown command %r (the commands: %s)" % (verb, ", ".join(REQUESTS)), 2
        )
    p = _Words(prog=verb, add_help=False)
    globals().get("setup_" + verb, SETUP)(p)
    args = p.parse_args(words[1:])
    args.command = verb
    for name in ("port", "timeout"):
        if getattr(args, name, None) is not None:
            raise FacewaveError("--%s has no place here: the command goes to this board" % name, 2)
    if verb == "set":
        setting_value(args.key, args.value)
    return args


def request(link, args, progress=False):
    """Ask the device on `link` what `facewave VERB ARGS` asks it (`args` as a verb's parser
    leaves them); answers its reply: the status (play, stop, pause, resume, status), the
    settings (set), the upload's summary (with how long a session of it lasts), the info,
    the pattern list, None for delete. The device's no is a link.Refused; a pattern that
    does not compile, a CompileError."""
    from .firmware import messages
    from .link import Refused

    verb = args.command
    if verb == "play":
        return link.play(args.name, tethered=args.tethered, default=args.default)
    if verb == "set":
        key, value = setting_value(args.key, args.value)
        if key == "routine" and value not in [p["name"] for p in link.list()]:
            raise Refused(
                messages.E_NOT_FOUND,
                "there is no pattern %r on the device: `facewave list` shows "
                "them, `facewave upload` adds one" % value,
            )
        return link.set(key, value)
    if verb == "upload":
        from .programs import load_program, session_note

        prog = load_program(args.source, _caps_profile(link))  # CompileError: file:line:col
        bar = progress and len(prog.data) > 2048
        summary = link.upload(args.name or prog.name, prog.data, progress=bar)
        session_ms = link.info()["settings"]["session_ms"]
        summary["session"] = session_note(prog.info, session_ms, "the device's")
        summary["warnings"] = prog.warning_text(caret=False).splitlines()  # `check` shows where
        return summary
    if verb == "delete":
        return link.delete(args.name)
    return getattr(link, verb)()  # stop, pause, resume, status, info, list


# ---- the table ----------------------------------------------------------------------------------


def setup_ports(p):
    p.add_argument(
        "--probe", action="store_true", help="open each possible device and ask it what it runs"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout_option(p, "how long to wait for each probed device (default %g)" % DEFAULT_TIMEOUT)


def setup_upload(p):
    p.add_argument(
        "source",
        metavar="FILE|ROUTINE",
        help="a pattern file (compiled here against the device's caps), a compiled "
        ".fwb file or the name of a built-in routine",
    )
    p.add_argument(
        "--name", type=pattern_name, help="name on the device (default: the pattern's own name)"
    )
    setup_link(p)


def setup_delete(p):
    p.add_argument("name", metavar="NAME", help="a pattern stored on the device")
    setup_link(p)


def setup_play(p):
    setup_delete(p)
    p.add_argument(
        "--tethered",
        action="store_true",
        help="stay connected: the device stops when this command ends or this "
        "computer goes silent",
    )
    p.add_argument(
        "--default",
        action="store_true",
        help="also make it the routine the button plays (without it, the button's routine "
        "stays what it was; `facewave set routine NAME` changes it alone)",
    )


def setup_set(p):
    p.add_argument("key", metavar="KEY", help=", ".join(SETTINGS))
    p.add_argument("value", metavar="VALUE")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "settings:\n" + "\n".join("  %-10s %s" % (k, h) for k, (_, h) in SETTINGS.items())
    setup_link(p)


def setup_watch(p):
    p.add_argument(
        "--interval",
        type=option(0.05, 3600.0, what="seconds"),
        default=0.5,
        metavar="SECONDS",
        help="time between updates (default 0.5)",
    )
    p.add_argument("--count", type=option(1, 1000000), metavar="N", help="stop after N updates")
    setup_link(p)


# The verbs, in the order of `facewave --help`; each one's help is its docstring's first
# paragraph, its arguments setup_VERB's (setup_link where there is none).
VERBS = (
    do_ports,
    do_info,
    do_list,
    do_upload,
    do_delete,
    do_play,
    do_stop,
    do_pause,
    do_resume,
    do_status,
    do_set,
    do_log,
    do_watch,
)
SETUP = setup_link
