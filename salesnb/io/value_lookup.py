"""Finding repeated and known values among millions of IDs, in little memory.

:func:`repeats` (every occurrence of a value after its first) and :func:`is_in`
(``values.isin(known)``) are what the contract's checks ask of ID columns
(:mod:`salesnb.io.validation`: unique IDs, every rep_id a known rep) and what
the analyses ask to drop repeated keys. For Arrow-backed strings both work on
64-bit hashes of each value's bytes, computed in numpy from the Arrow buffers
(:func:`_text_hashes`: no Python object per value, 8 bytes a row), and confirm
any shared hash by comparing the strings, so a collision never changes an answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb.io.categorical import arrow_array, is_categorical

__all__ = ["repeats", "is_in", "index_in", "Known"]


class Known:
    """A column of known values (a table's IDs) looked up more than once:
    the sorted hashes :func:`_index_in_hashed` makes of it are made once and
    kept for the next lookup (three tables' ``customer_id`` against the one
    customers table)."""

    def __init__(self, values: pd.Series):
        self.values = values
        self._hashed = None

    def hashed(self, value_set):
        """(sorted hashes, their positions) of ``value_set`` (this column's Arrow data)."""
        if self._hashed is None:
            self._hashed = _sorted_hashes(value_set)
        return self._hashed


def repeats(values: pd.Series) -> np.ndarray:
    """True for every occurrence of a value after its first.

    For Arrow-backed strings (millions of IDs) each value is hashed to 64
    bits (:func:`_text_hashes`, from the Arrow buffers: no copy of the
    strings, 8 bytes a row); the hashes are sorted in place, and values
    whose hash no other row shares are unique. Only the rows whose hash is
    shared (real repeats, or the rare collision) are compared exactly. A
    hash table of the IDs themselves would cost several times the memory
    of the column."""
    array = _arrow_view(values)
    if array is None or len(array) < 2:
        return values.duplicated(keep="first").to_numpy()
    hashes = np.empty(len(array), dtype=np.uint64)
    for start, part in _text_hashes(array):
        hashes[start : start + len(part)] = part
    hashes.sort()  # in place: one array of hashes at a time
    shared = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
    del hashes
    missing = values.isna().to_numpy()
    repeated = np.zeros(len(values), dtype=bool)
    if missing.any():  # every missing value after the first, as duplicated() says (their hashes mean nothing)
        repeated[np.flatnonzero(missing)[1:]] = True
    if len(shared):  # rare: hash again, a slice at a time, to find the rows
        candidates = np.concatenate([start + np.flatnonzero(np.isin(part, shared)) for start, part in _text_hashes(array)])
        candidates = candidates[~missing[candidates]]
        repeated[candidates] = values.iloc[candidates].duplicated(keep="first").to_numpy()
    return repeated


_HASH_ROWS = 1 << 16  # rows hashed at a time: the scratch arrays stay a few MiB
_HASH_BYTES = 1 << 20  # ...and so do the bytes gathered from long strings
_MIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_LENGTH_SEED = np.uint64(0x9E3779B97F4A7C15)


def _text_hashes(array):
    """``(start, hashes)`` for consecutive slices of an Arrow string array
    (or chunked array): a 64-bit hash of each value's UTF-8 bytes, computed
    in numpy from the array's own buffers, a slice at a time. Equal strings
    hash equal; a missing value's hash means nothing (callers set missing
    values apart). Different strings rarely share a hash, so
    callers confirm shared hashes exactly."""
    import pyarrow as pa

    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    position = 0
    with np.errstate(over="ignore"):
        for chunk in chunks:
            chunk = chunk.cast(pa.large_string()) if not pa.types.is_large_string(chunk.type) else chunk
            for start in range(0, len(chunk), _HASH_ROWS):
                part = chunk.slice(start, _HASH_ROWS)
                yield position + start, _hash_slice(part)
            position += len(chunk)


def _hash_slice(part) -> np.ndarray:
    """:func:`_text_hashes` of one slice of a large_string array: the values
    of each length as rows of 8-byte words, each word mixed into the hash
    (murmur3's finaliser) together with the length."""
    n = len(part)
    _, offsets, data = part.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64, count=part.offset + n + 1)[part.offset :] if n else np.zeros(1, np.int64)
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    lengths = np.diff(offsets)
    hashes = np.empty(n, dtype=np.uint64)
    uniform = n > 0 and lengths.min() == lengths.max()
    for length in lengths[:1] if uniform else np.unique(lengths):
        length = int(length)
        rows = np.arange(n) if uniform else np.flatnonzero(lengths == length)
        step = max(1, _HASH_BYTES // max(length, 1))
        for first in range(0, len(rows), step):
            some = rows[first : first + step]
            words = np.zeros((len(some), -(-length // 8) * 8), dtype=np.uint8)
            if uniform:  # the values lie end to end: a reshape, no index arrays
                begin = offsets[some[0]]
                words[:, :length] = data[begin : begin + len(some) * length].reshape(len(some), length)
            else:
                words[:, :length] = data[offsets[some][:, None] + np.arange(length)]
            value = np.full(len(some), _LENGTH_SEED * np.uint64(length + 1), dtype=np.uint64)
            for word in words.view(np.uint64).T:
                value ^= word
                value ^= value >> np.uint64(33)
                value *= _MIX[0]
                value ^= value >> np.uint64(33)
                value *= _MIX[1]
                value ^= value >> np.uint64(33)
            hashes[some] = value
    return hashes


def _arrow_view(values: pd.Series):
    """The Arrow array behind an Arrow-backed string Series (no copy), else None."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return arrow_array(values)
    return None


def is_in(values: pd.Series, known: pd.Series | Known) -> np.ndarray:
    """``values.isin(known)`` as a bool array (missing values are never in):
    one Arrow hash lookup for Arrow-backed strings, where pandas would build
    a Python object per known value. A :class:`Known` keeps its hashes for
    the next lookup."""
    memo = known if isinstance(known, Known) else None
    known = memo.values if memo is not None else known
    if is_categorical(known):
        known, memo = pd.Series(known.cat.categories.take(np.unique(known.array.codes[known.array.codes >= 0]))), None
    if is_categorical(values):  # look up each category once, then spread by the codes
        hit = is_in(pd.Series(values.cat.categories), memo if memo is not None else known)
        return np.append(hit, False)[values.array.codes]
    array, value_set = _arrow_view(values), _arrow_view(known)
    if array is None or value_set is None:
        return values.isin(set(known.dropna())).to_numpy() & values.notna().to_numpy()
    import pyarrow as pa
    import pyarrow.compute as pc

    if value_set.null_count:
        value_set = value_set.drop_null()
    if len(value_set) == 0:
        return np.zeros(len(values), dtype=bool)
    if len(value_set) >= _HASHED_LOOKUP_MIN and pa.types.is_large_string(array.type) and pa.types.is_large_string(value_set.type):
        return _index_in_hashed(array, value_set, memo) >= 0
    value_set = value_set.combine_chunks() if isinstance(value_set, pa.ChunkedArray) else value_set
    found = pc.is_in(array, value_set=value_set.cast(array.type), skip_nulls=True).fill_null(False)
    return found.to_numpy(zero_copy_only=False).astype(bool, copy=False) if len(values) else np.zeros(0, dtype=bool)


def index_in(values: pd.Series, known: pd.Series | Known) -> np.ndarray:
    """The position (int64) of each of ``values`` in ``known`` (unique values),
    -1 where it is missing or not there: ``pd.Index(known).get_indexer(values)``
    without a Python object per value. A categorical's categories are looked
    up once and spread by its codes; Arrow-backed strings go by sorted hashes
    (or an Arrow hash table for a small ``known``); anything else by pandas."""
    memo = known if isinstance(known, Known) else None
    known = memo.values if memo is not None else known
    if is_categorical(values):
        at = index_in(pd.Series(values.cat.categories), memo if memo is not None else known)
        return np.append(at, -1)[values.array.codes]
    array, value_set = _arrow_view(values), _arrow_view(known)
    if array is None or value_set is None or value_set.null_count:
        return pd.Index(known.astype("object")).get_indexer(values.astype("object")).astype(np.int64, copy=False)
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(value_set) == 0 or len(array) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    if len(value_set) >= _HASHED_LOOKUP_MIN and pa.types.is_large_string(array.type) and pa.types.is_large_string(value_set.type):
        return _index_in_hashed(array, value_set, memo)
    value_set = value_set.combine_chunks() if isinstance(value_set, pa.ChunkedArray) else value_set
    found = pc.index_in(array, value_set=value_set.cast(array.type), skip_nulls=True).fill_null(-1)
    return found.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


_HASHED_LOOKUP_MIN = 1 << 16  # known values from which a lookup goes by sorted hashes (below: an Arrow hash table)


def _sorted_hashes(value_set) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of ``value_set`` sorted, and the position each came from
    (equal hashes keep their order: the first position comes first)."""
    known = np.empty(len(value_set), dtype=np.uint64)
    for start, part in _text_hashes(value_set):
        known[start : start + len(part)] = part
    order = np.argsort(known, kind="stable")
    return known[order], order


def _index_in_hashed(array, value_set, memo: Known | None = None) -> np.ndarray:
    """``pc.index_in(array, value_set, skip_nulls=True)`` for large_string
    arrays, as int64 positions (-1: not there, or missing), by sorted 64-bit
    hashes (:func:`_text_hashes`): each value's hash is looked up in the
    sorted hashes of ``value_set`` and a match confirmed by comparing the
    two strings, so a hash collision cannot make an unknown ID look known.
    About 16 bytes per known value, where Arrow's hash table copies every
    string and holds several slots a value (~100 MiB for 1.6 M customer
    IDs); no string is copied beyond a slice at a time. A value whose hash
    matches a different string (rare) is looked up exactly. Like
    ``index_in``, a value found more than once gives its first position."""
    import pyarrow.compute as pc

    known, order = memo.hashed(value_set) if memo is not None else _sorted_hashes(value_set)
    found = np.full(len(array), -1, dtype=np.int64)
    unsure = []
    for start, part in _text_hashes(array):
        at = np.empty(len(part), dtype=np.intp)
        ascending = np.argsort(part)  # sorted needles: each search starts where the last ended (half the cache misses)
        at[ascending] = np.searchsorted(known, part[ascending])
        at = np.minimum(at, len(known) - 1)
        rows = np.flatnonzero(known[at] == part)
        if not len(rows):
            continue
        positions = order[at[rows]]
        same = pc.equal(array.slice(start, len(part)).take(rows), value_set.take(positions))
        same = same.fill_null(False).to_numpy(zero_copy_only=False)
        found[start + rows[same]] = positions[same]
        unsure.append(start + rows[~same])
    unsure = np.concatenate(unsure) if unsure else np.zeros(0, dtype=np.int64)
    if len(unsure):  # a hash shared by different strings: these few exactly
        exact = pc.index_in(array.take(unsure), value_set=value_set, skip_nulls=True).fill_null(-1)
        found[unsure] = exact.to_numpy(zero_copy_only=False)
    if array.null_count:  # a missing value is never found (its hash means nothing)
        found[~array.is_valid().to_numpy(zero_copy_only=False)] = -1
    return found
