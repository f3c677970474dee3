"""Evaluation: how a bundle behaves on data it did not train on.

Holds batch and online replay, the bundles a replay loads, the replay summary, the A/B comparison, the
telemetry, the context-usage evidence and verdict, train/serve parity, the replay plots and the report directories.

May import: `schemas`, `featurestore`'s snapshot and online API, `train.fitting` and `train.serving`; never
`train.app`.
"""
