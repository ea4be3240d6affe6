"""The one seam between the pages and the runner's memo of batch-wide tables.

Pages ask for a table every report of a batch shares (every rep's metrics,
diagnoses and scorecard, the quality flags, value vs cost) through
:func:`batch_table`. Unless a memo is installed it just calls the function,
so a notebook an analyst runs by hand always computes from the data as it
is now. Where reports run, the runner installs its memo with
:func:`use_memo` (:func:`salesnb.run.memo.install`), so a batch computes
each table once.

A batch table made from another asks for it here too: :func:`rep_diagnoses` and
:func:`data_checks` take the period's metrics table by rep through
:func:`batch_table`, so under the memo the diagnosis, the data checks and
the pages' own figures rest on one metrics table, computed once.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "batch_table",
    "use_memo",
    "rep_diagnoses",
    "packed_diagnoses",
    "diagnoses_of",
    "diagnosed_reps",
    "data_checks",
    "scorecard_of",
    "has_everyone",
    "batch_reps",
    "only_reps",
    "batch_reps_of",
]

#: The runner's memo (None: every table is computed); see :func:`use_memo`.
_memo: Callable | None = None


def use_memo(provider: Callable | None) -> Callable | None:
    """Have :func:`batch_table` answer through ``provider(function, ds, **kwargs)``;
    ``use_memo(None)`` removes it. Returns the provider installed before."""
    global _memo
    previous, _memo = _memo, provider
    return previous


def batch_table(function: Callable, ds, **kwargs):
    """``function(ds, **kwargs)``, through the runner's memo when one is installed."""
    if _memo is None:
        return function(ds, **kwargs)
    return _memo(function, ds, **kwargs)


def rep_diagnoses(ds, *, period, as_of=None, reps: tuple | None = None) -> list[dict]:
    """Every rep's diagnosis (:func:`salesnb.analysis.diagnosis.diagnose`), or only
    ``reps``', on the period's metrics table by rep, itself a batch table (one for the
    pages and the diagnosis)."""
    from salesnb.analysis.diagnosis import diagnose
    from salesnb.analysis.metrics import metrics_table

    metrics = batch_table(metrics_table, ds, by="rep", period=period, as_of=as_of)
    return diagnose(ds, period=period, as_of=as_of, metrics=metrics, reps=reps)


def diagnoses_of(ds, rep_ids, *, period, as_of=None) -> list[dict]:
    """The diagnoses of ``rep_ids``, in their order in every rep's diagnoses: read
    off every rep's (:func:`rep_diagnoses`) when the runner's memo holds them (a
    batch of every rep), else only theirs made, once per set of reps (a ``--rep``
    batch on a 10,000-rep source diagnoses its rep, not 10,000), and each one's
    kept as that rep's own (a ``--rep`` batch's pages find theirs: the runner
    diagnosed the batch's reps together for the queue)."""
    wanted = tuple(sorted({str(r) for r in rep_ids}))
    chosen = set(wanted)
    peek = getattr(_memo, "peek", None)
    packed = _packed(ds, period=period, as_of=as_of)
    if packed is not None:  # a batch of every rep: only these reps' diagnoses unpacked, not every rep's copied
        import pickle

        return [pickle.loads(blob) for rep_id, blob in packed.items() if rep_id in chosen]
    everyone = peek(rep_diagnoses, ds, period=period, as_of=as_of) if peek is not None else None
    if everyone is None:
        known = peek(diagnosed_reps, ds, period=period, as_of=as_of) if peek is not None else None
        if known and chosen <= set(known):
            return [d for rep_id, d in known.items() if rep_id in chosen]
        everyone = batch_table(rep_diagnoses, ds, period=period, as_of=as_of, reps=wanted)
        remember = getattr(_memo, "remember", None)
        if remember is not None:  # each of these reps' pages finds its own (one entry, whatever their number)
            known = dict(known or {}) | {str(d["rep_id"]): d for d in everyone}
            remember(diagnosed_reps, ds, known, period=period, as_of=as_of)
    return [d for d in everyone if str(d["rep_id"]) in chosen]


def has_everyone(ds, *, period, as_of=None) -> bool:
    """Whether the runner's memo holds every rep's diagnoses for ``period`` (a batch of
    every rep's pages): then every rep's other tables are worth making once for all."""
    return _packed(ds, period=period, as_of=as_of) is not None


def packed_diagnoses(ds, *, period, as_of=None) -> dict[str, bytes]:
    """Every rep's diagnosis (:func:`rep_diagnoses`, in its order), each pickled on its
    own, by rep_id: the memo hands every caller a copy of what it keeps, and a copy of
    this is a copy of a hundred references, where one of every rep's diagnoses (nested
    dicts and lists) cost a rep page 7 ms; the page unpickles its own rep's only."""
    import pickle

    everyone = batch_table(rep_diagnoses, ds, period=period, as_of=as_of)
    return {str(d["rep_id"]): pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL) for d in everyone}


def _packed(ds, *, period, as_of=None) -> dict[str, bytes] | None:
    """:func:`packed_diagnoses` when the runner's memo holds every rep's diagnoses, else None
    (nothing computed): made once from them the first time it is asked for."""
    peek = getattr(_memo, "peek", None)
    if peek is None:
        return None
    packed = peek(packed_diagnoses, ds, period=period, as_of=as_of)
    if packed is None and peek(rep_diagnoses, ds, period=period, as_of=as_of) is not None:
        packed = batch_table(packed_diagnoses, ds, period=period, as_of=as_of)
    return packed


def scorecard_of(ds, rep_id, *, period, as_of=None):
    """``rep_id``'s scorecard rows (:func:`salesnb.analysis.scorecard.scorecard`, its
    ``rep_id`` column kept): read off every rep's when the runner's memo holds it (a batch of
    every rep), else only this rep's measured (a ``--rep`` batch on a 10,000-rep source, or
    a notebook run by hand): the same rows, as each rep's measures are its own."""
    from salesnb.analysis.scorecard import scorecard

    peek = getattr(_memo, "peek", None)
    everybody = peek(scorecard, ds, period=period, as_of=as_of) if peek is not None else None
    if everybody is None:
        everybody = batch_table(scorecard, ds, period=period, as_of=as_of, rep=str(rep_id))
    card = everybody[(everybody["rep_id"] == rep_id).to_numpy()].reset_index(drop=True)
    card.attrs = dict(everybody.attrs)
    return card


def diagnosed_reps(ds, *, period, as_of=None) -> dict[str, dict]:
    """The reps diagnosed so far for ``period`` under the runner's memo, by rep_id:
    never computed (an empty dict), only remembered by :func:`diagnoses_of` when it
    diagnoses several reps together (a ``--rep`` batch's queue), so that each of
    those reps' pages reads its own instead of diagnosing again."""
    return {}


def data_checks(ds, *, period, as_of=None):
    """Every data-quality flag (:func:`salesnb.analysis.quality.quality_flags`) of
    ``period``, its small samples read off the period's metrics table by rep, a batch table.
    In a batch of a few named reps' pages only (:func:`batch_reps`), only their rows and
    the source-wide ones: all that their pages and the queue read of it."""
    from salesnb.analysis.metrics import metrics_table
    from salesnb.analysis.quality import quality_flags

    metrics = batch_table(metrics_table, ds, by="rep", period=period, as_of=as_of)
    return quality_flags(ds, period=period, as_of=as_of, metrics=metrics, reps=batch_reps_of(ds))


def batch_reps(ds) -> tuple[str, ...] | None:
    """The reps of a batch that renders a few named reps' pages and nothing else (a
    ``--rep`` batch), as the runner keeps them in its memo (:func:`only_reps`); never
    computed: None (every rep's tables are made, as in a notebook run by hand)."""
    return None


def batch_reps_of(ds) -> tuple[str, ...] | None:
    """:func:`batch_reps` as the runner's memo holds it, else None (nothing computed)."""
    peek = getattr(_memo, "peek", None)
    return peek(batch_reps, ds) if peek is not None else None


def only_reps(ds, rep_ids) -> None:
    """Under the runner's memo: the batch renders ``rep_ids``' pages and nothing else,
    so the batch tables only their pages read in part (the data checks) are made for
    them alone; the memo keeps this with the tables for the report template."""
    remember = getattr(_memo, "remember", None)
    if remember is not None:
        remember(batch_reps, ds, tuple(sorted({str(r) for r in rep_ids})))
