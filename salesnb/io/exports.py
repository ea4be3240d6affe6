"""Writing tables for spreadsheets and scripts, safely.

JSON: NaN, NaT and NA become null, numpy scalars plain numbers, timestamps
ISO text (:func:`to_json`), so every command's JSON parses with any reader.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab/CR) is run as
a formula by Excel and LibreOffice; text cells like that get a leading ``'``
so a rep name such as ``=HYPERLINK(...)`` stays text (CSV injection).
Numbers are left alone: a negative number is not a formula. A carriage
return inside a cell is quoted, so it cannot start a row of its own.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a spreadsheet formula."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            text = values.astype("object")
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
            if risky.any():
                out[column] = text.where(~risky, "'" + text.astype(str))
    return out


def round_columns(frame: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    """A copy of ``frame`` whose float columns named in ``decimals`` are rounded
    to that many places (money to cents: sums of cents carry binary noise such as
    ``7531222.2299999995``); other columns as they are, names unchanged."""
    out = frame.copy()
    for column, places in decimals.items():
        if column in out.columns and pd.api.types.is_float_dtype(out[column].dtype):
            out[column] = out[column].round(places)
    return out


def to_csv_text(frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` with formulas neutralised.

    A text cell holding a carriage return is quoted: the csv writer quotes
    one holding a line feed but not a lone CR, which spreadsheets read as a
    new row (whose first cell could then be a formula). Then every text cell
    is quoted (numbers are not), so readers see the cells as written.
    """
    safe = neutralise_formulas(frame)
    has_cr = any(
        safe[column].map(lambda v: isinstance(v, str) and "\r" in v).any()
        for column in safe.columns
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column].dtype)
    )
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, quoting=csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL)
    return buffer.getvalue()


def jsonable(value):
    """``value`` with NaN/NaT/NA as None and numpy/pandas scalars as Python ones."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def to_json(value) -> str:
    """Indented JSON text of ``value`` (records, dicts, lists) with no NaN in it."""
    import json

    return json.dumps(jsonable(value), indent=2, ensure_ascii=False, allow_nan=False, default=str)
