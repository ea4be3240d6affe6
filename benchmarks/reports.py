"""How fast `salesnb report` renders a batch, against the naive shell loop.

    python benchmarks/reports.py [--reps 100] [--jobs 2] [--naive 6] [--notebooks DIR]

1. generates a sample source with --reps reps and --months months of history
   (salesnb.io.sample.generate);
2. renders --naive rep reports the naive way, one after the other, as a
   shell loop would: `papermill NOTEBOOK out.ipynb -p ... -k salesnb`, then
   `jupyter nbconvert --to html --no-input out.ipynb` -- half of them
   before step 3 and half after, so that a change in the shared machine's
   load during the run weighs on both sides of the ratio;
3. renders the whole batch with `salesnb report ... --jobs N` (each --jobs
   value in turn, each into a fresh folder, --force);
4. prints reports per minute for each, the ratio to the naive loop, the cold
   start (process start to the first finished report), the median time
   inside one report, and peak memory: resource.getrusage (self and
   children, as the OS reports it: the largest single process) and the peak
   of the whole process tree's proportional set size (PSS, sampled every
   0.2 s: shared pages counted once).

Run everything in one go on the same machine: on a shared machine only the
ratios mean something. Notebooks: the repository's notebooks/ (default when
they exist) or --notebooks tests/fixtures/notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=100, help="reps in the generated source (default 100)")
    parser.add_argument("--months", type=int, default=12, help="months of history (default 12)")
    parser.add_argument("--jobs", default="2", help="--jobs values to measure, comma-separated (default 2; e.g. 1,2)")
    parser.add_argument(
        "--naive",
        type=int,
        default=6,
        help="rep reports rendered by the naive loop, half before and half after salesnb (default 6; 0: skip)",
    )
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
    notebooks = notebooks.resolve()
    jobs_list = [int(j) for j in str(args.jobs).split(",") if j.strip()]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="salesnb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, notebooks, jobs_list, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args, notebooks: Path, jobs_list: list[int], work: Path) -> int:
    from salesnb.io.sample import generate

    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"notebooks: {notebooks}")
    source = work / "source"
    clock = time.perf_counter()
    rows = generate(source, reps=args.reps, months=args.months)
    print(
        f"source: {args.reps} reps, {args.months} months, {sum(rows.values()):,} rows "
        f"(generated in {time.perf_counter() - clock:.1f} s)"
    )
    rep_ids = _rep_ids(source)

    sample = rep_ids[:: max(1, len(rep_ids) // args.naive)][: args.naive] if args.naive else []
    half = (len(sample) + 1) // 2
    naive_seconds = 0.0
    if sample:  # half the naive loop now, half after salesnb: a change in the machine's load shows in both
        naive_seconds += _naive_part("before", sample[:half], source, notebooks, work / "naive", args)

    runs = []
    for jobs in jobs_list:
        out = work / f"salesnb-jobs{jobs}"
        runs.append((jobs, out, _salesnb(source, notebooks, out, jobs, args), os.getloadavg()[0]))

    naive_rate = None
    if sample:
        if sample[half:]:
            naive_seconds += _naive_part("after", sample[half:], source, notebooks, work / "naive", args)
        naive_rate = 60 * len(sample) / naive_seconds
        print(
            f"naive CLI loop (papermill + jupyter nbconvert per report): {len(sample)} reports in {naive_seconds:.1f} s "
            f"-> {naive_rate:.1f} reports/min ({naive_seconds / len(sample):.2f} s per report)"
        )

    for jobs, out, stats, load in runs:
        manifest = json.loads((out / "manifest.json").read_text())
        reports = manifest["reports"]
        ok = sum(r["status"] == "ok" for r in reports)
        rate = 60 * len(reports) / stats["seconds"]
        inside = [r["seconds"] for r in reports if r["kind"] == "rep_coaching" and r["status"] == "ok"]
        first = min(_ts(r["ended"]) for r in reports if r["status"] == "ok") if ok else None
        print(
            f"salesnb report --jobs {jobs} ({manifest['engine']} engine, {manifest['executor']}): "
            f"{len(reports)} reports ({ok} ok) in {stats['seconds']:.1f} s -> {rate:.1f} reports/min"
            + (f"; {rate / naive_rate:.1f}x the naive loop" if naive_rate else "")
            + f" (load average after: {load:.2f})"
        )
        if first is not None:
            print(
                f"  cold start: {first - stats['launched']:.1f} s from process start to the first finished report "
                f"(planning: loading the data took part of it)"
            )
        if inside:
            print(
                f"  one rep report, inside the worker: median {statistics.median(inside):.2f} s, "
                f"min {min(inside):.2f} s, max {max(inside):.2f} s"
            )
        print(
            f"  peak memory: salesnb main process RSS {stats['main_rss'] / 2**20:.0f} MiB; whole process tree "
            f"PSS {stats['tree_pss'] / 2**20:.0f} MiB ({stats['tree_n']} processes at the peak); "
            f"getrusage maxrss self {stats['self_maxrss'] / 2**20:.0f} MiB, "
            f"children {stats['children_maxrss'] / 2**20:.0f} MiB (largest single process)"
        )
        failed = [r for r in reports if r["status"] == "failed"]
        for r in failed[:5]:
            print(f"  failed: {r['kind']} {r['label']}: {r['error']}")
    return 0


def _rep_ids(source: Path) -> list[str]:
    import csv

    with open(source / "reps.csv", newline="", encoding="utf-8") as handle:
        return [row["rep_id"] for row in csv.DictReader(handle)]


def _naive_part(when: str, sample, source: Path, notebooks: Path, folder: Path, args) -> float:
    seconds = _naive(sample, source, notebooks, folder, args)
    print(
        f"  naive loop, {when} salesnb: {len(sample)} reports in {seconds:.1f} s -> {60 * len(sample) / seconds:.1f} "
        f"reports/min (load average {os.getloadavg()[0]:.2f})"
    )
    return seconds


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


def _salesnb(source: Path, notebooks: Path, out: Path, jobs: int, args) -> dict:
    command = [
        str(BIN / "salesnb"),
        "report",
        str(source),
        "--period",
        args.period,
        "--as-of",
        args.as_of,
        "--out",
        str(out),
        "--notebooks",
        str(notebooks),
        "--jobs",
        str(jobs),
        "--force",
        "--no-progress",
        "--engine",
        args.engine,
        "--executor",
        args.executor,
    ]
    launched = datetime.now(timezone.utc).timestamp()
    clock = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = _TreeSampler(process.pid)
    sampler.start()
    output, _ = process.communicate()
    seconds = time.perf_counter() - clock
    sampler.stop()
    if process.returncode not in (0, 1):
        raise SystemExit(f"salesnb report failed ({process.returncode}):\n{output}")
    return {
        "seconds": seconds,
        "launched": launched,
        "main_rss": sampler.main_rss,
        "tree_pss": sampler.tree_pss,
        "tree_n": sampler.tree_n,
        "self_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children_maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
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
