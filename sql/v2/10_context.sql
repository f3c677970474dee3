-- name: context
-- version: v2
-- grain: (symbol, ts)
-- depends_on: bars
-- description: The seven context inputs of ENTRY_V10_CTX (names and ids from the seed). atr_bps is the simple
--   mean of the last {{atr_window}} true ranges over close; vol_regime_id places it among the trailing
--   {{vol_regime_window}} atr_bps values (current bar included); trend_regime_id thresholds an ATR-normalized
--   distance of close from its {{trend_window}}-bar mean; sessions come from the contract's UTC hour table.
WITH atr AS (
    SELECT
        symbol, ts, pos, close, spread_bps_raw, hour_utc,
        least(greatest(avg(tr) OVER w_atr / close * 1e4, 0), {{atr_bps_max}}) AS atr_bps,
        (close - avg(close) OVER w_trend) / greatest(avg(tr) OVER w_trend, close * 1e-6) AS trend_score
    FROM bars
    WINDOW
        w_atr AS (ORDER BY pos ROWS BETWEEN {{atr_window}} - 1 PRECEDING AND CURRENT ROW),
        w_trend AS (ORDER BY pos ROWS BETWEEN {{trend_window}} - 1 PRECEDING AND CURRENT ROW)
),
cuts AS (
    SELECT
        *,
        quantile_cont(atr_bps, {{vol_regime_quantiles}}) OVER (
            ORDER BY pos ROWS BETWEEN {{vol_regime_window}} - 1 PRECEDING AND CURRENT ROW
        ) AS q
    FROM atr
)
SELECT
    symbol,
    ts,
    list_extract({{session_by_utc_hour}}, hour_utc + 1)::TINYINT AS session_id,
    (CASE
        WHEN trend_score < -{{trend_threshold}} THEN 0
        WHEN trend_score > {{trend_threshold}} THEN 2
        ELSE 1
    END)::TINYINT AS trend_regime_id,
    (CASE
        WHEN atr_bps < q[1] THEN 0
        WHEN atr_bps < q[2] THEN 1
        WHEN atr_bps < q[3] THEN 2
        ELSE 3
    END)::TINYINT AS vol_regime_id,
    atr_bps,
    (CASE
        WHEN atr_bps < {{atr_bucket_thresholds}}[1] THEN 0
        WHEN atr_bps < {{atr_bucket_thresholds}}[2] THEN 1
        WHEN atr_bps < {{atr_bucket_thresholds}}[3] THEN 2
        ELSE 3
    END)::TINYINT AS atr_bucket,
    least(greatest(spread_bps_raw, 0), {{spread_bps_max}}) AS spread_bps,
    (CASE
        WHEN spread_bps_raw < {{spread_bucket_thresholds}}[1] THEN 0
        WHEN spread_bps_raw < {{spread_bucket_thresholds}}[2] THEN 1
        ELSE 2
    END)::TINYINT AS spread_bucket
FROM cuts
