"""The compute room: the SQL registry, the pipeline (one for batch and online), materialize, the online
featurizer, calibration, the eligibility funnel, the contract check (`contract_check` with its audits in
`contract_audit`, `contract_lookback`, `contract_health`) and the contract diff, and sealing (`validate`:
gate the computed tables and write a snapshot; it needs the SQL registry and the funnel, so it sits here,
above the store).

May import: `featurestore.store`, `featurestore.errors`, `schemas`, `validation`. Not `ingest` (a sibling)
nor `app`.
"""
