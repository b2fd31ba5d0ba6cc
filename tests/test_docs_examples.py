"""How the docs' examples are run (tests/docs_examples.py): a document with blocks that pass and
blocks that fail, collected by pytest as the repository's conftest.py collects README.md and
docs/, each failure reported with its document's line."""

import os
from pathlib import Path

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent

DOC = """# A document

```fw
pattern fine "A gentle hold"
hold 30% 1s
```

```fw
pattern strong "Too strong"
hold 30% 1s
hold 95% 1s
```

```console
$ facewave check fine.fw
fine.fw: ok, 1 s, …
…
```

```console
$ facewave routines
not what it prints
```

```sh
facewave check fine.fw
facewave check nosuch.fw
```

```
a block that does not say what it is
```

```text
shown, not run
```
"""


def test_each_block_runs_and_a_failure_names_its_line(pytester, monkeypatch):
    (pytester.path / "docs").mkdir()
    (pytester.path / "docs" / "guide.md").write_text(DOC)
    pytester.makeconftest(
        "from docs_examples import sybil\n\npytest_collect_file = sybil(%r).pytest()\n"
        % str(pytester.path)
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "docs")
    result.assert_outcomes(passed=3, failed=4)
    out = result.stdout.str()
    for passed in ("line:3,", "line:15,", "line:26,"):  # fine.fw, its check, `check fine.fw`
        assert "PASSED docs/guide.md::%scolumn:1" % passed in out
    for failed in ("line:8,", "line:21,", "line:27,", "line:30,"):
        assert "FAILED docs/guide.md::%scolumn:1" % failed in out
    # the pattern's error, at the file's line and the document's
    assert "strong.fw:3:1 (the document's line 11): level 95% is above" in out
    assert "not what it prints" in out and "circulation" in out  # shown beside printed
    assert "`facewave check nosuch.fw` exited 1" in out
    assert "a code block says what it is" in out
