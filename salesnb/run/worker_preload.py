"""Imported once by the fork server that starts a batch's report workers, before it forks them.

:class:`salesnb.run.executors.LocalExecutor` starts its workers with
multiprocessing's ``forkserver`` and names this module in the fork server's
preload list: the fork server skips the slow optional imports
(:mod:`salesnb.slow_imports`), imports papermill and builds the HTML exporter
(:func:`salesnb.run.forkengine.warm_worker`), and every worker forked from it
starts with them. ``--jobs N`` then pays about a second of imports once, not N
times, while the report template and the batch's tables compete for the same
cores. A failure here only costs the head start: each worker warms itself then.
"""

from __future__ import annotations

from salesnb.slow_imports import skip_slow_optional_imports

skip_slow_optional_imports()

try:
    from salesnb.run.forkengine import warm_worker

    warm_worker()
except Exception:  # noqa: BLE001 - the fork server must start whatever happens here
    pass
