-- name: bars
-- version: v2
-- grain: (symbol, ts)
-- depends_on: candles_slice
-- description: Base per-bar series every other file builds on: position in the slice, previous close,
--   minutes since the previous bar, true range, log return, spread in bps and a 14-bar ATR in price units.
--   Only rows at or before each bar are used (lag and trailing ROWS frames). The slice holds one symbol and
--   one timeframe, ordered by ts, with a lookback margin before the requested range.
SELECT
    symbol,
    ts,
    row_number() OVER w - 1 AS pos,
    open,
    high,
    low,
    close,
    tick_volume::DOUBLE AS tick_volume,
    spread,
    lag(close) OVER w AS prev_close,
    date_diff('minute', lag(ts) OVER w, ts) AS gap_minutes,
    greatest(high, lag(close) OVER w) - least(low, lag(close) OVER w) AS tr,
    ln(close / lag(close) OVER w) * 1e4 AS r1,
    high - low AS rng,
    spread / close * 1e4 AS spread_bps_raw,
    hour(ts) AS hour_utc,
    minute(ts) AS minute_utc
FROM candles_slice
WINDOW w AS (ORDER BY ts)
