"""deploy/airflow/salesnb_weekly.py parses as an Airflow DAG with one mapped task per report.

Skipped unless Airflow is installed (it is too heavy for the project's
venv). To run it, in a separate environment:

    python -m venv /tmp/airflow-venv
    /tmp/airflow-venv/bin/pip install -e ".[airflow,test]"
    AIRFLOW_HOME=/tmp/airflow-home /tmp/airflow-venv/bin/python -m pytest tests/test_airflow_dag.py -q

The functions the tasks call (prepare_batch, render_report, finish_batch)
are tested without Airflow in tests/test_report.py.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parent.parent / "deploy" / "airflow" / "salesnb_weekly.py"


def test_the_dag_file_maps_render_report_over_the_planned_jobs():
    """Without Airflow: the file is valid Python and wires plan -> render.expand -> finish."""
    source = DAG_FILE.read_text(encoding="utf-8")
    ast.parse(source)
    assert "finish(render.expand(job=plan()))" in source and "render_report(ReportJob.from_dict(job))" in source
    assert "TriggerRule.ALL_DONE" in source and "max_active_runs=1" in source


def test_airflow_parses_the_dag(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # before airflow is imported: no ~/airflow
    pytest.importorskip("airflow", reason="Apache Airflow is not installed (pip install -e '.[airflow]')")
    from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE), include_examples=False)
    assert bag.import_errors == {}
    dag = bag.dags.get("salesnb_weekly")  # parsed, not read from a metadata database
    assert dag is not None and dag.max_active_runs == 1
    assert {t.task_id for t in dag.tasks} == {"plan", "render", "finish"}
    render = dag.get_task("render")
    assert type(render).__name__.endswith("MappedOperator")  # one task instance per report
    assert dag.get_task("finish").trigger_rule == "all_done"
    assert {t.task_id for t in render.upstream_list} == {"plan"}
