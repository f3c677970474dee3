"""The app room: the `fs` CLI, the console and error layer, the terminal tables of a run, the demo and its
synthetic candles.

May import every room. Nothing in `featurestore` imports it; of `train`, only its app layer does (the
shared console, report tables and demo).
"""
