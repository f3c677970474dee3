-- name: snap_features
-- version: v2
-- grain: (symbol, ts)
-- depends_on: bars
-- description: The 85 snapshot features of the decision bar: returns over many horizons, volatility and range,
--   trend and slope, oscillators, levels, candle shape, spread/cost, tick activity, calendar, higher-timeframe
--   context from CLOSED H1/H4 bars only (joined on availability time, bucket end <= bar close), and two
--   interactions. All values are scale-free (bps, ATR units, ratios, z-scores). Every ratio has a stated
--   value for a zero denominator, so no row outside warmup is NULL or NaN.
WITH w AS (
    SELECT
        *,
        greatest(avg(tr) OVER w14, close * 1e-6) AS atr14,
        greatest(avg(tr) OVER w48, close * 1e-6) AS atr48,
        greatest(avg(tr) OVER w96, close * 1e-6) AS atr96,
        greatest(avg(tr) OVER w288, close * 1e-6) AS atr288,
        greatest(avg(tr) OVER w576, close * 1e-6) AS atr576,
        stddev_samp(r1) OVER w12 AS rv12,
        stddev_samp(r1) OVER w48 AS rv48,
        stddev_samp(r1) OVER w96 AS rv96,
        stddev_samp(r1) OVER w144 AS rv144,
        stddev_samp(r1) OVER w576 AS rv576,
        sqrt(avg(least(r1, 0) ^ 2) OVER w48) AS down48,
        sqrt(avg(r1 ^ 2) OVER w48) AS rms48,
        kurtosis(r1) OVER w48 AS kurt48,
        skewness(r1) OVER w48 AS skew48,
        avg(rng) OVER w48 AS rng_mean48,
        stddev_samp(rng) OVER w48 AS rng_std48,
        max(tr) OVER w12 AS tr_max12,
        avg(close) OVER w12 AS sma12,
        avg(close) OVER w48 AS sma48,
        avg(close) OVER w144 AS sma144,
        avg(close) OVER w288 AS sma288,
        avg(close) OVER w576 AS sma576,
        stddev_samp(close) OVER w48 AS cstd48,
        regr_slope(close, pos) OVER w48 AS slope48,
        regr_slope(close, pos) OVER w144 AS slope144,
        regr_slope(close, pos) OVER w576 AS slope576,
        regr_r2(close, pos) OVER w48 AS r2_48,
        regr_r2(close, pos) OVER w144 AS r2_144,
        sum(abs(close - prev_close)) OVER w24 AS path24,
        sum(abs(close - prev_close)) OVER w96 AS path96,
        sum(greatest(close - prev_close, 0)) OVER w6 AS gain6,
        sum(greatest(prev_close - close, 0)) OVER w6 AS loss6,
        sum(greatest(close - prev_close, 0)) OVER w14 AS gain14,
        sum(greatest(prev_close - close, 0)) OVER w14 AS loss14,
        sum(greatest(close - prev_close, 0)) OVER w48 AS gain48,
        sum(greatest(prev_close - close, 0)) OVER w48 AS loss48,
        max(high) OVER w48 AS hh48,
        min(low) OVER w48 AS ll48,
        max(high) OVER w288 AS hh288,
        min(low) OVER w288 AS ll288,
        sum(abs(close - open)) OVER w12 AS body_sum12,
        sum(rng) OVER w12 AS rng_sum12,
        sum(rng) OVER w48 AS rng_sum48,
        sum(high - greatest(open, close)) OVER w48 AS upper_sum48,
        sum(least(open, close) - low) OVER w48 AS lower_sum48,
        avg((close > open)::DOUBLE) OVER w12 AS up_share12,
        avg((close > open)::DOUBLE) OVER w48 AS up_share48,
        avg(CASE WHEN rng > 0 THEN (close - low) / rng ELSE 0.5 END) OVER w12 AS clv_mean12,
        avg(spread_bps_raw) OVER w144 AS spread_mean144,
        stddev_samp(spread_bps_raw) OVER w144 AS spread_std144,
        avg(spread_bps_raw) OVER w48 AS spread_mean48,
        avg(spread_bps_raw) OVER w576 AS spread_mean576,
        max(spread_bps_raw) OVER w12 AS spread_max12,
        avg(tick_volume) OVER w12 AS tv_mean12,
        avg(tick_volume) OVER w48 AS tv_mean48,
        avg(tick_volume) OVER w288 AS tv_mean288,
        stddev_samp(tick_volume) OVER w288 AS tv_std288,
        avg(tick_volume) OVER w576 AS tv_mean576,
        sum(tick_volume * sign(close - open)) OVER w24 AS tv_signed24,
        sum(tick_volume) OVER w24 AS tv_sum24,
        regr_slope(tick_volume, pos) OVER w288 AS tv_slope288,
        max(CASE WHEN gap_minutes > {{gap_cooldown_minutes}} THEN pos END) OVER w288 AS last_break_pos,
        lag(close, 2) OVER w0 AS c_lag2,
        lag(close, 3) OVER w0 AS c_lag3,
        lag(close, 6) OVER w0 AS c_lag6,
        lag(close, 12) OVER w0 AS c_lag12,
        lag(close, 24) OVER w0 AS c_lag24,
        lag(close, 48) OVER w0 AS c_lag48,
        lag(close, 96) OVER w0 AS c_lag96,
        lag(close, 288) OVER w0 AS c_lag288
    FROM bars
    WINDOW
        w0 AS (ORDER BY pos),
        w6 AS (ORDER BY pos ROWS BETWEEN 5 PRECEDING AND CURRENT ROW),
        w12 AS (ORDER BY pos ROWS BETWEEN 11 PRECEDING AND CURRENT ROW),
        w14 AS (ORDER BY pos ROWS BETWEEN 13 PRECEDING AND CURRENT ROW),
        w24 AS (ORDER BY pos ROWS BETWEEN 23 PRECEDING AND CURRENT ROW),
        w48 AS (ORDER BY pos ROWS BETWEEN 47 PRECEDING AND CURRENT ROW),
        w96 AS (ORDER BY pos ROWS BETWEEN 95 PRECEDING AND CURRENT ROW),
        w144 AS (ORDER BY pos ROWS BETWEEN 143 PRECEDING AND CURRENT ROW),
        w288 AS (ORDER BY pos ROWS BETWEEN 287 PRECEDING AND CURRENT ROW),
        w576 AS (ORDER BY pos ROWS BETWEEN 575 PRECEDING AND CURRENT ROW)
),
day AS (
    SELECT
        pos,
        first_value(open) OVER wday AS day_open,
        max(high) OVER wday AS day_high,
        min(low) OVER wday AS day_low
    FROM bars
    WINDOW wday AS (PARTITION BY ts::DATE ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
h1_bars AS (
    SELECT
        date_trunc('hour', ts) AS bucket,
        arg_min(open, ts) AS o, max(high) AS h, min(low) AS l, arg_max(close, ts) AS c
    FROM bars
    GROUP BY 1
),
h1 AS (
    SELECT
        bucket + INTERVAL 1 HOUR AS avail_at,
        ln(c / lag(c) OVER w0) * 1e4 AS h1_ret_1_bps,
        ln(c / lag(c, 3) OVER w0) * 1e4 AS h1_ret_3_bps,
        ln(c / lag(c, 12) OVER w0) * 1e4 AS h1_ret_12_bps,
        sum(greatest(c - lag_c, 0)) OVER w14 AS gain14,
        sum(greatest(lag_c - c, 0)) OVER w14 AS loss14,
        greatest(avg(greatest(h, lag_c) - least(l, lag_c)) OVER w14, c * 1e-6) AS atr14,
        regr_slope(c, bucket_no) OVER w24 AS slope24,
        max(h) OVER w24 AS hh24,
        min(l) OVER w24 AS ll24,
        c,
        sum(abs(c - o)) OVER w6 AS body6,
        sum(h - l) OVER w6 AS rng6
    FROM (SELECT *, lag(c) OVER (ORDER BY bucket) AS lag_c, row_number() OVER (ORDER BY bucket) AS bucket_no FROM h1_bars)
    WINDOW
        w0 AS (ORDER BY bucket),
        w6 AS (ORDER BY bucket ROWS BETWEEN 5 PRECEDING AND CURRENT ROW),
        w14 AS (ORDER BY bucket ROWS BETWEEN 13 PRECEDING AND CURRENT ROW),
        w24 AS (ORDER BY bucket ROWS BETWEEN 23 PRECEDING AND CURRENT ROW)
),
h4_bars AS (
    SELECT
        time_bucket(INTERVAL 4 HOUR, ts) AS bucket,
        arg_min(open, ts) AS o, max(high) AS h, min(low) AS l, arg_max(close, ts) AS c
    FROM bars
    GROUP BY 1
),
h4 AS (
    SELECT
        bucket + INTERVAL 4 HOUR AS avail_at,
        ln(c / lag(c) OVER w0) * 1e4 AS h4_ret_1_bps,
        ln(c / lag(c, 6) OVER w0) * 1e4 AS h4_ret_6_bps,
        sum(greatest(c - lag_c, 0)) OVER w14 AS gain14,
        sum(greatest(lag_c - c, 0)) OVER w14 AS loss14,
        greatest(avg(greatest(h, lag_c) - least(l, lag_c)) OVER w14, c * 1e-6) AS atr14,
        avg(c) OVER w12 AS sma12,
        c
    FROM (SELECT *, lag(c) OVER (ORDER BY bucket) AS lag_c FROM h4_bars)
    WINDOW
        w0 AS (ORDER BY bucket),
        w12 AS (ORDER BY bucket ROWS BETWEEN 11 PRECEDING AND CURRENT ROW),
        w14 AS (ORDER BY bucket ROWS BETWEEN 13 PRECEDING AND CURRENT ROW)
),
htf AS (
    SELECT
        b.pos,
        h1.h1_ret_1_bps, h1.h1_ret_3_bps, h1.h1_ret_12_bps,
        h1.gain14 AS h1_gain14, h1.loss14 AS h1_loss14, h1.atr14 AS h1_atr14, h1.slope24 AS h1_slope24,
        h1.hh24 AS h1_hh24, h1.ll24 AS h1_ll24, h1.c AS h1_c, h1.body6 AS h1_body6, h1.rng6 AS h1_rng6,
        h4.h4_ret_1_bps, h4.h4_ret_6_bps,
        h4.gain14 AS h4_gain14, h4.loss14 AS h4_loss14, h4.atr14 AS h4_atr14, h4.sma12 AS h4_sma12, h4.c AS h4_c
    FROM bars b
    ASOF LEFT JOIN h1 ON b.ts + INTERVAL ({{timeframe_minutes}}) MINUTE >= h1.avail_at
    ASOF LEFT JOIN h4 ON b.ts + INTERVAL ({{timeframe_minutes}}) MINUTE >= h4.avail_at
),
joined AS (
    SELECT * FROM w JOIN day USING (pos) JOIN htf USING (pos)
)
SELECT
    symbol,
    ts,
    -- returns (log, bps)
    ln(close / c_lag2) * 1e4 AS ret_2_bps,
    ln(close / c_lag3) * 1e4 AS ret_3_bps,
    ln(close / c_lag6) * 1e4 AS ret_6_bps,
    ln(close / c_lag12) * 1e4 AS ret_12_bps,
    ln(close / c_lag24) * 1e4 AS ret_24_bps,
    ln(close / c_lag48) * 1e4 AS ret_48_bps,
    ln(close / c_lag96) * 1e4 AS ret_96_bps,
    ln(close / c_lag288) * 1e4 AS ret_288_bps,
    -- momentum in units of the 96-bar return volatility
    CASE WHEN rv96 > 0 THEN ln(close / c_lag6) * 1e4 / (rv96 * sqrt(6)) ELSE 0.0 END AS mom_6_z,
    CASE WHEN rv96 > 0 THEN ln(close / c_lag24) * 1e4 / (rv96 * sqrt(24)) ELSE 0.0 END AS mom_24_z,
    CASE WHEN rv96 > 0 THEN ln(close / c_lag96) * 1e4 / (rv96 * sqrt(96)) ELSE 0.0 END AS mom_96_z,
    CASE WHEN rv576 > 0 THEN ln(close / c_lag288) * 1e4 / (rv576 * sqrt(288)) ELSE 0.0 END AS mom_288_z,
    -- volatility and range
    rv12 AS rv_12_bps,
    rv48 AS rv_48_bps,
    rv144 AS rv_144_bps,
    rv576 AS rv_576_bps,
    atr48 / close * 1e4 AS atr_48_bps,
    atr288 / close * 1e4 AS atr_288_bps,
    atr14 / atr96 AS atr_ratio_14_96,
    atr48 / atr576 AS atr_ratio_48_576,
    CASE WHEN rv576 > 0 THEN rv48 / rv576 ELSE 1.0 END AS rv_ratio_48_576,
    CASE WHEN rng_std48 > 0 THEN (rng - rng_mean48) / rng_std48 ELSE 0.0 END AS range_z_48,
    tr_max12 / atr48 AS tr_max_12_atr,
    CASE WHEN rms48 > 0 THEN down48 / rms48 ELSE 0.5 END AS downside_share_48,
    coalesce(kurt48, 0.0) AS kurt_48,
    coalesce(skew48, 0.0) AS skew_48,
    -- trend and slope
    slope48 * 48 / atr48 AS slope_48_atr,
    slope144 * 144 / atr96 AS slope_144_atr,
    slope576 * 576 / atr576 AS slope_576_atr,
    coalesce(r2_48, 0.0) AS r2_48,
    coalesce(r2_144, 0.0) AS r2_144,
    (close - sma48) / atr48 AS dist_sma48_atr,
    (close - sma144) / atr96 AS dist_sma144_atr,
    (close - sma576) / atr576 AS dist_sma576_atr,
    (sma12 - sma48) / atr48 AS sma_cross_12_48_atr,
    (sma48 - sma288) / atr288 AS sma_cross_48_288_atr,
    CASE WHEN path24 > 0 THEN abs(close - c_lag24) / path24 ELSE 0.0 END AS efficiency_24,
    CASE WHEN path96 > 0 THEN abs(close - c_lag96) / path96 ELSE 0.0 END AS efficiency_96,
    -- oscillators (RSI as the share of up-moves in the window: a finite-window form of RSI)
    CASE WHEN gain6 + loss6 > 0 THEN 100 * gain6 / (gain6 + loss6) ELSE 50.0 END AS rsi_6,
    CASE WHEN gain14 + loss14 > 0 THEN 100 * gain14 / (gain14 + loss14) ELSE 50.0 END AS rsi_14,
    CASE WHEN gain48 + loss48 > 0 THEN 100 * gain48 / (gain48 + loss48) ELSE 50.0 END AS rsi_48,
    CASE WHEN hh48 > ll48 THEN (close - ll48) / (hh48 - ll48) ELSE 0.5 END AS stoch_48,
    CASE WHEN hh288 > ll288 THEN (close - ll288) / (hh288 - ll288) ELSE 0.5 END AS stoch_288,
    CASE WHEN cstd48 > 0 THEN (close - sma48) / (2 * cstd48) ELSE 0.0 END AS bb_pos_48,
    -- levels
    (hh48 - close) / atr14 AS dist_high_48_atr,
    (close - ll48) / atr14 AS dist_low_48_atr,
    (hh288 - close) / atr48 AS dist_high_288_atr,
    (close - ll288) / atr48 AS dist_low_288_atr,
    (close - day_open) / atr48 AS dist_day_open_atr,
    CASE WHEN day_high > day_low THEN (close - day_low) / (day_high - day_low) ELSE 0.5 END AS day_range_pos,
    CASE WHEN rv48 > 0 THEN r1 / rv48 ELSE 0.0 END AS ret_1_z_48,
    -- candle shape over windows
    CASE WHEN rng_sum12 > 0 THEN body_sum12 / rng_sum12 ELSE 0.0 END AS body_share_12,
    up_share12 AS up_share_12,
    up_share48 AS up_share_48,
    CASE WHEN rng_sum48 > 0 THEN upper_sum48 / rng_sum48 ELSE 0.0 END AS upper_wick_share_48,
    CASE WHEN rng_sum48 > 0 THEN lower_sum48 / rng_sum48 ELSE 0.0 END AS lower_wick_share_48,
    clv_mean12 AS clv_mean_12,
    -- spread and cost
    CASE WHEN spread_std144 > 0 THEN (spread_bps_raw - spread_mean144) / spread_std144 ELSE 0.0 END AS spread_z_144,
    CASE WHEN spread_mean576 > 0 THEN spread_mean48 / spread_mean576 ELSE 1.0 END AS spread_ratio_48_576,
    spread / atr14 AS spread_atr,
    spread_max12 AS spread_max_12_bps,
    -- tick activity
    CASE WHEN tv_mean48 > 0 THEN tv_mean12 / tv_mean48 ELSE 1.0 END AS tv_ratio_12_48,
    CASE WHEN tv_mean576 > 0 THEN tv_mean48 / tv_mean576 ELSE 1.0 END AS tv_ratio_48_576,
    CASE WHEN tv_std288 > 0 THEN (tick_volume - tv_mean288) / tv_std288 ELSE 0.0 END AS tv_z_288,
    CASE WHEN rng_sum48 > 0 THEN tv_mean48 * 48 / (rng_sum48 / close * 1e4) ELSE 0.0 END AS ticks_per_bps_48,
    CASE WHEN tv_sum24 > 0 THEN tv_signed24 / tv_sum24 ELSE 0.0 END AS tv_imbalance_24,
    CASE WHEN tv_mean288 > 0 THEN tv_slope288 * 288 / tv_mean288 ELSE 0.0 END AS tv_trend_288,
    -- calendar
    sin(2 * pi() * (isodow(ts) - 1 + (hour_utc * 60 + minute_utc) / 1440) / 7) AS week_sin,
    cos(2 * pi() * (isodow(ts) - 1 + (hour_utc * 60 + minute_utc) / 1440) / 7) AS week_cos,
    ln(1 + coalesce(pos - last_break_pos, 288)) AS bars_since_break_log,
    -- higher timeframes, closed bars only
    h1_ret_1_bps,
    h1_ret_3_bps,
    h1_ret_12_bps,
    CASE WHEN h1_gain14 + h1_loss14 > 0 THEN 100 * h1_gain14 / (h1_gain14 + h1_loss14) ELSE 50.0 END AS h1_rsi_14,
    h1_atr14 / h1_c * 1e4 AS h1_atr_14_bps,
    h1_slope24 * 24 / h1_atr14 AS h1_slope_24_atr,
    CASE WHEN h1_hh24 > h1_ll24 THEN (h1_c - h1_ll24) / (h1_hh24 - h1_ll24) ELSE 0.5 END AS h1_range_pos_24,
    CASE WHEN h1_rng6 > 0 THEN h1_body6 / h1_rng6 ELSE 0.0 END AS h1_body_share_6,
    h4_ret_1_bps,
    h4_ret_6_bps,
    CASE WHEN h4_gain14 + h4_loss14 > 0 THEN 100 * h4_gain14 / (h4_gain14 + h4_loss14) ELSE 50.0 END AS h4_rsi_14,
    (h4_c - h4_sma12) / h4_atr14 AS h4_dist_sma12_atr,
    h4_atr14 / h4_c * 1e4 AS h4_atr_14_bps,
    -- interactions
    CASE WHEN rv96 > 0 THEN ln(close / c_lag24) * 1e4 / (rv96 * sqrt(24)) ELSE 0.0 END * coalesce(r2_48, 0.0)
        AS int_mom24_r2,
    (CASE WHEN gain14 + loss14 > 0 THEN gain14 / (gain14 + loss14) ELSE 0.5 END - 0.5) * atr14 / atr96
        AS int_rsi14_atr_ratio
FROM joined
