"""Running one report: execute its notebook with papermill, render the page.

:func:`render_report` is the single place where one report is executed (with
the job's engine: a fork of the warm template, :mod:`salesnb.run.forkserver`,
or a fresh Jupyter kernel) and rendered (:mod:`salesnb.present.render`). It
never raises: a failing report becomes an entry with ``status: "failed"``.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import time
import traceback
import uuid
from contextlib import contextmanager
from pathlib import Path

from salesnb import atomic
from salesnb.io.urls import mask_text
from salesnb.run.folder import cannot_write
from salesnb.run.plan import KERNEL_NAME, ReportJob, utc_now
from salesnb.run.trace import mark

__all__ = ["render_report", "describe", "report_environment", "CACHE_ENV", "INSTALL_SNAPSHOTS"]

#: What a report's process runs before the notebook: its ``salesnb.load`` then
#: answers from the batch's data (:func:`salesnb.run.cache.install`) and its
#: pages' batch-wide tables from the memo (:func:`salesnb.run.memo.install`).
INSTALL_SNAPSHOTS = "from salesnb.run import cache, memo; cache.install(); memo.install()"


def render_report(job: ReportJob) -> dict:
    """Execute ``job``'s notebook with papermill and render it to HTML.

    Returns the report's manifest entry: the job's description plus
    ``status`` (``ok`` or ``failed``), ``error`` (None, or one line saying
    what went wrong), ``error_detail`` (the traceback, for debugging),
    ``failed_notebook`` (where the executed notebook of a failed report was
    kept, relative to the output folder), ``started``, ``ended`` (UTC, ISO
    8601), ``rendered_at`` (when the page was written), ``seconds``,
    ``engine`` and ``worker`` (host:pid). Never raises for a failing report.
    """
    mark("job " + job.id)
    started = utc_now()
    clock = time.perf_counter()
    out_dir = Path(job.out_dir)
    capture = f"{_MemoryNotebooks.SCHEME}{uuid.uuid4().hex}.ipynb"
    result = dict(job.entry(), status="ok", reason=None, error=None, error_detail=None, failed_notebook=None)
    try:
        nb = _execute(job, capture)
        mark("executed")
        from salesnb.present import render

        page = render.notebook_to_html(nb, title=job.title, subtitle=job.subtitle, warning=job.warning)
        del nb
        from salesnb.run.outputs import check_no_symlinks

        target = check_no_symlinks(out_dir, job.html)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            check_no_symlinks(out_dir, job.html)  # the folder just made (or found) is still no link
            atomic.write_text(target, page)
            mark("written " + job.id)
        except OSError as exc:
            raise cannot_write(exc, out_dir, job.html) from exc
    except Exception as exc:
        result.update(status="failed", html=None, **describe(exc))
        try:
            result["failed_notebook"] = _keep_failed(job, capture)
        except Exception as keep_exc:  # e.g. a full disk: say so, do not hide the first error
            result["error"] += f" (and the executed notebook could not be kept: {keep_exc})"
    finally:
        _memory_notebooks().saved.pop(capture, None)
    ended = utc_now()
    result.update(
        started=started,
        ended=ended,
        rendered_at=ended if result["status"] == "ok" else None,
        seconds=round(time.perf_counter() - clock, 3),
        engine=job.engine,
        worker=_worker(),
    )
    return result


class _MemoryNotebooks:
    """A papermill I/O handler that keeps "written" notebooks in memory.

    Papermill saves the notebook (after every cell with the ``kernel``
    engine, and before raising on an error); saving to memory costs no disk
    write for the reports that succeed and leaves the partly executed
    notebook at hand when one fails, even when the kernel died or a cell
    timed out.
    """

    SCHEME = "salesnb-memory://"

    def __init__(self):
        self.saved: dict[str, object] = {}  # path -> the notebook's text, or the notebook itself

    def read(self, path):
        return _notebook_text(self.saved[path])

    def write(self, buf, path):
        self.saved[path] = buf

    def listdir(self, path):
        return []

    def pretty_path(self, path):
        return path


@functools.lru_cache(maxsize=1)
def _memory_notebooks() -> _MemoryNotebooks:
    import papermill.execute
    from papermill.iorw import papermill_io

    handler = _MemoryNotebooks()
    papermill_io.register(_MemoryNotebooks.SCHEME, handler)
    papermill.execute.write_ipynb = _write_later(papermill.execute.write_ipynb, handler)
    return handler


def _write_later(write_ipynb, handler: _MemoryNotebooks):
    """papermill's ``write_ipynb`` (which ``execute_notebook`` calls as it ends, and before
    it raises for a failed cell) for a path of ours: keep the notebook itself, turned into
    text (:func:`_notebook_text`, the same text) only if it is read, i.e. only for a failed
    report's ``_failed/`` copy. Serializing every executed notebook (charts included) and
    validating it cost a worker ~3 ms a page for nothing. Other paths: papermill's own."""

    def write(nb, path):
        if isinstance(path, str) and path.startswith(_MemoryNotebooks.SCHEME):
            handler.saved[path] = nb
            return None
        return write_ipynb(nb, path)

    write.salesnb_wraps = write_ipynb
    return write


def _notebook_text(saved) -> str:
    if isinstance(saved, str):
        return saved
    import nbformat

    return nbformat.writes(saved)


def _execute(job: ReportJob, capture: str):
    """Run the notebook through papermill with the job's engine; the executed
    notebook (partly executed, on failure) is left in ``capture``."""
    import papermill

    _memory_notebooks()
    notebook = Path(job.notebook)
    env = report_environment(job)
    common = dict(
        parameters=dict(job.parameters),
        kernel_name=job.kernel_name,
        progress_bar=False,
        start_timeout=job.start_timeout,
        execution_timeout=job.cell_timeout,
    )
    if job.engine == "fork":
        from salesnb.run import forkengine

        forkengine.register_engine()
        try:
            # No save after every cell (it costs more than a small cell): the
            # engine hands over the partly run notebook if the run breaks off.
            return papermill.execute_notebook(
                str(notebook),
                capture,
                engine_name=forkengine.ENGINE_NAME,
                request_save_on_cell_execute=False,
                kernel_cwd=str(notebook.parent),
                kernel_env=env,
                **common,
            )
        except Exception as exc:
            partial = getattr(exc, "notebook", None)
            if partial is not None and capture not in _memory_notebooks().saved:
                import nbformat

                _memory_notebooks().saved[capture] = nbformat.writes(partial)
            raise
    # The kernel's own start-up warnings would interleave with the progress bar; the
    # notebook's outputs are unaffected.
    arguments = ["--IPKernelApp.log_level=ERROR"]
    if (
        job.cache_dir
    ):  # its salesnb.load() answers from the batch's data, its tables from the memo (run before the cells, not counted)
        arguments.append(f"--IPKernelApp.exec_lines={INSTALL_SNAPSHOTS}")
    with _environment(env):  # a new kernel inherits this process's environment
        return papermill.execute_notebook(
            str(notebook),
            capture,
            request_save_on_cell_execute=True,
            cwd=str(notebook.parent),
            extra_arguments=arguments,
            **common,
        )


CACHE_ENV = "SALESNB_CACHE_DIR"
""":data:`salesnb.run.cache.ENV`, named here without importing that module: it
loads pandas as it is imported, and a report worker needs no pandas of its own
(importing it cost each worker's first report 0.45 s)."""


def report_environment(job: ReportJob) -> dict[str, str]:
    """The environment a report runs in: the batch's cache folder and, for the
    warm template, what to warm up (:data:`salesnb.run.template.PREWARM_ENV`):
    the template computes the batch-wide tables once before it forks, whichever
    report of the batch comes first; a rep report names its rep."""
    if not job.cache_dir:
        return {}
    import json

    from salesnb.run.forkserver import PREWARM_ENV

    request = {k: job.parameters.get(k) for k in ("source", "mapping", "expectations", "period", "as_of")}
    if job.kind == "rep_coaching" and job.warm_up:  # naming the rep asks for the rep pages' warm-up
        request["rep_id"] = job.key
    return {CACHE_ENV: job.cache_dir, PREWARM_ENV: json.dumps(request, sort_keys=True)}


@contextmanager
def _environment(values: dict):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _keep_failed(job: ReportJob, capture: str) -> str | None:
    """Write the partly executed notebook to ``_failed/``, a database URL's
    password masked (papermill wrote the parameters into it)."""
    saved = _memory_notebooks().saved.get(capture)
    if saved is None:  # it failed before papermill saved anything (unreadable notebook, no kernel...)
        return None
    saved = _notebook_text(saved)
    from salesnb.run.outputs import check_no_symlinks

    target = check_no_symlinks(Path(job.out_dir), job.failed_notebook)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(target, mask_text(saved))
    except OSError as exc:
        raise cannot_write(exc, Path(job.out_dir), job.failed_notebook) from exc
    return job.failed_notebook


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def describe(exc: BaseException) -> dict:
    """``error``: one line a manager can read; ``error_detail``: the traceback."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        where = f" (cell {exc.exec_count})" if exc.exec_count is not None else ""
        error = f"{exc.ename}: {_ANSI.sub('', str(exc.evalue))}{where}"
        detail = _ANSI.sub("", "\n".join(exc.traceback or []))
    else:
        name = type(exc).__name__
        text = _ANSI.sub("", str(exc)).strip()
        if name == "DeadKernelError":
            text = f"the kernel died ({text or 'no message'}); out of memory, or a crash in native code?"
        elif name == "NoSuchKernel":
            text += f"; register it with `python -m ipykernel install --sys-prefix --name {KERNEL_NAME}` (make kernel)"
        error = f"{name}: {text}" if text else name
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    error, detail = mask_text(" ".join(error.split())), mask_text(detail)
    if len(error) > 500:
        error = error[:497] + "..."
    return {"error": error, "error_detail": detail[-20000:]}


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
