"""Where report jobs run: the executor boundary.

The report runner hands an :class:`Executor` a plain, picklable function
and a list of picklable jobs, and reads back results as they finish. It
never knows whether they ran in this process, in a local process pool or
on a cluster. An engine only has to implement :meth:`Executor.map_unordered`:

- :class:`LocalExecutor`: this machine (inline for one job, else a pool of
  worker processes);
- :class:`DaskExecutor`: a `dask.distributed <https://distributed.dask.org>`_
  cluster (``pip install "salesnb[dask]"``), a LocalCluster when no
  scheduler address is given.

Both keep at most a few jobs per worker in flight and hand each result
back as soon as it arrives, so a batch of thousands of reports holds only
a handful of results in memory at once.

    with make_executor("local", jobs=2) as executor:
        for result in executor.map_unordered(render_report, jobs, on_error=as_failed):
            ...
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

__all__ = [
    "Executor",
    "LocalExecutor",
    "DaskExecutor",
    "EXECUTORS",
    "MAX_WORKERS",
    "make_executor",
    "worker_count",
    "available_cores",
]

J = TypeVar("J")
R = TypeVar("R")

EXECUTORS = ("local", "dask")
_NO_MORE = object()  # the end of a batch's jobs
IN_FLIGHT_PER_WORKER = 2  # jobs queued per worker: enough to keep it busy, few enough to stay small
#: The most workers a batch starts, whatever ``--jobs`` says: each holds a warm
#: report template (about 350 MB), and past the cores more workers only slow it down.
MAX_WORKERS = 32


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_count(jobs: int, reports: int) -> int:
    """Workers for ``reports`` reports asked to run ``jobs`` at once: never
    more than the reports, nor :data:`MAX_WORKERS`; at least one."""
    return max(1, min(int(jobs), int(reports), MAX_WORKERS))


class Executor(ABC):
    """Runs ``fn(job)`` for many jobs and yields the results as they finish."""

    #: How many jobs may run at once (for progress messages; not a promise).
    workers: int = 1

    @abstractmethod
    def map_unordered(
        self,
        fn: Callable[[J], R],
        jobs: Iterable[J],
        *,
        on_error: Callable[[J, BaseException], R] | None = None,
    ) -> Iterator[R]:
        """Yield ``fn(job)`` for every job, in completion order.

        ``fn`` and the jobs must be picklable (a module-level function and
        plain data). When running a job fails outside ``fn`` itself (a
        worker process killed, a lost connection), the executor yields
        ``on_error(job, exc)`` instead, or raises when ``on_error`` is None.
        Closing the iterator early cancels the jobs not yet started.
        """

    def warm_up(self, fn: Callable[[], object]) -> None:  # noqa: B027 - optional hook, nothing by default
        """Optional: start the workers now and run ``fn()`` (picklable, quick,
        never raising) once in each, ahead of the jobs, e.g. to start a warm
        report template while the caller plans. Best effort; default: nothing."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing by default
        """Release workers; the executor cannot be used afterwards."""

    def stop(self) -> None:
        """Stop now (the batch was interrupted): end the running jobs without
        waiting for them, then :meth:`close`. Default: :meth:`close`."""
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def make_executor(name: str = "local", *, jobs: int = 1, scheduler: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``dask``), with ``jobs``
    workers; ``scheduler`` is a Dask scheduler address (``tcp://host:8786``)."""
    if name == "local":
        if scheduler:
            raise ValueError("--scheduler is for --executor dask")
        return LocalExecutor(jobs)
    if name == "dask":
        return DaskExecutor(jobs=jobs, scheduler=scheduler)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {name!r}")


class LocalExecutor(Executor):
    """Runs jobs on this machine: in this process when ``jobs == 1``, else in
    a pool of ``jobs`` worker processes.

    Worker processes are started with ``forkserver`` where available (else
    ``spawn``), never by forking a parent that may hold threads and open
    files; each worker lives for the whole batch, so per-process set-up done
    by ``fn`` (a warm report template, an HTML exporter, imports) is paid
    once per worker.
    """

    def __init__(self, jobs: int = 1):
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ValueError(f"jobs must be a whole number >= 1, not {jobs!r}")
        self.workers = jobs
        self._pool: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None  # warm_up's, starting the workers
        self._first_tasks: list[Future] = []  # warm_up's one task per worker (see started())

    def map_unordered(self, fn, jobs, *, on_error=None):
        if not isinstance(jobs, Sized):
            jobs = list(jobs)
        # A sized iterable is taken one job at a time, as workers free up: a batch's
        # plan computes its shared tables once its first pages are handed out.
        if self.workers == 1 or (len(jobs) <= 1 and self._pool is None):
            yield from self._run_inline(fn, jobs, on_error)
        else:
            yield from self._run_pooled(fn, jobs, on_error)

    def warm_up(self, fn):
        if self.workers == 1:
            fn()
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_process_context(), initializer=_start_worker, initargs=(fn,)
            )
            # Starting a worker waits for the fork server to import what every worker needs
            # (salesnb.run.worker_preload, about a second): in the background, while the batch plans.
            self._starting = threading.Thread(
                target=_start_workers,
                args=(self._pool, self.workers, self._first_tasks),
                name="salesnb-start-workers",
                daemon=True,
            )
            self._starting.start()

    def started(self) -> bool:
        """Whether a worker :meth:`warm_up` started has run its first task: the fork
        server that forks the workers has imported what they need
        (:mod:`salesnb.run.worker_preload`, the heaviest of a batch's start-up beside
        its template's imports), so the batch's process no longer takes a core from it."""
        return any(task.done() for task in list(self._first_tasks))

    @staticmethod
    def _run_inline(fn, jobs, on_error):
        for job in jobs:
            try:
                result = fn(job)
            except Exception as exc:
                if on_error is None:
                    raise
                result = on_error(job, exc)
            yield result

    def _run_pooled(self, fn, jobs, on_error):
        """Keep ``workers * IN_FLIGHT_PER_WORKER`` jobs in flight. A worker that
        dies breaks the whole pool and fails every job in flight: those jobs
        are suspects, run again at the end one at a time in a fresh pool, so
        only the one that kills its worker again is reported as failed."""
        from concurrent.futures.process import BrokenProcessPool

        upcoming, count = iter(jobs), len(jobs)
        suspects: list = []
        pending: dict[Future, tuple[object, bool]] = {}
        limit = self.workers * IN_FLIGHT_PER_WORKER

        def submit(job, alone: bool) -> None:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=min(self.workers, count), mp_context=_process_context(), initializer=_start_worker
                )
            pending[self._pool.submit(fn, job)] = (job, alone)

        def fill() -> None:
            if any(alone for _, alone in pending.values()):
                return
            while len(pending) < limit:
                job = next(upcoming, _NO_MORE)
                if job is _NO_MORE:
                    break
                submit(job, False)
            if not pending and suspects:
                submit(suspects.pop(0), True)

        try:
            fill()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    job, alone = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        if not alone:
                            suspects.append(job)
                            continue
                        if on_error is None:
                            raise
                        result = on_error(job, exc)
                    except Exception as exc:
                        if on_error is None:
                            raise
                        result = on_error(job, exc)
                    yield result
                if broken:
                    for future, (job, _alone) in list(pending.items()):
                        future.cancel()
                        suspects.append(job)
                    pending.clear()
                    self._discard_pool()
                fill()
        finally:
            for future in pending:
                future.cancel()

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def stop(self) -> None:
        """End the workers at once (SIGTERM to each; their report templates die
        with them), then release the pool's queues and semaphores in order, so
        an interrupted batch leaves no process and no "leaked semaphore"."""
        pool = self._pool
        if pool is not None:
            # ProcessPoolExecutor has no public way to end busy workers: its process table,
            # read defensively (without it, close() waits for the running reports).
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                try:
                    process.terminate()
                except (OSError, ValueError, AttributeError):
                    pass
        self.close()


class DaskExecutor(Executor):
    """Runs jobs on a dask.distributed cluster.

    With ``scheduler`` (``tcp://host:8786``) it connects to that cluster;
    its workers need salesnb (and the ``salesnb`` kernel) installed and
    must see the data source and the output folder at the same paths (a
    shared file system). Without, it starts a LocalCluster of ``jobs``
    worker processes, one thread each. ``client`` may be an existing
    ``distributed.Client`` (not closed by :meth:`close`).

    A worker that dies takes its report with it: that report comes back as
    failed (``on_error``), the others carry on. When it starts the cluster
    itself, Dask is told to send a worker one job at a time and not to
    retry a job whose worker died (``worker-saturation: 1.0``,
    ``allowed-failures: 0``), so a report that kills its worker fails
    alone and cannot kill them all. On your own cluster set the same in
    its Dask configuration for the same guarantee.
    """

    def __init__(self, jobs: int = 1, *, scheduler: str | None = None, client=None):
        try:
            import distributed
        except ImportError:
            raise ImportError('the dask executor needs dask.distributed: pip install "salesnb[dask]"') from None
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ValueError(f"jobs must be a whole number >= 1, not {jobs!r}")
        self._own_client = client is None
        self._cluster = None
        self._warm: list = []
        if client is not None:
            self.client = client
        elif scheduler:
            self.client = distributed.Client(scheduler)
        else:
            import dask

            # One job per worker thread at a time (worker-saturation 1.0), and no
            # retry of a job whose worker died: only that job fails.
            with dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}):
                self._cluster = distributed.LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=40,  # logging.ERROR: no INFO chatter over the progress bar
                )
            self.client = distributed.Client(self._cluster)
        self.workers = max(1, self._threads()) if (client is not None or scheduler) else jobs

    def warm_up(self, fn):
        # As a task on each worker (not client.run, which runs on the worker's
        # event loop thread): the task thread is the one that runs the reports.
        try:
            workers = list(self.client.scheduler_info().get("workers", {}))
            self._warm = [self.client.submit(fn, workers=[address], allow_other_workers=False, pure=False) for address in workers]
        except Exception:  # noqa: BLE001 - only a head start
            self._warm = []

    def _threads(self) -> int:
        try:
            return sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001 - only for the progress label
            return 1

    def map_unordered(self, fn, jobs, *, on_error=None):
        from distributed import as_completed

        jobs = list(jobs)
        if not jobs:
            return
        client = self.client
        stream = as_completed()
        pending: dict = {}
        iterator = iter(jobs)
        # One job per worker thread: the scheduler then never queues a second
        # job on a worker, so a worker that dies takes only its own job along.
        limit = max(1, self.workers)

        def submit_next() -> bool:
            job = next(iterator, None)
            if job is None:
                return False
            future = client.submit(fn, job, pure=False, key=f"salesnb-report-{_job_name(job)}-{id(job):x}")
            pending[future.key] = (future, job)
            stream.add(future)
            return True

        for _ in range(limit):
            if not submit_next():
                break
        try:
            for future in stream:
                _, job = pending.pop(future.key)
                try:
                    result = future.result()
                except Exception as exc:  # KilledWorker, lost connection, ...
                    if on_error is None:
                        raise
                    result = on_error(job, exc)
                finally:
                    future.release()
                submit_next()
                yield result
        finally:
            for future, _ in pending.values():
                future.cancel()
            pending.clear()

    def close(self) -> None:
        self._warm = []
        if self._own_client and self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        self.client = None


def _nothing() -> None:
    return None


def _start_workers(pool: ProcessPoolExecutor, count: int, tasks: list | None = None) -> None:
    """Have ``pool`` start ``count`` workers now: one task each, since the pool
    starts a process per task while none is idle (with one task, only the
    first worker would start and warm up now), listed in ``tasks``. Best effort:
    a pool that cannot start says so at the batch's first report."""
    try:
        for _ in range(count):
            task = pool.submit(_nothing)
            if tasks is not None:
                tasks.append(task)
    except Exception:  # noqa: BLE001 - e.g. shut down meanwhile
        pass


def _start_worker(fn: Callable[[], object] | None = None) -> None:
    """A pool worker's first step: exit as soon as the batch's process is gone,
    however it ended, so a batch killed outright (say by the out-of-memory
    killer) leaves no worker rendering pages into a folder whose lock died
    with it; the worker's templates and reports die with the worker. Then
    ``fn`` (the warm-up).

    A forkserver child outlives the batch otherwise: the forkserver does
    not end with it, and the pool's queues are only read between jobs."""
    from salesnb.run.trace import mark
    from salesnb.slow_imports import skip_slow_optional_imports

    mark("worker start")
    skip_slow_optional_imports()
    batch = multiprocessing.parent_process()
    if batch is not None:
        threading.Thread(target=_exit_with, args=(batch,), name="salesnb-exit-with-batch", daemon=True).start()
    if fn is not None:
        fn()


def _exit_with(batch) -> None:
    batch.join()  # returns when the batch process has ended
    os._exit(75)


def _job_name(job) -> str:
    name = str(getattr(job, "id", "job"))
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:60]


WORKER_PRELOAD = ("__main__", "salesnb.run.worker_preload")
"""What the fork server imports before it forks a worker: the program's main
module (multiprocessing's default) and what every report worker needs
(:mod:`salesnb.run.worker_preload`), paid once for all workers."""


def _process_context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_PRELOAD))  # read when the fork server starts; a running one keeps its own
    return context
