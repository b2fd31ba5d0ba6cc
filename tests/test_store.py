"""Pattern storage: hostile names, quota, a full filesystem, resumable uploads and power cuts."""

import hashlib

import pytest

from device_kit import stored
from facewave.firmware import bytecode as bc
from facewave.firmware import messages as m
from facewave.firmware import upload
from facewave.firmware.profile import Profile
from facewave.firmware.store import FS, MAX_SIZE, Store

PROFILE = Profile()


def program(level=300, ms=1000, name="p"):
    return bc.pack([bc.pack_insn(bc.OP_HOLD, a=level, t=ms)], [name, "a test hold"])


def put(store, name, data, chunk=64, digest=None):
    offset = upload.begin(store, name, len(data), digest or hashlib.sha256(data).digest())
    while offset < len(data):
        offset = upload.write(store, offset, data[offset : offset + chunk])
    return upload.commit(store, PROFILE)


def refused(code, fn, *args):
    with pytest.raises(m.Refused) as e:
        fn(*args)
    assert e.value.args[0] == code, e.value.args
    return e.value.args[1]


@pytest.mark.parametrize(
    "name",
    [
        "../main.py",
        "boot.py",
        "main",
        "boot",
        "/lib/facewave/engine",
        "a/b",
        "..",
        ".",
        "",
        "x" * 1000,
        "x" * 33,
        "tab\there",
        "nul\x00",
        "cr\r",
        "esc\x1b[2J",
        "Daily",
        "-rf",
        "C:\\temp",
        "caf\u00e9",
        "a.fwb",
    ],
)
def test_hostile_names_are_refused_with_a_clear_line(tmp_path, name):
    store = Store(str(tmp_path / "patterns"))
    data = program()
    text = refused(m.E_NAME, upload.begin, store, name, len(data), hashlib.sha256(data).digest())
    assert "\n" not in text and len(text) < 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["patterns"]
    assert list((tmp_path / "patterns").iterdir()) == []


def test_upload_list_load_delete(tmp_path):
    store = Store(str(tmp_path / "p"))
    data = program()
    info = put(store, "daily_1", data)
    assert info.duration == 1000
    assert store.names() == ["daily_1"]
    assert stored(store, "daily_1") == data
    assert upload.used(store) == (1, len(data))
    upload.delete(store, "daily_1")
    assert store.names() == []
    refused(m.E_NOT_FOUND, upload.delete, store, "daily_1")
    refused(m.E_NOT_FOUND, store.open, "daily_1")


def test_quota_on_count_and_bytes_and_size(tmp_path):
    store = Store(str(tmp_path / "p"), max_count=2, max_bytes=200)
    data = program()
    put(store, "a", data)
    put(store, "b", data)
    text = refused(m.E_QUOTA, upload.begin, store, "c", len(data), bytes(32))
    assert "maximum of 2" in text
    put(store, "a", program(400))  # replacing needs no new slot
    big = program(name="x" * 200)
    assert "quota" in refused(m.E_QUOTA, upload.begin, store, "b", len(big) + 200, bytes(32))
    refused(m.E_TOO_BIG, upload.begin, store, "b", MAX_SIZE + 1, bytes(32))
    refused(m.E_TOO_BIG, upload.begin, store, "b", 3, bytes(32))


def test_hash_mismatch_and_verifier_rejection_keep_the_old_pattern(tmp_path):
    store = Store(str(tmp_path / "p"))
    old = program()
    put(store, "a", old)
    refused(m.E_HASH, put, store, "a", program(500), 64, bytes(32))
    too_strong = program(level=990)  # above the profile's max_level
    assert "rejected" in refused(m.E_VERIFY, put, store, "a", too_strong)
    assert stored(store, "a") == old
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["a.fwb"]


def test_chunks_out_of_order_change_nothing(tmp_path):
    store = Store(str(tmp_path / "p"))
    data = program()
    upload.begin(store, "a", len(data), hashlib.sha256(data).digest())
    assert upload.write(store, 10, data[10:20]) == 0  # a gap: ignored; the reply says where
    assert upload.write(store, 0, data[:10]) == 10
    assert upload.write(store, 0, data[:10]) == 10  # a duplicate
    refused(m.E_INCOMPLETE, upload.commit, store, PROFILE)
    refused(m.E_MALFORMED, upload.write, store, 10, bytes(len(data)))


def test_upload_resumes_after_a_reset(tmp_path):
    data = program(name="y" * 100)
    digest = hashlib.sha256(data).digest()
    store = Store(str(tmp_path / "p"))
    upload.begin(store, "a", len(data), digest)
    upload.write(store, 0, data[:50])
    store = Store(str(tmp_path / "p"))  # reset: the upload is on flash, not in RAM
    refused(m.E_NO_UPLOAD, upload.status, store)
    assert upload.begin(store, "a", len(data), digest) == 50
    upload.write(store, 50, data[50:])
    upload.commit(store, PROFILE)
    # a different upload under the same name starts from zero
    assert upload.begin(store, "a", len(data), bytes(32)) == 0


class FullFS(FS):
    """A filesystem with `room` bytes left for writes."""

    def __init__(self, room):
        super().__init__()
        self.room = room

    def write(self, f, data):
        if len(data) > self.room:
            f.write(data[: self.room])
            self.room = 0
            raise OSError(28, "ENOSPC")
        self.room -= len(data)
        super().write(f, data)


def test_full_filesystem_is_a_clear_error_and_loses_nothing(tmp_path):
    root = str(tmp_path / "p")
    old = program()
    put(Store(root), "a", old)
    store = Store(root, fs=FullFS(120))
    text = refused(m.E_NO_SPACE, put, store, "a", program(name="z" * 200))
    assert "full" in text
    assert stored(store, "a") == old
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["a.fwb"]


def test_reported_free_space_is_checked_before_writing(tmp_path):
    class Small(FS):
        def free(self, path):
            return 4100

    store = Store(str(tmp_path / "p"), fs=Small())
    data = program()
    assert "full" in refused(m.E_NO_SPACE, upload.begin, store, "a", len(data), bytes(32))


class PowerCut(BaseException):
    """The supply is gone: no handler of the firmware's runs after it (as the simulator's)."""


class CutFS(FS):
    """Loses power at the n-th operation that changes the filesystem (a write is torn)."""

    def __init__(self, cut_at, replace=True):
        super().__init__()
        self.cut_at = cut_at
        self.ops = 0
        self.replace = replace

    def _tick(self):
        self.ops += 1
        if self.ops == self.cut_at:
            raise PowerCut

    def open(self, path, mode):
        if "r" not in mode:
            self._tick()
        return super().open(path, mode)

    def write(self, f, data):
        try:
            self._tick()
        except PowerCut:
            f.write(data[: len(data) // 2])
            f.close()
            raise
        super().write(f, data)

    def rename(self, old, new):
        if not self.replace and self.size(new) >= 0:
            raise OSError(17, "EEXIST")  # as FAT does
        self._tick()
        super().rename(old, new)

    def remove(self, path):
        self._tick()
        super().remove(path)


@pytest.mark.parametrize("replace", [True, False], ids=["littlefs-rename", "fat-rename"])
def test_power_cut_at_every_write_leaves_old_or_new_intact(tmp_path, replace):
    old, new = program(300), program(450, name="n" * 150)
    cut = 1
    while True:
        root = str(tmp_path / ("run%d" % cut))
        put(Store(root), "a", old)
        fs = CutFS(cut, replace)
        try:
            put(Store(root, fs=fs), "a", new, chunk=40)
        except PowerCut:
            pass
        after = Store(root)  # power back: start-up recovery
        assert stored(after, "a") in (old, new)
        put(after, "a", new)  # and the device still takes the upload afterwards
        assert stored(after, "a") == new
        if fs.ops < cut:  # this run finished before reaching the cut: every point is tried
            break
        cut += 1
    assert cut > 8
