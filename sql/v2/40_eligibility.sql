-- name: eligibility
-- version: v2
-- grain: (symbol, ts)
-- depends_on: bars, context, blocked_intervals
-- description: Whether a live system would evaluate the bar, known at its close. The first failing check
--   gives the reason, in this order: HARD_WARMUP (fewer than {{warmup_bars}} earlier bars), HARD_SESSION_BLOCK
--   (a blocked session), HARD_SPREAD_CAP (spread_bps above {{spread_cap_bps}}), HARD_KILLSWITCH (the bar
--   overlaps a user-declared blocked interval), HARD_GAP_COOLDOWN (one of the first {{gap_cooldown_bars}} bars
--   after a gap of more than {{gap_cooldown_minutes}} minutes), SOFT_VOL_EXTREME (vol_regime_id = 3).
--   minutes_since_prev (minutes since the previous bar of the slice) is informational: no check reads it.
WITH e AS (
    SELECT
        b.symbol,
        b.ts,
        b.pos,
        b.gap_minutes,
        c.session_id,
        c.spread_bps,
        c.vol_regime_id,
        max(CASE WHEN b.gap_minutes > {{gap_cooldown_minutes}} THEN b.pos END) OVER (
            ORDER BY b.pos ROWS BETWEEN {{gap_cooldown_bars}} - 1 PRECEDING AND CURRENT ROW
        ) AS recent_gap_pos,
        EXISTS (
            SELECT 1 FROM blocked_intervals k
            WHERE b.ts < k.end_ts AND b.ts + INTERVAL ({{timeframe_minutes}}) MINUTE > k.start_ts
        ) AS killswitch
    FROM bars b
    JOIN context c ON c.ts = b.ts
),
r AS (
    SELECT
        symbol,
        ts,
        gap_minutes,
        CASE
            WHEN pos < {{warmup_bars}} THEN 'HARD_WARMUP'
            WHEN list_contains({{blocked_sessions}}, session_id) THEN 'HARD_SESSION_BLOCK'
            WHEN spread_bps > {{spread_cap_bps}} THEN 'HARD_SPREAD_CAP'
            WHEN killswitch THEN 'HARD_KILLSWITCH'
            WHEN recent_gap_pos IS NOT NULL THEN 'HARD_GAP_COOLDOWN'
            WHEN vol_regime_id = 3 THEN 'SOFT_VOL_EXTREME'
            ELSE 'ELIGIBLE'
        END AS reason
    FROM e
)
SELECT
    symbol,
    ts,
    CASE
        WHEN reason LIKE 'HARD_%' THEN 'HARD_BLOCK'
        WHEN reason LIKE 'SOFT_%' THEN 'SOFT_BLOCK'
        ELSE 'ELIGIBLE'
    END AS status,
    reason,
    reason = 'ELIGIBLE' AS eligible,
    gap_minutes AS minutes_since_prev
FROM r
