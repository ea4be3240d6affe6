"""Tiny data sources for tests, written into a tmp_path folder.

``write_source(folder, {"reps": "rep_id,name,territory\\nR1,Ann,North\\n",
"opportunities": [{"opportunity_id": "O1", ...}]})`` writes ``reps.csv``
and ``opportunities.csv``. A value is CSV text (written exactly as given,
UTF-8 unless ``encoding`` says otherwise, or raw ``bytes``) or a list of
dicts (written as CSV; every key becomes a column, in first-seen order).
A table name with a suffix (``"deals_export.csv"``, ``"reps.xlsx"``) is
used as the file name as it is. :data:`REPS` and :func:`opps` give a
small valid pair to start from.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

REPS = "rep_id,name,territory\nR1,Ann,North\nR2,Bob,South\n"

OPP_COLUMNS = ["opportunity_id", "rep_id", "customer_id", "created_date", "closed_date", "status", "amount"]


def rows_to_csv(rows: list[dict], *, sep: str = ",") -> str:
    """CSV text of ``rows`` (a list of dicts); None and missing keys are blank."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, delimiter=sep, lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buffer.getvalue()


def opps(*rows: str, header: str = ",".join(OPP_COLUMNS)) -> str:
    """Opportunities CSV text: the contract header, then ``rows`` as written."""
    return "\n".join([header, *rows]) + "\n"


def write_source(folder: Path, tables: dict[str, str | bytes | list[dict]], *, encoding: str = "utf-8") -> Path:
    """Write ``{table: csv text | bytes | list of dicts}`` into ``folder`` (created
    if needed) as ``<table>.csv``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in tables.items():
        path = folder / (name if "." in name else f"{name}.csv")
        if isinstance(content, list):
            content = rows_to_csv(content)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
    return folder
