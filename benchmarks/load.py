"""How long ``salesnb.load`` takes on a generated source: the best of a few runs, wall and CPU.

    .venv/bin/python benchmarks/load.py [--reps 10000] [--source DIR] [--runs 3] [--pandas-csv] [--steps] [--one-process]

The source is generated once by :func:`salesnb.io.sample.generate` (``--reps``
reps, 12 months) into the temporary directory and reused, or is ``--source``.
Each run loads it in this process (imports done first, the file cache warm
after the first run); the figures are each run's wall and CPU seconds and the
best of them. ``--pandas-csv`` reads every CSV file with pandas' reader, as
before Arrow's fast path (salesnb.io.csv_files._parse_plain), for a before and
after on one checkout. ``--steps`` adds the seconds of the loader's steps in
the best run (reading the files, checking each table, the references, the rest;
the parent's alone: a large source's biggest tables are read and checked by a forked
child meanwhile, and "waiting for the child" is the parent's wait for them).
``--one-process`` loads without that child (salesnb.io.parallel_read), for a before and after.
On a shared machine, compare CPU seconds: wall time waits for the other processes.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10_000, help="reps of the generated source (default 10,000)")
    parser.add_argument("--source", help="load this source instead of a generated one")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pandas-csv", action="store_true", help="read CSV files with pandas' reader (no fast path)")
    parser.add_argument("--steps", action="store_true", help="print the seconds of the loader's steps too")
    parser.add_argument("--one-process", action="store_true", help="no child process reads tables (as before)")
    args = parser.parse_args(argv)
    source = Path(args.source) if args.source else _generated(args.reps)
    import salesnb
    from salesnb.io import csv_files, loading, parallel_read, validation

    if args.pandas_csv:
        csv_files._parse_plain = lambda *a, **k: None  # the reader before issue #16
    if args.one_process:
        parallel_read.MIN_BYTES = 1 << 62  # the load in one process, as before the child
    steps: dict[str, list[tuple[float, float]]] = {}
    if args.steps:
        _time_steps(steps, loading, validation)
    size = sum(p.stat().st_size for p in source.iterdir() if p.is_file()) / 2**20
    how = (" with pandas CSV reader" if args.pandas_csv else "") + (" in one process" if args.one_process else "")
    print(f"salesnb.load({source}) ({size:,.0f} MiB){how}")
    best = None
    for run in range(1, args.runs + 1):
        for times in steps.values():
            times.clear()
        gc.collect()
        wall, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
        dataset = salesnb.load(source)
        wall, cpu, child = time.perf_counter() - wall, time.process_time() - cpu, _children_cpu() - child
        rows = sum(len(t) for t in dataset.tables.values())
        del dataset
        also = f" + {child:.2f} s in the child" if child else ""
        print(f"  run {run}: {wall:6.2f} s wall, {cpu:6.2f} s CPU{also} ({rows:,} rows)")
        if best is None or wall < best[0]:
            best = (wall, cpu, {name: [sum(t) for t in zip(*times)] or [0, 0] for name, times in steps.items()})
    print(f"best of {args.runs}: {best[0]:.2f} s wall, {best[1]:.2f} s CPU")
    for name, (wall, cpu) in best[2].items():
        print(f"  {name:<22} {wall:6.2f} s wall, {cpu:6.2f} s CPU")
    return 0


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (the loader's child among them)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _generated(reps: int) -> Path:
    from salesnb.io.sample import generate

    folder = Path(tempfile.gettempdir()) / "salesnb-bench-load" / f"reps{reps}"
    if not (folder / "reps.csv").exists():
        print(f"generating {reps:,} reps into {folder} ...", file=sys.stderr)
        generate(folder, reps=reps, months=12)
    return folder


def _time_steps(steps: dict, loading, validation) -> None:
    """Wrap the loader's steps so each run adds up their seconds."""

    def timed(module, name, label):
        original = getattr(module, name)
        steps[label] = []

        def wrapper(*args, **kwargs):
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                steps[label].append((time.perf_counter() - started, time.process_time() - cpu))

        setattr(module, name, wrapper)

    timed(loading, "_read_tables", "reading the files")
    timed(loading, "check_table", "checking each table")
    timed(loading._Child, "result", "waiting for the child")
    timed(loading, "check_references", "the references")
    timed(loading, "_quarantine", "the quarantine")
    timed(loading, "_canonical_categories", "one spelling each")


if __name__ == "__main__":
    sys.exit(main())
