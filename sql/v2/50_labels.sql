-- name: labels
-- version: v2
-- grain: (symbol, ts)
-- depends_on: bars, context
-- description: Long entry at the next bar's open plus the spread at ts and {{commission_bps}} bps commission.
--   Barriers at +/- {{barrier_atr_mult}} x atr_bps around the entry; horizon {{label_horizon_bars}} bars
--   counted on bars and never across a gap of more than {{label_max_gap_minutes}} minutes. y_direction = 1
--   when the upper barrier is touched first (a bar touching both counts as a loss and sets
--   ambiguous_bar), else the sign of the net return at the horizon. y_early_move = 1 when the maximum
--   favourable excursion of the first {{early_move_bars}} bars reaches {{early_move_atr_mult}} x atr_bps.
--   y_quality_score = clip((MFE - MAE) / (2 x atr_bps), -1, 1) over the bars until the label resolves.
--   t1 = close time of the last bar any label needs. realized_bps = the net result in bps of that long trade:
--   exit at the barrier touched first (the lower one for an ambiguous bar), else at the horizon's close,
--   against the entry with its costs. This is the only file that looks forward.
WITH d AS (
    SELECT
        b.pos,
        b.symbol,
        b.ts,
        c.atr_bps,
        (lead(b.open) OVER (ORDER BY b.pos) + b.spread) * (1 + {{commission_bps}} / 1e4) AS entry
    FROM bars b
    JOIN context c ON c.ts = b.ts
),
path AS (
    SELECT
        d.pos,
        r.k,
        p.ts AS path_ts,
        p.high,
        p.low,
        p.close,
        p.gap_minutes,
        d.entry,
        d.entry * (1 + {{barrier_atr_mult}} * d.atr_bps / 1e4) AS upper,
        d.entry * (1 - {{barrier_atr_mult}} * d.atr_bps / 1e4) AS lower
    FROM d
    CROSS JOIN range(1, {{label_horizon_bars}} + 1) AS r(k)
    JOIN bars p ON p.pos = d.pos + r.k
),
first_touch AS (
    SELECT
        pos,
        count(*) AS n_path,
        max(gap_minutes) AS max_gap,
        min(k) FILTER (WHERE high >= upper) AS k_up,
        min(k) FILTER (WHERE low <= lower) AS k_down,
        max(close) FILTER (WHERE k = {{label_horizon_bars}}) AS close_h,
        max(high) FILTER (WHERE k <= {{early_move_bars}}) AS early_high
    FROM path
    GROUP BY pos
),
resolved AS (
    SELECT
        f.*,
        least(coalesce(k_up, {{label_horizon_bars}}), coalesce(k_down, {{label_horizon_bars}})) AS k_resolve
    FROM first_touch f
),
excursion AS (
    SELECT
        p.pos,
        max(p.high) FILTER (WHERE p.k <= r.k_resolve) AS high_to_resolve,
        min(p.low) FILTER (WHERE p.k <= r.k_resolve) AS low_to_resolve,
        max(p.path_ts) FILTER (WHERE p.k = greatest(r.k_resolve, {{early_move_bars}})) AS last_needed_ts
    FROM path p
    JOIN resolved r ON r.pos = p.pos
    GROUP BY p.pos
),
labelled AS (
    SELECT
        d.symbol,
        d.ts,
        d.entry,
        d.atr_bps,
        d.entry * (1 + {{barrier_atr_mult}} * d.atr_bps / 1e4) AS upper,
        d.entry * (1 - {{barrier_atr_mult}} * d.atr_bps / 1e4) AS lower,
        r.k_up,
        r.k_down,
        r.close_h,
        r.early_high,
        x.high_to_resolve,
        x.low_to_resolve,
        x.last_needed_ts,
        CASE
            WHEN d.pos < {{warmup_bars}} THEN 'LABEL_UNAVAILABLE_WARMUP'
            WHEN coalesce(r.n_path, 0) < {{label_horizon_bars}} THEN 'LABEL_UNAVAILABLE_END_OF_DATA'
            WHEN r.max_gap > {{label_max_gap_minutes}} THEN 'LABEL_UNAVAILABLE_GAP'
            ELSE 'LABEL_AVAILABLE'
        END AS label_reason
    FROM d
    LEFT JOIN resolved r ON r.pos = d.pos
    LEFT JOIN excursion x ON x.pos = d.pos
)
SELECT
    symbol,
    ts,
    label_reason = 'LABEL_AVAILABLE' AS label_available,
    label_reason,
    CASE WHEN label_reason = 'LABEL_AVAILABLE' THEN
        CASE
            WHEN k_up IS NOT NULL AND (k_down IS NULL OR k_up < k_down) THEN 1
            WHEN k_up IS NULL AND k_down IS NULL AND close_h > entry THEN 1
            ELSE 0
        END
    END::TINYINT AS y_direction,
    CASE WHEN label_reason = 'LABEL_AVAILABLE' THEN
        ((early_high - entry) / entry * 1e4 >= {{early_move_atr_mult}} * atr_bps)::TINYINT
    END AS y_early_move,
    CASE WHEN label_reason = 'LABEL_AVAILABLE' THEN
        least(greatest(
            ((high_to_resolve - entry) - (entry - low_to_resolve)) / entry * 1e4 / (2 * greatest(atr_bps, 1e-6)),
            -1), 1)
    END AS y_quality_score,
    CASE WHEN label_reason = 'LABEL_AVAILABLE' THEN coalesce(k_up = k_down, false) END AS ambiguous_bar,
    CASE WHEN label_reason = 'LABEL_AVAILABLE' THEN
        last_needed_ts + INTERVAL ({{timeframe_minutes}}) MINUTE
    END AS t1,
    CASE WHEN label_reason = 'LABEL_AVAILABLE' THEN
        (CASE
            WHEN k_down IS NOT NULL AND (k_up IS NULL OR k_down <= k_up) THEN lower
            WHEN k_up IS NOT NULL THEN upper
            ELSE close_h
        END / entry - 1) * 1e4
    END AS realized_bps
FROM labelled
