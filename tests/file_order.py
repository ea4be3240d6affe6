"""The order pytest-xdist hands out test files in (see conftest.py): a helper
module, imported by conftest.py and tested by test_file_order.py."""

from __future__ import annotations


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def slowest_files_first(items: list, seconds: dict[str, float]) -> None:
    """Sort ``items`` in place: by their file's ``seconds``, largest first; unlisted files last.
    Each file's items stay together, in their order; files of equal seconds keep theirs."""
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(file_of(item.nodeid), index)
    items.sort(key=lambda item: (-seconds.get(file_of(item.nodeid), -1.0), first_seen[file_of(item.nodeid)]))
