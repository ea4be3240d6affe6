"""salesnb.run.forkserver: warm templates that fork one clean process per report.

What must hold: a report never sees state another report left behind on
the same worker (globals, module objects, rcParams, open figures, cwd,
environment, imported modules); a report that kills its process or hangs
fails alone and the next report on that worker runs; a template that dies
is replaced; outputs are the ones a Jupyter kernel would give.
"""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest
from batches import by_key, write_source
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook

from salesnb.run import forkserver as kernels
from salesnb.run import warmup
from salesnb.run.batch import run_batch

# salesnb runs on Linux (os.fork): the fork server is always there, so nothing here may skip

FOUR_REPS = [
    ("R1", "Ann", "North", "Alpha"),
    ("R2", "Bob", "North", "Alpha"),
    ("R3", "Cy", "South", "Alpha"),
    ("R4", "Di", "South", "Alpha"),
]

CHECK_CLEAN = """\
import json, os, sys
import matplotlib
import matplotlib.pyplot as plt
import salesnb, salesnb.run.cache, salesnb.present.html

leaks = []
if "LEAKED_GLOBAL" in globals(): leaks.append("a global")
if hasattr(json, "salesnb_leak"): leaks.append("a module attribute")
if "Leaked" in salesnb.present.html.METRIC_LABELS: leaks.append("a mutated module-level dict")
if matplotlib.rcParams["lines.linewidth"] != 1.5: leaks.append("rcParams")
if plt.get_fignums(): leaks.append("an open figure")
if "SALESNB_LEAK" in os.environ: leaks.append("an environment variable")
if not os.path.exists("rep_coaching.ipynb"): leaks.append("the working directory")
if "salesnb_leaky_module" in sys.modules: leaks.append("an imported module")
assert not leaks, f"state from an earlier report: {leaks}"
assert salesnb.run.cache.lookup(source, mapping) is not None  # the batch's data, shared
ds = salesnb.load(source, mapping)
print("clean", rep_id, len(ds.reps))
"""

LEAK_EVERYTHING = """\
LEAKED_GLOBAL = rep_id
json.salesnb_leak = rep_id
salesnb.present.html.METRIC_LABELS["Leaked"] = ("Leaked", "count")
matplotlib.rcParams["lines.linewidth"] = 7
plt.figure()
os.environ["SALESNB_LEAK"] = rep_id
os.chdir("/")
sys.modules["salesnb_leaky_module"] = json
if rep_id == "R2":
    os.kill(os.getpid(), 9)  # the report's process dies (a segfault, the OOM killer...)
print("leaked", rep_id)
"""


def write_notebooks(folder: Path, *cells: str) -> Path:
    """A rep_coaching notebook in ``folder``: the parameters, then ``cells`` (default: the leak check, then the leaks)."""
    folder.mkdir(parents=True, exist_ok=True)
    parameters = new_code_cell(
        'source = ""\nmapping = None\nperiod = ""\nas_of = ""\nrep_id = ""', metadata={"tags": ["parameters"]}
    )
    nb = new_notebook(
        cells=[parameters, *(new_code_cell(c) for c in (cells or (CHECK_CLEAN, LEAK_EVERYTHING)))],
        metadata={"kernelspec": {"name": "salesnb", "language": "python", "display_name": "salesnb"}},
    )
    nbformat.write(nb, folder / "rep_coaching.ipynb")
    return folder


@pytest.fixture(scope="module")
def kernel():
    with kernels.ForkingKernel() as warm:
        warm.start()
        yield warm


def run(kernel, *cells, **kw):
    return list(kernel.run(list(enumerate(cells)), **kw))


@pytest.mark.slow
def test_no_report_sees_what_an_earlier_one_left_on_the_same_worker(tmp_path):
    notebooks = write_notebooks(tmp_path / "notebooks")
    template = kernels.get_kernel("salesnb")
    runs_before = template.runs
    result = run_batch(
        write_source(tmp_path / "src", FOUR_REPS),
        period="2026-Q1",
        out=tmp_path / "out",
        notebooks=notebooks,
        jobs=1,
        teams=["Alpha"],
    )
    reports = by_key(result.manifest)
    rep_reports = [reports[("rep_coaching", r[0])] for r in FOUR_REPS]
    assert len({r["worker"] for r in rep_reports}) == 1 and template.runs - runs_before == 4  # one worker, reused
    for entry in rep_reports:
        if entry["key"] == "R2":  # killed itself after leaking: failed alone, as a dead kernel
            assert entry["status"] == "failed" and "kernel died" in entry["error"] and "SIGKILL" in entry["error"]
            kept = nbformat.read(tmp_path / "out" / entry["failed_notebook"], as_version=4)
            assert "clean R2" in str(kept.cells)  # the cells before the crash are kept
        else:
            assert entry["status"] == "ok", entry["error"]
            page = (tmp_path / "out" / entry["html"]).read_text(encoding="utf-8")
            assert f"clean {entry['key']} 4" in page and f"leaked {entry['key']}" in page


@pytest.mark.slow
def test_the_leak_check_does_catch_leaks(kernel, tmp_path):
    """Control: the same two cells run twice in one process do fail the check."""
    write_notebooks(tmp_path)
    from salesnb.run import cache

    cache.store(object(), tmp_path / "cache", source=tmp_path / "src")
    prelude = f"source = {str(tmp_path / 'src')!r}; mapping = None; rep_id = 'R1'\nimport os; os.chdir({str(tmp_path)!r})"
    env = {cache.ENV: str(tmp_path / "cache")}
    clean = CHECK_CLEAN.replace("ds = salesnb.load(source, mapping)\n", "").replace(", len(ds.reps)", "")
    results = run(kernel, prelude, clean, LEAK_EVERYTHING, prelude, clean, env=env)
    assert [r.ok for r in results] == [True, True, True, True, False]
    error = results[-1].outputs[-1]
    assert error["ename"] == "AssertionError" and "a global" in error["evalue"] and "rcParams" in error["evalue"]


@pytest.mark.slow
def test_a_dead_or_hung_report_fails_alone_and_a_dead_template_is_replaced(kernel):
    with pytest.raises(DeadKernelError, match="signal SIGSEGV"):
        run(kernel, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(DeadKernelError, match="exit code 3"):
        run(kernel, "print('bye')", "import os\nos._exit(3)")
    with pytest.raises(CellTimeoutError, match="timed out"):
        run(kernel, "import subprocess, time\nsubprocess.Popen(['sleep', '60'])\ntime.sleep(60)", cell_timeout=1)
    starts = kernel.starts
    assert run(kernel, "print('next')")[0].outputs == [{"output_type": "stream", "name": "stdout", "text": "next\n"}]
    assert kernel.starts == starts  # the template itself was never touched
    kernel.process.kill()
    kernel.process.wait()
    assert run(kernel, "print('after')")[0].ok and kernel.starts == starts + 1


@pytest.mark.slow
def test_work_the_template_does_before_it_forks_has_a_cells_time_not_a_starts(tmp_path):
    """The template loads the batch and computes shared tables before it forks a
    report: on 10,000 reps that took about a minute and failed at the 60 s start
    timeout. A slow import requested by the run stands in for that work here."""
    (tmp_path / "slow_batch_tables.py").write_text("import time\ntime.sleep(2)\n")  # twice start_timeout
    import os

    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with kernels.ForkingKernel(env=env) as template:
        template.start()
        results = run(
            template, "import slow_batch_tables\nprint('forked')", imports=["slow_batch_tables"], start_timeout=1, cell_timeout=30
        )
    assert results[0].ok and results[0].outputs[0]["text"] == "forked\n"


@pytest.mark.slow
def test_outputs_are_what_a_kernel_sends(kernel):
    results = run(
        kernel,
        "print('a'); import sys; print('b', file=sys.stderr); print('c')\n40 + 2",
        "from IPython.display import HTML, display, update_display, clear_output\n"
        "display(HTML('<b>old</b>'), display_id='x')\nprint('between')\nupdate_display(HTML('<b>new</b>'), display_id='x')",
        "print('gone')\nclear_output(wait=True)\nprint('kept')",
        "import pandas as pd\npd.DataFrame({'rep': ['R1'], 'won': [3]})",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.title('t')",
        "import os\nos.system('echo from-c')\n!echo from-shell",
        "1 / 0",
        "print('never')",
    )
    assert [r.ok for r in results] == [True] * 6 + [False]  # stops at the error, like papermill
    first, display_, cleared, frame, figure, shell, error = (r.outputs for r in results)
    assert first == [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "stream", "name": "stderr", "text": "b\n"},
        {"output_type": "stream", "name": "stdout", "text": "c\n"},
        {
            "output_type": "execute_result",
            "execution_count": results[0].execution_count,
            "data": {"text/plain": "42"},
            "metadata": {},
        },
    ]
    assert display_[0]["data"]["text/html"] == "<b>new</b>" and display_[1]["text"] == "between\n"
    assert cleared == [{"output_type": "stream", "name": "stdout", "text": "kept\n"}]
    assert "<table" in frame[0]["data"]["text/html"] and frame[0]["execution_count"] == results[3].execution_count
    png = next(o for o in figure if o["output_type"] == "display_data")["data"]["image/png"]
    assert base64.b64decode(png).startswith(b"\x89PNG")  # base64 text, as jupyter_client sends it
    assert "from-shell" in str(shell) and "from-c" in str(shell)
    assert error[-1]["output_type"] == "error" and error[-1]["ename"] == "ZeroDivisionError"
    assert [r.execution_count for r in results] == list(range(1, 8))  # counted as in a fresh kernel


def test_notebook_imports_are_found_for_the_template():
    cells = [
        "import salesnb\nfrom salesnb.present import html as show, charts as plots\nimport pandas as pd",
        "%matplotlib inline\nimport seaborn.objects",
        "from . import x",
        "def broken(:",
    ]
    assert kernels.notebook_imports(cells) == [
        "salesnb",
        "salesnb.present",
        "salesnb.present.html",
        "salesnb.present.charts",
        "pandas",
        "seaborn.objects",
    ]


# -- the batch's data cache -------------------------------------------------------------


def test_load_is_a_cache_hit_only_in_a_batch(tmp_path, monkeypatch):
    from salesnb.errors import DataError
    from salesnb.io.loading import load
    from salesnb.run import cache

    source = write_source(tmp_path / "src", FOUR_REPS)
    dataset = load(source)
    folder = tmp_path / "cache"
    path = cache.store(dataset, folder, source=source)
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(folder.stat().st_mode & 0o777) == "0o700"

    monkeypatch.delenv(cache.ENV, raising=False)
    assert cache.lookup(source) is None  # an analyst's notebook: no cache
    monkeypatch.setenv(cache.ENV, str(folder))
    (source / "reps.csv").write_text("rep_id,name,territory\nR9,Zed,West\n")  # the batch's snapshot wins
    hit = load(str(source) + "/")
    assert list(hit.reps["rep_id"]) == ["R1", "R2", "R3", "R4"] and hit is not load(source)
    assert cache.lookup(source, tmp_path / "other-mapping.yml") is None  # other arguments: a real load

    dataset.problems = ["a problem"]
    cache.store(dataset, folder, source=source)
    with pytest.raises(DataError):
        load(source, strict=True)  # strict answers from the same entry, as load would

    assert cache.preload(folder) == 1  # a template's copy: handed out once, then read from the file
    in_memory = cache._MEMORY[(str(folder), cache.key(source))]
    assert cache.lookup(source) is in_memory and cache.lookup(source) is not in_memory
    cache.clear(folder)
    assert not folder.exists() and cache.lookup(source) is None


@pytest.mark.slow
def test_a_forked_report_is_byte_identical_to_one_run_by_a_jupyter_kernel(tmp_path):
    from batches import FIXTURE_NOTEBOOKS, REPS

    source = write_source(tmp_path / "src", REPS)
    common = dict(period="2026-Q1", as_of="2026-04-02", notebooks=FIXTURE_NOTEBOOKS, reps=["R1", "a/b", "R3"], teams=["Alpha"])
    forked = run_batch(source, out=tmp_path / "fork", engine="fork", **common)
    kernel = run_batch(source, out=tmp_path / "kernel", engine="kernel", **common)
    assert forked.manifest["engine"] == "fork" and kernel.manifest["engine"] == "kernel"
    assert [(r["id"], r["status"], r["error"]) for r in forked.reports] == [
        (r["id"], r["status"], r["error"]) for r in kernel.reports
    ]
    pages = [r["html"] for r in forked.reports if r["html"]]
    assert len(pages) == 4  # data quality, Alpha (with a matplotlib chart), R1, a/b; R3 fails in both
    for page in pages:
        assert (tmp_path / "fork" / page).read_bytes() == (tmp_path / "kernel" / page).read_bytes()


@pytest.mark.slow
def test_any_report_of_a_batch_has_the_template_prewarm_it_and_leave_no_state(tmp_path):
    """The template pre-computes the batch-wide tables and draws a rep report's
    charts once (leaving blank figures of their shapes and their glyphs for the
    forks), whichever report comes first (a team or data report names no
    rep); it opens no figure and changes no setting a report could see."""
    import json

    import matplotlib
    import matplotlib.pyplot as plt

    from salesnb.analysis import scorecard
    from salesnb.io.loading import load
    from salesnb.present import charts as plots
    from salesnb.present import drawing
    from salesnb.run import cache, memo

    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    folder = tmp_path / "cache"
    cache.store(load(sample), folder, source=str(sample))
    cache.preload(folder)
    open_figures, settings = plt.get_fignums(), dict(matplotlib.rcParams)
    memo.clear()
    drawing._RENDERERS.clear()
    try:
        warmup.prewarm_batch(
            str(folder), json.dumps({"source": str(sample), "mapping": None, "period": "2025", "as_of": "2026-01-05"})
        )
        made = {key[0] for key in memo._MEMO}
        assert scorecard.scorecard in made and len(made) >= 5  # metrics, diagnoses, scorecard, value, quality...
        assert drawing._RENDERERS  # the charts' text sizes, measured once for every fork
        stocked = {}  # shape -> blank figures waiting, over every style they were made under
        for _made_under, figures in drawing._STOCK._stocks:
            for shape, waiting in figures.items():
                stocked[shape] = stocked.get(shape, 0) + len(waiting)
        assert sum(stocked.values()) == 5  # the five charts, the stage chart too: blank figures ready for each fork
        assert stocked[(1, 1, plots.FIGSIZE, ())] == 1  # the forecasts; the trends are one figure of three panels
        assert [(shape[:2], shape[3], stocked[shape]) for shape in stocked if shape[:2] == (3, 1)] == [
            ((3, 1), (("sharex", True),), 1)
        ]
        assert drawing._GLYPHS._bitmaps  # and the glyphs of their texts
        assert plt.get_fignums() == open_figures and dict(matplotlib.rcParams) == settings
    finally:
        cache._MEMORY.clear()
        memo.clear()
        drawing._STOCK.clear()


# -- one template shared by a batch's workers ----------------------------------------------------


def test_a_shared_template_runs_two_workers_reports_side_by_side(tmp_path):
    """Two clients of one shared template: their reports run at the same time
    (each waits for the other's mark, so one-at-a-time would never finish), as
    children of the one template, each from a clean fork."""
    import threading

    flag_a, flag_b = tmp_path / "a", tmp_path / "b"
    wait_for = (
        "import os, time\ndeadline = time.time() + 60\n"
        "open({mine!r}, 'w').close()\n"
        "while not os.path.exists({theirs!r}) and time.time() < deadline: time.sleep(0.01)\n"
        "assert os.path.exists({theirs!r}), 'ran alone'\n"
        "print('template', os.getppid()); X = 1"
    )
    with kernels.ForkingKernel(listen=True) as shared:
        shared.launch()
        one, two = kernels.ForkingKernel(address=shared.address), kernels.ForkingKernel(address=shared.address)
        results = {}

        def first():
            results["one"] = run(one, wait_for.format(mine=str(flag_a), theirs=str(flag_b)), "print('X' in globals())")

        thread = threading.Thread(target=first)
        thread.start()
        results["two"] = run(two, wait_for.format(mine=str(flag_b), theirs=str(flag_a)))
        thread.join(90)
        one.close()
        two.close()
        assert one.process is None and two.process is None  # neither started a template of its own
        for name, cells in results.items():
            assert all(cell.ok for cell in cells), (name, cells)
            assert cells[0].outputs[0]["text"] == f"template {shared.process.pid}\n"
        assert results["one"][1].outputs[0]["text"] == "True\n"


def test_a_worker_whose_shared_template_is_gone_starts_its_own(tmp_path):
    with kernels.ForkingKernel(address=str(tmp_path / "no-such.sock")) as orphan:
        (cell,) = run(orphan, "import os; print(os.getppid())")
        assert cell.ok and orphan.process is not None and cell.outputs[0]["text"] == f"{orphan.process.pid}\n"


@pytest.mark.slow
def test_a_batch_with_two_workers_forks_every_report_from_one_template(tmp_path):
    folder = write_notebooks(
        tmp_path / "notebooks",
        "import os, time\ntime.sleep(1)  # both workers get reports\nprint(f'template {os.getppid()} report {rep_id}')",
    )
    result = run_batch(
        write_source(tmp_path / "src", FOUR_REPS),
        period="2026-Q1",
        out=tmp_path / "out",
        notebooks=folder,
        jobs=2,
        reps=[r[0] for r in FOUR_REPS],
    )
    entries = [e for e in result.manifest["reports"] if e["kind"] == "rep_coaching"]
    assert [e["status"] for e in entries] == ["ok"] * 4 and len({e["worker"] for e in entries}) == 2
    import re

    templates = set()
    for entry in entries:
        page = (tmp_path / "out" / entry["html"]).read_text(encoding="utf-8")
        templates.update(re.findall(rf"template (\d+) report {entry['key']}", page))
    assert len(templates) == 1  # both workers' reports are forks of the same warm process


def test_the_template_warms_the_rep_pages_up_only_when_a_rep_report_asks(monkeypatch):
    """A team or data-quality page forks as soon as the batch's data is loaded; the
    rep pages' warm-up (charts drawn once, ~0.8 s) waits for the first rep report,
    and runs once per batch whichever rep asks first."""
    import json

    from salesnb.run import template

    loaded, warmed = [], []
    monkeypatch.setattr(template, "preload_cache", lambda folder: loaded.append(folder))
    monkeypatch.setattr(template, "prewarm_batch", lambda folder, prewarm, modules: warmed.append(json.loads(prewarm)))
    monkeypatch.setattr(template, "_freeze", lambda: None)
    batch = {"source": "data/sample", "mapping": None, "period": "2025", "as_of": "2026-01-05"}

    def ask(rep_id=None, folder="/cache/a"):
        request = dict(batch, **({"rep_id": rep_id} if rep_id else {}))
        env = {"SALESNB_CACHE_DIR": folder, template.PREWARM_ENV: json.dumps(request, sort_keys=True)}
        serving.prepare({"imports": [], "env": env})

    serving = template._Template(shell=None)
    ask()  # the data-quality page
    ask()  # a team page
    assert loaded == ["/cache/a"] and warmed == []
    ask("R03")
    ask("R07")
    assert [w.get("rep_id") for w in warmed] == ["R03"]
    ask("R01", folder="/cache/b")  # another batch's data: loaded and warmed again
    assert loaded == ["/cache/a", "/cache/b"] and [w["rep_id"] for w in warmed] == ["R03", "R01"]
