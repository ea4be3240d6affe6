"""CPU of a rep page's five charts, as a batch's forked report process draws them (issue #16).

    .venv/bin/python benchmarks/charts.py [--source DIR] [--reps 6] [--runs 3] [--profile]

Loads the source (default: a 100-rep, 12-month sample source made in a
temporary folder), installs the runner's memo, runs the rep page's
:func:`salesnb.present.rep_page.warm_up` as the report template does (one
rep's charts drawn and thrown away, blank figures stocked), freezes the
garbage collector's objects, then forks one child per rep (``--reps`` of
them, ``--runs`` times over): the child builds the rep's report and, per
chart kind, times building the Figure (``build``) and turning it into the
embedded PNG (``draw``: :func:`salesnb.present.html.chart`) in CPU time.
Prints, per chart kind, the least of the children's times (ms), and the
least total. ``--profile`` prints one child's cProfile of the charts instead.
Run it with ``SALESNB_FAST_PATHS=0`` for plain matplotlib. On a busy machine CPU
times move by 10%; instructions do not: each child calls ``os.getpgid`` before a
chart and ``os.getsid`` after it, so

    valgrind --tool=callgrind --zero-before=getpgid --dump-before=getsid \
        --callgrind-out-file=DIR/cg.%p .venv/bin/python benchmarks/charts.py --reps 2 --runs 1

leaves one file per chart (``DIR/cg.PID.1`` to ``.5``, in :data:`KINDS`' order)
whose ``totals:`` line counts its instructions, the same from run to run.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import sys
import tempfile
import time

PERIOD, AS_OF = "2025", "2026-01-05"
KINDS = ["factor_bands", "trends", "stage_stays", "value_vs_cost", "forecast_vs_actual"]


def _charts(report, charts, pages):
    """(kind, build) for each of a rep page's charts, in the notebook's order."""
    peers = report.peer_label
    return [
        ("factor_bands", lambda: charts.factor_bands(report.factors, peer_label=peers)),
        ("trends", lambda: charts.trends({m: report.trend(m) for m in pages.TREND_METRICS}, peer_label=peers)),
        ("stage_stays", lambda: charts.stage_stays(report.stages, peer_label=peers)),
        ("value_vs_cost", lambda: charts.value_vs_cost(report.value_frame(), highlight=["You"])),
        ("forecast_vs_actual", lambda: charts.forecast_vs_actual(report.forecasts)),
    ]


def _child(ds, rep, write, profile: bool) -> None:
    from salesnb.present import charts, pages
    from salesnb.present import html as show
    from salesnb.run.template import REPORT_GC_THRESHOLD

    gc.set_threshold(*REPORT_GC_THRESHOLD)  # as a report's process collects
    report = pages.rep_report(ds, rep_id=rep, period=PERIOD, as_of=AS_OF)
    times = {f"{k} {part}": 0.0 for k in KINDS for part in ("build", "draw")}
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    for kind, build in _charts(report, charts, pages):
        os.getpgid(0)  # a mark for callgrind (--zero-before=getpgid): the chart starts
        t0 = time.process_time()
        fig = build()
        t1 = time.process_time()
        show.chart(fig)
        t2 = time.process_time()
        os.getsid(0)  # ... and ends (--dump-before=getsid)
        times[f"{kind} build"] += t1 - t0
        times[f"{kind} draw"] += t2 - t1
    if profiler:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(45)
        write(out.getvalue())
        return
    write(";".join(f"{k}={v:.6f}" for k, v in times.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", help="a source folder (default: a generated 100-rep one)")
    parser.add_argument("--reps", type=int, default=6, help="reps drawn per run (one forked child each)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="one child's cProfile instead of timings")
    args = parser.parse_args(argv)

    import salesnb
    from salesnb.present import rep_page
    from salesnb.run import memo

    with tempfile.TemporaryDirectory() as scratch:
        source = args.source
        if source is None:
            from salesnb.io.sample import generate

            source = os.path.join(scratch, "reps100")
            generate(source, reps=100, months=12)
        memo.install()
        ds = salesnb.load(source)
        ds.snapshot = True
        reps = sorted(ds.tables["reps"]["rep_id"])
        rep_page.warm_up(ds, period=PERIOD, as_of=AS_OF, rep_id=reps[0])
        gc.collect()
        gc.freeze()
        chosen = reps[1 : 1 + (1 if args.profile else args.reps)]
        results: list[dict] = []
        for _ in range(1 if args.profile else args.runs):
            for rep in chosen:
                read, write = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(read)
                    try:
                        _child(ds, rep, lambda text, fd=write: os.write(fd, text.encode()), args.profile)
                    finally:
                        os._exit(0)
                os.close(write)
                with os.fdopen(read) as pipe:
                    text = pipe.read()
                os.waitpid(pid, 0)
                if args.profile:
                    print(text)
                    return 0
                results.append({k: float(v) for k, v in (pair.split("=") for pair in text.split(";"))})
    fast = os.environ.get("SALESNB_FAST_PATHS", "1").strip() != "0"
    print(f"rep page charts, {len(chosen)} reps x {args.runs} runs, fast paths {'on' if fast else 'off'}: least CPU ms per page")
    print(f"{'chart':22s} {'build':>7s} {'draw':>7s} {'total':>7s}")
    for kind in KINDS:
        build = min(r[f"{kind} build"] for r in results)
        draw = min(r[f"{kind} draw"] for r in results)
        both = min(r[f"{kind} build"] + r[f"{kind} draw"] for r in results)
        print(f"{kind:22s} {1000 * build:7.1f} {1000 * draw:7.1f} {1000 * both:7.1f}")
    totals = sorted(sum(r.values()) for r in results)
    print(f"{'all charts':22s} {'':7s} {'':7s} {1000 * totals[0]:7.1f}  (median {1000 * totals[len(totals) // 2]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
