"""CPU of the team overview, training-effect, forecast-review and data-quality pages, each as a
batch's worker runs it (issue #16).

    .venv/bin/python benchmarks/pages.py [--source DIR] [--runs 3] [--profile PAGE]

Loads the source (default: a 13-rep, 12-month source generated as
``benchmarks/reports.py``'s team-sized batch does), marks it as a batch's
snapshot, installs the runner's memo and fills it as the batch's parent does
(the manager's queue of every rep, then :func:`salesnb.present.pages.warm_tables`,
:func:`salesnb.present.team_page.warm_tables` when the source has several teams, as
:func:`salesnb.run.prepare.batch_tables` does, and the ``warm_tables`` of each module
given with ``--warm``), then forks one
child per page and run; the child executes the page's notebook code cells (the
``parameters`` cell's names set from the page's parameters) and renders each
cell's last value to HTML or PNG, as nbconvert would. As the runner's template (:mod:`salesnb.run.template`),
the parent freezes what it holds before it forks (``gc.freeze``) and each child collects garbage at
``REPORT_GC_THRESHOLD``: without them each child's collector rescans the parent's objects (~0.1 s a team page). Prints each page's CPU seconds in its child (min of --runs).
``--profile PAGE`` (``team``, ``training``, ``forecast``, ``quality``) prints that page's
cProfile (top 40 by cumulative time) instead.
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import gc
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERIOD, AS_OF = "2025", "2026-01-05"
#: The page modules whose ``warm_tables`` the parent runs (``--warm`` adds more).
MODULES = ["salesnb.present.pages"]


def _cells(notebook: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / notebook).read_text())
    return [
        "".join(c["source"])
        for c in nb["cells"]
        if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])
    ]


def _run_cells(cells: list[str], namespace: dict) -> int:
    """Execute the cells; render each cell's last expression to HTML or PNG bytes. Returns the bytes made."""
    made = 0
    for source in cells:
        tree = ast.parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
            for name in ("_repr_html_", "_repr_png_"):
                method = getattr(value, name, None)
                if method is not None:
                    out = method()
                    made += len(out or b"")
                    break
    return made


def _parent_tables(ds) -> None:
    """What the batch's parent computes into the memo before any page (the manager's queue of
    every rep, then each page module's ``warm_tables``), as :func:`salesnb.run.prepare.batch_tables` does."""
    from salesnb.present.queue import queue_for
    from salesnb.run import warmup

    reps = [str(r) for r in ds.reps["rep_id"]]
    queue_for(ds, period=PERIOD, as_of=AS_OF, rep_ids=reps, labels={r: r for r in reps}, everyone=True)
    modules = list(MODULES)
    if ds.reps["team"].nunique() > 1:  # the parent's own rule: the metrics by team, for a batch of several team pages
        modules.append("salesnb.present.team_page")
    warmup.warm_batch_tables(ds, period=PERIOD, as_of=AS_OF, rep_id=None, modules=modules)


def _pages(ds, source) -> dict:
    teams = sorted({str(t) for t in ds.reps["team"].dropna()})
    program = str(ds.training["program"].dropna().iloc[0]) if ds.training is not None else ""
    base = {"source": str(source), "mapping": None, "expectations": None, "period": PERIOD, "as_of": AS_OF}
    pages = {f"team {t}": ("team_overview.ipynb", base | {"team": t}) for t in teams}
    pages["training"] = ("training_effect.ipynb", base | {"program": program, "metric": "win_rate"})
    pages["forecast"] = ("forecast_review.ipynb", base)
    pages["quality"] = ("data_quality.ipynb", base)
    return pages


def _child(notebook, parameters, ds, profile: bool, write) -> None:
    import salesnb
    from salesnb.run.template import REPORT_GC_THRESHOLD

    gc.set_threshold(*REPORT_GC_THRESHOLD)  # as the runner's report process collects
    namespace = dict(parameters)
    real_load = salesnb.load
    salesnb.load = lambda *a, **k: ds  # the batch's snapshot, as the runner's cache answers
    profiler = cProfile.Profile() if profile else None
    try:
        start = time.process_time()
        if profiler:
            profiler.enable()
        made = _run_cells(_cells(notebook), namespace)
        if profiler:
            profiler.disable()
        seconds = time.process_time() - start
    finally:
        salesnb.load = real_load
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
        sys.stdout.write(text.getvalue())
        sys.stdout.flush()
    write(json.dumps({"seconds": seconds, "bytes": made}).encode())


def _forked(function, *args) -> dict:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 0
        try:
            function(*args, lambda data: os.write(write, data))
        except BaseException as exc:  # noqa: BLE001
            os.write(write, json.dumps({"error": repr(exc)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(data)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", default=None, help="team, training, forecast or quality")
    parser.add_argument("--warm", default="", help="more page modules whose warm_tables the parent runs, comma-separated")
    args = parser.parse_args(argv)
    MODULES.extend(m for m in args.warm.split(",") if m.strip())

    import matplotlib

    matplotlib.use("Agg")
    import salesnb
    from salesnb.present import charts, html, pages  # noqa: F401 - imported by the template before it forks
    from salesnb.run import memo, warmup

    with tempfile.TemporaryDirectory(prefix="salesnb-pages-") as tmp:
        source = Path(args.source) if args.source else Path(tmp) / "team"
        if not args.source:
            from salesnb.io.sample import generate

            generate(source, reps=13, months=12)
        ds = salesnb.load(source)
        ds.snapshot = True
        memo.clear()
        memo.install()
        warmup.warm_libraries()
        _parent_tables(ds)
        found = _pages(ds, source)
        gc.collect()
        gc.freeze()  # as the runner's template before it forks: the children never scan what it holds
        if args.profile:
            for name, (notebook, parameters) in found.items():
                if name.startswith(args.profile):
                    print(f"== {name}")
                    print(_forked(_child, notebook, parameters, ds, True))
            return 0
        times: dict[str, list] = {name: [] for name in found}
        for _ in range(max(args.runs, 1)):
            for name, (notebook, parameters) in found.items():
                result = _forked(_child, notebook, parameters, ds, False)
                if "error" in result:
                    print(f"{name}: {result['error']}")
                    return 1
                times[name].append(result["seconds"])
        print(f"CPU seconds per page in its fork, min of {args.runs} (salesnb from {Path(salesnb.__file__).parent}):")
        for name, seconds in times.items():
            print(f"  {name:<14} {min(seconds):6.3f} s   (runs: {', '.join(f'{s:.3f}' for s in seconds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
