"""The contract's metrics and the coaching analyses built on them: periods,
metrics (and its families: expectations, value, forecasts), diagnosis,
training effect and data-quality flags. Frames in, tidy frames out.

Imports io only; never present or run."""
