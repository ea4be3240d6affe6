"""Repeated text stored once: pandas ``category`` columns with sorted string
categories.

A loaded Dataset keeps its foreign-key IDs (rep_id, customer_id,
opportunity_id outside their own table) and its low-cardinality text
(activity type, stage, status, territory, ...) as categoricals: the values
are the same strings, but each distinct one is held once and every row is
a small integer code. Ten million activities then take a fraction of the
memory of Arrow-backed strings. Categories are always sorted, so sorting
by codes sorts by text, and built straight from Arrow (no Python strings).
:func:`release_arrow_memory` hands Arrow's freed scratch space back between
the loader's and the metrics' large steps.

This is the one module that reads pandas' private API (``_pa_array``,
``CategoricalDtype._from_fastpath``), each behind a
:class:`salesnb.fast_paths.FastPath` with the public way as its fallback;
the other modules call :func:`arrow_array`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from salesnb.fast_paths import FastPath

_PA_ARRAY = FastPath("pandas _pa_array")  # arrow_array
_DTYPE_FASTPATH = FastPath("pandas CategoricalDtype._from_fastpath")  # _dtype


def is_categorical(values) -> bool:
    return isinstance(getattr(values, "dtype", None), pd.CategoricalDtype)


def _codes_dtype(n: int):
    return np.int8 if n < 127 else np.int16 if n < 32767 else np.int32 if n < 2**31 - 1 else np.int64


def from_codes(codes: np.ndarray, categories, *, index=None, name=None) -> pd.Series:
    """A categorical Series from integer codes (-1: missing) into ``categories``
    (unique strings), re-coded so that the categories are sorted."""
    categories = pd.Index(categories, dtype="str")
    if not _is_sorted(categories):
        order = _sort_order(categories)
        remap = np.empty(len(order) + 1, dtype=_codes_dtype(len(order)))
        remap[order] = np.arange(len(order))
        remap[-1] = -1
        codes = remap[codes]  # -1 indexes the last slot: stays missing
        categories = categories[order]
    dtype = _dtype(categories)
    codes = np.asarray(codes).astype(_codes_dtype(len(categories)), copy=False)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype, validate=False), index=index, name=name, copy=False)


def _dtype(categories: pd.Index) -> pd.CategoricalDtype:
    """The dtype of unique, sorted ``categories``, without pandas' own
    uniqueness check: that builds a hash table of Python strings and keeps
    it (120 MiB for 1.6 M customer IDs) for as long as the categories live."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if _DTYPE_FASTPATH.on and fastpath is not None:
        try:
            return fastpath(categories, False)
        except Exception as error:  # noqa: BLE001 - a fast path: the public constructor instead
            _DTYPE_FASTPATH.fail(error)
    return pd.CategoricalDtype(categories, ordered=False)


def arrow_array(values, *, type=None):
    """The Arrow data of pandas ``values`` (a Series, Index or array) as a
    ``pyarrow.ChunkedArray``, cast to ``type`` if one is given.

    Arrow-backed values give the very array pandas holds, without a copy
    (pandas' private ``_pa_array``, read nowhere else); any other values, a
    pandas without that attribute, and every call after it first fails,
    convert through the public ``pyarrow.array`` (a copy; missing values
    are nulls). Both give equal arrays (tests/test_fast_paths.py).
    """
    import pyarrow as pa

    array = getattr(values, "array", values)
    held = None
    if _PA_ARRAY.on:
        try:
            held = getattr(array, "_pa_array", None)
            if held is not None and not isinstance(held, pa.ChunkedArray):
                raise TypeError(f"pandas' _pa_array is a {held.__class__.__name__}, not a pyarrow.ChunkedArray")
        except Exception as error:  # noqa: BLE001 - a fast path: the public conversion instead
            _PA_ARRAY.fail(error)
            held = None
    if held is None:
        held = pa.chunked_array([pa.array(array, from_pandas=True)])
    return held if type is None or held.type == type else held.cast(type)


def _arrow_text(categories: pd.Index):
    import pyarrow as pa

    return arrow_array(categories, type=pa.large_string())


def _is_sorted(categories: pd.Index) -> bool:
    """Whether ``categories`` ascend (compared in Arrow: pandas' own check
    would build and keep a hash table of the strings)."""
    import pyarrow.compute as pc

    if len(categories) < 2:
        return True
    array = _arrow_text(categories)
    return not pc.any(pc.less(array[1:], array[:-1])).as_py()


def _sort_order(categories: pd.Index) -> np.ndarray:
    """Positions that sort ``categories`` by code point (Python's string order)."""
    import pyarrow.compute as pc

    return pc.sort_indices(_arrow_text(categories)).to_numpy()


def from_arrow(column) -> pd.Series:
    """An Arrow string or dictionary column (array or chunked) as a
    categorical Series: dictionary-encoded in Arrow, so the strings are
    never materialised one per row."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.unify_dictionaries() if pa.types.is_dictionary(column.type) else column
        chunks = [c if pa.types.is_dictionary(c.type) else c.dictionary_encode() for c in column.chunks]
        if not chunks:
            return from_codes(np.zeros(0, dtype=np.int8), [])
        if not pa.types.is_dictionary(column.type):
            chunks = pa.chunked_array(chunks).unify_dictionaries().chunks
        dictionary = chunks[0].dictionary
        codes = (
            np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks])
            if len(chunks) > 1
            else chunks[0].indices.fill_null(-1).to_numpy(zero_copy_only=False)
        )
    else:
        encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
        dictionary, codes = encoded.dictionary, encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return from_codes(
        codes, dictionary.cast(pa.large_string()).to_pandas(types_mapper={pa.large_string(): pd.StringDtype(na_value=np.nan)}.get)
    )


def as_category(values: pd.Series) -> pd.Series:
    """``values`` as a categorical with sorted string categories; the same
    Series when it already is one."""
    if is_categorical(values):
        categories = values.cat.categories
        if categories.dtype == "str" and not values.cat.ordered and _is_sorted(categories):
            return values
        return from_codes(values.array.codes, categories.astype("str"), index=values.index, name=values.name)
    codes, uniques = pd.factorize(values.astype("str") if values.dtype != "str" else values, use_na_sentinel=True)
    return from_codes(codes, uniques, index=values.index, name=values.name)


def map_categories(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply ``func`` (strings in, strings or NaN out, one per value) to the
    distinct values of a categorical only; values it maps to the same text
    merge into one category, those it maps to NaN become missing."""
    categories = pd.Series(values.cat.categories, dtype="str")
    mapped = pd.Series(func(categories), dtype="str").reset_index(drop=True)
    if mapped.equals(categories):
        return values
    new_codes, uniques = pd.factorize(mapped, use_na_sentinel=True)
    lookup = np.append(new_codes, -1)
    return from_codes(lookup[values.array.codes], uniques, index=values.index, name=values.name)


def _union(categories: list[pd.Index]) -> pd.Index:
    """The sorted union of several categories (in Arrow, without pandas' hash tables)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = [_arrow_text(c) for c in categories]
    arrays = [chunk.cast(pa.large_string()) for a in arrays for chunk in (a.chunks if isinstance(a, pa.ChunkedArray) else [a])]
    unique = pc.unique(pa.concat_arrays(arrays)) if arrays else pa.array([], type=pa.large_string())
    unique = unique.take(pc.sort_indices(unique))
    return pd.Index(pd.array(unique, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _recode(values: pd.Series, categories: pd.Index) -> np.ndarray:
    """The codes of categorical ``values`` in ``categories`` (a sorted superset of its own)."""
    import pyarrow.compute as pc

    positions = pc.index_in(_arrow_text(values.cat.categories), value_set=_arrow_text(categories)).fill_null(-1)
    lookup = np.append(positions.to_numpy(zero_copy_only=False), -1).astype(_codes_dtype(len(categories)))
    return lookup[values.array.codes]


def coalesce(first: pd.Series, other: pd.Series) -> pd.Series:
    """``first.fillna(other)`` for categoricals: the categories of both,
    sorted (fillna itself refuses a value that is not yet a category)."""
    if not (is_categorical(first) or is_categorical(other)):
        return first.fillna(other)
    first, other = as_category(first), as_category(pd.Series(other, index=first.index))
    categories = _union([first.cat.categories, other.cat.categories])
    codes = _recode(first, categories)
    codes = np.where(codes >= 0, codes, _recode(other, categories))
    return from_codes(codes, categories, index=first.index, name=first.name)


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)`` that keeps a column
    categorical when any frame holds it so (pandas would fall back to
    Python objects when the categories differ); a column a frame lacks is
    missing on its rows."""
    frames = [f for f in frames if f is not None]
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    data = {}
    for column in columns:
        parts = [f[column] if column in f.columns else None for f in frames]
        if not any(is_categorical(p) for p in parts if p is not None):
            data[column] = pd.concat(
                [
                    p if p is not None else pd.Series(np.nan, index=f.index, dtype=_missing_dtype(parts))
                    for p, f in zip(parts, frames)
                ],
                ignore_index=True,
            )
            continue
        parts = [as_category(p) if p is not None else None for p in parts]
        categories = _union([p.cat.categories for p in parts if p is not None])
        codes = np.concatenate(
            [
                _recode(p, categories) if p is not None else np.full(len(f), -1, dtype=_codes_dtype(len(categories)))
                for p, f in zip(parts, frames)
            ]
        )
        data[column] = from_codes(codes, categories)
    return pd.DataFrame(data, columns=columns)


def _missing_dtype(parts):
    """The dtype of a stretch of missing values beside ``parts`` (float for
    integers and booleans, as pandas would make them)."""
    dtype = next(p.dtype for p in parts if p is not None)
    return dtype if dtype.kind in "Mf" or dtype == "str" else "float64" if dtype.kind in "iub" else object


def fill_text(values: pd.Series, text: str) -> pd.Series:
    """``values.fillna(text)``, adding ``text`` as a category first when
    ``values`` is categorical (the categories stay sorted)."""
    if not is_categorical(values) or not values.isna().any():
        return values.fillna(text) if not is_categorical(values) else values
    if text not in values.cat.categories:
        values = as_category(values.cat.add_categories([text]))
    return values.fillna(text)


def folded(values: pd.Series) -> pd.Series:
    """Trimmed, case-folded text for matching (``"Visit "`` ~ ``visit``);
    a categorical's distinct values only, so it stays one."""
    if is_categorical(values):
        return map_categories(values, lambda text: text.str.strip().str.casefold())
    return values.str.strip().str.casefold()


def plain(values):
    """Group labels as plain ``str`` (small per-group outputs keep the
    dtype they always had); anything that is not categorical as it is."""
    if is_categorical(values):
        return pd.Series(values, copy=False).astype("str") if not isinstance(values, pd.Index) else values.astype("str")
    return values


def arrow_dictionary(values: pd.Series):
    """An Arrow DictionaryArray over a categorical's codes and categories:
    the strings are the categories only; the codes are shared (copied only
    to mark missing values)."""
    import pyarrow as pa

    codes = values.array.codes
    missing = codes < 0
    indices = pa.array(codes, mask=missing) if missing.any() else pa.array(codes)
    dictionary = arrow_array(values.cat.categories).combine_chunks()
    if pa.types.is_string(dictionary.type):
        dictionary = dictionary.cast(pa.large_string())
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def release_arrow_memory() -> None:
    """Hand the Arrow allocator's freed pages (lookups, hashes, decode
    buffers) back to the OS, so one step's scratch space does not stay on
    top of the next step's."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):  # pragma: no cover - older pyarrow
        pass
