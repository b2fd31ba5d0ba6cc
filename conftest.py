"""pytest runs the examples of README.md and docs/*.md too: Sybil finds the code blocks and
tests/docs_examples.py runs each kind (CONTRIBUTING.md, "The docs")."""

from docs_examples import pending_marks, sybil

pytest_collect_file = sybil().pytest()


def pytest_collection_modifyitems(items):
    pending_marks(items)
