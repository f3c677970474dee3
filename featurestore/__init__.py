"""The feature store, in four rooms by job (docs/layout.md):

- `featurestore.store`: the DuckDB store, candles, snapshots, lineage, status (the base);
- `featurestore.ingest`: sources and formats into checked, stored candles;
- `featurestore.compute`: the contract's SQL into feature tables, online and batch, and sealing;
- `featurestore.app`: the `fs` CLI, console, reports and the demo.

Rooms import downward only (app -> compute, ingest -> store); `errors.py` is shared by all;
`api.py` is the one door for `train`.
"""
