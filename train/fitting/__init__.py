"""Fitting: from a verified snapshot to a saved bundle.

Holds the run config, the dataset (snapshot rows -> tensors), the time splits, normalization, the hybrid
channels, the XGBoost base model, the transformer model, the fit loop, the metrics with their baselines and
intervals (and the block bootstrap by trading day they come from, which evaluation uses too), bundle
save/load, the preparation of a run's inputs, the run itself and the training plots.

May import: `schemas`, `featurestore`'s snapshot API and errors, and `train.fitting` itself; never
`train.serving`, `train.evaluation` or `train.app`.
"""
