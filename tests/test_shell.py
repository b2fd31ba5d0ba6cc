"""The board shell on the fake machine: boot order, the safe path on exceptions, watchdog."""

from hypothesis import given, settings
from hypothesis import strategies as st

from device_kit import Patterns, hold, profile
from facewave.firmware import console as usb_console
from facewave.firmware import device as dv
from facewave.firmware import shell
from facewave.firmware.settings import Settings
from facewave.sim import hardware as fake

PICO = profile()
MOTOR, BUTTON, LED, BAT, CHG = 15, 14, 25, 29, 13


class Console:
    def __init__(self, clock):
        self.clock = clock
        self.pending = b""
        self.out = b""

    def read(self, limit):
        data, self.pending = self.pending[:limit], self.pending[limit:]
        return data

    def write(self, data):
        self.out += data

    def wait(self, ms):
        if not self.pending:
            self.clock.advance(ms)


class Echo:
    """A stand-in for the protocol link: answers what it is fed; "stop" stops the device."""

    next = -1
    repl = False
    tethered = False

    def __init__(self, shell, broken=False):
        self.shell = shell
        self.broken = broken

    def wanted(self):
        return 64

    def feed(self, now, data):
        if self.broken:
            raise ZeroDivisionError("the link broke")
        if data == b"stop":
            self.shell.device.stop(now)
        return b"ok " + data

    def tick(self, now):
        pass

    def untether(self):
        pass


def make(tmp_path, prof=PICO, start=fake.WRAP - 3000):
    clock = fake.Clock(start=start)
    b = fake.Hardware(clock)
    m = b.machine()
    b.set_mv(BAT, 4000 * 1000 // prof.battery_ratio)
    b.drive(CHG, 1)  # TP4056 CHRG high: not charging
    b.drive(BUTTON, 1)  # pulled up: not pressed
    con = Console(clock)
    st_ = Settings(
        str(tmp_path / "settings.json"),
        session_ms=prof.session_default_ms,
        cue_ms=prof.session_cue_ms,
    )
    sh = shell.Shell(
        prof, m, clock, con, patterns=Patterns({"a": hold(500, 4600, "a")}), settings=st_
    )
    sh.link = Echo(sh)
    return sh, b, clock, con


def loop(sh, ms):
    end = sh.clock.ms + ms
    while sh.clock.ms < end:
        sh.once()
        sh.sleep()


def press(sh, b, held=80):
    b.drive(BUTTON, 0)
    loop(sh, held)
    b.drive(BUTTON, 1)
    loop(sh, 500)


def test_boot_drives_the_motor_pin_low_before_anything_else(tmp_path, monkeypatch):
    clock = fake.Clock()
    b = fake.install(clock)
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(usb_console, "UsbConsole", lambda: Console(clock))
        shells = []
        monkeypatch.setattr(shell.Shell, "run", lambda self: shells.append(self))  # noqa: PLW0108
        shell.run("pico")
        assert b.trace[0][1:] == ("pin", MOTOR, 0)
        assert shells[0].device.state == dv.IDLE and b.duty(MOTOR) == 0
    finally:
        fake.uninstall()


def test_a_bad_profile_leaves_the_motor_off_and_says_why(tmp_path, monkeypatch, capsys):
    import copy

    from facewave.firmware import boards

    data = copy.deepcopy(boards.load("pico"))
    del data["button"]["pin"]
    monkeypatch.setattr(boards, "load", lambda name: data)
    clock = fake.Clock()
    b = fake.install(clock)
    try:
        shell.run("pico")
    finally:
        fake.uninstall()
    assert b.trace == [(0, "pin", MOTOR, 0)]
    assert (
        capsys.readouterr().out.strip()
        == "facewave: board profile pico: field button.pin is missing"
    )


def test_button_starts_a_session_and_the_pwm_follows(tmp_path):
    sh, b, clock, con = make(tmp_path)
    press(sh, b)
    loop(sh, 2000)
    assert sh.device.state == dv.RUNNING
    assert b.duty(MOTOR) == sh.device.level * 65535 // 1000 > 0
    assert b.levels[LED] == 1  # steady while running


def test_exception_in_the_engine_is_the_safe_state_and_the_console_still_answers(tmp_path):
    sh, b, clock, con = make(tmp_path)
    press(sh, b)
    loop(sh, 2000)
    assert b.duty(MOTOR) > 0

    def boom(now):
        raise RuntimeError("engine exploded")

    sh.device.engine.step = boom
    fed = sh.wdt.feeds
    assert sh.once() is False
    assert b.duty(MOTOR) == 0 and sh.wdt.feeds == fed
    assert sh.device.state == dv.ERROR and sh.device.led.mode == dv.ERROR
    assert sh.device.log.entries()[-1][2:] == ("error", "RuntimeError: engine exploded")
    con.pending = b"status"
    assert sh.once() is True
    assert con.out == b"ok status"
    loop(sh, 10000)
    assert b.wdt_expired == 0 and b.duty(MOTOR) == 0


def test_stop_from_the_console_reaches_the_pwm_in_the_same_iteration(tmp_path):
    sh, b, clock, con = make(tmp_path)
    press(sh, b)
    loop(sh, 2000)
    assert b.duty(MOTOR) > 0
    con.pending = b"stop"
    sh.once()
    assert b.duty(MOTOR) == 0 and sh.device.state == dv.IDLE


def test_charger_and_battery_pins(tmp_path):
    sh, b, clock, con = make(tmp_path)
    b.drive(CHG, 0)
    loop(sh, 100)
    assert sh.device.state == dv.CHARGING
    b.drive(CHG, 1)
    b.set_mv(BAT, 3200 * 1000 // PICO.battery_ratio)
    loop(sh, PICO.battery_period_ms + 100)
    assert sh.device.state == dv.LOW
    assert 3100 < sh.device.battery.mv < 3300


def test_neopixel_board_shows_colours(tmp_path):
    sh, b, clock, con = make(tmp_path, prof=profile("esp32c3"))
    loop(sh, 100)
    sent = [v for _, what, pin, v in b.trace if what == "bitstream"]
    assert sent == [bytes([0x30 >> 3] * 3), bytes(3)]  # idle heartbeat: dim white, then dark


def test_a_fault_that_repeats_for_ever_starves_the_watchdog(tmp_path):
    sh, b, clock, con = make(tmp_path)
    sh.link = Echo(sh, broken=True)
    con.pending = b"x"
    for _ in range(200):
        con.pending = b"x"
        sh.once()
        clock.advance(50)
    assert b.wdt_expired > 0 and b.duty(MOTOR) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["ok", "adc", "handler", "press", "jump"]), st.integers(0, 400)),
        max_size=40,
    )
)
def test_the_watchdog_is_fed_only_by_healthy_iterations(tmp_path_factory, plan):
    sh, b, clock, con = make(tmp_path_factory.mktemp("wdt"))
    for what, ms in plan:
        if what == "adc":
            b.adc_error = OSError(5, "ADC")
            sh._bat_due = clock.ticks_ms()
        elif what == "handler":
            sh.link = Echo(sh, broken=True)
            con.pending = b"x"
        elif what == "press":
            b.drive(BUTTON, 0 if b.levels[BUTTON] else 1)
        fed = sh.wdt.feeds
        ok = sh.once()
        assert sh.wdt.feeds == fed + (1 if ok else 0)
        if not ok:
            assert b.duty(MOTOR) == 0 and sh.device.state == dv.ERROR
        assert b.duty(MOTOR) <= PICO.max_level * 65535 // 1000
        sh.link = Echo(sh)
        if what == "jump":
            clock.advance(ms * 10)
        else:
            clock.advance(ms)
    assert sh.failures == sum(1 for w, _ in plan if w in ("adc", "handler"))
