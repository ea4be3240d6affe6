"""salesnb: a notebook workbench that turns sales data into coaching.

The entry points most users need::

    import salesnb
    ds = salesnb.load("data/sample")          # typed, validated contract tables

Heavy modules (pandas, plotting) are imported on first use, so importing the
package, and ``salesnb --help``, stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["load", "Dataset", "DataError", "Problem", "__version__"]


def __getattr__(name: str):
    if name == "load":
        from salesnb.io.loading import load

        return load
    if name == "Dataset":
        from salesnb.io.dataset import Dataset

        return Dataset
    if name in ("DataError", "Problem"):
        from salesnb import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'salesnb' has no attribute {name!r}")
