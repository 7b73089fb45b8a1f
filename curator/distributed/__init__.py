"""The distributed engine: the local engine's per-record functions run through Ray Data.

Only this package imports Ray (an import-linter contract enforces it); the CLI imports it only
when a command is given `--engine ray`. Ray reads a Parquet snapshot of the workspace
(`curator.columnar`), never the SQLite file; results come back into the workspace through the
same core functions the local engine uses, and are byte-identical to the local run whatever the
number of blocks or workers.
"""
