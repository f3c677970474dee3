"""The trainer, in four rooms by job.

- `train.fitting`: from a snapshot to a bundle (config, dataset, splits, normalization, hybrid channels,
  base model, model, fit loop, metrics, bundle save/load, prepare, run, training plots).
- `train.serving`: scoring a bundle on feature rows and the live cycle (one decision per new bar).
- `train.evaluation`: replay (batch and online), telemetry, parity, their summaries, comparisons, plots and
  report directories.
- `train.app`: the `train` CLI, the demo and verify-fullyear, which drive the other three.

Dependencies point one way: app -> evaluation -> serving -> fitting. Data comes only through the snapshot
API of `featurestore`, never its DuckDB store.
"""
