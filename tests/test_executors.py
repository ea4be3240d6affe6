"""salesnb.run.executors: the local pool and a Dask cluster keep one contract.

A job that kills its worker fails alone; every other job comes back. On
Dask (a LocalCluster of two worker processes) a whole batch gives the same
reports, byte for byte, as the local executor. The Dask tests are skipped
when dask.distributed is not installed (``pip install -e ".[dask]"``).
"""

from __future__ import annotations

import json
import os
import socket

import pytest
from batches import FIXTURE_NOTEBOOKS, REPS, by_key, files_under, read_manifest, write_source
from click.testing import CliRunner

from salesnb.cli import cli
from salesnb.run.batch import run_batch
from salesnb.run.executors import Executor, LocalExecutor, make_executor


def double_or_die(x: int) -> int:
    """A job; job 13 kills the process it runs in, as a segfault or the OOM killer would."""
    if x == 13:
        os._exit(1)
    return 2 * x


def expected(jobs, lost=(13,)):
    return sorted([2 * x for x in jobs if x not in lost] + [("lost", x) for x in lost], key=str)


def test_local_pool_fails_only_the_job_that_killed_its_worker():
    jobs = list(range(10, 22))
    with LocalExecutor(2) as executor:
        results = list(executor.map_unordered(double_or_die, jobs, on_error=lambda job, exc: ("lost", job)))
    assert sorted(results, key=str) == expected(jobs)


def mark_warm(folder: str) -> None:
    """A warm-up: leaves a file named after the worker process it ran in."""
    with open(os.path.join(folder, str(os.getpid())), "w"):
        pass


def test_warm_up_starts_and_warms_every_worker_before_the_jobs(tmp_path):
    import functools
    import time

    with LocalExecutor(2) as executor:
        executor.warm_up(functools.partial(mark_warm, str(tmp_path)))
        deadline = time.monotonic() + 60
        while len(os.listdir(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(os.listdir(tmp_path)) == 2  # not only the first worker: both warm while the batch plans
        pids = set(executor.map_unordered(_pid, range(8)))
    assert pids <= {int(name) for name in os.listdir(tmp_path)}  # the jobs ran in the warmed workers


def _pid(_job) -> int:
    return os.getpid()


def test_make_executor_names_the_engines():
    assert isinstance(make_executor("local", jobs=2), LocalExecutor)
    with pytest.raises(ValueError, match="local, dask"):
        make_executor("spark")
    with pytest.raises(ValueError, match="--scheduler"):
        make_executor("local", scheduler="tcp://x:8786")


def test_the_executor_boundary_is_one_method():
    abstract = {name for name, value in vars(Executor).items() if getattr(value, "__isabstractmethod__", False)}
    assert abstract == {"map_unordered"}


# -- Dask ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_executor():
    # the dask extra is part of `make test`: a missing dask.distributed fails here, never skips
    from salesnb.run.executors import DaskExecutor

    executor = DaskExecutor(jobs=2)
    yield executor
    executor.close()


@pytest.mark.slow
def test_dask_fails_only_the_job_that_killed_its_worker(dask_executor):
    jobs = list(range(10, 22))
    results = list(dask_executor.map_unordered(double_or_die, jobs, on_error=lambda job, exc: ("lost", job)))
    assert sorted(results, key=str) == expected(jobs)
    assert dask_executor.workers == 2


@pytest.mark.slow
def test_dask_renders_the_same_reports_as_the_local_executor(dask_executor, tmp_path, capsys):
    source = write_source(tmp_path / "src")
    common = dict(period="2026-Q1", as_of="2026-04-02", notebooks=FIXTURE_NOTEBOOKS)
    local = run_batch(source, out=tmp_path / "local", jobs=1, **common)
    capsys.readouterr()
    dask = run_batch(source, out=tmp_path / "dask", executor=dask_executor, progress=True, **common)
    assert "7/7" in capsys.readouterr().err  # the same progress bar

    # same outputs, index and manifest; the failing report fails alone
    assert files_under(tmp_path / "local") == files_under(tmp_path / "dask")
    assert dask.counts == local.counts == {"ok": 6, "failed": 1, "skipped": 0}
    assert dask.manifest["executor"] == "DaskExecutor" and dask.manifest["workers"] == 2

    def comparable(result):
        return {
            (r["kind"], r["key"]): (
                r["status"],
                r["html"],
                r["error"],
                r["input_key"],
                json.dumps(r["parameters"], sort_keys=True),
            )
            for r in result.reports
        }

    assert comparable(dask) == comparable(local)
    # every report ran in a Dask worker process, not in this one (which of the two workers
    # takes which report is the scheduler's choice: under heavy load one may take them all)
    here = f"{socket.gethostname()}:{os.getpid()}"
    assert all(r["worker"] and r["worker"] != here for r in dask.reports)
    for entry in local.reports:  # byte-identical report bodies (nothing in a report is a timestamp)
        if entry["html"]:
            assert (tmp_path / "dask" / entry["html"]).read_bytes() == (tmp_path / "local" / entry["html"]).read_bytes()
    failed = by_key(dask.manifest)[("rep_coaching", "R3")]
    assert (tmp_path / "dask" / failed["failed_notebook"]).is_file()


@pytest.mark.slow
def test_cli_sends_reports_to_a_dask_scheduler(dask_executor, tmp_path):
    source = write_source(tmp_path / "src", [r for r in REPS if r[2] != "explode"])
    address = dask_executor.client.scheduler.address
    result = CliRunner().invoke(
        cli,
        [
            "report",
            str(source),
            "--period",
            "2026-Q1",
            "--out",
            str(tmp_path / "out"),
            "--notebooks",
            str(FIXTURE_NOTEBOOKS),
            "--executor",
            "dask",
            "--scheduler",
            address,
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = read_manifest(tmp_path / "out")
    assert manifest["executor"] == "DaskExecutor" and manifest["counts"]["ok"] == 6
    usage = CliRunner().invoke(
        cli, ["report", str(source), "--period", "2026-Q1", "--out", str(tmp_path / "o2"), "--scheduler", address]
    )
    assert usage.exit_code == 2 and "--executor dask" in usage.output
