"""Settings on flash: checksum at load, defaults on corruption, old-or-new after a power cut."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facewave.firmware.settings import Settings, SettingsError
from facewave.firmware.store import FS


class PowerCut(Exception):
    pass


class CutFS(FS):
    """The real filesystem, with the power cut at the n-th step (open, write, rename, remove);
    a cut write leaves part of its data. fat=True: rename will not replace a file."""

    def __init__(self, cut_at=-1, fat=False):
        super().__init__()
        self.cut_at = cut_at
        self.steps = 0
        self.fat = fat

    def _step(self):
        self.steps += 1
        if self.steps == self.cut_at:
            raise PowerCut

    def open(self, path, mode):
        if "w" in mode:
            self._step()
        return super().open(path, mode)

    def write(self, f, data):
        if self.steps + 1 == self.cut_at:
            f.write(data[: len(data) // 2])
            f.flush()
        self._step()
        super().write(f, data)

    def rename(self, old, new):
        self._step()
        if self.fat and os.path.exists(new):
            raise OSError(17, "exists")
        super().rename(old, new)

    def remove(self, path):
        self._step()
        super().remove(path)


def fresh(tmp_path, fs=None):
    return Settings(str(tmp_path / "settings.json"), fs or CutFS())


def test_missing_file_gives_defaults(tmp_path):
    s = fresh(tmp_path)
    assert s.load() == "no settings file, using defaults"
    assert s.intensity == 3 and s.routine == ""


def test_round_trip(tmp_path):
    s = fresh(tmp_path)
    s.set("routine", "daily")
    s.set("intensity", 5)
    s.save()
    t = fresh(tmp_path)
    assert t.load() == "loaded"
    assert t.values() == s.values()


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-3],
        lambda b: b.replace(b'"intensity": 5', b'"intensity": 4'),
        lambda b: b"",
        lambda b: b"\xff" * 40,
        lambda b: b"fws1 zz\n{}",
    ],
)
def test_corrupt_file_gives_defaults_and_says_so(tmp_path, damage):
    s = fresh(tmp_path)
    s.set("intensity", 5)
    s.save()
    path = tmp_path / "settings.json"
    path.write_bytes(damage(path.read_bytes()))
    t = fresh(tmp_path)
    note = t.load()
    assert "using defaults" in note and "settings file" in note
    assert t.intensity == 3


def test_values_out_of_range_are_refused(tmp_path):
    s = fresh(tmp_path)
    with pytest.raises(SettingsError, match=r"intensity must be an integer 1..5"):
        s.set("intensity", 9)
    with pytest.raises(SettingsError, match="no setting called"):
        s.set("colour", 1)


def test_a_file_with_a_good_checksum_but_bad_values_is_refused(tmp_path):
    import binascii

    body = b'{"intensity": 77}'
    (tmp_path / "settings.json").write_bytes(
        b"fws1 %08x\n" % (binascii.crc32(body) & 0xFFFFFFFF) + body
    )
    t = fresh(tmp_path)
    assert "rejected (intensity must be" in t.load()


@pytest.mark.parametrize("fat", [False, True])
def test_power_cut_at_every_step_leaves_old_or_new(tmp_path, fat):
    old = fresh(tmp_path, CutFS(fat=fat))
    old.set("routine", "relax")
    old.save()
    steps = None
    n = 1
    while True:
        s = fresh(tmp_path, CutFS(cut_at=n, fat=fat))
        s.load()
        assert s.routine == "relax"
        s.set("routine", "daily")
        s.set("intensity", 1)
        try:
            s.save()
        except PowerCut:
            after = fresh(tmp_path, CutFS(fat=fat))
            after.load()
            assert (after.routine, after.intensity) in (("relax", 3), ("daily", 1))
            # put the old settings back for the next cut point
            back = fresh(tmp_path, CutFS(fat=fat))
            back.set("routine", "relax")
            back.save()
            n += 1
            continue
        steps = n - 1
        break
    assert steps == (5 if fat else 3)  # open, write, [rename refused, remove,] rename


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_load_safely(data):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "settings.json").write_bytes(data)
        s = fresh(Path(d))
        note = s.load()
        assert note == "loaded" or note.endswith(", using defaults"), note
        assert 1 <= s.intensity <= 5
