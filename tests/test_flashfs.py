"""The virtual flash: board paths map into one directory and nothing names a file outside it."""

import errno
import os

import pytest
from facewave.sim.flashfs import S_IFDIR, S_IFREG, FlashFS
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture
def fs(tmp_path):
    root = tmp_path / "flash"
    root.mkdir()
    return FlashFS(str(root))


segments = st.lists(st.sampled_from(["..", ".", "", "a", "b", "lib", "etc", "passwd"]),
                    max_size=8)


@settings(max_examples=200, deadline=None)
@given(parts=segments, absolute=st.booleans(), cwd=st.sampled_from(["/", "/a", "/a/b"]))
def test_no_path_names_a_file_outside_the_flash(tmp_path_factory, parts, absolute, cwd):
    root = tmp_path_factory.mktemp("flash")
    (root / "a" / "b").mkdir(parents=True)
    fs = FlashFS(str(root))
    fs.chdir(cwd)
    path = ("/" if absolute else "") + "/".join(parts)
    try:
        host = fs.host_path(path)
    except OSError as e:
        assert e.errno == errno.ENOENT  # climbed above "/"
        return
    real = os.path.realpath(host)
    assert real == fs.root or real.startswith(fs.root + os.sep)


def test_board_paths(fs):
    assert fs.board_path("/") == "/"
    assert fs.board_path("a/./b//c/..") == "/a/b"
    fs.mkdir("lib")
    fs.chdir("lib")
    assert fs.getcwd() == "/lib"
    assert fs.board_path("x.py") == "/lib/x.py"
    assert fs.board_path("..") == "/"
    with pytest.raises(OSError) as e:
        fs.board_path("../..")
    assert e.value.errno == errno.ENOENT


def test_files_stat_and_listing(fs):
    with fs.open("/p.bin", "wb") as f:
        f.write(b"12345")
    fs.mkdir("d")
    assert fs.listdir() == ["d", "p.bin"]
    assert list(fs.ilistdir("/")) == [("d", S_IFDIR, 0, 0), ("p.bin", S_IFREG, 0, 5)]
    st = fs.stat("p.bin")
    assert (st[0], st[6]) == (S_IFREG, 5) and len(st) == 10
    fs.rename("p.bin", "d/q.bin")
    assert fs.listdir("d") == ["q.bin"]
    fs.remove("d/q.bin")
    fs.rmdir("d")
    assert fs.listdir() == []


def test_errors_are_the_board_errnos(fs):
    for call, code in [
        (lambda: fs.open("missing"), errno.ENOENT),
        (lambda: fs.remove("missing"), errno.ENOENT),
        (lambda: fs.rmdir("/"), errno.EACCES),
        (lambda: fs.mkdir("/"), errno.EEXIST),
        (lambda: fs.chdir("missing"), errno.ENOENT),
    ]:
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == code
        assert e.value.args[0] == code  # board code often reads the errno as args[0]


def test_symlinks_out_of_the_flash_are_refused(fs, tmp_path):
    (tmp_path / "secret").write_text("s")
    os.symlink(tmp_path / "secret", os.path.join(fs.root, "link"))
    os.symlink(tmp_path, os.path.join(fs.root, "dirlink"))
    for path in ("link", "dirlink/secret", "/dirlink"):
        with pytest.raises(OSError) as e:
            fs.open(path)
        assert e.value.errno == errno.EACCES


def test_statvfs_counts_used_blocks(fs):
    total = fs.statvfs("/")
    with fs.open("big", "wb") as f:
        f.write(bytes(10000))
    after = fs.statvfs("/")
    assert total[0] == 4096 and total[2] == 2 * 1024 * 1024 // 4096
    assert total[3] - after[3] == 3  # 10,000 bytes take three 4 KB blocks


def test_soft_reset_closes_open_files(fs):
    f = fs.open("x", "w")
    fs.close_all()
    assert f.closed
