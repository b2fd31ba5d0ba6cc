"""Scenarios and the `virtual_board` fixture fail loudly: a refused command fails the scenario
with its line, unless the scenario expects the refusal; a command is what the CLI takes;
built-in scenarios run by name; the fixture answers the device's replies and raises on a no."""

import contextlib
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from facewave import device_cmds
from facewave.cli import build_parser, main
from facewave.errors import FacewaveError

pytest_plugins = ["pytester"]

GENTLE = (
    'pattern gentle "Gentle"\nramp 0% -> 30% over 2s\n'
    "wave sine 20%..40% period 4s for 20s\nramp -> 0% over 2s\n"
)


def sim_run(capsys, *args):
    code = main(["sim", "run", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def scenario(tmp_path, body, head='patterns = ["relax"]\nuntil = "10s"\n'):
    path = tmp_path / "s.toml"
    path.write_text(head + body)
    return path


def test_a_refused_command_fails_the_scenario_at_its_line(tmp_path, capsys):
    path = scenario(
        tmp_path,
        '\n[[at]]\ntime = "1s"\ncommand = "play nosuch"\n\n[[expect]]\nmax_level = "85%"\n',
    )
    code, out, err = sim_run(capsys, path)
    assert code == 1
    assert err == (
        "%s:4: the device refused play nosuch: no pattern called 'nosuch' on the device\n" % path
    )
    assert "all 1 expectations hold" not in out


def test_an_expected_refusal_holds_and_its_reason_is_checked(tmp_path, capsys):
    expected = '\n[[at]]\ntime = "1s"\ncommand = "play nosuch"\nexpect = "refused"\n'
    code, _, err = sim_run(capsys, scenario(tmp_path, expected + 'reason = "no pattern"\n'))
    assert (code, err) == (0, "")
    code, _, err = sim_run(capsys, scenario(tmp_path, expected + 'reason = "battery"\n'))
    assert code == 1
    assert err.endswith("(the refusal must say 'battery')\n")
    accepted = '\n[[at]]\ntime = "1s"\ncommand = "play relax"\nexpect = "refused"\n'
    path = scenario(tmp_path, accepted)
    code, _, err = sim_run(capsys, path)
    assert code == 1
    assert err == "%s:4: expected the device to refuse play relax: it accepted it\n" % path


def test_a_refusal_and_a_failed_expectation_are_both_said_in_file_order(tmp_path, capsys):
    path = scenario(
        tmp_path,
        '\n[[expect]]\ncue = "12s"\n\n[[at]]\ntime = "1s"\ncommand = "set routine ghost"\n',
    )
    code, out, err = sim_run(capsys, path, "--json")
    assert code == 1
    assert [f["line"] for f in json.loads(out)["failed"]] == [4, 7]
    assert json.loads(out)["failed"][1]["message"].startswith(
        "the device refused set routine ghost: there is no pattern 'ghost' on the device"
    )


def test_set_session_20min_in_a_scenario_is_the_cli_s_set(tmp_path, capsys):
    """The CLI's words (`session`, `20min`) reach the device as the CLI sends them: the
    pattern plays on past the default session of 3 minutes."""
    path = scenario(
        tmp_path,
        '\n[[at]]\ntime = "1s"\ncommand = "set session 20min"\n\n'
        '[[at]]\ntime = "2s"\ncommand = "play gentle"\n\n'
        '[[expect]]\nstate = "running"\nat = "200s"\n',
        head='patterns = ["gentle.fw"]\nuntil = "200s"\n',
    )
    (tmp_path / "gentle.fw").write_text(GENTLE)
    code, out, err = sim_run(capsys, path)
    assert (code, err) == (0, "")
    assert "all 1 expectations hold" in out


def test_upload_in_a_scenario_finds_the_pattern_beside_it(tmp_path, capsys, monkeypatch):
    (tmp_path / "gentle.fw").write_text(GENTLE)
    path = scenario(
        tmp_path,
        '[[at]]\ntime = "1s"\ncommand = "upload gentle.fw --name soft"\n\n'
        '[[at]]\ntime = "2s"\ncommand = "play soft"\n\n[[expect]]\nevent = "start soft"\n',
        head='until = "5s"\n',
    )
    monkeypatch.chdir(tmp_path.parent)
    assert sim_run(capsys, path)[0] == 0


def test_a_scenario_without_expectations_says_so(tmp_path, capsys):
    path = scenario(tmp_path, '[[at]]\ntime = "1s"\ncommand = "play relax"\n')
    code, _, err = sim_run(capsys, path)
    assert code == 0
    assert err == (
        '%s: warning: no expectation ([[expect]], or expect = "refused"): this run held only'
        " that the device accepted every command\n" % path
    )


def test_built_in_scenarios_run_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called morning here
    code, out, err = sim_run(capsys, "morning")
    assert code == 0, err
    assert out.startswith("morning: 4 events, 4 min of virtual time in ")
    assert "all 6 expectations hold" in out
    code, _, err = sim_run(capsys, "morning.toml")
    assert code == 2
    assert err == (
        "facewave: morning.toml: no such scenario file: a built-in scenario goes by its name,"
        " `facewave sim run morning` (the built-ins: battery, faults, morning)\n"
    )
    code, _, err = sim_run(capsys, "evening")
    assert code == 2
    assert err == (
        "facewave: evening: no such scenario file, and no built-in scenario of that name"
        " (the built-ins: battery, faults, morning)\n"
    )


def test_a_file_of_a_built_in_s_name_is_the_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "morning").write_text('name = "mine"\nuntil = "1s"\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = sim_run(capsys, "morning")
    assert code == 0 and out.startswith("mine: 0 events, 1 s of virtual time")


def _as_the_cli_reads(words):
    """What `facewave WORDS` makes of them before it connects: the verb's arguments, or None
    for a usage error (its parser's, or do_set's check of the value)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args = build_parser().parse_args(words)
        if args.command == "set":
            device_cmds.setting_value(args.key, args.value)
    except (SystemExit, FacewaveError):
        return None
    return {k: v for k, v in vars(args).items() if k not in ("handler", "port")}


WORDS = st.sampled_from(
    ["daily", "relax", "session", "cue", "intensity", "routine", "20min", "3", "0", "9",
     "90s", "2 min", "x.fw", "--tethered", "--default", "--name", "--json", "-x", "soft"]
)  # fmt: skip


@given(st.sampled_from(device_cmds.REQUESTS), st.lists(WORDS, max_size=3))
def test_every_scenario_verb_parses_as_on_the_command_line(verb, rest):
    words = [verb, *rest]
    cli = _as_the_cli_reads(words)
    try:
        ours = vars(device_cmds.parse(words))
    except FacewaveError as e:
        assert cli is None, "the CLI takes %r, a scenario says: %s" % (words, e)
    else:
        assert ours == cli


def test_the_fixture_as_a_test_author_uses_it(pytester):
    """A routine author's test file, run by pytest with the plugin the package installs."""
    (pytester.mkdir("my routines") / "gentle.fw").write_text(GENTLE)
    pytester.makepyfile(
        """
        import pytest
        from facewave.scenarios.fixture import CommandRefused


        def test_replies(virtual_board):
            summary = virtual_board.upload("my routines/gentle.fw")  # word by word: one path
            assert (summary["name"], summary["size"] > 0) == ("gentle", True)
            assert virtual_board.command("status")["state"] == "idle"
            settings = virtual_board.command("set session 20min")
            assert settings["session_ms"] == 1200000
            assert virtual_board.command("play", "gentle")["state"] == "running"
            virtual_board.advance("5s")
            status = virtual_board.command("status")
            assert (status["state"], status["routine"]) == ("running", "gentle")
            [(start, text)] = virtual_board.events("start")
            assert text == "start gentle" and 0 < start < virtual_board.ms
            assert ("cue" in [text for _, text in virtual_board.events()]) is False
            assert virtual_board.command("stop")["state"] == "idle"
            assert [text for _, text in virtual_board.events("stop")] == ["stop gentle"]


        def test_a_refusal_raises_with_the_reason(virtual_board):
            with pytest.raises(CommandRefused) as refused:
                virtual_board.command("play nosuch")
            assert refused.value.reason == "no pattern called 'nosuch' on the device"
            assert refused.value.command == "play nosuch"


        def test_an_unexpected_refusal_fails_the_test(virtual_board):
            virtual_board.command("play", "nosuch")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*CommandRefused: the device refused play nosuch: no pattern called 'nosuch'*"]
    )
