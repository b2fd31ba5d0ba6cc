"""A recorded virtual-board run replayed into the firmware: the same file runs unchanged on
CPython and on the MicroPython VM, so the two traces are comparable by construction.

The tape (see replay.py) holds what crossed into the firmware during a CPython run, each entry
stamped with its virtual time and with how many loop passes had already run at that time: pin
levels, ADC millivolts, console bytes as they arrived, power downs and boots, clock jumps
outside the loop's sleep (boot delay, power off, a hung loop), injected exceptions, and the
moments the board's sleep was cut short by the outside world. The hardware, clock, flash,
console and trace are sim/hardware.py's, as on the CPython board; this file is only the tape
loop: shell.once(), then shell.sleep(), whose sleep jumps time to the firmware's next deadline.
The firmware decides when it wakes; only the world's moments come from the tape.

MicroPython subset: no f-strings, no `del` on slices, no CPython-only modules.
"""


class Replay:
    """One replay of a tape: call run(), then read rows (ms, level, led, event) and out (every
    byte the firmware wrote). load(name) gives a firmware module, unhex decodes hex, hardware
    is sim/hardware.py as this interpreter imports it."""

    def __init__(self, tape, load, unhex, hardware):
        self.load = load
        self.hardware = hardware
        self.fw_shell = load("shell")
        self.boards = load("boards")
        self.tape = tape["tape"]
        self.wakes = [e for e in self.tape if e[0] == "wake"]
        self.wi = 0
        self.i = 0
        self.origin = tape["origin"]
        self.clock = hardware.Clock(self.origin)
        files = {}
        for path in tape["files"]:
            files[path] = bytearray(unhex(tape["files"][path]))
        flash = hardware.MemoryFiles(files, tape["dirs"], tape["flash_size"])
        self.fs = hardware.Flash(flash, tape["cuts"])
        self.unhex = unhex
        self.out = bytearray()
        self.console = hardware.Console(self.clock, self.out.extend, self.idle)
        self.hw = None
        self.machine = None
        self.shell = None
        self.powered = False
        self.at_repl = False
        self.motor_pin = -1
        self.recorder = hardware.Recorder(self, load("device").STATES)
        self.rows = self.recorder.rows
        self.once_ms = None
        self.once_n = 0
        self.passing = False  # a loop pass runs
        self.done = False

    def _n(self):
        return self.once_n if self.once_ms == self.clock.ms else 0

    def _due(self, e):
        return e[1] < self.clock.ms or (e[1] == self.clock.ms and e[2] <= self._n())

    def apply_due(self, quiet_only=False):
        """Apply the tape's entries due by now (by this loop iteration of this ms)."""
        while self.i < len(self.tape) and not self.done:
            e = self.tape[self.i]
            if not self._due(e) or (quiet_only and e[0] not in ("rx", "wake", "drive", "mv")):
                return
            self.i += 1
            self._apply(e)

    def _apply(self, e):
        kind = e[0]
        if kind == "rx":
            self.console.put(self.unhex(e[3]))
        elif kind == "drive":
            assert self.hw is not None  # a tape has inputs only once the firmware runs
            self.hw.drive(e[3], e[4])
        elif kind == "mv":
            assert self.hw is not None
            self.hw.set_mv(e[3], e[4])
        elif kind == "jump":
            self.clock.advance(e[3] - self.clock.ms)  # the timers run, as on the board
        elif kind == "down":
            self.shell = None
            self.powered = False
            self.clock.cancel_all()  # timers die with the power
            self.recorder.record(True, 0)
        elif kind == "boot":
            self._boot(e[3], e[4], e[5])
        elif kind == "fault":
            self._break(e[3])
        elif kind == "end":
            self.done = True

    def _boot(self, name, version, fresh):
        if fresh:
            self.hw = self.hardware.Hardware(self.clock, record=False)
            self.hw.changed = self._changed
            self.machine = self.hw.machine()
        self.powered = True
        self.motor_pin = self.boards.load(name)["motor"]["pin"]
        fs = self.load("store").FS(self.fs)
        self.shell = self.fw_shell.start(
            self.machine, self.clock, self.console, name, fs=fs, version=version
        )
        self.recorder.seen_log = 0

    def _break(self, target):
        """Make firmware call module.attr[.attr] raise once, as the CPython board did."""
        dot = target.find(".")
        owner = self.load(target[:dot])
        parts = target[dot + 1 :].split(".")
        for part in parts[:-1]:
            owner = getattr(owner, part)
        self.hardware.break_once(owner, parts[-1], target)

    def idle(self, ms):
        """The firmware sleeps up to ms: until then, or the next moment the world woke the
        recorded board, or at once if console bytes are waiting."""
        self.apply_due(True)
        if self.console.buf:
            return
        now = self.clock.ms
        target = now + (max(0, ms))
        n = self._n()
        while self.wi < len(self.wakes):
            w = self.wakes[self.wi]
            if w[1] > now or (w[1] == now and w[2] > n):
                break
            self.wi += 1
        if self.wi < len(self.wakes) and self.wakes[self.wi][1] < target:
            target = self.wakes[self.wi][1]
        self.clock.advance(target - self.clock.ms)

    def _changed(self):
        """As on the board: a PWM written outside a loop pass is on the trace at its moment."""
        if self.shell is not None and not self.passing:
            self.recorder.record()

    def run(self):
        while True:
            self.apply_due()
            if self.done:
                return self
            if self.shell is None:  # off: the next recorded moment
                if self.i >= len(self.tape):
                    return self
                e = self.tape[self.i]
                self.clock.ms = max(self.clock.ms, e[1])
                self.once_ms = self.clock.ms
                self.once_n = e[2]
                continue
            if self.once_ms != self.clock.ms:
                self.once_ms = self.clock.ms
                self.once_n = 0
            self.once_n += 1
            self.passing = True
            try:
                self.shell.once()
                self.passing = False
                self.recorder.record()
                self.shell.sleep()
            except self.hardware.PowerCut:
                self.passing = False


def replay(tape, load, unhex, hardware):
    """Replay `tape` (a dict, see replay.py) into the firmware whose modules load(name) gives;
    answers the finished Replay."""
    return Replay(tape, load, unhex, hardware).run()
