"""The segment explorer: pick a territory, customer type, acquisition method,
team, period and metric, and see the chart and the table change; with the
deal history, the stage view shows the segment's pipeline by stage.

::

    explorer = SegmentExplorer(ds, period="2025")
    explorer.show()                       # live controls in JupyterLab, a static view elsewhere
    explorer.controls["territory"].value = "North"
    explorer.table                        # metrics_table of North's data, one row per rep
    explorer.update(metric="win_rate", by="customer_type")
    explorer.update(view="stages")        # per stage: entries, median stay, open stays

Every recomputation filters the Dataset with :func:`salesnb.present.pages.segment`
and calls :func:`salesnb.analysis.metrics.metrics_table` on the segment; nothing is
computed here. :attr:`SegmentExplorer.table` is the current table,
:attr:`SegmentExplorer.figure` the current chart. The ``stages`` view
(offered only when the data has ``opportunity_history``) calls
:func:`salesnb.analysis.history.pipeline_stages` on the segment instead:
the table per group (``by``) and stage, the chart the segment's median
finished stay per stage.

Where widgets cannot be shown (ipywidgets not installed, or the notebook is
executed by papermill/nbconvert with no browser attached) :meth:`show`
renders the current selection as a static chart and table instead, so a
scheduled run never needs a browser. :func:`live_frontend` decides.
"""

from __future__ import annotations

import os

import pandas as pd

from salesnb.analysis.labels import group_name
from salesnb.analysis.periods import Period, data_span, parse_period, periods_between
from salesnb.errors import InputError
from salesnb.io.dataset import Dataset
from salesnb.present.page_text import use_currency

__all__ = ["ALL", "FILTERS", "NO_STAGE_VIEW", "VIEWS", "SegmentExplorer", "live_frontend", "widgets_available"]

ALL = ""
"""The value of a filter control that keeps everything."""

FILTERS = ("territory", "customer_type", "acquisition_method", "team")
"""The segment filters, in the order the controls show them."""

VIEWS = ("metrics", "stages")
"""What the explorer shows: the metrics table, or the pipeline by stage (needs opportunity_history)."""

NO_STAGE_VIEW = "No stage view: the data has no opportunity_history table (the deal history, docs/contract.md)."
"""What the explorer says without the history table."""

CONTEXT_COLUMNS = ("opportunities", "won", "lost", "win_rate", "revenue_won")
"""Columns the explorer's table always shows beside the chosen metric."""

STATIC_ENV = "SALESNB_STATIC"
"""Set this environment variable to 1 to always render the static view."""


def widgets_available() -> bool:
    """True when ipywidgets can be imported."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def live_frontend() -> bool:
    """True when live widgets can be shown: ipywidgets is installed and the
    code runs in a kernel whose current request came from an interactive
    Jupyter front end.

    Papermill, nbconvert and nbclient execute cells with ``allow_stdin``
    off; JupyterLab, Notebook and VS Code turn it on. The environment
    variable ``SALESNB_STATIC=1`` forces the static view.
    """
    if os.environ.get(STATIC_ENV, "").strip() not in ("", "0"):
        return False
    if not widgets_available():
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    return bool(getattr(kernel, "_allow_stdin", False))


class SegmentExplorer:
    """Metrics for one segment of the data, with controls that redraw them.

    Parameters
    ----------
    ds : Dataset
    period : str or Period
        The starting period (any form :func:`~salesnb.analysis.periods.parse_period`
        accepts); the period control offers every year and quarter of the
        data plus this one.
    as_of : date-like, optional
        Resolves relative periods.
    metric : str
        The starting metric (a column of metrics_table).
    by : str
        Rows of the table: rep, team, territory, customer_type,
        acquisition_method or market_tier.
    view : {"metrics", "stages"}
        ``stages``: per stage the entries, median finished stay and open
        stays of the segment (:func:`~salesnb.analysis.history.pipeline_stages`);
        needs the opportunity_history table.
    **selection
        Starting filters: territory, customer_type, acquisition_method, team.

    Attributes
    ----------
    selection : dict
        The current choice of every control.
    table : DataFrame
        ``metrics_table`` of the current segment and period, grouped ``by``
        (stage view: ``pipeline_stages`` grouped ``by``).
    stages : DataFrame or None
        Stage view: the segment's figures per stage, all its deals together.
    figure : matplotlib Figure
        The current chart: the chosen metric per row of the table (stage
        view: the median stay per stage).
    controls : dict
        Control name -> ipywidgets Dropdown (empty without ipywidgets).
    chart_output, table_output : ipywidgets.Output or None
        Where the live view draws the chart and the table.
    """

    def __init__(
        self,
        ds: Dataset,
        *,
        period="2025",
        as_of=None,
        metric: str = "revenue_won",
        by: str = "rep",
        view: str = "metrics",
        **selection,
    ):
        from salesnb.analysis.metrics import GROUPINGS, METRICS, TEXT_METRICS

        if not isinstance(ds, Dataset):
            raise InputError(f"SegmentExplorer needs a loaded Dataset (salesnb.load(...)), not {type(ds).__name__}")
        from salesnb.present.segments import segment_options

        self.ds = ds
        use_currency(ds)  # money in the table and on the chart's axis names the data's currency
        self.as_of = None if as_of in (None, "") else as_of
        start = parse_period(period, as_of=self.as_of)
        self.options: dict[str, list] = dict(segment_options(ds))
        self.options["period"] = _period_choices(ds, start)
        self.options["metric"] = [m for m in METRICS if m not in TEXT_METRICS]  # numbers to chart
        self.options["by"] = list(GROUPINGS)
        self.options["view"] = list(VIEWS) if ds.opportunity_history is not None else ["metrics"]
        self.selection = {name: ALL for name in FILTERS}
        self.selection.update(period=start.label, metric=metric, by=by, view="metrics")
        self.table: pd.DataFrame | None = None
        self.stages: pd.DataFrame | None = None
        self._stage_order: list[str] | None = None
        self.figure = None
        self.segment: Dataset = ds
        self.controls: dict = {}
        self.chart_output = self.table_output = None
        self._syncing = False
        if widgets_available():
            self._build_controls()
        self.update(view=view, **selection)

    # -- recomputing -------------------------------------------------------------
    def update(self, **selection) -> pd.DataFrame:
        """Change any of the selection (territory, customer_type,
        acquisition_method, team, period, metric, by, view), recompute the table
        and redraw. Returns the new :attr:`table`."""
        unknown = set(selection) - set(self.selection)
        if unknown:
            raise InputError(f"SegmentExplorer has no control {sorted(unknown)}; controls: {', '.join(self.selection)}")
        chosen = dict(self.selection)
        for name, value in selection.items():
            chosen[name] = self._check(name, value)
        self.selection = chosen
        self._recompute()
        self._sync_controls()
        self._redraw()
        return self.table

    def _check(self, name: str, value):
        if name in FILTERS:
            if value is None or str(value).strip() == "":
                return ALL
            folded = {str(o).casefold(): o for o in self.options[name]}
            if str(value).strip().casefold() not in folded:
                raise InputError(
                    f"no {group_name(name).lower()} {value!r} in the data; "
                    f"choose one of: {', '.join(map(str, self.options[name])) or 'none'}"
                )
            return folded[str(value).strip().casefold()]
        if name == "period":
            label = parse_period(value, as_of=self.as_of).label
            if label not in self.options["period"]:
                self.options["period"].append(label)
                if "period" in self.controls:
                    self.controls["period"].options = self.options["period"]
            return label
        if name == "view" and value == "stages" and value not in self.options[name]:
            raise InputError(NO_STAGE_VIEW)
        if value not in self.options[name]:
            raise InputError(f"{name} must be one of {', '.join(self.options[name])}, not {value!r}")
        return value

    def _recompute(self) -> None:
        from salesnb.analysis.metrics import GROUPINGS, metrics_table
        from salesnb.present import charts
        from salesnb.present.page_text import rep_label
        from salesnb.present.segments import segment

        s = self.selection
        self.segment = segment(self.ds, **{name: s[name] for name in FILTERS})
        if s["view"] == "stages":
            self._recompute_stages()
            return
        self.stages = None
        table = metrics_table(self.segment, by=s["by"], period=s["period"], as_of=self.as_of)
        if s["by"] == "rep":
            # only the segment's reps (a customer owned outside the segment never adds a row)
            table = table[table["rep_id"].isin(set(self.segment.reps["rep_id"]))].reset_index(drop=True)
        self.table = table
        if s["by"] == "rep":
            chart_frame, group = table.assign(label=[rep_label(r, n) for r, n in zip(table["rep_id"], table["name"])]), "label"
        else:
            chart_frame, group = table, GROUPINGS[s["by"]]
        self.figure = charts.metric_bars(chart_frame, metric=s["metric"], group=group, title=self._title())
        notes = list(table.attrs.get("notes", []))
        if self.segment.expectations is None and self.ds.expectations is not None:
            notes = [n for n in notes if "expectations.yml" not in n]  # dropped on purpose, said below
        notes += [n for n in self.segment.notes if n not in self.ds.notes and n not in notes]
        if "stages" not in self.options["view"]:
            notes.append(NO_STAGE_VIEW)
        self.notes = notes

    def _recompute_stages(self) -> None:
        from salesnb.analysis.history import pipeline_stages
        from salesnb.present import charts

        s = self.selection
        period = parse_period(s["period"], as_of=self.as_of)
        table = self._in_stage_order(pipeline_stages(self.segment, period=period, by=s["by"]))
        if s["by"] == "rep":  # only the segment's reps, as in the metrics view
            table = table[table["rep_id"].isin(set(self.segment.reps["rep_id"]))].reset_index(drop=True)
        self.table = table
        self.stages = self._in_stage_order(pipeline_stages(self.segment, period=period, by=None))
        stays = self.stages[self.stages["days_median"].notna()]  # the close stages have no stay
        self.figure = charts.metric_bars(stays, metric="days_median", group="stage", title=self._title())
        self.notes = [
            "Entries: deals that entered the stage in the period; median stay: of the stays that began in the "
            "period and ended by its end (in days); open stays: begun by the period's end and still running after it."
        ]

    def _in_stage_order(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table``'s rows with the stages in the whole data's order (a segment's
        own few deals could order them otherwise), groups kept in turn."""
        from salesnb.analysis.history import stage_order, stage_stays

        if self._stage_order is None:
            self._stage_order = stage_order(stage_stays(self.ds))
        rank = {stage: i for i, stage in enumerate(self._stage_order)}
        groups = [c for c in table.columns if c not in ("stage", "entered", "days_median", "open_stays")]
        keys = [*groups, "_rank"]
        ranked = table.assign(_rank=table["stage"].map(rank).fillna(len(rank)).to_numpy())
        return ranked.sort_values(keys, kind="stable").drop(columns="_rank").reset_index(drop=True)

    def _title(self) -> str:
        from salesnb.present.html import label

        s = self.selection
        chosen = [s[name] for name in FILTERS if s[name] != ALL]
        where = ", ".join(map(str, chosen)) if chosen else "all data"
        if s["view"] == "stages":
            return f"Median stay by stage, {s['period']} ({where})"
        return f"{label(s['metric'])} by {group_name(s['by']).lower()}, {s['period']} ({where})"

    # -- showing ------------------------------------------------------------------
    def table_view(self):
        """The current table as escaped HTML: the group, the chosen metric and context columns;
        a row whose win rate rests on too few closed deals is marked "few deals" (:func:`salesnb.present.html.breakdown_table`)."""
        from salesnb.analysis.metrics import GROUPINGS
        from salesnb.present import html as show

        s = self.selection
        if s["view"] == "stages":
            return show.table(
                self.table, columns=[GROUPINGS[s["by"]], "stage", "entered", "days_median", "open_stays"], notes=self.notes
            )
        front = ["rep_id", "name"] if s["by"] == "rep" else [GROUPINGS[s["by"]]]
        metrics = [s["metric"], *[c for c in CONTEXT_COLUMNS if c != s["metric"]]]
        return show.breakdown_table(self.table, columns=front + metrics, notes=self.notes)

    def chart_view(self):
        """The current chart as an embedded image."""
        from salesnb.present import html as show

        return show.chart(self.figure)

    def static(self) -> list:
        """What the static view shows: a sentence naming the selection, the chart, the table."""
        from salesnb.present import html as show

        s = self.selection
        chosen = "; ".join(f"{group_name(n).lower()} {s[n]}" for n in FILTERS if s[n] != ALL) or "no filter"
        shown = "pipeline by stage; " if s["view"] == "stages" else ""
        return [
            show.paragraph(f"Selection: {chosen}; period {s['period']}; {shown}rows by {group_name(s['by']).lower()}."),
            self.chart_view(),
            self.table_view(),
        ]

    def widget(self):
        """The live view: the controls above the chart and the table (needs ipywidgets)."""
        if not self.controls:
            raise InputError("ipywidgets is not installed: use SegmentExplorer.static() or pip install ipywidgets")
        import ipywidgets as w

        rows = [
            w.HBox([self.controls[n] for n in FILTERS]),
            w.HBox([self.controls[n] for n in ("period", "view", "metric", "by")]),
        ]
        return w.VBox([*rows, self.chart_output, self.table_output])

    def show(self, interactive: bool | None = None) -> None:
        """Display the explorer: live controls when ``interactive`` (default:
        :func:`live_frontend`), else the static chart and table."""
        from IPython.display import display

        live = live_frontend() if interactive is None else bool(interactive) and bool(self.controls)
        if live:
            display(self.widget())
        else:
            for item in self.static():
                display(item)

    # -- controls -----------------------------------------------------------------
    def _build_controls(self) -> None:
        import ipywidgets as w

        from salesnb.present.html import label

        style = {"description_width": "initial"}
        layout = w.Layout(width="auto")
        for name in FILTERS:
            options = [("All", ALL)] + [(str(v), v) for v in self.options[name]]
            self.controls[name] = w.Dropdown(options=options, value=ALL, description=group_name(name), style=style, layout=layout)
        self.controls["period"] = w.Dropdown(
            options=self.options["period"], value=self.selection["period"], description="Period", style=style, layout=layout
        )
        self.controls["metric"] = w.Dropdown(
            options=[(label(m), m) for m in self.options["metric"]],
            value=self.selection["metric"],
            description="Metric",
            style=style,
            layout=layout,
        )
        self.controls["by"] = w.Dropdown(
            options=[(group_name(b), b) for b in self.options["by"]],
            value=self.selection["by"],
            description="Rows by",
            style=style,
            layout=layout,
        )
        self.controls["view"] = w.Dropdown(
            options=[("Metrics", "metrics"), ("Stages", "stages")][: len(self.options["view"])],
            value=self.selection["view"],
            description="View",
            style=style,
            layout=layout,
        )
        for name, control in self.controls.items():
            control.observe(self._on_change(name), names="value")
        self.chart_output = w.Output()
        self.table_output = w.Output()

    def _on_change(self, name: str):
        def handler(change):
            if not self._syncing:
                self.update(**{name: change["new"]})

        return handler

    def _sync_controls(self) -> None:
        if not self.controls:
            return
        self._syncing = True
        try:
            for name, control in self.controls.items():
                if control.value != self.selection[name]:
                    control.value = self.selection[name]
        finally:
            self._syncing = False

    def _redraw(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        if self.chart_output is None or get_ipython() is None:
            return  # no kernel to draw into (a script or a test): the table and figure are up to date

        from salesnb.present import html as show

        with self.chart_output:
            self.chart_output.clear_output(wait=True)
            display(show.image_html(self.chart_view()))
        with self.table_output:
            self.table_output.clear_output(wait=True)
            display(self.table_view())


def _period_choices(ds: Dataset, start: Period) -> list[str]:
    try:
        span = data_span(ds)
    except InputError:
        return [start.label]
    labels = [p.label for p in periods_between(span.start, span.end, "year")]
    labels += [p.label for p in periods_between(span.start, span.end, "quarter")]
    if start.label not in labels:
        labels.append(start.label)
    return labels
