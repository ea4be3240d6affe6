"""What the warm template does once, so that every report forked from it starts warm.

Library warm-up (fonts, the first PNG and HTML table), the batch's data
read into memory (:mod:`salesnb.run.cache`) and loads answered from it, the
memo of batch-wide tables installed (:mod:`salesnb.run.memo`), and the
batch's pages warmed up on that data, filling the memo: each page module declares its own
``warm_up`` (e.g. :func:`salesnb.present.pages.warm_up`); the fork server
knows no particular notebook.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

__all__ = [
    "DEFAULT_IMPORTS",
    "warm_batch_tables",
    "warm_libraries",
    "install_snapshots",
    "install_memo",
    "preload_cache",
    "memo_stamp",
    "load_memo",
    "batch_part",
    "names_a_rep",
    "prewarm_batch",
]

#: Imported by every template, before any notebook asks: the libraries a
#: salesnb notebook uses. Failures are ignored (the notebook will meet them).
DEFAULT_IMPORTS = (
    "numpy",
    "pandas",
    "pyarrow",
    "matplotlib",
    "matplotlib.pyplot",
    "IPython.display",
    "salesnb",
    "salesnb.io.loading",
    "salesnb.analysis.metrics",
    "salesnb.analysis.periods",
    "salesnb.present.html",
    "salesnb.analysis.diagnosis",
    "salesnb.analysis.quality",
    "salesnb.analysis.value",
    "salesnb.analysis.expectations",
    "salesnb.analysis.forecasts",
    "salesnb.analysis.training",
    "salesnb.present.charts",
    "salesnb.present.widgets",
    "salesnb.present.pages",
)


def warm_libraries() -> None:
    """Pay one-time costs that leave no state a report could see: font
    loading and the first PNG, the first HTML table."""
    try:
        import io

        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(1, 1), dpi=20)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.bar([0, 1], [1, 2])
        axes.set_title("warm-up")
        figure.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    except Exception:  # noqa: BLE001 - only a warm-up
        pass
    try:
        import pandas as pd

        frame = pd.DataFrame({"a": [1.5], "b": ["x"]})
        frame._repr_html_()
        repr(frame)
    except Exception:  # noqa: BLE001
        pass


def install_snapshots() -> None:
    """Every report forked from here loads the batch's data through the cache
    (:func:`salesnb.run.cache.install`), as a report in a kernel does."""
    try:
        from salesnb.run import cache

        cache.install()
    except Exception:  # noqa: BLE001 - reports then read their sources themselves
        pass


def install_memo() -> None:
    """Every report forked from here asks for its batch-wide tables through the
    memo (:func:`salesnb.run.memo.install`), as a report in a kernel does."""
    try:
        from salesnb.run import memo

        memo.install()
    except Exception:  # noqa: BLE001 - reports then compute their tables themselves
        pass


def preload_cache(directory: str) -> None:
    """The batch's data and the tables the runner computed (:func:`salesnb.run.memo.save`), into memory."""
    try:
        from salesnb.run import cache, memo

        cache.preload(directory)
        memo.load(directory)
    except Exception:  # noqa: BLE001 - reports then read the cache files themselves
        pass


def memo_stamp(directory: str):
    """:func:`salesnb.run.memo.stamp` of the batch's cache folder: which saved tables are there, if any."""
    from salesnb.run import memo

    return memo.stamp(directory)


def load_memo(directory: str) -> None:
    """The tables the runner saved in the batch's cache folder, into memory (replacing
    the memo): it saves them after its first pages started (:data:`salesnb.run.prepare.EARLY_KINDS`)."""
    try:
        from salesnb.run import memo

        memo.load(directory)
    except Exception:  # noqa: BLE001 - reports then compute their tables
        pass


def batch_part(prewarm: str) -> str:
    """The pre-warm request without its rep: equal for every rep report of a batch."""
    import json

    try:
        return json.dumps({k: v for k, v in json.loads(prewarm).items() if k != "rep_id"}, sort_keys=True)
    except (ValueError, AttributeError):
        return prewarm


def names_a_rep(prewarm: str | None) -> bool:
    """Whether a pre-warm request is a rep report's (it names its ``rep_id``): the
    pages whose warm-up draws charts; any other page needs only the batch's data."""
    import json

    try:
        return bool(json.loads(prewarm).get("rep_id")) if prewarm else False
    except (ValueError, AttributeError):
        return False


def prewarm_batch(directory: str, prewarm: str, modules: Iterable[str] = DEFAULT_IMPORTS) -> None:
    """Let the batch's pages warm up once on the preloaded batch data, so every
    forked report finds what they compute (the batch-wide tables of
    :mod:`salesnb.run.memo`, installed while they warm up) made and what they draw measured. A page
    declares its warm-up: a module of salesnb among ``modules`` (the
    template's imports and the notebooks') that defines ``warm_up(dataset, *,
    period, as_of, rep_id=None)`` (e.g. :func:`salesnb.present.pages.warm_up`).
    Any report of the batch asks for this; ``prewarm`` is its request
    (source, mapping, period, as_of and maybe rep_id). The template's own copy
    of the data is left as it was (reports still take it from the cache)."""
    try:
        import json

        from salesnb.run import cache, memo

        request = json.loads(prewarm)
        dataset = cache.preloaded(directory, request["source"], request.get("mapping"), request.get("expectations"))
        if dataset is None or not getattr(dataset, "fingerprint", ""):
            return
    except Exception:  # noqa: BLE001 - only a warm-up: reports compute what is missing
        return
    with memo.installed():
        for warm_up in _declared_warm_ups(modules):
            try:
                warm_up(dataset, period=request["period"], as_of=request["as_of"], rep_id=request.get("rep_id"))
            except Exception:  # noqa: BLE001 - only a warm-up
                continue


def warm_batch_tables(dataset, *, period, as_of, rep_id=None, modules: Iterable[str] = DEFAULT_IMPORTS) -> None:
    """In the batch's own process: compute the tables the batch's pages share,
    through each page module's declared ``warm_tables`` (e.g.
    :func:`salesnb.present.pages.warm_tables`), into the memo installed by the
    caller, who then saves them for the report template (:func:`salesnb.run.memo.save`)."""
    for warm_tables in _declared_warm_ups(modules, name="warm_tables"):
        try:
            warm_tables(dataset, period=period, as_of=as_of, rep_id=rep_id)
        except Exception:  # noqa: BLE001 - only a head start: the reports compute what is missing
            continue


def _declared_warm_ups(modules: Iterable[str], name: str = "warm_up") -> list:
    """The ``warm_up`` (or ``name``) functions the salesnb modules among ``modules`` declare,
    once each (the template has imported them already)."""
    found = []
    for module in dict.fromkeys(modules):
        if not module.startswith("salesnb."):
            continue
        try:
            warm_up = getattr(importlib.import_module(module), name, None)
        except Exception:  # noqa: BLE001 - a module that fails here fails in the notebook, with its message
            continue
        if callable(warm_up) and warm_up not in found:
            found.append(warm_up)
    return found
