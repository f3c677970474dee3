"""The ingest room: source formats and archives, time zones, instruments, the ingest checks and writing
checked candles into the store.

May import: `featurestore.store`, `featurestore.errors`, `schemas`. Not `compute` (a sibling) nor `app`.
"""
