"""salesnb on Apache Airflow: the weekly coaching-report batch, one task per report.

Every Monday at 06:00 (UTC) this DAG renders the coaching reports of the
week as ``salesnb report`` would, but with one Airflow task per report, so
hundreds of reports spread over every Airflow worker and each can be
retried or inspected on its own:

    plan ──> render[0] ─┐
         ──> render[1] ─┼──> finish
         ──> render[n] ─┘     (dynamic task mapping: render.expand(job=...))

- ``plan`` loads and checks the data once, decides which reports to render
  (unchanged ones are skipped, as in ``salesnb report``; ``force`` renders
  all), stores the loaded data for the reports, writes the plan into
  ``OUT/.salesnb/plan.json`` and returns one job per report to render;
- ``render`` runs :func:`salesnb.run.batch.render_report` on one job: the same
  function the local and Dask executors run; it never raises for a report
  that fails (the failure is in its result);
- ``finish`` (runs even when render tasks failed) writes ``index.html`` and
  ``manifest.json``, removes the stored data, and fails the DAG run when
  any report failed, so the run shows red with the reports named in its log.

Needs: ``pip install "salesnb[airflow]"`` (Airflow 3) in the Airflow environment (with
the ``salesnb`` Jupyter kernel registered there), and the data source, the
notebooks and the output folder at the same paths on every worker (a
shared file system). ``max_active_runs=1``: two runs never write one folder
at once. Each render task starts its own warm report process (a few
seconds); for the fastest batch on one big machine, run ``salesnb report
--jobs N`` (or ``--executor dask``) from a single task instead.

Settings come from the DAG's params (override them when triggering) whose
defaults are read from environment variables: SALESNB_SOURCE, SALESNB_OUT
(may contain {period} and {as_of}), SALESNB_PERIOD (default last-week: the week before the run),
SALESNB_MAPPING, SALESNB_NOTEBOOKS, SALESNB_PARALLEL (render tasks at once),
SALESNB_STALE_AFTER (days; default 7: pages warn when the data ends that long before the period).
The run's ``--as-of`` is the day the run is for (the end of its data
interval), so a rerun of a past week names the same dates.
"""

from __future__ import annotations

import os

import pendulum

try:  # Airflow 3.1+: all four from the task SDK
    from airflow.sdk import Param, TriggerRule, dag, task
except ImportError:  # Airflow 3.0
    from airflow.decorators import dag, task
    from airflow.models.param import Param
    from airflow.utils.trigger_rule import TriggerRule

PARALLEL = int(os.environ.get("SALESNB_PARALLEL", "16"))


@dag(
    dag_id="salesnb_weekly",
    schedule="0 6 * * MON",
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["salesnb", "reports"],
    params={
        "source": Param(os.environ.get("SALESNB_SOURCE", "/data/crm"), type="string"),
        "out": Param(os.environ.get("SALESNB_OUT", "/srv/salesnb/reports/{period}"), type="string"),
        "period": Param(os.environ.get("SALESNB_PERIOD", "last-week"), type="string"),
        "mapping": Param(os.environ.get("SALESNB_MAPPING", ""), type="string"),
        "notebooks": Param(os.environ.get("SALESNB_NOTEBOOKS", ""), type="string"),
        "force": Param(False, type="boolean"),
        "stale_after": Param(int(os.environ.get("SALESNB_STALE_AFTER", "7")), type="integer", minimum=0),
    },
    doc_md=__doc__,
)
def salesnb_weekly():
    @task
    def plan(params=None, data_interval_end=None, dag_run=None) -> list[dict]:
        from salesnb.run.batch import prepare_batch

        batch = prepare_batch(
            params["source"],
            period=params["period"],
            out=params["out"],
            as_of=_run_day(data_interval_end, dag_run),
            mapping=params["mapping"] or None,
            notebooks=params["notebooks"] or None,
            force=params["force"],
            stale_after=params["stale_after"],
        )
        batch.save()
        print(f"{len(batch.jobs)} reports planned, {len(batch.to_run)} to render into {batch.out_dir}")
        return [job.to_dict() for job in batch.to_run]

    @task(max_active_tis_per_dagrun=PARALLEL, retries=0)
    def render(job: dict) -> dict:
        from salesnb.run.batch import ReportJob, render_report

        result = render_report(ReportJob.from_dict(job))
        print(f"{result['status']}: {result['title']}" + (f" ({result['error']})" if result["error"] else ""))
        result.pop("error_detail", None)  # keep the XCom small; the failed notebook is kept on disk
        return result

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def finish(results, params=None, data_interval_end=None, dag_run=None) -> str:
        from airflow.exceptions import AirflowFailException

        from salesnb.run.batch import BatchPlan, batch_folder, finish_batch

        out_dir = batch_folder(params["out"], period=params["period"], as_of=_run_day(data_interval_end, dag_run))
        done = finish_batch(BatchPlan.load(out_dir), [r for r in results if r])
        print(done.summary())
        if done.failed:
            names = ", ".join(f"{r['kind']} {r['label']}: {r['error']}" for r in done.failed[:20])
            raise AirflowFailException(f"{len(done.failed)} report(s) failed: {names}")
        return done.summary()

    finish(render.expand(job=plan()))


def _run_day(data_interval_end, dag_run):
    """The day the run is for: the end of its data interval; a run triggered by
    hand in Airflow 3 has none, then the moment it was triggered for (the same
    for every task of the run)."""
    when = data_interval_end or getattr(dag_run, "run_after", None) or dag_run.logical_date
    return when.date()


salesnb_weekly()
