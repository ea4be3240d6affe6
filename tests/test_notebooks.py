"""The notebooks in notebooks/: committed clean, and executed end to end.

Fast tests read the committed files: a first code cell tagged ``parameters``
with defaults pointing at the bundled sample, outputs stripped, the
``salesnb`` kernel, and code cells that are a call or a chart.

Tests marked ``slow`` execute each notebook once with papermill (kernel
``salesnb``, cwd notebooks/, the bundled sample) and assert on what it
produced: the figures shown equal the metric functions' output as
:func:`salesnb.present.html.fmt` formats it, R03's report names the focus
``conversion`` and never another rep, and a rep named
``<script>alert(1)</script>`` appears only as text.
"""

from __future__ import annotations

import functools
import html
import re
import shutil
import warnings
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SAMPLE = ROOT / "data" / "sample"
PERIOD, AS_OF = "2025", "2026-01-05"

COMMON = {"source", "mapping", "expectations", "period", "as_of"}
PARAMETERS = {
    "rep_coaching": COMMON | {"rep_id"},
    "team_overview": COMMON | {"team"},
    "segment_explorer": COMMON
    | {"territory", "customer_type", "acquisition_method", "team", "metric", "by", "view", "interactive"},
    "training_effect": COMMON | {"program", "metric"},
    "forecast_review": COMMON,
    "data_quality": COMMON,
}
MAX_CODE_LINES = 6  # "a sentence and a call": anything longer belongs in salesnb/ with a test

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_TERRITORY = "<b>bold</b>"


def read(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def parameters_cell(nb):
    return next(c for c in nb.cells if c.cell_type == "code")


def defaults(nb) -> dict:
    namespace: dict = {}
    exec(parameters_cell(nb).source, {}, namespace)  # the parameters cell is plain assignments
    return namespace


# -- the committed files -------------------------------------------------------------


def test_every_notebook_is_there():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(PARAMETERS)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_committed_clean_with_parameters_and_kernel(name):
    nb = read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "salesnb"
    first = parameters_cell(nb)
    assert "parameters" in first.metadata.get("tags", [])
    values = defaults(nb)
    assert set(values) == PARAMETERS[name]
    assert values["source"] == "../data/sample" and (NOTEBOOKS / values["source"]).resolve() == SAMPLE
    assert values["period"] == PERIOD and values["as_of"] == AS_OF and values["mapping"] is None is values["expectations"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs not stripped"


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_code_cells_are_a_call_or_a_chart(name):
    nb = read(name)
    cells = [c for c in nb.cells if c.cell_type == "code"][1:]
    for cell in cells:
        lines = [line for line in cell.source.splitlines() if line.strip()]
        assert len(lines) <= MAX_CODE_LINES, f"{name}: a {len(lines)}-line cell belongs in salesnb/"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def test_specific_defaults():
    assert defaults(read("rep_coaching"))["rep_id"] == "R03"
    assert defaults(read("team_overview"))["team"] == ""
    assert defaults(read("training_effect"))["program"] == "Consultative Selling"


# -- executed ------------------------------------------------------------------------

CELL_TIMEOUT = 120
"""Seconds a notebook cell may take here (each takes a few). A Jupyter kernel
sometimes never answers a finished cell: ipykernel 7 idle, the client waiting
for its reply (the segment explorer's widget cell, in some full parallel runs,
never alone; cf. https://github.com/microsoft/vscode-jupyter/issues/17410,
https://github.com/jupyter/nbclient/issues/312). Without a timeout the client
waits forever; such a run is retried once with a new kernel."""


class NotebookRetried(UserWarning):
    """A notebook run retried after a lost reply: shown in pytest's warnings summary."""


def execute(name: str, out_dir: Path, **parameters):
    import papermill

    values = {"source": str(SAMPLE), "period": PERIOD, "as_of": AS_OF, **parameters}
    output = out_dir / f"{name}.ipynb"
    run = functools.partial(
        papermill.execute_notebook,
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(output),
        parameters=values,
        kernel_name="salesnb",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
        execution_timeout=CELL_TIMEOUT,
    )
    try:
        run()
    except TimeoutError as lost:  # a lost reply (see CELL_TIMEOUT), not a slow notebook: once more, on a new kernel
        # said in pytest's warnings summary, so a run that needed the retry shows it
        warnings.warn(NotebookRetried(f"{name}.ipynb retried once on a new kernel: {lost}"), stacklevel=2)
        run()
    return nbformat.read(output, as_version=4)


def outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def texts(nb, mime: str | None = None) -> list[str]:
    """Every text output: text/html and text/plain data, and streams."""
    found = []
    for o in outputs(nb):
        if o.output_type == "stream":
            if mime in (None, "stream"):
                found.append(o.text)
        for kind, value in o.get("data", {}).items():
            if (mime is None and kind in ("text/html", "text/plain", "text/markdown")) or kind == mime:
                found.append(value if isinstance(value, str) else "".join(value))
    return found


def images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs(nb))


def assert_ran_clean(nb):
    errors = [o for o in outputs(nb) if o.output_type == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    assert not [t for t in texts(nb, "stream") if "Traceback" in t or "Warning" in t]


def test_a_retried_notebook_says_so_in_the_test_output(tmp_path, monkeypatch):
    """The retry after a lost reply is a NotebookRetried warning (pytest's
    warnings summary shows it, with the notebook and the first run's error);
    a run that needed no retry warns nothing. papermill is stood in for."""
    import papermill

    calls = []

    def lose_the_first_reply(source, output, **kw):
        calls.append(Path(source).name)
        if len(calls) == 2:
            raise TimeoutError("A cell timed out while it was being executed, after 120 seconds.")
        nbformat.write(nbformat.v4.new_notebook(), output)

    monkeypatch.setattr(papermill, "execute_notebook", lose_the_first_reply)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning from a clean run fails the test
        execute("data_quality", tmp_path)
    assert calls == ["data_quality.ipynb"]
    with pytest.warns(NotebookRetried) as caught:
        nb = execute("forecast_review", tmp_path)
    assert calls == ["data_quality.ipynb", "forecast_review.ipynb", "forecast_review.ipynb"] and nb.cells == []
    assert [str(w.message) for w in caught] == [
        "forecast_review.ipynb retried once on a new kernel: A cell timed out while it was being executed, after 120 seconds."
    ]
    assert caught[0].filename == __file__  # stacklevel: the line that called execute


@pytest.fixture(scope="module")
def sample():
    import salesnb

    return salesnb.load(SAMPLE)


@pytest.fixture(scope="module")
def rep_coaching(tmp_path_factory):
    return execute("rep_coaching", tmp_path_factory.mktemp("rep"), rep_id="R03")


@pytest.mark.slow
def test_rep_coaching_shows_the_reps_own_figures(rep_coaching, sample):
    from salesnb.analysis.metrics import metrics_table
    from salesnb.present.html import fmt

    assert_ran_clean(rep_coaching)
    row = metrics_table(sample, by="rep", period=PERIOD).set_index("rep_id").loc["R03"]
    page = "\n".join(texts(rep_coaching, "text/html"))
    for metric in ("win_rate", "revenue_won", "won", "opportunities"):  # 27%, 627,987, 21, 77
        assert f'<strong class="metric {metric}">{fmt(metric, row[metric])}</strong>' in page, metric
    assert 'class="focus conversion"' in page and "Focus: conversion" in page
    assert images(rep_coaching) >= 4
    # a conversion question for the one-to-one, naming R03's latest lost deals
    assert re.search(r"Take O\d+, O\d+ and O\d+, your latest lost deals", page)


@pytest.mark.slow
def test_rep_coaching_names_no_other_rep(rep_coaching, sample):
    text = "\n".join(texts(rep_coaching))
    assert "R03" in text and "Chloe Patel" in text
    for rep_id, name in zip(sample.reps["rep_id"], sample.reps["name"]):
        if rep_id != "R03":
            assert rep_id not in text, f"{rep_id} appears in R03's report"
            assert name not in text and html.escape(name) not in text, f"{name} appears in R03's report"


@pytest.mark.slow
def test_rep_coaching_escapes_names_and_territories(tmp_path):
    source = tmp_path / "sample"
    shutil.copytree(SAMPLE, source)
    reps = pd.read_csv(source / "reps.csv", dtype=str, keep_default_na=False)
    reps.loc[reps["rep_id"] == "R03", ["name", "territory"]] = [HOSTILE_NAME, HOSTILE_TERRITORY]
    reps.to_csv(source / "reps.csv", index=False)
    nb = execute("rep_coaching", tmp_path, source=str(source), rep_id="R03")
    assert_ran_clean(nb)
    page = "\n".join(texts(nb, "text/html"))
    assert HOSTILE_NAME not in page and HOSTILE_TERRITORY not in page
    assert html.escape(HOSTILE_NAME) in page and html.escape(HOSTILE_TERRITORY) in page


@pytest.mark.slow
def test_team_overview_names_reps_and_their_focus(tmp_path):
    nb = execute("team_overview", tmp_path, team="Alpha")
    assert_ran_clean(nb)
    page = "\n".join(texts(nb, "text/html"))
    # words sit in left-aligned cells (class "text"), figures in plain ones
    # the manager's queue opens the page: each rep's focus, largest stake first
    assert "Chloe Patel (R03)" in page
    assert page.index("Chloe Patel (R03)") < page.index("Ava Martin (R01)")  # a stake before no gap
    assert '<td class="text">Conversion</td>' in page and '<td class="text">Velocity</td>' in page
    assert "Ben Kowalski" not in page  # Beta's rep is not in Alpha's overview
    for territory in ("North", "East"):
        assert f'<td class="text">{territory}</td>' in page
    assert images(nb) == 3  # the funnel factors (one figure, four panels), the lead sources, value against cost


@pytest.mark.slow
def test_segment_explorer_renders_statically_under_papermill(tmp_path, sample):
    from salesnb.analysis.metrics import metrics_table
    from salesnb.present.html import fmt
    from salesnb.present.pages import segment

    nb = execute("segment_explorer", tmp_path, territory="North", metric="win_rate")
    assert_ran_clean(nb)
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs(nb))
    assert images(nb) == 1
    page = "\n".join(texts(nb, "text/html"))
    north = metrics_table(segment(sample, territory="North"), by="rep", period=PERIOD).set_index("rep_id")
    assert "Ava Martin" in page and "Ben Kowalski" not in page
    assert f"<td>{fmt('win_rate', north.loc['R01', 'win_rate'])}</td>" in page


@pytest.mark.slow
def test_training_effect_shows_the_interval_and_the_small_group_warning(tmp_path, sample):
    from salesnb.present.pages import training_report

    nb = execute("training_effect", tmp_path)
    assert_ran_clean(nb)
    effect = training_report(sample, program="Consultative Selling", period=PERIOD, as_of=AS_OF)
    page = "\n".join(texts(nb, "text/html"))
    assert f"{effect['effect'] * 100:+.1f} percentage points" in page
    assert "Read with care:" in page and "Only 4 trained reps" in page
    assert images(nb) == 2


@pytest.mark.slow
def test_forecast_review_finds_the_over_and_under_forecasters(tmp_path):
    nb = execute("forecast_review", tmp_path)
    assert_ran_clean(nb)
    page = "\n".join(texts(nb, "text/html"))
    assert (
        '<td class="text">Grace Lindqvist (R07)</td><td>8</td><td>+34%</td>'
        '<td class="text">Over-forecast in 8 of 8 quarters, median error +34%: a consistent habit of forecasting high.</td>'
    ) in page
    assert '<td class="text">Hugo Tanaka (R08)</td>' in page and "a consistent habit of forecasting low." in page
    # R12, hired mid-2025, has two quarters: what was seen, not a verdict
    assert "Under-forecast in 2 of 2 quarters, median error -4%: too few quarters to call it a habit (3 needed)." in page
    assert images(nb) == 2


@pytest.mark.slow
def test_data_quality_lists_flags_with_what_to_fix(tmp_path):
    nb = execute("data_quality", tmp_path)
    assert_ran_clean(nb)
    page = "\n".join(texts(nb, "text/html"))
    assert '<td class="text">padded_activity</td><td class="text">Felix Novak (R06)</td>' in page
    assert '<td class="text">stale_pipeline</td><td class="text">Emma Dubois (R05)</td>' in page
    assert "log each contact against the customer" in page
    assert "No rows were set aside." in page
    assert images(nb) == 1
