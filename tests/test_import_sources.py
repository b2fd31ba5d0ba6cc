"""Meta Haptics Studio .haptic files and Android VibrationEffects (waveform, on/off,
composition) read into Events as their own players read them: hand-made files for every
construct, written from Lofelt's published data model and Android's VibrationEffect
reference, each asserted on the Events and the notes it gives."""

import pytest

from facewave.errors import FacewaveError
from facewave.haptics import android, formats
from facewave.haptics.events import Notes

ENVELOPES = "signals.continuous.envelopes"


def read(tmp_path, name, text, repeat=None, strict=False):
    """(format, Events, note lines) of `text` saved as `name`."""
    path = tmp_path / name
    path.write_text(text)
    notes = Notes(str(path), strict)
    kind, events = formats.read(path, notes, repeat)
    return kind, events, notes.lines()


def haptic_file(amplitude, frequency=None):
    envelopes = '"amplitude": [%s]' % amplitude
    if frequency is not None:
        envelopes += ', "frequency": [%s]' % frequency
    return (
        '{"version": {"major": 1, "minor": 0, "patch": 0}, "metadata": {"editor": "test"},'
        ' "signals": {"continuous": {"envelopes": {%s}}}}' % envelopes
    )


# -- .haptic -----------------------------------------------------------------------------------


def test_an_amplitude_envelope_is_one_event_in_milliseconds(tmp_path):
    text = haptic_file(
        '{"time": 0.0, "amplitude": 0.0}, {"time": 0.25, "amplitude": 1.0},'
        ' {"time": 1.0, "amplitude": 0.5}'
    )
    kind, events, notes = read(tmp_path, "rise.haptic", text)
    assert kind == "Meta Haptics Studio .haptic"
    assert [e.points for e in events] == [[(0, 0.0), (250, 1.0), (1000, 0.5)]]
    assert events[0].sharpness is None and events[0].where == ENVELOPES + ".amplitude"
    assert notes == []


def test_full_scale_is_one_whatever_the_device_can_play(tmp_path):
    text = haptic_file('{"time": 0, "amplitude": 1}, {"time": 2, "amplitude": 1}')
    _, events, _ = read(tmp_path, "full.haptic", text)
    assert events[0].points == [(0, 1), (2000, 1)]


def test_an_emphasis_is_a_peak_of_its_own_in_a_dip_of_the_envelope(tmp_path):
    """Lofelt's player on a motor without transients: 30 ms at 0 before the emphasised
    breakpoint, 30 ms of peak, 30 ms at 0 after; the peak at the emphasis's amplitude and with
    its frequency as sharpness."""
    text = haptic_file(
        '{"time": 0.0, "amplitude": 0.4}, {"time": 0.5, "amplitude": 0.4,'
        ' "emphasis": {"amplitude": 0.9, "frequency": 0.7}}, {"time": 1.0, "amplitude": 0.4}'
    )
    _, events, _ = read(tmp_path, "tap.haptic", text)
    assert [(e.points, e.sharpness) for e in events] == [
        ([(0.0, 0.4), (470.0, 0.4)], None),
        ([(560.0, 0.4), (1000.0, 0.4)], None),
        ([(500.0, 0.9), (530.0, 0.9)], 0.7),
    ]
    assert events[2].where == ENVELOPES + ".amplitude[1].emphasis"


def test_the_dip_cuts_a_ramp_where_it_falls(tmp_path):
    text = haptic_file(
        '{"time": 0.0, "amplitude": 0.0}, {"time": 0.1, "amplitude": 1.0,'
        ' "emphasis": {"amplitude": 0.5, "frequency": 0.0}}, {"time": 0.2, "amplitude": 0.0}'
    )
    _, events, _ = read(tmp_path, "ramp.haptic", text)
    assert events[0].points == [(0.0, 0.0), (70.0, pytest.approx(0.7))]
    assert events[1].points == [(160.0, pytest.approx(0.4)), (200.0, 0.0)]
    assert events[2].points == [(100.0, 0.5), (130.0, 0.5)]


def test_an_emphasis_at_the_start_dips_from_the_start(tmp_path):
    text = haptic_file(
        '{"time": 0.0, "amplitude": 0.3, "emphasis": {"amplitude": 1.0, "frequency": 1.0}},'
        ' {"time": 0.5, "amplitude": 0.3}'
    )
    _, events, _ = read(tmp_path, "start.haptic", text)
    assert [e.points for e in events] == [[(60.0, 0.3), (500.0, 0.3)], [(0.0, 1.0), (30.0, 1.0)]]


def test_a_step_of_two_breakpoints_at_one_time_ends_an_event(tmp_path):
    text = haptic_file(
        '{"time": 0, "amplitude": 0.2}, {"time": 0.1, "amplitude": 0.2},'
        ' {"time": 0.1, "amplitude": 0.8}, {"time": 0.2, "amplitude": 0.8}'
    )
    _, events, _ = read(tmp_path, "step.haptic", text)
    assert [e.points for e in events] == [[(0, 0.2), (100.0, 0.2)], [(100.0, 0.8), (200.0, 0.8)]]


def test_a_steady_frequency_is_a_sharpness_without_a_note(tmp_path):
    """Lofelt's converter to Core Haptics makes a frequency f the sharpness sqrt(f)."""
    text = haptic_file(
        '{"time": 0, "amplitude": 0.5}, {"time": 1, "amplitude": 0.5}',
        '{"time": 0, "frequency": 0.25}, {"time": 1, "frequency": 0.25}',
    )
    _, events, notes = read(tmp_path, "steady.haptic", text)
    assert events[0].sharpness == 0.5 and notes == []


def test_a_changing_frequency_is_played_at_its_mean_and_said(tmp_path):
    text = haptic_file(
        '{"time": 0, "amplitude": 0.5}, {"time": 1, "amplitude": 0.5}',
        '{"time": 0, "frequency": 0.0}, {"time": 0.5, "frequency": 0.0},'
        ' {"time": 1, "frequency": 1.0}',
    )
    _, events, notes = read(tmp_path, "sweep.haptic", text)
    assert events[0].sharpness == pytest.approx(0.5)  # the mean, 0.25, square-rooted
    assert notes == ["frequency envelope: played at one sharpness, its mean over time"]
    with pytest.raises(FacewaveError) as e:
        read(tmp_path, "sweep.haptic", text, strict=True)
    assert str(e.value) == (
        "%s: %s.frequency: frequency envelope: played at one sharpness, its mean over time "
        "(--strict)" % (tmp_path / "sweep.haptic", ENVELOPES)
    )


def test_a_haptic_without_version_or_metadata_is_read(tmp_path):
    text = (
        '{"signals": {"continuous": {"envelopes": {"amplitude": '
        '[{"time": 0, "amplitude": 0.1}, {"time": 0.01, "amplitude": 0.1}]}}}}'
    )
    _, events, _ = read(tmp_path, "bare.json", text)
    assert events[0].points == [(0, 0.1), (10.0, 0.1)]


# -- Android waveforms --------------------------------------------------------------------------


def test_a_waveform_plays_each_timing_at_its_amplitude(tmp_path):
    """255 is the vibrator's full scale (1, which the writer maps to the board's cap, not
    refused), -1 DEFAULT_AMPLITUDE, played at full scale, 0 off."""
    text = '{"timings": [50, 100, 200, 100, 0, 300], "amplitudes": [0, 255, 51, -1, 128, 0]}'
    kind, events, notes = read(tmp_path, "wave.json", text)
    assert kind == "Android VibrationEffect"
    assert [(e.points, e.where) for e in events] == [
        ([(50, 1.0), (150, 1.0)], "timings[1]"),
        ([(150, 0.2), (350, 0.2)], "timings[2]"),
        ([(350, 1.0), (450, 1.0)], "timings[3]"),
    ]
    assert all(e.sharpness is None for e in events) and notes == []


def test_the_on_off_form_alternates_off_and_on_at_the_default_amplitude(tmp_path):
    _, events, _ = read(tmp_path, "onoff.json", '{"timings": [100, 200, 50, 25]}')
    assert [e.points for e in events] == [[(100, 1.0), (300, 1.0)], [(350, 1.0), (375, 1.0)]]


def test_a_repeating_waveform_plays_its_tail_the_turns_asked_for(tmp_path):
    text = '{"timings": [100, 50, 50], "amplitudes": [255, 0, 102], "repeat": 1}'
    _, events, _ = read(tmp_path, "loop.json", text, repeat=3)
    assert [e.points for e in events] == [
        [(0, 1.0), (100, 1.0)],
        [(150, 0.4), (200, 0.4)],
        [(250, 0.4), (300, 0.4)],
        [(350, 0.4), (400, 0.4)],
    ]


def test_a_repeating_waveform_without_turns_is_one_line(tmp_path):
    text = '{"timings": [100, 50], "amplitudes": [255, 0], "repeat": 0}'
    with pytest.raises(FacewaveError) as e:
        read(tmp_path, "loop.json", text)
    assert str(e.value) == (
        "%s: repeat: the waveform repeats forever from timings[0]; a pattern ends: "
        "pass --repeat N (turns of that part)" % (tmp_path / "loop.json")
    )
    assert e.value.code == 1


def test_turns_of_a_waveform_that_does_not_repeat_change_nothing(tmp_path):
    text = '{"timings": [100], "amplitudes": [255]}'
    assert read(tmp_path, "once.json", text, repeat=5)[1] == read(tmp_path, "once.json", text)[1]


# -- Android compositions -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(android.PRIMITIVES) - {"NOOP"}))
def test_each_primitive_is_its_envelope_at_its_scale(tmp_path, name):
    text = '{"primitives": [{"primitive": "%s", "scale": 0.5, "delay": 20}]}' % name
    _, events, notes = read(tmp_path, "one.json", text)
    envelope, sharpness = android.PRIMITIVES[name]
    assert [(e.points, e.sharpness, e.where) for e in events] == [
        ([(20 + t, a / 2) for t, a in envelope], sharpness, "primitives[0]")
    ]
    assert notes == [
        "composition primitives: played as facewave's envelope of each (a phone plays its own)"
    ]


def test_primitives_follow_one_another_after_their_delays(tmp_path):
    """Android's own example: a slow rise, a quick fall, and a tick 100 ms after."""
    text = (
        '{"primitives": [{"primitive": "SLOW_RISE", "scale": 0.5},'
        ' {"primitive": "QUICK_FALL", "scale": 0.5},'
        ' {"primitive": "NOOP", "delay": 60},'
        ' {"primitive": "TICK", "delay": 40}]}'
    )
    _, events, _ = read(tmp_path, "example.json", text)
    assert [e.points for e in events] == [
        [(0, 0.0), (400, 0.5)],
        [(400, 0.5), (500, 0.0)],
        [(600, 0.5), (615, 0.5)],  # scale 1 by default
    ]


def test_a_relative_start_offset_overlaps_the_previous_primitive(tmp_path):
    text = (
        '{"primitives": [{"primitive": "THUD"},'
        ' {"primitive": "CLICK", "delay": 20, "delayType": "RELATIVE_START_OFFSET"}]}'
    )
    _, events, _ = read(tmp_path, "overlap.json", text)
    assert [e.start for e in events] == [0, 20]
    assert events[1].points == [(20, 1.0), (50, 1.0)]


def test_a_composition_is_an_error_with_strict(tmp_path):
    with pytest.raises(FacewaveError) as e:
        read(tmp_path, "c.json", '{"primitives": [{"primitive": "CLICK"}]}', strict=True)
    assert str(e.value).endswith(
        ": primitives[0]: composition primitives: played as "
        "facewave's envelope of each (a phone plays its own) (--strict)"
    )


# -- detection --------------------------------------------------------------------------------


def test_the_format_is_found_by_content_not_by_extension(tmp_path):
    text = haptic_file('{"time": 0, "amplitude": 0.5}, {"time": 1, "amplitude": 0.5}')
    assert read(tmp_path, "named-wrong.ahap", text)[0] == "Meta Haptics Studio .haptic"
    assert read(tmp_path, "wave.haptic", '{"timings": [5, 5]}')[0] == "Android VibrationEffect"


def test_the_extension_breaks_a_tie(tmp_path):
    both = (
        '{"timings": [0, 100], "signals": {"continuous": {"envelopes": {"amplitude": '
        '[{"time": 0, "amplitude": 0.5}, {"time": 1, "amplitude": 0.5}]}}}}'
    )
    assert read(tmp_path, "x.haptic", both)[0] == "Meta Haptics Studio .haptic"
    assert read(tmp_path, "x.JSON", both)[0] == "Android VibrationEffect"
    with pytest.raises(FacewaveError) as e:
        read(tmp_path, "x.txt", both)
    assert str(e.value) == (
        "%s: could be Meta Haptics Studio .haptic or Android VibrationEffect: name it by its "
        "extension" % (tmp_path / "x.txt")
    )


def test_json5_as_a_hand_writes_it(tmp_path):
    """Comments (with quotes and brackets in them), trailing commas, single quotes."""
    text = """// a "wave" [from a phone's notes]
    {
      timings: [0, 100, 50, 100,],  /* off, on { ' */
      'amplitudes': [0, 255, 0, 128,],
    }
    """
    _, events, _ = read(tmp_path, "hand.json5", text)
    assert [e.points for e in events] == [
        [(0, 1.0), (100, 1.0)],
        [(150, 128 / 255), (250, 128 / 255)],
    ]
