"""salesnb's own processes skip rfc3987_syntax, which jsonschema (under nbformat,
papermill and nbconvert) would import, compiling Lark grammars for a second or more."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

SEEN = "import os\nos.write(1, str(sys.modules.get('rfc3987_syntax') is not None).encode())"  # imported for real?


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


@pytest.fixture(scope="module", autouse=True)
def installed():
    if importlib.util.find_spec("rfc3987_syntax") is None:
        pytest.skip("rfc3987_syntax is not installed here (it comes with JupyterLab, the lab extra)")


def test_without_the_skip_nbformat_imports_it():
    """What the skip is for: a plain process pays for it (this test fails once jsonschema stops)."""
    assert _run(f"import sys, nbformat\n{SEEN}") == "True"


def test_a_process_that_skips_it_still_reads_and_validates_notebooks():
    code = (
        "import sys\nfrom salesnb.slow_imports import skip_slow_optional_imports\n"
        "assert skip_slow_optional_imports() == ['rfc3987_syntax']\n"
        "import nbformat\nfrom nbformat.v4 import new_notebook, new_code_cell\n"
        "nb = nbformat.reads(nbformat.writes(new_notebook(cells=[new_code_cell('1 + 1')])), 4)\n"
        "nbformat.validate(nb)\n"
        "try:\n    nbformat.validate({'cells': 'not a list'})\nexcept nbformat.ValidationError:\n    pass\n"
        "else:\n    raise SystemExit('an invalid notebook passed')\n"
        f"{SEEN}"
    )
    assert _run(code) == "False"


def test_the_command_line_skips_it():
    code = (
        "import sys\nfrom salesnb.cli import main\nsys.argv = ['salesnb', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"import nbformat\n{SEEN}"
    )
    assert _run(code) == "False"


def test_a_report_worker_skips_it():
    code = f"import sys\nfrom salesnb.run.executors import _start_worker\n_start_worker()\nimport papermill\n{SEEN}"
    assert _run(code) == "False"


def test_the_report_template_skips_it():
    """The template runs the notebooks' imports: one that imports nbformat would pay too."""
    code = (
        "import os, sys\nfrom multiprocessing import Pipe\nfrom salesnb.run import template\n"
        "mine, theirs = Pipe()\nmine.close()\n"  # the launcher is gone at once: main returns after its first step
        "template.main(theirs.fileno())\n"
        f"import nbformat\n{SEEN}"
    )
    assert _run(code) == "False"


def test_a_batchs_workers_start_with_papermill_and_the_exporter_already_loaded(tmp_path):
    """The fork server imports them once (salesnb.run.worker_preload) and forks every
    worker from itself: a worker's own start-up finds them in its memory."""
    (tmp_path / "probe.py").write_text(
        "import os, sys\n\n\ndef probe():\n"
        "    from salesnb.present import render\n"
        "    seen = ['papermill' in sys.modules, render.html_exporter.cache_info().currsize == 1,"
        " sys.modules.get('rfc3987_syntax') is not None]\n"
        "    with open(os.environ['PROBE_OUT'], 'a') as out:\n"
        "        out.write(' '.join(map(str, seen)) + '\\n')\n"
    )
    code = (
        "import sys\nfrom salesnb.run.executors import LocalExecutor\nfrom probe import probe\n"
        "pool = LocalExecutor(jobs=2)\npool.warm_up(probe)\npool.close()\n"
    )
    out = tmp_path / "seen.txt"
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", PROBE_OUT=str(out))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines() == ["True True False", "True True False"]


def test_warming_a_pool_up_does_not_wait_for_its_fork_server(tmp_path):
    """The fork server imports for about a second before it forks the first worker:
    the batch plans meanwhile (warm_up returns at once), and its reports then run."""
    (tmp_path / "slow_preload.py").write_text("import time\ntime.sleep(3)\n")
    (tmp_path / "square.py").write_text("def square(n):\n    return n * n\n")
    code = (
        "import time\nfrom salesnb.run import executors\nfrom square import square\n"
        "executors.WORKER_PRELOAD = (*executors.WORKER_PRELOAD, 'slow_preload')\n"
        "pool = executors.LocalExecutor(jobs=2)\nclock = time.perf_counter()\npool.warm_up(None)\n"
        "returned = time.perf_counter() - clock\n"
        "results = sorted(pool.map_unordered(square, [1, 2, 3]))\nran = time.perf_counter() - clock\npool.close()\n"
        "print(round(returned, 2), round(ran, 2), results)\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    returned, ran, results = result.stdout.split(" ", 2)
    assert float(returned) < 1.0 <= 3.0 <= float(ran)  # the pool's first task waited for the preload, warm_up did not
    assert results.strip() == "[1, 4, 9]"


def test_a_report_worker_names_the_batch_cache_without_importing_pandas():
    """The cache's module loads pandas as it is imported: a worker (which needs none)
    names the cache folder through salesnb.run.execute instead (0.45 s a worker)."""
    code = (
        "import json, sys\nfrom types import SimpleNamespace\nimport salesnb.run.worker_preload\n"
        "from salesnb.run.execute import report_environment\n"
        "job = SimpleNamespace(cache_dir='/c', kind='rep_coaching', key='R01', warm_up=True, parameters={'period': '2025', 'as_of': '2026-01-05', 'source': 's'})\n"
        "env = report_environment(job)\n"
        "print(json.dumps([env, 'pandas' in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    env, pandas_imported = json.loads(result.stdout.splitlines()[-1])
    assert not pandas_imported
    assert json.loads(env.pop("SALESNB_PREWARM")) == {
        "source": "s", "mapping": None, "expectations": None, "period": "2025", "as_of": "2026-01-05", "rep_id": "R01"
    }  # fmt: skip
    assert env == {"SALESNB_CACHE_DIR": "/c"}
    from salesnb.run import cache, execute

    assert execute.CACHE_ENV == cache.ENV
