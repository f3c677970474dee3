"""The app layer: what a user runs.

Holds the `train` CLI (`train live` in `live_cli`), the end-to-end demo, verify-fullyear and its report,
and the console views of a replay summary.

May import everything of ours; nothing imports it (except the tests).
"""
