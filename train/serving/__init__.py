"""Serving: turning a loaded bundle and feature rows into decisions.

Holds the scoring of a frame (eligibility, base model, hybrid channels, model, context ablations), the
live cycle (the newest bar from its candles via the online featurizer) and `train live` around it: the
sources it follows (`live_sources`: a growing file; `oanda`: OANDA v20), the loop (`live_loop`), one batch of
bars into decisions (`live_decide`), the journal and signal file (`journal`), its status (`live_status`)
and the drift alarms (`drift`: the statistic and calibration; `drift_monitor`: the reference and the watch).

May import: `schemas`, `featurestore`'s online featurizer and snapshot API, `train.fitting` (bundle,
dataset, hybrid channels, base model); never `train.evaluation` or `train.app`.
"""
