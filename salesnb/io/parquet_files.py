"""Reading a Parquet file column by column, as typed, without Python objects
where the contract's dtype allows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.io.categorical import release_arrow_memory
from salesnb.io.raw_tables import RawTable, RowNumbers, normalise_column_name, unreadable

__all__ = ["read_parquet_table"]


def read_parquet_table(table: str, path: Path, categorical: set[str] = frozenset()) -> RawTable:
    """The file's columns as typed: strings as pandas' Arrow-backed ``str``
    (no Python objects), or, for the ``categorical`` columns (normalised
    names), as categoricals decoded straight from the file's dictionary
    pages (one string per distinct value, never one per row); dates and
    timestamps as ``datetime64[ns]`` (when in range; others are left for
    the date check to flag), numbers as they are. Read one column at a time
    so the Arrow copy of the whole file never sits beside the frame."""
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path, pre_buffer=False)
        names = handle.schema_arrow.names
        wanted = [n for n in names if normalise_column_name(n) in categorical and _is_text(handle.schema_arrow.field(n).type)]
        dictionary = pq.ParquetFile(path, read_dictionary=wanted, pre_buffer=False) if wanted else handle
        columns = {}
        pandas_index = {c for c in (handle.schema_arrow.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
        for name in names:
            if name in pandas_index:  # a DataFrame index pandas stored (to_parquet): not data
                continue
            reader = dictionary if name in wanted else handle
            columns[str(name).strip()] = _arrow_to_pandas(
                reader.read(columns=[name], use_threads=False).column(0), categorical=name in wanted
            )
            release_arrow_memory()  # the decode buffers: freed, not kept by the allocator
        rows = handle.metadata.num_rows
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise unreadable(
            str(path), f"cannot read the file as Parquet: {exc}", "re-export the table as Parquet or CSV", table=table
        ) from None
    frame = pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False) if columns else pd.DataFrame(index=pd.RangeIndex(rows))
    return RawTable(table, frame, str(path), RowNumbers(1, rows), unit="row")


def _is_text(kind) -> bool:
    import pyarrow as pa

    kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _arrow_to_pandas(column, *, categorical: bool = False) -> pd.Series:
    """One Arrow column as a pandas Series, without Python objects where the
    contract's dtype allows (see :func:`read_parquet_table`)."""
    import pyarrow as pa

    from salesnb.io.categorical import from_arrow

    kind = column.type
    if categorical and _is_text(kind):
        return from_arrow(column)
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pd.Series(
            column.cast(pa.large_string()).to_pandas(types_mapper={pa.large_string(): pd.StringDtype(na_value=np.nan)}.get)
        )
    if (pa.types.is_date(kind) or pa.types.is_timestamp(kind)) and getattr(kind, "tz", None) is None:
        try:
            return column.cast(pa.timestamp("ns")).to_pandas()  # safe cast: raises when out of range
        except (pa.ArrowInvalid, OverflowError):
            pass  # e.g. year 9999: kept in its own unit; the date check flags it
    return column.to_pandas(date_as_object=False)
