"""The switches of salesnb's fast paths: the code that reads a library's private API.

Each such path (matplotlib's in :mod:`salesnb.present.drawing`, pandas'
``_pa_array`` in :mod:`salesnb.io.categorical`) has a :class:`FastPath`:
on unless ``SALESNB_FAST_PATHS=0`` is in the environment (read here only,
once, when the module loads), and off for the rest of the process after
its first exception, the caller then doing that call through the public
API. The library versions they were tested with are pinned in
pyproject.toml; docs/internals.md says how to lift a pin.
"""

from __future__ import annotations

import logging
import os

__all__ = ["FAST_PATHS", "FastPath", "fast_paths_allowed"]

_LOG = logging.getLogger(__name__)


def fast_paths_allowed() -> bool:
    """Whether the environment lets the fast paths run (not with ``SALESNB_FAST_PATHS=0``)."""
    return os.environ.get("SALESNB_FAST_PATHS", "1").strip() != "0"


_ALLOWED = fast_paths_allowed()

FAST_PATHS: dict[str, FastPath] = {}
"""Every fast path's switch, by name."""


class FastPath:
    """The switch of one fast path: ``on`` unless the environment turned the
    fast paths off, and off for good after :meth:`fail` (the exception is kept
    in ``error`` and logged at INFO: a report never shows it)."""

    def __init__(self, name: str):
        self.name = name
        self.on = _ALLOWED
        self.error: BaseException | None = None
        FAST_PATHS[name] = self

    def fail(self, error: BaseException) -> None:
        """Turn this path off for the rest of the process; the caller does this call the public way."""
        if self.on:
            _LOG.info("salesnb fast path %r turned off after %r: the public API is used instead", self.name, error)
        self.on, self.error = False, error

    def __repr__(self) -> str:
        return f"FastPath({self.name!r}, on={self.on})"
