"""A report worker's own costs (issue #16, session 10): what it no longer does, and
that the pages and the failed notebooks it writes are the same as before.

- a worker connected to the batch's shared template reads no kernel spec;
- each cell's imports are read once per process, not once per report;
- papermill's notebook text is made only for a report that fails (its ``_failed/`` copy);
- the fork server imports papermill without pyarrow (only its hdfs:// handler needs it).
"""

from __future__ import annotations

import ast
import subprocess
import sys

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from salesnb.run import execute, forkengine, forkserver
from salesnb.run.forkserver import CellResult

# -- the kernel spec -------------------------------------------------------------------------


@pytest.fixture
def fresh_kernels(monkeypatch):
    monkeypatch.setattr(forkserver, "_KERNELS", {})
    monkeypatch.setattr(forkserver, "_SHARED", {})
    read = []

    class Unread(Exception):
        pass

    def kernel_python(name):
        read.append(name)
        raise Unread(name)

    monkeypatch.setattr(forkserver, "kernel_python", kernel_python)
    return read, Unread


def test_a_worker_of_a_shared_template_reads_no_kernel_spec(fresh_kernels, tmp_path):
    read, unread = fresh_kernels
    forkserver.use_shared("salesnb", str(tmp_path / "template.sock"))
    kernel = forkserver.get_kernel("salesnb")
    assert read == [] and kernel.address == str(tmp_path / "template.sock")
    assert forkserver.get_kernel("salesnb") is kernel  # one per thread, as before
    with pytest.raises(unread):  # no shared template for this one: its spec is read at once
        forkserver.get_kernel("other")
    assert read == ["other"]


def test_a_worker_whose_shared_template_is_gone_reads_the_spec_before_it_starts_its_own(fresh_kernels, tmp_path):
    read, unread = fresh_kernels
    forkserver.use_shared("salesnb", str(tmp_path / "no-such.sock"))
    kernel = forkserver.get_kernel("salesnb")
    with pytest.raises(unread):  # NoSuchKernel, for a real spec that is gone
        kernel.launch()
    assert read == ["salesnb"] and kernel.process is None


# -- each cell's imports, once -----------------------------------------------------------------


def test_each_cells_imports_are_read_once_per_process(monkeypatch):
    parsed = []
    real_parse = ast.parse

    class CountingAst:
        def __getattr__(self, name):
            return getattr(ast, name)

        @staticmethod
        def parse(source, *args, **kwargs):
            parsed.append(source)
            return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(forkserver, "ast", CountingAst())
    cells = [
        "import pandas as pd  # test_worker_fast 1",
        "from salesnb.present import charts, html  # test_worker_fast 2",
        "%matplotlib inline\nimport numpy  # test_worker_fast 3",
    ]
    expected = ["pandas", "salesnb.present", "salesnb.present.charts", "salesnb.present.html", "numpy"]
    assert forkserver.notebook_imports(cells) == expected
    assert forkserver.notebook_imports(cells + ["rep_id = 'R07'  # test_worker_fast 4"]) == expected
    assert len(parsed) == 4  # three cells, then only the new parameters cell


# -- the executed notebook's text, only when it fails ------------------------------------------


class _ReplayKernel:
    """Stands for the warm template: each cell's outputs as the report's child sends them."""

    def __init__(self, results):
        self.results = results

    def run(self, runnable, **kwargs):
        for (index, _), (count, outputs, ok) in zip(runnable, self.results):
            yield CellResult(index, count, outputs, ok)


def _notebook(tmp_path):
    nb = new_notebook(
        cells=[new_code_cell("rep_id = None"), new_code_cell("print('hello')"), new_code_cell("1 / 0")],
        metadata={"kernelspec": {"name": "salesnb", "language": "python", "display_name": "salesnb"}},
    )
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = tmp_path / "report.ipynb"
    if not path.exists():
        nbformat.write(nb, path)
    return path


_HELLO = [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]
_ERROR = {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": ["boom"]}


def _run(tmp_path, monkeypatch, results, capture, before=lambda: None):
    monkeypatch.setattr(forkengine, "get_kernel", lambda name: _ReplayKernel(results))
    forkengine.register_engine()
    execute._memory_notebooks()
    notebook = _notebook(tmp_path)
    before()
    return papermill.execute_notebook(
        str(notebook),
        capture,
        parameters={"rep_id": "R07"},
        engine_name=forkengine.ENGINE_NAME,
        request_save_on_cell_execute=False,
        kernel_name="salesnb",
        progress_bar=False,
    )


def test_a_report_that_succeeds_is_never_written_out_as_notebook_text(tmp_path, monkeypatch):
    written = []
    real_writes = nbformat.writes

    def count_writes():
        monkeypatch.setattr(nbformat, "writes", lambda nb, *a, **k: written.append(1) or real_writes(nb, *a, **k))

    capture = "salesnb-memory://test-worker-fast-ok.ipynb"
    try:
        results = [(1, [], True), (2, [], True), (3, _HELLO, True), (4, [], True)]
        nb = _run(tmp_path, monkeypatch, results, capture, before=count_writes)
        assert written == []
        out = tmp_path / "out.ipynb"  # a path not salesnb's: papermill writes it, as ever
        assert _run(tmp_path, monkeypatch, results, str(out)) == nbformat.read(out, as_version=4)
        assert len(written) == 1
        assert nb.cells[2].outputs[0]["text"] == "hello\n" and nb.cells[1].source == '# Parameters\nrep_id = "R07"\n'
    finally:
        execute._memory_notebooks().saved.pop(capture, None)


def test_a_failed_reports_notebook_text_is_papermills_own(tmp_path, monkeypatch):
    capture = "salesnb-memory://test-worker-fast-failed.ipynb"
    try:
        with pytest.raises(papermill.PapermillExecutionError):
            _run(tmp_path, monkeypatch, [(1, [], True), (2, [], True), (3, _HELLO, True), (4, [_ERROR], False)], capture)
        assert isinstance(execute._memory_notebooks().saved[capture], nbformat.NotebookNode)  # no text yet
        saved = execute._memory_notebooks().read(capture)
        nb = nbformat.reads(saved, as_version=4)
        # papermill's error markers (its own cells), then the notebook as it ran
        assert "An Exception was encountered at" in nb.cells[0].source
        assert nb.cells[0].metadata["tags"] == ["papermill-error-cell-tag"]
        assert [c.get("outputs") for c in nb.cells if c.cell_type == "code"][-1] == [_ERROR]
        assert nb.metadata.papermill["parameters"] == {"rep_id": "R07"} and nb.metadata.papermill["exception"] is True
        assert saved == nbformat.writes(nb)  # the very text papermill writes
    finally:
        execute._memory_notebooks().saved.pop(capture, None)


# -- the fork server's imports -----------------------------------------------------------------


def test_imported_without_hides_a_module_inside_the_block_only():
    from salesnb.slow_imports import imported_without

    name = "salesnb_test_worker_fast_module"
    with imported_without([name, "sys"]) as skipped:
        assert skipped == [name]  # sys is imported already: left alone
        with pytest.raises(ImportError):
            __import__(name)
    assert name not in sys.modules


def test_the_fork_server_imports_papermill_without_pyarrow_and_pyarrow_still_imports():
    pytest.importorskip("pyarrow")
    code = (
        "import sys\nimport salesnb.run.worker_preload\nfrom salesnb.run import forkengine\n"
        "assert forkengine._WARMED and 'papermill' in sys.modules\n"
        "print('pyarrow' in sys.modules, 'numpy' in sys.modules)\n"
        "import pyarrow, papermill.iorw\nprint(pyarrow.__name__, papermill.iorw.HadoopFileSystem.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "pyarrow", "missing_dep"]
