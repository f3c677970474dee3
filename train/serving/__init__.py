"""Serving: turning a loaded bundle and feature rows into decisions.

Holds the scoring of a frame (eligibility, base model, hybrid channels, model, context ablations) and the
live cycle (the newest bar from its candles via the online featurizer).

May import: `schemas`, `featurestore`'s online featurizer and snapshot API, `train.fitting` (bundle,
dataset, hybrid channels, base model); never `train.evaluation` or `train.app`.
"""
