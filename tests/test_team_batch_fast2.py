"""The team-sized batch's processes import less (issue #16, session 11b): the report
workers' fork server imports papermill without the libraries of jsonschema's optional
format checkers, and the report template imports seaborn without ipywidgets. Each is
only left out while that library is imported: a later import of it works as usual."""

import importlib.util
import multiprocessing
import os
import subprocess
import sys

import pytest

FORMAT_LIBRARIES = ["isoduration", "arrow", "webcolors", "fqdn", "uri_template", "rfc3339_validator"]


def _run(code: str) -> list[str]:
    """Run ``code`` in a new Python; what it writes to OUT (stdout's fd, saved before the
    report template redirects fd 1), split."""
    code = "import os, sys\nOUT = os.dup(1)\nprint = lambda *a: os.write(OUT, (' '.join(map(str, a)) + ' ').encode())\n" + code
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def _loaded(names: list[str]) -> str:
    """Code that writes True or False for each of ``names``: imported (for real) or not."""
    return f"import os\nos.write(OUT, (' '.join(str(bool(sys.modules.get(n))) for n in {names!r}) + ' ').encode())\n"


def test_the_worker_fork_server_imports_papermill_without_the_format_checkers_libraries():
    if importlib.util.find_spec("isoduration") is None or importlib.util.find_spec("arrow") is None:
        pytest.skip("jsonschema's format libraries are not installed here (JupyterLab brings them)")
    code = (
        "import sys\nimport salesnb.run.worker_preload\nfrom salesnb.run import forkengine\n"
        "assert forkengine._WARMED and 'papermill' in sys.modules and 'nbconvert' in sys.modules\n"
        + _loaded(FORMAT_LIBRARIES)
        # nbformat still validates (it asks jsonschema for no string format), and the
        # libraries import as usual afterwards
        + "import nbformat\nfrom nbformat.v4 import new_notebook, new_code_cell\n"
        "nbformat.validate(nbformat.reads(nbformat.writes(new_notebook(cells=[new_code_cell('1')])), 4))\n"
        "try:\n    nbformat.validate({'cells': 'not a list'})\nexcept nbformat.ValidationError:\n    print('invalid')\n"
        "import isoduration, arrow\nprint(isoduration.parse_duration('P1D').date.days)\n"
    )
    found = [name for name in FORMAT_LIBRARIES if importlib.util.find_spec(name) is not None]
    out = _run(code)
    assert out[: len(FORMAT_LIBRARIES)] == ["False"] * len(FORMAT_LIBRARIES), dict(zip(FORMAT_LIBRARIES, out))
    assert out[len(FORMAT_LIBRARIES) :] == ["invalid", "1"]
    assert "isoduration" in found
    # what the skip is for: a plain import of papermill loads them (fails once jsonschema stops)
    assert _run("import sys\nimport papermill\n" + _loaded(["isoduration", "arrow"])) == ["True", "True"]


def test_the_report_template_imports_seaborn_without_ipywidgets():
    if importlib.util.find_spec("ipywidgets") is None:
        pytest.skip("ipywidgets is not installed here")
    code = (
        "import sys\nfrom multiprocessing import Pipe\nfrom salesnb.run import template\n"
        "mine, theirs = Pipe()\nmine.send(('warm', ['salesnb.present.charts']))\nmine.close()\n"
        "try:\n    template.main(theirs.fileno())\nexcept OSError:\n    pass\n"  # its "ready" finds the launcher gone
        + _loaded(["seaborn", "salesnb.present.analyst_charts", "ipywidgets"])
        # a notebook that imports ipywidgets still gets it, and seaborn's widgets stay seaborn's
        + "import ipywidgets, seaborn\nprint(hasattr(ipywidgets, 'interact'), callable(seaborn.choose_colorbrewer_palette))\n"
    )
    assert _run(code) == ["True", "True", "False", "True", "True"]
    # what the skip is for: a plain import of seaborn loads it (fails once seaborn stops)
    assert _run("import sys\nimport seaborn\n" + _loaded(["ipywidgets"])) == ["True"]


def test_the_template_sleeps_while_its_reports_run(tmp_path):
    """The template waits for a report's end on its pidfd: no looking 100 times a second
    (~13 ms of CPU per second of pages) while a report runs; the worker is told as before."""
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no os.pidfd_open here (Linux 5.3+): the template looks every REAP_EVERY")
    mine, theirs = multiprocessing.Pipe()
    code = (
        "import os, sys\nOUT = os.dup(1)\nfrom salesnb.run import template\ncalls = []\nreal = template.wait\n"
        "def counting(objects, timeout=None):\n    calls.append(timeout)\n    return real(objects, timeout)\n"
        f"template.wait = counting\ntemplate.main({theirs.fileno()})\n"
        "os.write(OUT, f'{len(calls)} {sum(t is not None for t in calls)}'.encode())\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], pass_fds=[theirs.fileno()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    theirs.close()
    try:
        mine.send(("warm", []))
        assert mine.recv()[0] == "ready"
        spec = {"cells": [(0, "import time\ntime.sleep(0.5)\n6 * 7")], "cwd": str(tmp_path), "env": {}, "allow_errors": []}
        mine.send(("run", dict(spec, imports=[])))
        seen = []
        while not seen or seen[-1][0] != "exited":
            seen.append(mine.recv())
        mine.send(("run", dict(spec, imports=[])))  # a second report: the first one's pidfd is gone
        while [m[0] for m in seen].count("exited") < 2:
            seen.append(mine.recv())
    finally:
        mine.close()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    kinds = [m[0] for m in seen]
    assert kinds == ["forked", "cell", "finished", "exited"] * 2
    assert [m[4] for m in seen if m[0] == "cell"] == [True, True]  # each cell ran to its end
    assert [m[1] for m in seen if m[0] == "exited"] == ["exit code 0", "exit code 0"]
    calls, polled = map(int, out.split())
    assert polled == 0, (calls, polled)  # before: ~50 looks with a 10 ms timeout per 0.5 s report
    assert calls <= 12, calls


def _start_order(tmp_path, monkeypatch, *, late_from: int, reps=("R06",), teams=()) -> list[str]:
    """The order in which a batch loads its data and starts its report template."""
    from salesnb.run import batch, forkengine
    from salesnb.run import prepare as prepare_module

    said: list[str] = []
    with monkeypatch.context() as patch:  # undone before the next call
        load, prestart, shared = prepare_module.load_dataset, forkengine.prestart, batch._shared_template
        patch.setattr(batch, "LATE_START_BYTES", late_from)
        patch.setattr(prepare_module, "load_dataset", lambda *a, **k: (said.append("load"), load(*a, **k))[1])
        if len(reps) + len(teams) == 1:  # one page: the template is this process's own (prestart runs here)
            patch.setattr(forkengine, "prestart", lambda *a, **k: (said.append("template"), prestart(*a, **k))[1])
        else:  # the workers' shared template, started here
            patch.setattr(batch, "_shared_template", lambda *a, **k: (said.append("template"), shared(*a, **k))[1])
        result = batch.run_batch(
            "data/sample", period="2025", as_of="2026-01-05", out=tmp_path / "out", reps=list(reps), teams=list(teams), jobs=2
        )
    assert [r["status"] for r in result.reports] == ["ok"] * len(result.reports)
    return said


def test_a_rep_batch_on_a_large_source_starts_its_template_once_the_data_is_loaded(tmp_path, monkeypatch):
    """The template's imports would take the core the load's second process reads on; its page waits for the tables."""
    assert _start_order(tmp_path, monkeypatch, late_from=0) == ["load", "template"]


def test_a_small_source_or_a_team_page_starts_the_template_while_the_data_loads(tmp_path, monkeypatch):
    assert _start_order(tmp_path / "small", monkeypatch, late_from=32 << 20) == ["template", "load"]
    assert _start_order(tmp_path / "team", monkeypatch, late_from=0, teams=("Alpha",))[:2] == ["template", "load"]
