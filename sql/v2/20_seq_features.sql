-- name: seq_features
-- version: v2
-- grain: (symbol, ts)
-- depends_on: bars
-- description: The 13 per-bar sequence features (the transformer sees the last {{sequence_length}} rows of them).
--   Bar shape and short-horizon state in ATR units, bps or ratios; each uses bar ts and trailing ROWS frames.
--   atr14 is the mean true range of the last 14 bars, floored at 1e-6 x close so that no ratio divides by 0.
WITH b AS (
    SELECT
        *,
        greatest(avg(tr) OVER (ORDER BY pos ROWS BETWEEN 13 PRECEDING AND CURRENT ROW), close * 1e-6) AS atr14,
        avg(close) OVER (ORDER BY pos ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS sma20,
        max(high) OVER (ORDER BY pos ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS hh20,
        min(low) OVER (ORDER BY pos ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS ll20,
        regr_slope(close, pos) OVER (ORDER BY pos ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS slope20,
        stddev_samp(r1) OVER (ORDER BY pos ROWS BETWEEN 11 PRECEDING AND CURRENT ROW) AS rv12,
        stddev_samp(r1) OVER (ORDER BY pos ROWS BETWEEN 47 PRECEDING AND CURRENT ROW) AS rv48,
        avg(tick_volume) OVER (ORDER BY pos ROWS BETWEEN 47 PRECEDING AND CURRENT ROW) AS tv_mean48,
        stddev_samp(tick_volume) OVER (ORDER BY pos ROWS BETWEEN 47 PRECEDING AND CURRENT ROW) AS tv_std48,
        avg(spread_bps_raw) OVER (ORDER BY pos ROWS BETWEEN 47 PRECEDING AND CURRENT ROW) AS spread_mean48
    FROM bars
)
SELECT
    symbol,
    ts,
    r1 AS ret_1_bps,
    rng / atr14 AS range_atr,
    (close - open) / atr14 AS body_atr,
    (high - greatest(open, close)) / atr14 AS upper_wick_atr,
    (least(open, close) - low) / atr14 AS lower_wick_atr,
    CASE WHEN hh20 > ll20 THEN (close - ll20) / (hh20 - ll20) ELSE 0.5 END AS close_pos_20,
    (close - sma20) / atr14 AS dist_sma20_atr,
    slope20 * 20 / atr14 AS slope_20_atr,
    CASE WHEN rv48 > 0 THEN rv12 / rv48 ELSE 1.0 END AS rv_ratio_12_48,
    CASE WHEN tv_std48 > 0 THEN (tick_volume - tv_mean48) / tv_std48 ELSE 0.0 END AS tick_volume_z_48,
    CASE WHEN spread_mean48 > 0 THEN spread_bps_raw / spread_mean48 ELSE 1.0 END AS spread_rel_48,
    sin(2 * pi() * (hour_utc * 60 + minute_utc) / 1440) AS tod_sin,
    cos(2 * pi() * (hour_utc * 60 + minute_utc) / 1440) AS tod_cos
FROM b
