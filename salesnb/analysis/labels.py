"""The label book: every name a reader sees and every number format, in one place.

Metric names in a manager's words with their units, the four funnel
factors, the groups a table or chart breaks down by, the expectations of a
scorecard, and one formatting rule per unit, so a figure reads the same in
a diagnosis sentence, a report table, a chart and the CLI::

    fmt("win_rate", 0.2658)        -> '27%'
    fmt("revenue_won", 627987.47)  -> '627,987'
    fmt("cycle_days_median", 31.0) -> '31 days'

Money carries the currency of ``expectations.yml`` (``currency: EUR``)
once a page has said which (:func:`set_currency`): ``EUR 627,987``, or
``€627,987`` for a symbol; with none set, no sign at all (never a guessed
``$``). Counts in a sentence agree with their noun (:func:`count_of`:
"1 closed deal", "2 closed deals").

It sits in ``analysis`` (and imports nothing of salesnb) so that analysis,
present and cli may all use it.
"""

from __future__ import annotations

import math

__all__ = [
    "UNITS",
    "METRIC_LABELS",
    "FACTOR_NAMES",
    "GROUP_NAMES",
    "HEADERS",
    "EXPECTATION_NAMES",
    "EXPECTATION_UNITS",
    "label",
    "unit",
    "axis_label",
    "factor_name",
    "group_name",
    "is_missing",
    "fmt",
    "fmt_unit",
    "EXPORT_DECIMALS",
    "export_decimals",
    "money",
    "currency",
    "set_currency",
    "currency_of",
    "count_of",
]

UNITS = {
    "count": "count",
    "share": "%",  # stored as 0..1, shown as a percentage
    "pct": "%",  # already in percent (forecast_error_pct, a gap to the peers)
    "currency": "currency",
    "days": "days",
    "x_quota": "x quota",
    "x_cost": "x yearly cost",
    "ratio": "contacts per opportunity",
}
"""Unit code -> how an axis names it."""

EXPORT_DECIMALS = {"currency": 2, "share": 4, "pct": 2, "x_quota": 4, "x_cost": 4, "ratio": 4, "days": 2}
"""Unit code -> decimal places in CSV and JSON exports (money to cents; 0.7826 is 78.26%)."""

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "opportunities": ("New opportunities", "count"),
    "won": ("Deals won", "count"),
    "lost": ("Deals lost", "count"),
    "open": ("Open deals", "count"),
    "closed": ("Deals closed", "count"),
    "win_rate": ("Win rate", "share"),
    "contacts": ("Contacts", "count"),
    "new_prospect_contacts": ("New-prospect contacts", "count"),
    "follow_up_contacts": ("Follow-up contacts", "count"),
    "contact_close_rate": ("Wins per contact", "share"),
    "contacts_per_opportunity": ("Contacts per opportunity", "ratio"),
    "revenue_won": ("Revenue won", "currency"),
    "avg_deal_size": ("Average won deal", "currency"),
    "cycle_days_median": ("Median sales cycle", "days"),
    "pipeline_open_amount": ("Open pipeline", "currency"),
    "weighted_pipeline": ("Weighted pipeline", "currency"),
    "pipeline_coverage": ("Pipeline coverage", "x_quota"),
    "quota": ("Quota", "currency"),
    "attainment": ("Quota attainment", "share"),
    "new_customers_primary": ("New primary customers", "count"),
    "new_customers_secondary": ("New secondary customers", "count"),
    "clv": ("Customer lifetime value", "currency"),
    "annual_cost": ("Yearly cost", "currency"),
    "cost": ("Cost in the ratio", "currency"),  # the yearly cost pro-rated for a rep hired during the year
    "value_cost_ratio": ("Value / cost", "x_cost"),
    "forecast_amount": ("Forecast", "currency"),
    "actual": ("Revenue won", "currency"),
    "forecast_error_pct": ("Forecast error", "pct"),
    "median_error_pct": ("Median forecast error", "pct"),
    "mean_error_pct": ("Mean forecast error", "pct"),
    "entered": ("Stage entries", "count"),  # history.pipeline_stages
    "days_median": ("Median stay", "days"),
    "open_stays": ("Open stays", "count"),
}
"""metric -> (name in a manager's words, unit code of :data:`UNITS`)."""

FACTOR_NAMES = {"prospecting": "Prospecting", "conversion": "Conversion", "deal_size": "Deal size", "velocity": "Velocity"}
"""The funnel factors a diagnosis weighs, in funnel order -> their names."""

GROUP_NAMES = {
    "rep": "Rep",
    "team": "Team",
    "territory": "Territory",
    "customer_type": "Customer type",
    "acquisition_method": "Acquisition method",
    "market_tier": "Market tier",
}
"""What metrics break down by (``metrics_table(by=...)``, a segment) -> its name."""

HEADERS = {
    "label": "Rep",
    "rep_id": "Rep ID",
    "name": "Name",
    **{k: v for k, v in GROUP_NAMES.items() if k != "rep"},
    "customers": "Customers",
    "periods": "Periods judged",
    "share_over": "Share over",
    "share_under": "Share under",
    "bias": "Bias",
    "table": "Table",
    "rows": "Rows",
    "file": "File",
    "flag": "Check",
    "period": "Period",
    "line": "Line",
    "column": "Column",
    "value": "Value",
    "message": "Problem",
    "hint": "Fix",
    "severity": "Severity",
    "detail": "Detail",
    "focus": "Focus",
    "stage": "Stage",
}
"""Column headers for the non-metric columns tables show."""

EXPECTATION_NAMES = {
    "revenue_quota": "Revenue against quota",
    "new_customers_primary": "New primary customers",
    "new_customers_secondary": "New secondary customers",
    "visits_per_customer_primary": "Visits per primary customer",
    "visits_per_customer_secondary": "Visits per secondary customer",
    "prospecting_methods": "Share of new customers from prospecting",
    "max_travel_share": "Share of activities that are visits (at most)",
    "pipeline_coverage": "Pipeline coverage",
    "win_rate": "Win rate",
    "min_prospecting_share": "Least share of new customers from prospecting",
    "currency": "Currency",
}
"""A scorecard's expectations (the keys of ``expectations.yml``) -> their names."""

EXPECTATION_UNITS = {
    "currency": "currency",
    "customers": "count",
    "visits per customer": "ratio",
    "share": "share",
    "x quota": "x_quota",
}
"""A scorecard's ``unit`` column -> unit code of :data:`UNITS`."""


def label(metric: str) -> str:
    """A metric's (or a known column's) name in a manager's words (``win_rate`` -> ``Win rate``)."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric][0]
    return HEADERS.get(metric, metric.replace("_", " ").capitalize())


def export_decimals(columns) -> dict[str, int]:
    """Decimal places for each metric among ``columns`` (see :data:`EXPORT_DECIMALS`);
    counts and columns that are no metric are left out (left as they are)."""
    return {
        c: EXPORT_DECIMALS[METRIC_LABELS[c][1]] for c in columns if c in METRIC_LABELS and METRIC_LABELS[c][1] in EXPORT_DECIMALS
    }


def unit(metric: str) -> str:
    """A metric's unit code (see :data:`UNITS`)."""
    return METRIC_LABELS.get(metric, ("", "count"))[1]


def axis_label(metric: str) -> str:
    """An axis label with its unit in parentheses: ``Win rate (%)``; money
    names the currency when one is set (``Revenue won (EUR)``)."""
    kind = unit(metric)
    return f"{label(metric)} ({currency() or UNITS[kind] if kind == 'currency' else UNITS[kind]})"


def factor_name(factor: str) -> str:
    """A funnel factor's name (``deal_size`` -> ``Deal size``)."""
    return FACTOR_NAMES.get(factor, factor)


def group_name(group: str) -> str:
    """A breakdown's name (``acquisition_method`` -> ``Acquisition method``)."""
    return GROUP_NAMES.get(group, group.replace("_", " ").capitalize())


def is_missing(value) -> bool:
    """True for None, NaN and pandas' missing values."""
    if value is None:
        return True
    try:
        return bool(value != value) or (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


def fmt(metric: str, value, *, missing: str = "n/a") -> str:
    """``value`` of ``metric`` as a report shows it (the one formatting rule).

    Shares (win rate, attainment) as whole percentages, money and counts
    with thousands separators and no decimals, days as ``31 days``, ratios
    with one decimal (``13.2x``), forecast error signed (``+41%``). Missing
    values read ``n/a``.
    """
    return fmt_unit(unit(metric), value, missing=missing)


def fmt_unit(kind: str, value, *, missing: str = "n/a", signed: bool = True, compact: bool = False) -> str:
    """``value`` formatted by unit code ``kind`` (see :data:`UNITS`); :func:`fmt` by metric.

    ``signed=False`` drops the sign of a ``"pct"`` figure (a gap said in
    words, "41% fewer"); ``compact=True`` writes money as a chart's axis
    ticks do (``1.2M``, ``35k``, ``800``).
    """
    if is_missing(value):
        return missing
    number = float(value)
    if kind == "currency":
        return money(number, compact=compact)
    if kind == "share":
        return f"{number:.0%}"
    if kind == "pct":
        whole = round(number)
        return "0%" if whole == 0 else f"{whole:+.0f}%" if signed else f"{abs(whole):.0f}%"
    if kind == "days":
        return f"{number:,.0f} days"
    if kind in ("x_quota", "x_cost"):
        return f"{number:,.1f}x"
    if kind == "ratio":
        return f"{number:,.2f}".rstrip("0").rstrip(".")
    return f"{number:,.0f}"


_CURRENCY: list[str | None] = [None]  # the currency pages show beside money (set_currency)


def currency() -> str | None:
    """The currency money is shown in (:func:`set_currency`), or None: no sign."""
    return _CURRENCY[0]


def set_currency(code) -> str | None:
    """Show money in ``code`` from now on (``"EUR"``, ``"€"``; None or blank:
    no currency). A page sets it from its data's expectations
    (:func:`currency_of`) before it formats a figure, so every table,
    sentence and chart axis of that page agrees. Returns the one it replaced."""
    before = _CURRENCY[0]
    text = "" if code is None or is_missing(code) else str(code).strip()
    _CURRENCY[0] = text or None
    return before


def currency_of(expectations) -> str | None:
    """The ``currency:`` of an expectations mapping (at its top level or in its
    ``default:`` section), or None when it names none."""
    if not isinstance(expectations, dict):
        return None
    for where in (expectations, expectations.get("default")):
        if isinstance(where, dict) and not is_missing(where.get("currency")) and str(where.get("currency")).strip():
            return str(where["currency"]).strip()
    return None


def money(value, *, compact: bool = False, currency: str | None = None, missing: str = "n/a") -> str:
    """An amount of money as every page shows it: ``EUR 12,300`` for a code,
    ``€12,300`` for a symbol, ``12,300`` when no currency is set (the
    current one, :func:`set_currency`, unless ``currency`` is given; ``""``:
    none). ``compact=True`` as a chart's ticks: ``1.2M``, ``35k``, ``800``.
    """
    if is_missing(value):
        return missing
    number = float(value)
    size = abs(number)
    if compact and size >= 1e6:
        digits = f"{size / 1e6:,.1f}M"
    elif compact and size >= 1e3:
        digits = f"{size / 1e3:,.0f}k"
    else:
        digits = f"{size:,.0f}"
    sign = "-" if number < 0 and digits.strip("0.,kM") else ""
    code = _CURRENCY[0] if currency is None else (currency.strip() or None)
    if not code:
        return sign + digits
    if code.isalpha() and code.isascii():
        return f"{code} {sign}{digits}"
    return f"{sign}{code}{digits}"


def count_of(n, singular: str, plural: str | None = None, *, missing: str = "n/a") -> str:
    """A count and its noun, agreeing: ``count_of(1, "closed deal")`` -> "1 closed
    deal", ``count_of(2, "closed deal")`` -> "2 closed deals" (``plural``
    when adding an s is wrong: "new opportunity", "new opportunities")."""
    if is_missing(n):
        return f"{missing} {plural or singular + 's'}"
    number = float(n)
    noun = singular if number == 1 else (plural or singular + "s")
    return f"{fmt_unit('count', number)} {noun}"
