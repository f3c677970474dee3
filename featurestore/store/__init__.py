"""The store room, the base of the feature store: the DuckDB handle and its DDL, reading stored candles,
snapshot files, the lineage of materialize runs, the record of contract checks (`checks`: what `fs validate`
asks of a version before sealing it), the store's status and the table names of each contract version.

May import: `featurestore.errors`, `schemas`. No other room of `featurestore` (ruff enforces it).
"""
