"""Evaluation: how a bundle behaves on data it did not train on.

Holds batch and online replay, the bundles a replay loads, the replay summary, the A/B comparison, the
telemetry, the bucket tests, the context-usage evidence and verdict, the in-sample shares, train/serve
parity, the replay plots and the report directories, walk-forward evaluation with its trade tables and
the grid runner that runs its fits in this process or on Dask, and the parity audit and report of a live
journal (`live_audit`, `live_report`).

May import: `schemas`, `featurestore`'s snapshot and online API, `train.fitting` and `train.serving`; never
`train.app`.
"""
