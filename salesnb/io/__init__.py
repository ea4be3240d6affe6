"""Reading and checking a data source: the contract's tables (schema), the
readers of folders and databases (sources), mapping.yml, value parsing,
validation with located problems, and :func:`salesnb.load` (loading).

Nothing here imports analysis, present or run."""
