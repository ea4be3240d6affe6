"""The papermill engine ``salesnb-fork``: a notebook run in a fork of the warm template.

A worker starts its template early with :func:`prestart` (while the batch
loads its data); each report then runs through :class:`ForkEngine`.

Parameter injection, notebook metadata and error handling stay papermill's
own; only the execution goes to :mod:`salesnb.run.forkserver`.
"""

from __future__ import annotations

from salesnb.run.forkserver import dead_kernel_error, get_kernel, notebook_imports, use_shared

__all__ = ["ENGINE_NAME", "ForkEngine", "register_engine", "prestart", "warm_worker"]  # noqa: F822 - ForkEngine is made on first use (papermill is heavy)

ENGINE_NAME = "salesnb-fork"


def register_engine() -> None:
    """Make ``engine_name="salesnb-fork"`` available to ``papermill.execute_notebook``."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, globals().get("ForkEngine") or __getattr__("ForkEngine"))


def _make_engine():
    from papermill.engines import Engine

    class ForkEngine(Engine):
        """papermill engine: run the notebook in a fork of this process's warm template.

        Extra keyword arguments (``papermill.execute_notebook(..., **kwargs)``):
        ``kernel_cwd`` (the notebook's working directory), ``kernel_env``
        (environment variables set for this run only).
        """

        @classmethod
        def execute_managed_notebook(
            cls, nb_man, kernel_name, execution_timeout=None, start_timeout=60, kernel_cwd=None, kernel_env=None, **kwargs
        ):
            nb = nb_man.nb
            runnable, allowed = [], []
            for index, cell in enumerate(nb.cells):
                if cell.get("cell_type") != "code" or not str(cell.get("source", "")).strip():
                    continue
                tags = cell.get("metadata", {}).get("tags", [])
                if "skip-execution" in tags:
                    continue
                runnable.append((index, cell.source))
                if "raises-exception" in tags:
                    allowed.append(index)
            kernel = get_kernel(kernel_name)
            results = kernel.run(
                runnable,
                cwd=kernel_cwd,
                env=kernel_env,
                allow_errors=allowed,
                cell_timeout=execution_timeout,
                start_timeout=start_timeout,
                imports=notebook_imports(source for _, source in runnable),
            )
            wanted = {index for index, _ in runnable}
            try:
                for index, cell in enumerate(nb.cells):
                    nb_man.cell_start(cell, index)
                    failed = False
                    try:
                        if index in wanted:
                            result = next(results, None)
                            if result is None:
                                raise dead_kernel_error(f"the report stopped before cell {index}")
                            cell.outputs = [_output_node(o) for o in result.outputs]
                            cell.execution_count = result.execution_count
                            failed = not result.ok and index not in allowed
                            if failed:
                                nb_man.cell_exception(cell, cell_index=index)
                    finally:
                        nb_man.cell_complete(cell, cell_index=index)
                    if failed:
                        break
            except Exception as exc:  # papermill saves nothing more: hand over what ran
                if getattr(exc, "notebook", None) is None:
                    try:
                        exc.notebook = nb
                    except AttributeError:
                        pass
                raise
            finally:
                results.close()
            return nb

    return ForkEngine


def _output_node(output: dict):
    from nbformat import from_dict

    return from_dict(output)


def __getattr__(name):  # ForkEngine, built on first use: papermill is imported only then
    if name == "ForkEngine":
        engine = _make_engine()
        globals()["ForkEngine"] = engine
        return engine
    raise AttributeError(name)


def prestart(kernel_name: str, shared: str | None = None) -> None:
    """Start this process's template for ``kernel_name`` in the background
    (no wait), or, with ``shared`` (the socket of the batch's shared
    template, :func:`salesnb.run.forkserver.shared_template`), connect to
    that one; best effort: a failure shows up, explained, at the first run.

    In a worker process (one a process pool or a Dask nanny started), also
    pay, while the template imports, the worker's own one-time costs of a
    first report: importing papermill and building the HTML exporter with
    its compiled template. In the batch's main process (``--jobs 1``) they
    are left to the first report, so a batch that cannot be planned (an
    unknown rep, a bad period) says so without waiting for them."""
    try:
        if shared:
            use_shared(kernel_name, shared)
        kernel = get_kernel(kernel_name)
        if not kernel.alive:
            kernel.launch()
    except Exception:  # noqa: BLE001 - e.g. no such kernel: the batch says so itself
        return
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        warm_worker()
        from salesnb.run.trace import mark

        mark("worker prepared")


_WARMED = False


def warm_worker() -> None:
    """A report worker's one-time costs, paid ahead (once per process, and
    inherited by a process forked after it): papermill imported, this
    engine registered, the HTML exporter built with its compiled template.
    The fork server that forks a batch's workers pays them before it forks
    (:mod:`salesnb.run.worker_preload`), so N workers pay them once."""
    global _WARMED
    if _WARMED:
        return
    try:
        from salesnb.slow_imports import PAPERMILL_SKIPS, imported_without

        with imported_without(
            PAPERMILL_SKIPS
        ):  # its hdfs:// handler's pyarrow (~0.15 s), jsonschema's format libraries (~0.05 s)
            import papermill  # noqa: F401 - imported for its side effect: paid now, not by the first report
        from nbformat.v4 import new_markdown_cell, new_notebook

        from salesnb.present import render

        register_engine()
        render.notebook_to_html(new_notebook(cells=[new_markdown_cell("warm-up")]), title="warm-up")
    except Exception:  # noqa: BLE001 - only a head start
        return
    _WARMED = True
