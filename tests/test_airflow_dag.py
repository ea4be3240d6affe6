"""deploy/airflow/salesnb_weekly.py parses as an Airflow DAG with one mapped task
per report, and runs end to end (``dag.test()``, no scheduler).

Airflow lives in its own environment (too heavy for the project's venv):
``make test-airflow`` creates ``.venv-airflow`` (Airflow 3 and salesnb; checked
with 3.3.2) and runs this file there with ``SALESNB_REQUIRE_AIRFLOW=1``, so a
missing Airflow fails the tests instead of skipping them (``.ci/run`` does
this). ``make test`` leaves the ``airflow`` tests out; run elsewhere without
Airflow, they skip with the reason.

The functions the tasks call (prepare_batch, render_report, finish_batch)
are tested without Airflow in tests/test_report.py.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parent.parent / "deploy" / "airflow" / "salesnb_weekly.py"


def require_airflow():
    """Import Airflow, or skip; with SALESNB_REQUIRE_AIRFLOW=1 (``make test-airflow``, CI) fail instead."""
    try:
        import airflow
    except ImportError as exc:
        if os.environ.get("SALESNB_REQUIRE_AIRFLOW"):
            pytest.fail(f"SALESNB_REQUIRE_AIRFLOW is set but Airflow cannot be imported ({exc}): run `make airflow-env`")
        pytest.skip("Apache Airflow is not installed here: `make test-airflow` runs these tests in .venv-airflow")
    return airflow


def test_the_dag_file_maps_render_report_over_the_planned_jobs():
    """Without Airflow: the file is valid Python and wires plan -> render.expand -> finish."""
    source = DAG_FILE.read_text(encoding="utf-8")
    ast.parse(source)
    assert "finish(render.expand(job=plan()))" in source and "render_report(ReportJob.from_dict(job))" in source
    assert "TriggerRule.ALL_DONE" in source and "max_active_runs=1" in source


def _dagbag():
    """Airflow's DagBag class and the arguments that leave the examples out."""
    import inspect

    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag
    wanted = {"include_examples": False}  # later versions read AIRFLOW__CORE__LOAD_EXAMPLES instead
    return DagBag, {k: v for k, v in wanted.items() if k in inspect.signature(DagBag).parameters}


@pytest.mark.airflow
def test_airflow_parses_the_dag(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # before airflow is imported: no ~/airflow
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    require_airflow()
    DagBag, options = _dagbag()

    bag = DagBag(dag_folder=str(DAG_FILE), **options)
    assert bag.import_errors == {}
    dag = bag.dags.get("salesnb_weekly")  # parsed, not read from a metadata database
    assert dag is not None and dag.max_active_runs == 1
    assert {t.task_id for t in dag.tasks} == {"plan", "render", "finish"}
    render = dag.get_task("render")
    assert type(render).__name__.endswith("MappedOperator")  # one task instance per report
    assert dag.get_task("finish").trigger_rule == "all_done"
    assert {t.task_id for t in render.upstream_list} == {"plan"}


RUN_THE_DAG = """
import sys, warnings
warnings.simplefilter("ignore")
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.0
    from airflow.models.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags["salesnb_weekly"]
run = dag.test(
    run_conf={"source": sys.argv[2], "out": sys.argv[3], "period": "2025-Q4", "notebooks": sys.argv[4], "stale_after": 7}
)
print("STATE", run.state)
"""


@pytest.mark.slow
@pytest.mark.airflow
def test_airflow_runs_the_dag_end_to_end(tmp_path):
    """dag.test() (no scheduler): plan -> one render task per report -> finish,
    on the bundled sample with the fixture notebooks; the folder it writes is a
    complete batch (every report ok, an index)."""
    require_airflow()
    import json
    import os
    import subprocess
    import sys

    root = DAG_FILE.parent.parent.parent
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(tmp_path / "home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FILE.parent),
    )
    # the render tasks run the notebooks on the `salesnb` kernel: register it for this environment
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(tmp_path / "jupyter"), "--name", "salesnb"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    env["JUPYTER_PATH"] = str(tmp_path / "jupyter" / "share" / "jupyter")
    airflow = [sys.executable, "-m", "airflow"]
    for command in (["db", "migrate"], ["dags", "reserialize"]):  # Airflow 3 runs only serialized DAGs
        subprocess.run(airflow + command, env=env, check=True, capture_output=True, timeout=300)
    out = tmp_path / "reports"
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN_THE_DAG,
            str(DAG_FILE),
            str(root / "data" / "sample"),
            str(out / "{period}"),
            str(root / "tests" / "fixtures" / "notebooks"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "STATE success" in ran.stdout, ran.stdout[-3000:] + ran.stderr[-3000:]
    manifest = json.loads((out / "2025-Q4" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"] == {"ok": 12 + 2 + 1, "failed": 0, "skipped": 2}  # reps, teams, data quality
    # the sample has forecasts and training: those pages are planned, but the fixture notebooks have none
    assert sorted(r["kind"] for r in manifest["reports"] if r["status"] == "skipped") == ["forecast_review", "training_effect"]
    assert (out / "2025-Q4" / "index.html").is_file()
    assert manifest["data_last_date"] == "2025-12-31" and manifest["stale_data"] is None  # the sample runs to the quarter's end
