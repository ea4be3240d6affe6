"""How fast `salesnb report` renders, against the naive shell loop: issue #16's goals in one run.

    python benchmarks/reports.py [--reps 100] [--team-reps 13] [--jobs 2] [--naive 4] [--memory-reps 500]
                                 [--rep-source DIR | --rep-reps 10000] [--rep-id ID]

Measures, each on its own freshly generated source (salesnb.io.sample.generate)
and output folder, and prints a table of the goals with the figure measured:

1. cold start: `salesnb report` on the bundled sample (data/sample, --jobs 2,
   --force), the time from launching the command to the first page written
   (the manifest's ``ended`` of the first report), with where it went (the
   batch's steps, from SALESNB_TRACE: salesnb/run/trace.py);
2. a team-sized batch: --team-reps reps in two teams, every page (rep
   reports, team overviews, data quality, forecast review, training);
3. a --reps batch (default 100), --jobs N;
4. an unchanged rerun of 2 and of 3 (no --force): seconds, and as a share of the first run;
5. peak memory of the whole process tree (proportional set size, shared
   pages counted once, sampled every 0.2 s) for 3, and with --memory-reps
   for a batch of that many reps (500: the goal is under 1 GiB);
6. with --rep-source DIR (or --rep-reps N, a source generated with N reps):
   `salesnb report DIR --rep ID` (the first rep of DIR's reps.csv, or --rep-id)
   with --force, from the start to the end of the command (goal: under 10 s
   on a 10,000-rep source; `generate(DIR, reps=10000, months=12)` makes one),
   the source's files read once just before (the file cache warm);
7. the naive loop, per report, on the team-sized and the --reps source:
   `papermill NOTEBOOK out.ipynb -p ... -k salesnb` then
   `jupyter nbconvert --to html --no-input out.ipynb`, --naive reports on
   each, half before salesnb's runs and half after, so that a change in the
   shared machine's load weighs on both sides of each ratio. A batch's
   ratio is (naive seconds per report x its pages) / its seconds.

Run it on a quiet machine; on a shared one only the ratios mean something.
Notebooks: the repository's notebooks/ (default) or --notebooks DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


GOALS = {
    "cold start": "first page <= 2 s",
    "team": ">= 20x the naive loop",
    "reps": ">= 30x the naive loop",
    "rerun": "<= 0.5 s and <= 0.1x the first run",
    "memory": "< 1 GiB (process tree PSS)",
    "rep": "<= 10 s, the whole command",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=100, help="reps in the large batch (default 100)")
    parser.add_argument("--team-reps", type=int, default=13, help="reps in the team-sized batch (default 13)")
    parser.add_argument("--months", type=int, default=12, help="months of history (default 12)")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs for every batch (default 2)")
    parser.add_argument(
        "--naive", type=int, default=4, help="naive-loop reports on each source, half before and half after (default 4)"
    )
    parser.add_argument(
        "--memory-reps", type=int, default=0, help="also render a batch of this many reps for its peak memory (e.g. 500)"
    )
    parser.add_argument("--rep-source", type=Path, default=None, help="time `--rep` on this (large) source")
    parser.add_argument("--rep-reps", type=int, default=0, help="time `--rep` on a source generated with this many reps")
    parser.add_argument("--rep-id", default=None, help="the rep for --rep (default: the source's first)")
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=None,
        help="notebooks folder (default: notebooks/ if it holds rep_coaching.ipynb, else the test fixtures)",
    )
    parser.add_argument("--period", default="2025")
    parser.add_argument("--as-of", default="2026-01-05")
    parser.add_argument("--engine", default="auto", choices=["auto", "fork", "kernel"])
    parser.add_argument("--executor", default="local", choices=["local", "dask"])
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary folder, removed)")
    args = parser.parse_args(argv)

    notebooks = args.notebooks or (
        ROOT / "notebooks" if (ROOT / "notebooks" / "rep_coaching.ipynb").is_file() else ROOT / "tests" / "fixtures" / "notebooks"
    )
    work = args.workdir or Path(tempfile.mkdtemp(prefix="salesnb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, notebooks.resolve(), work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args, notebooks: Path, work: Path) -> int:
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"notebooks: {notebooks}")
    team = _source(work / "team", args.team_reps, args)
    big = _source(work / "reps", args.reps, args)
    naive = {"team": [], "reps": []}
    for name, source in (("team", team), ("reps", big)):
        naive[name].append(_naive_part("before", name, source, notebooks, work, args, first=True))

    cold = _salesnb(ROOT / "data" / "sample", notebooks, work / "out-sample", args, trace=work / "trace.log")
    team_run = _salesnb(team, notebooks, work / "out-team", args)
    team_rerun = _salesnb(team, notebooks, work / "out-team", args, force=False)
    reps_run = _salesnb(big, notebooks, work / "out-reps", args)
    reps_rerun = _salesnb(big, notebooks, work / "out-reps", args, force=False)
    memory_run = None
    if args.memory_reps:
        memory_run = _salesnb(_source(work / "memory", args.memory_reps, args), notebooks, work / "out-memory", args)

    rep_run = rep_source = None
    if args.rep_source or args.rep_reps:
        rep_source = args.rep_source or _source(work / "rep-source", args.rep_reps, args)
        rep_id = args.rep_id or _rep_ids(rep_source)[0]
        _warm_files(rep_source)
        # its memory sampled once a second: reading a 1.5 GB process tree's page maps five times a second slowed it ~0.3 s
        rep_run = _salesnb(rep_source, notebooks, work / "out-rep", args, rep=rep_id, trace=work / "trace-rep.log", every=1.0)

    for name, source in (("team", team), ("reps", big)):
        naive[name].append(_naive_part("after", name, source, notebooks, work, args, first=False))
    per_report = {name: sum(s for s, _ in parts) / max(1, sum(n for _, n in parts)) for name, parts in naive.items()}
    for name, seconds in per_report.items():
        print(f"naive loop (papermill + jupyter nbconvert) on the {name} source: {seconds:.2f} s per report")

    print()
    _describe("cold start: the bundled sample", cold)
    _breakdown(work / "trace.log", cold["launched"])
    _describe(f"team-sized batch: {args.team_reps} reps", team_run, per_report["team"])
    _describe(f"{args.reps} reps", reps_run, per_report["reps"])
    if memory_run is not None:
        _describe(f"{args.memory_reps} reps (memory)", memory_run)
    if rep_run is not None:
        _describe(f"--rep on {rep_source} ({len(_rep_ids(rep_source)):,} reps)", rep_run)
        _breakdown(work / "trace-rep.log", rep_run["launched"])

    rows = [
        ("cold start (sample, first page)", f"{cold['first_page']:.1f} s", GOALS["cold start"], cold["first_page"] <= 2),
        _ratio_row(f"team-sized batch ({team_run['pages']} pages)", team_run, per_report["team"], 20),
        _ratio_row(f"{args.reps} reps, --jobs {args.jobs} ({reps_run['pages']} pages)", reps_run, per_report["reps"], 30),
        _rerun_row(f"unchanged rerun, team-sized ({team_run['pages']} pages)", team_rerun, team_run),
        _rerun_row(f"unchanged rerun, {args.reps} reps", reps_rerun, reps_run),
        _memory_row(f"peak memory, {args.reps} reps", reps_run),
    ]
    if memory_run is not None:
        rows.append(
            (
                f"peak memory, {args.memory_reps} reps",
                _mib(memory_run["tree_pss"]),
                GOALS["memory"],
                memory_run["tree_pss"] < 2**30,
            )
        )
    if rep_run is not None:
        what = f"--rep on {len(_rep_ids(rep_source)):,} reps"
        rows.append((what, f"{rep_run['seconds']:.1f} s", GOALS["rep"], rep_run["seconds"] <= 10 and rep_run["ok"] == 1))
    print()
    width = max(len(r[0]) for r in rows)
    print(f"{'goal (issue #16)':<{width}}  {'measured':<30}  {'target':<36}  met")
    for what, measured, target, met in rows:
        print(f"{what:<{width}}  {measured:<30}  {target:<36}  {'yes' if met else 'NO'}")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _source(folder: Path, reps: int, args) -> Path:
    from salesnb.io.sample import generate

    clock = time.perf_counter()
    rows = generate(folder, reps=reps, months=args.months)
    print(
        f"source {folder.name}: {reps} reps, {args.months} months, {sum(rows.values()):,} rows ({time.perf_counter() - clock:.1f} s)"
    )
    return folder


def _warm_files(folder: Path) -> None:
    """Read the source's files once, so that the --rep run finds them in the file cache, as
    on a machine that has just exported or read them (this VM's kernel pages out memory
    left untouched for a few seconds, the file cache included: a source read cold from
    disk adds seconds that are the disk's, not salesnb's)."""
    clock, size = time.perf_counter(), 0
    for path in sorted(folder.iterdir()):
        if path.is_file():
            with open(path, "rb") as handle:
                while block := handle.read(1 << 24):
                    size += len(block)
    print(f"  --rep source read once before its run: {size / 2**20:.0f} MiB in {time.perf_counter() - clock:.1f} s")


def _ratio_row(what: str, run: dict, naive_per_report: float, goal: float):
    ratio = naive_per_report * run["pages"] / run["seconds"]
    return (what, f"{ratio:.1f}x ({run['seconds']:.1f} s)", GOALS["team" if goal == 20 else "reps"], ratio >= goal)


def _rerun_row(what: str, rerun: dict, first: dict):
    share = rerun["seconds"] / first["seconds"]
    return (what, f"{rerun['seconds']:.2f} s, {share:.2f}x the first", GOALS["rerun"], rerun["seconds"] <= 0.5 and share <= 0.1)


def _memory_row(what: str, run: dict):
    if not run["tree_pss"]:  # psutil missing or the tree unreadable: say so, claim nothing
        return (what, "not measured (psutil?)", GOALS["memory"], False)
    return (what, _mib(run["tree_pss"]), GOALS["memory"], run["tree_pss"] < 2**30)


def _mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def _describe(title: str, run: dict, naive_per_report: float | None = None) -> None:
    rate = 60 * run["pages"] / run["seconds"]
    ratio = f"; {naive_per_report * run['pages'] / run['seconds']:.1f}x the naive loop" if naive_per_report else ""
    print(f"{title}: {run['pages']} pages ({run['ok']} ok) in {run['seconds']:.1f} s -> {rate:.0f} pages/min{ratio}")
    print(f"  first page {run['first_page']:.1f} s after launch", end="")
    if run["inside"]:
        inside = run["inside"]
        print(
            f"; a rep report inside its worker: median {statistics.median(inside):.2f} s (min {min(inside):.2f}, max {max(inside):.2f})"
        )
    else:
        print()
    print(
        f"  peak memory: whole process tree PSS {_mib(run['tree_pss'])} ({run['tree_n']} processes at the peak); "
        f"main process RSS {_mib(run['main_rss'])}"
    )
    for entry in run["failed"][:5]:
        print(f"  failed: {entry['kind']} {entry['label']}: {entry['error']}")


def _breakdown(trace: Path, launched: float) -> None:
    """Where the cold start went: the first time each step of the batch was reached."""
    if not trace.is_file():
        return
    seen: dict[str, float] = {}
    for line in trace.read_text(encoding="utf-8").splitlines():
        stamp, _pid, event = line.split(" ", 2)
        event = event.split(" ")[0] if event.startswith(("job", "written")) else event
        seen.setdefault(event, float(stamp) - launched)
    steps = ", ".join(f"{event} {at:.1f}" for event, at in sorted(seen.items(), key=lambda kv: kv[1]))
    print(f"  steps (s after launch, first occurrence): {steps}")


def _rep_ids(source: Path) -> list[str]:
    import csv

    with open(source / "reps.csv", newline="", encoding="utf-8") as handle:
        return [row["rep_id"] for row in csv.DictReader(handle)]


def _naive_part(when: str, name: str, source: Path, notebooks: Path, work: Path, args, *, first: bool):
    """Half the naive loop on ``source``: returns (seconds, reports)."""
    rep_ids = _rep_ids(source)
    sample = rep_ids[:: max(1, len(rep_ids) // max(1, args.naive))][: args.naive]
    half = (len(sample) + 1) // 2
    part = sample[:half] if first else sample[half:]
    if not part:
        return (0.0, 0)
    seconds = _naive(part, source, notebooks, work / f"naive-{name}", args)
    print(
        f"  naive loop on {name}, {when} salesnb: {len(part)} reports in {seconds:.1f} s (load average {os.getloadavg()[0]:.2f})"
    )
    return (seconds, len(part))


def _naive(sample, source: Path, notebooks: Path, folder: Path, args) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    for rep_id in sample:
        executed = folder / f"{rep_id}.ipynb"
        subprocess.run(
            [
                str(BIN / "papermill"),
                str(notebooks / "rep_coaching.ipynb"),
                str(executed),
                "-p",
                "source",
                str(source),
                "-p",
                "period",
                args.period,
                "-p",
                "as_of",
                args.as_of,
                "-p",
                "rep_id",
                rep_id,
                "-k",
                "salesnb",
                "--cwd",
                str(notebooks),
                "--no-progress-bar",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - clock


def _salesnb(
    source: Path,
    notebooks: Path,
    out: Path,
    args,
    *,
    force: bool = True,
    trace: Path | None = None,
    rep: str | None = None,
    every: float = 0.2,
) -> dict:
    command = [
        str(BIN / "salesnb"), "report", str(source), "--period", args.period, "--as-of", args.as_of,
        "--out", str(out), "--notebooks", str(notebooks), "--jobs", str(args.jobs), "--no-progress",
        "--engine", args.engine, "--executor", args.executor,
    ] + (["--force"] if force else []) + (["--rep", rep] if rep else [])  # fmt: skip
    env = dict(os.environ)
    if trace is not None:
        trace.unlink(missing_ok=True)
        env["SALESNB_TRACE"] = str(trace)
    launched = datetime.now(timezone.utc).timestamp()
    clock = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    sampler = _TreeSampler(process.pid, every=every)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - clock
    sampler.stop()
    if process.returncode not in (0, 1):
        raise SystemExit(f"salesnb report failed ({process.returncode}):\n{output}")
    reports = json.loads((out / "manifest.json").read_text())["reports"]
    written = [_ts(r["ended"]) for r in reports if r["status"] == "ok" and r.get("ended") and not r.get("earlier_run")]
    return {
        "seconds": seconds,
        "launched": launched,
        "pages": len(reports),
        "ok": sum(r["status"] == "ok" for r in reports),
        "failed": [r for r in reports if r["status"] == "failed"],
        "first_page": (min(written) - launched) if written else float("nan"),
        "inside": [r["seconds"] for r in reports if r["kind"] == "rep_coaching" and r["status"] == "ok" and force],
        "main_rss": sampler.main_rss,
        "tree_pss": sampler.tree_pss,
        "tree_n": sampler.tree_n,
    }


class _TreeSampler(threading.Thread):
    """Peak RSS of one process and peak PSS of its whole tree (Linux; psutil)."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.main_rss = self.tree_pss = self.tree_n = 0
        self._halt = threading.Event()

    def run(self):
        try:
            import psutil
        except ImportError:
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            try:
                processes = [root] + root.children(recursive=True)
                self.main_rss = max(self.main_rss, root.memory_info().rss)
                total = 0
                for p in processes:
                    try:
                        info = p.memory_full_info()
                        total += getattr(info, "pss", info.rss)
                    except psutil.Error:
                        continue
                if total > self.tree_pss:
                    self.tree_pss, self.tree_n = total, len(processes)
            except psutil.Error:
                break
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join()


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


if __name__ == "__main__":
    sys.exit(main())
