"""The data contract's tables, in one place.

Every other module asks this one which tables exist, which columns they
hold, which are required, and of what kind each column is. The text of the
contract lives in ``docs/contract.md``; this module is its executable
form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds: how a raw cell is parsed and what dtype the typed frame uses.
ID = "id"  # str; numeric-looking IDs keep leading zeros
TEXT = "text"  # str, trimmed, kept as written
CATEGORY = "category"  # str, trimmed, matched case-insensitively
ENUM = "enum"  # lower-cased, must be one of Column.choices
DATE = "date"  # datetime64[ns]
AMOUNT = "amount"  # float64 >= 0; text like "$22,700.00" is read as a number
PERIOD = "period"  # YYYY, YYYY-Qn or YYYY-MM

DATE_DTYPE = "datetime64[ns]"

#: The first and last years a date in the data (or a reporting period) may fall in:
#: pandas holds nanosecond timestamps only from 1677 to 2262, and no sales data is
#: older than 1900 or later than 2100.
FIRST_YEAR, LAST_YEAR = 1900, 2100
YEARS_ALLOWED = f"{FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31"


@dataclass(frozen=True)
class Column:
    """One contract column: its name, kind, whether it is required."""

    name: str
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    unique: bool = False
    hint: str = ""
    repeated_text: bool = False  # free text whose values repeat (stage): stored as a categorical too

    @property
    def categorical(self) -> bool:
        """Stored as a pandas ``category`` of strings (see :mod:`salesnb.io.categorical`):
        categories and enums, IDs that refer to another table's rows (they
        repeat), and repeated free text. A table's own unique ID stays ``str``."""
        return self.kind in (CATEGORY, ENUM) or (self.kind == ID and not self.unique) or self.repeated_text


@dataclass(frozen=True)
class Table:
    """One contract table and its columns, in contract order."""

    name: str
    columns: tuple[Column, ...]
    required: bool = False
    enables: str = ""
    key: str | None = None
    references: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")


STATUSES = ("open", "won", "lost")
MARKET_TIERS = ("primary", "secondary")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "reps",
            (
                Column("rep_id", ID, True, unique=True),
                Column("name", TEXT, True),
                Column("territory", CATEGORY, True),
                Column("team", CATEGORY),
                Column("hire_date", DATE),
                Column("annual_cost", AMOUNT),
                Column("email", TEXT),  # where the rep's own report is delivered (salesnb deliver)
                Column("manager_email", TEXT),  # where the rep's team pages are delivered
            ),
            required=True,
            key="rep_id",
        ),
        Table(
            "customers",
            (
                Column("customer_id", ID, True, unique=True),
                Column("name", TEXT),
                Column("territory", CATEGORY),
                Column("customer_type", CATEGORY),
                Column("market_tier", ENUM, choices=MARKET_TIERS),
                Column("acquisition_method", CATEGORY),
                Column("rep_id", ID),
                Column("acquired_date", DATE),
            ),
            enables="customer type, market tier and acquisition method breakdowns, new customers by tier, and customer ownership for lifetime value",
            key="customer_id",
            references={"rep_id": "reps"},
        ),
        Table(
            "opportunities",
            (
                Column("opportunity_id", ID, True, unique=True),
                Column("rep_id", ID, True),
                Column("customer_id", ID),
                Column("created_date", DATE, True),
                Column("closed_date", DATE),
                Column("status", ENUM, True, choices=STATUSES),
                Column("amount", AMOUNT),
                Column("acquisition_method", CATEGORY),
                Column("stage", TEXT, repeated_text=True),
            ),
            required=True,
            key="opportunity_id",
            references={"rep_id": "reps", "customer_id": "customers"},
        ),
        Table(
            "activities",
            (
                Column("activity_id", ID, True, unique=True),
                Column("rep_id", ID, True),
                Column("date", DATE, True),
                Column("type", CATEGORY, True),
                Column("customer_id", ID),
                Column("opportunity_id", ID),
            ),
            enables="contacts, new-prospect vs follow-up contacts, visits and padded-activity checks",
            key="activity_id",
            references={"rep_id": "reps", "customer_id": "customers", "opportunity_id": "opportunities"},
        ),
        Table(
            "orders",
            (
                Column("order_id", ID, True, unique=True),
                Column("customer_id", ID, True),
                Column("rep_id", ID),
                Column("date", DATE, True),
                Column("amount", AMOUNT, True),
            ),
            enables="customer lifetime value from realised revenue",
            key="order_id",
            references={"rep_id": "reps", "customer_id": "customers"},
        ),
        Table(
            "training",
            (
                Column("rep_id", ID, True),
                Column("program", CATEGORY, True),
                Column("start_date", DATE, True),
                Column("end_date", DATE),
            ),
            enables="training-effect analysis",
            references={"rep_id": "reps"},
        ),
        Table(
            "forecasts",
            (
                Column("rep_id", ID, True),
                Column("period", PERIOD, True),
                Column("forecast_amount", AMOUNT, True),
                Column("submitted_date", DATE),
            ),
            enables="forecast accuracy",
            references={"rep_id": "reps"},
        ),
        # -- opportunity_history (issue 18): how each opportunity moved; kept as its own block --
        Table(
            "opportunity_history",
            (
                Column("opportunity_id", ID, True),
                Column("changed_at", DATE, True),
                Column("stage", TEXT, repeated_text=True),
                Column("expected_close_date", DATE),
                Column("amount", AMOUNT),
            ),
            enables="stage stays, pushed close dates (pushed_deals, close_date_pushes) and bulk-update checks",
            references={"opportunity_id": "opportunities"},
        ),
    )
}

# -- quotas (issue 17): revenue targets set per rep and period ------------------
TABLES["quotas"] = Table(
    "quotas",
    (
        Column("rep_id", ID, True),
        Column("period", PERIOD, True),
        Column("quota_amount", AMOUNT, True),
    ),
    enables="quota, attainment and pipeline coverage from targets set per rep and period",
    references={"rep_id": "reps"},
)

TABLE_ORDER = tuple(TABLES)
REQUIRED_TABLES = tuple(name for name, t in TABLES.items() if t.required)
