"""Contract v1 tables: candles, context, seq_features, snap_features, eligibility, labels.

Lookbacks are the number of EARLIER bars a value depends on (upper bounds; higher-timeframe features count
the M5 bars their closed H1/H4 bars can span). Ranges are hard validity bounds: mathematical bounds where a
feature has them (ratios, shares, oscillators, sample z-scores), otherwise about twice the 2025 extremes.
"""

from __future__ import annotations

from schemas.columns import SYMBOL, TS, Column, Table
from schemas.parameters_v1 import ELIGIBILITY_REASONS, LABEL_REASONS, PARAMETERS

VOL_LOOKBACK = PARAMETERS["vol_regime_window"] + PARAMETERS["atr_window"] - 1


def feat(name: str, unit: str, lo: float, hi: float, lookback: int, description: str) -> Column:
    """A continuous model input, null only in HARD_WARMUP rows."""
    return Column(name, "float64", "feature", unit, description, (lo, hi), None, "warmup", lookback)


def cat(name: str, values: tuple[int, ...], lookback: int, description: str) -> Column:
    """A categorical model input (an embedding id, never scaled)."""
    return Column(name, "int8", "categorical", "id", description, None, values, "warmup", lookback)


CANDLES = Table(
    "candles",
    None,
    "Ingested bars in UTC, one row per (symbol, timeframe, ts).",
    (
        SYMBOL,
        Column(
            "timeframe",
            "str",
            "key",
            "",
            "Bar length, e.g. M5.",
            allowed=("M1", "M5", "M15", "M30", "H1", "H4", "D1"),
        ),
        TS,
        Column("open", "float64", "meta", "price", "Open price.", (0.0, 1e7)),
        Column("high", "float64", "meta", "price", "High price, >= open, close, low.", (0.0, 1e7)),
        Column("low", "float64", "meta", "price", "Low price, <= open, close, high.", (0.0, 1e7)),
        Column("close", "float64", "meta", "price", "Close price.", (0.0, 1e7)),
        Column(
            "tick_volume",
            "int64",
            "meta",
            "ticks",
            "Price updates in the bar; null when the source has none.",
            (0, 1e9),
            nullable="warmup",
        ),
        Column(
            "spread",
            "float64",
            "meta",
            "price",
            "Spread in price units (points x point size, or ask - bid).",
            (0.0, 1e5),
        ),
    ),
    grain=("symbol", "timeframe", "ts"),
)

CONTEXT = Table(
    "context",
    "10_context.sql",
    "The seven ENTRY_V10_CTX context inputs (seed names and ids).",
    (
        SYMBOL,
        TS,
        cat(
            "session_id",
            (0, 1, 2, 3),
            0,
            "Session of the bar's UTC hour: ASIA=0 [22,07), EU=1 [07,12), US=2 [16,22), OVERLAP=3 [12,16).",
        ),
        cat(
            "trend_regime_id",
            (0, 1, 2),
            96,
            "DOWN=0 / NEUTRAL=1 / UP=2: (close - 96-bar mean close) / 96-bar mean "
            "true range, beyond -/+ trend_threshold.",
        ),
        cat(
            "vol_regime_id",
            (0, 1, 2, 3),
            VOL_LOOKBACK,
            "LOW=0 / MEDIUM=1 / HIGH=2 / EXTREME=3: atr_bps against the "
            "p33 / p67 / p95 of the trailing vol_regime_window atr_bps values (current bar included).",
        ),
        feat(
            "atr_bps",
            "bps",
            0.0,
            1000.0,
            14,
            "Mean true range of the last 14 bars / close x 1e4, clipped to [0, 1000].",
        ),
        cat("atr_bucket", (0, 1, 2, 3), 14, "atr_bps against the fixed atr_bucket_thresholds."),
        feat("spread_bps", "bps", 0.0, 500.0, 0, "Spread in price units / close x 1e4, clipped to [0, 500]."),
        cat("spread_bucket", (0, 1, 2), 0, "spread_bps against the fixed spread_bucket_thresholds."),
    ),
)

SEQ_FEATURES = Table(
    "seq_features",
    "20_seq_features.sql",
    "The 13 per-bar sequence features; ATR = mean true range of the last 14 bars.",
    (
        SYMBOL,
        TS,
        feat("ret_1_bps", "bps", -1000, 1000, 1, "Log return close / previous close x 1e4."),
        feat("range_atr", "ATR", 0, 50, 14, "High - low in ATR units."),
        feat("body_atr", "ATR", -50, 50, 14, "Close - open in ATR units (signed)."),
        feat("upper_wick_atr", "ATR", 0, 50, 14, "High - max(open, close) in ATR units."),
        feat("lower_wick_atr", "ATR", 0, 50, 14, "Min(open, close) - low in ATR units."),
        feat("close_pos_20", "share", 0, 1, 19, "Close within the 20-bar low..high (0.5 for a flat range)."),
        feat("dist_sma20_atr", "ATR", -50, 50, 19, "Close - 20-bar mean close, in ATR units."),
        feat(
            "slope_20_atr",
            "ATR",
            -60,
            60,
            19,
            "Least-squares slope of close over 20 bars x 20, in ATR units.",
        ),
        feat(
            "rv_ratio_12_48",
            "ratio",
            0,
            7,
            48,
            "Std of 1-bar returns over 12 bars / over 48 bars (1 if flat).",
        ),
        feat(
            "tick_volume_z_48", "z", -6.8, 6.8, 47, "Z-score of tick volume in the last 48 bars (0 if flat)."
        ),
        feat("spread_rel_48", "ratio", 0, 48, 47, "Spread / its 48-bar mean (1 if the mean is 0)."),
        feat("tod_sin", "unit", -1, 1, 0, "Sine of the UTC time of day (bar open)."),
        feat("tod_cos", "unit", -1, 1, 0, "Cosine of the UTC time of day (bar open)."),
    ),
)

_H1, _H4 = 12, 48  # M5 bars per H1 / H4 bar: a feature using n closed HTF bars looks back (n + 1) x this


def _snap() -> tuple[Column, ...]:
    f = feat
    return (
        # returns
        f("ret_2_bps", "bps", -2000, 2000, 2, "Log return over 2 bars x 1e4."),
        f("ret_3_bps", "bps", -2000, 2000, 3, "Log return over 3 bars x 1e4."),
        f("ret_6_bps", "bps", -2000, 2000, 6, "Log return over 6 bars x 1e4."),
        f("ret_12_bps", "bps", -3000, 3000, 12, "Log return over 12 bars (1 h) x 1e4."),
        f("ret_24_bps", "bps", -3000, 3000, 24, "Log return over 24 bars x 1e4."),
        f("ret_48_bps", "bps", -4000, 4000, 48, "Log return over 48 bars x 1e4."),
        f("ret_96_bps", "bps", -5000, 5000, 96, "Log return over 96 bars x 1e4."),
        f("ret_288_bps", "bps", -6000, 6000, 288, "Log return over 288 bars (about a day) x 1e4."),
        f("mom_6_z", "z", -30, 30, 96, "6-bar return / (96-bar std of 1-bar returns x sqrt 6); 0 if flat."),
        f("mom_24_z", "z", -30, 30, 96, "24-bar return / (96-bar return std x sqrt 24); 0 if flat."),
        f("mom_96_z", "z", -30, 30, 96, "96-bar return / (96-bar return std x sqrt 96); 0 if flat."),
        f("mom_288_z", "z", -30, 30, 576, "288-bar return / (576-bar return std x sqrt 288); 0 if flat."),
        # volatility and range
        f("rv_12_bps", "bps", 0, 500, 12, "Std of 1-bar log returns over 12 bars."),
        f("rv_48_bps", "bps", 0, 500, 48, "Std of 1-bar log returns over 48 bars."),
        f("rv_144_bps", "bps", 0, 500, 144, "Std of 1-bar log returns over 144 bars."),
        f("rv_576_bps", "bps", 0, 500, 576, "Std of 1-bar log returns over 576 bars."),
        f("atr_48_bps", "bps", 0, 1000, 48, "Mean true range over 48 bars / close x 1e4."),
        f("atr_288_bps", "bps", 0, 1000, 288, "Mean true range over 288 bars / close x 1e4."),
        f("atr_ratio_14_96", "ratio", 0, 14, 96, "14-bar ATR / 96-bar ATR."),
        f("atr_ratio_48_576", "ratio", 0, 12, 576, "48-bar ATR / 576-bar ATR."),
        f("rv_ratio_48_576", "ratio", 0, 12, 576, "48-bar / 576-bar std of 1-bar returns (1 if flat)."),
        f(
            "range_z_48",
            "z",
            -6.8,
            6.8,
            47,
            "Z-score of the bar's range within the last 48 ranges (0 if flat).",
        ),
        f("tr_max_12_atr", "ATR", 0, 48, 48, "Largest true range of the last 12 bars / 48-bar ATR."),
        f(
            "downside_share_48",
            "share",
            0,
            1,
            48,
            "Root mean square of negative 1-bar returns / of all, 48 bars.",
        ),
        f(
            "kurt_48",
            "excess kurtosis",
            -3,
            48,
            48,
            "Excess kurtosis of 1-bar returns over 48 bars (0 if flat).",
        ),
        f("skew_48", "skewness", -7, 7, 48, "Skewness of 1-bar returns over 48 bars (0 if flat)."),
        # trend and slope
        f(
            "slope_48_atr",
            "ATR",
            -100,
            100,
            48,
            "Least-squares slope of close over 48 bars x 48 / 48-bar ATR.",
        ),
        f("slope_144_atr", "ATR", -150, 150, 143, "Slope of close over 144 bars x 144 / 96-bar ATR."),
        f("slope_576_atr", "ATR", -300, 300, 576, "Slope of close over 576 bars x 576 / 576-bar ATR."),
        f("r2_48", "share", 0, 1, 47, "R squared of close on time over 48 bars (trend cleanliness)."),
        f("r2_144", "share", 0, 1, 143, "R squared of close on time over 144 bars."),
        f("dist_sma48_atr", "ATR", -60, 60, 48, "Close - 48-bar mean close, in 48-bar ATR."),
        f("dist_sma144_atr", "ATR", -80, 80, 143, "Close - 144-bar mean close, in 96-bar ATR."),
        f("dist_sma576_atr", "ATR", -150, 150, 576, "Close - 576-bar mean close, in 576-bar ATR."),
        f("sma_cross_12_48_atr", "ATR", -50, 50, 48, "12-bar mean close - 48-bar mean close, in 48-bar ATR."),
        f(
            "sma_cross_48_288_atr",
            "ATR",
            -80,
            80,
            288,
            "48-bar mean close - 288-bar mean close, in 288-bar ATR.",
        ),
        f("efficiency_24", "share", 0, 1, 24, "|24-bar close change| / sum of |1-bar changes| (0 if flat)."),
        f("efficiency_96", "share", 0, 1, 96, "|96-bar close change| / sum of |1-bar changes| (0 if flat)."),
        # oscillators
        f(
            "rsi_6",
            "0-100",
            0,
            100,
            6,
            "Up-moves / all moves of close over 6 bars x 100 (RSI on simple sums; 50 if flat).",
        ),
        f("rsi_14", "0-100", 0, 100, 14, "As rsi_6 over 14 bars."),
        f("rsi_48", "0-100", 0, 100, 48, "As rsi_6 over 48 bars."),
        f("stoch_48", "share", 0, 1, 47, "Close within the 48-bar low..high (0.5 for a flat range)."),
        f("stoch_288", "share", 0, 1, 287, "Close within the 288-bar low..high (0.5 for a flat range)."),
        f(
            "bb_pos_48",
            "band",
            -3.5,
            3.5,
            47,
            "(Close - 48-bar mean) / (2 x 48-bar std of close); 0 if flat.",
        ),
        # levels
        f("dist_high_48_atr", "ATR", 0, 100, 47, "48-bar high - close, in 14-bar ATR."),
        f("dist_low_48_atr", "ATR", 0, 100, 47, "Close - 48-bar low, in 14-bar ATR."),
        f("dist_high_288_atr", "ATR", 0, 150, 287, "288-bar high - close, in 48-bar ATR."),
        f("dist_low_288_atr", "ATR", 0, 150, 287, "Close - 288-bar low, in 48-bar ATR."),
        f(
            "dist_day_open_atr",
            "ATR",
            -120,
            120,
            288,
            "Close - first open of the UTC day so far, in 48-bar ATR.",
        ),
        f("day_range_pos", "share", 0, 1, 288, "Close within the UTC day's low..high so far (0.5 if flat)."),
        f("ret_1_z_48", "z", -50, 50, 48, "1-bar log return / 48-bar std of 1-bar returns (0 if flat)."),
        # candle shape
        f(
            "body_share_12",
            "share",
            0,
            1,
            11,
            "Sum of |close - open| / sum of ranges over 12 bars (0 if flat).",
        ),
        f("up_share_12", "share", 0, 1, 11, "Share of the last 12 bars that closed above their open."),
        f("up_share_48", "share", 0, 1, 47, "Share of the last 48 bars that closed above their open."),
        f(
            "upper_wick_share_48",
            "share",
            0,
            1,
            47,
            "Sum of upper wicks / sum of ranges over 48 bars (0 if flat).",
        ),
        f(
            "lower_wick_share_48",
            "share",
            0,
            1,
            47,
            "Sum of lower wicks / sum of ranges over 48 bars (0 if flat).",
        ),
        f(
            "clv_mean_12",
            "share",
            0,
            1,
            11,
            "Mean of (close - low) / range over 12 bars (0.5 for a flat bar).",
        ),
        # spread and cost
        f("spread_z_144", "z", -12, 12, 143, "Z-score of spread_bps within the last 144 bars (0 if flat)."),
        f(
            "spread_ratio_48_576",
            "ratio",
            0,
            12,
            575,
            "Mean spread of 48 bars / of 576 bars (1 if the mean is 0).",
        ),
        f("spread_atr", "ATR", 0, 20, 14, "Spread in 14-bar ATR units: the cost of a round trip in ATR."),
        f("spread_max_12_bps", "bps", 0, 500, 11, "Largest spread_bps of the last 12 bars (unclipped)."),
        # tick activity
        f("tv_ratio_12_48", "ratio", 0, 4, 47, "Mean tick volume of 12 bars / of 48 bars (1 if none)."),
        f("tv_ratio_48_576", "ratio", 0, 12, 575, "Mean tick volume of 48 bars / of 576 bars (1 if none)."),
        f("tv_z_288", "z", -17, 17, 287, "Z-score of tick volume within the last 288 bars (0 if flat)."),
        f("ticks_per_bps_48", "ticks/bps", 0, 100000, 47, "Ticks per bps of range over 48 bars (0 if flat)."),
        f("tv_imbalance_24", "share", -1, 1, 23, "Tick volume of up bars minus down bars / all, 24 bars."),
        f("tv_trend_288", "ratio", -10, 10, 287, "Slope of tick volume over 288 bars x 288 / its mean."),
        # calendar
        f("week_sin", "unit", -1, 1, 0, "Sine of the position in the UTC week (Monday 00:00 = 0)."),
        f("week_cos", "unit", -1, 1, 0, "Cosine of the position in the UTC week."),
        f(
            "bars_since_break_log",
            "log",
            0,
            5.7,
            288,
            "ln(1 + bars since the last gap > gap_cooldown_minutes), capped at 288 bars.",
        ),
        # higher timeframes (closed bars only)
        f("h1_ret_1_bps", "bps", -2000, 2000, 2 * _H1 + _H1, "Log return of the last closed H1 bar x 1e4."),
        f(
            "h1_ret_3_bps",
            "bps",
            -3000,
            3000,
            4 * _H1 + _H1,
            "Log return over the last 3 closed H1 bars x 1e4.",
        ),
        f(
            "h1_ret_12_bps",
            "bps",
            -5000,
            5000,
            13 * _H1 + _H1,
            "Log return over the last 12 closed H1 bars x 1e4.",
        ),
        f("h1_rsi_14", "0-100", 0, 100, 15 * _H1 + _H1, "rsi on the last 14 closed H1 closes."),
        f(
            "h1_atr_14_bps",
            "bps",
            0,
            2000,
            15 * _H1 + _H1,
            "Mean true range of the last 14 closed H1 bars / close x 1e4.",
        ),
        f("h1_slope_24_atr", "ATR", -60, 60, 25 * _H1 + _H1, "Slope of the last 24 H1 closes x 24 / H1 ATR."),
        f(
            "h1_range_pos_24",
            "share",
            0,
            1,
            25 * _H1 + _H1,
            "Last H1 close within the low..high of 24 H1 bars.",
        ),
        f(
            "h1_body_share_6",
            "share",
            0,
            1,
            6 * _H1 + _H1,
            "Sum of |close - open| / sum of ranges of 6 H1 bars.",
        ),
        f("h4_ret_1_bps", "bps", -3000, 3000, 2 * _H4 + _H4, "Log return of the last closed H4 bar x 1e4."),
        f(
            "h4_ret_6_bps",
            "bps",
            -6000,
            6000,
            7 * _H4 + _H4,
            "Log return over the last 6 closed H4 bars x 1e4.",
        ),
        f("h4_rsi_14", "0-100", 0, 100, 15 * _H4 + _H4, "rsi on the last 14 closed H4 closes."),
        f(
            "h4_dist_sma12_atr",
            "ATR",
            -15,
            15,
            15 * _H4 + _H4,
            "Last H4 close - mean of 12 H4 closes, in H4 ATR.",
        ),
        f(
            "h4_atr_14_bps",
            "bps",
            0,
            4000,
            15 * _H4 + _H4,
            "Mean true range of the last 14 closed H4 bars / close x 1e4.",
        ),
        # interactions
        f("int_mom24_r2", "z", -30, 30, 96, "mom_24_z x r2_48: momentum weighted by trend cleanliness."),
        f("int_rsi14_atr_ratio", "ratio", -7, 7, 96, "(rsi_14 / 100 - 0.5) x atr_ratio_14_96."),
    )


SNAP_FEATURES = Table(
    "snap_features",
    "30_snap_features.sql",
    "The 85 snapshot features of the decision bar.",
    (SYMBOL, TS, *_snap()),
)

ELIGIBILITY = Table(
    "eligibility",
    "40_eligibility.sql",
    "Hard and soft eligibility at the bar's close: status and the first failing reason.",
    (
        SYMBOL,
        TS,
        Column(
            "status",
            "str",
            "status",
            "",
            "ELIGIBLE, HARD_BLOCK or SOFT_BLOCK.",
            allowed=("ELIGIBLE", "HARD_BLOCK", "SOFT_BLOCK"),
        ),
        Column(
            "reason",
            "str",
            "status",
            "",
            "The first failing check, in contract order; ELIGIBLE if none.",
            allowed=ELIGIBILITY_REASONS,
            lookback=VOL_LOOKBACK,
        ),
        Column(
            "eligible", "bool", "status", "", "reason = ELIGIBLE: the rows training and live trading use."
        ),
    ),
)

LABELS = Table(
    "labels",
    "50_labels.sql",
    "Triple-barrier labels of a long entry at the next open; the only table that looks forward.",
    (
        SYMBOL,
        TS,
        Column("label_available", "bool", "status", "", "Whether the labels could be computed."),
        Column("label_reason", "str", "status", "", "LABEL_AVAILABLE or why not.", allowed=LABEL_REASONS),
        Column(
            "y_direction",
            "int8",
            "label",
            "class",
            "1 if the upper barrier is hit first, else 0; neither "
            "hit: 1 if the net return at the horizon is > 0.",
            allowed=(0, 1),
            nullable="label_unavailable",
        ),
        Column(
            "y_early_move",
            "int8",
            "label",
            "class",
            "1 if the favourable excursion of the first "
            "early_move_bars bars reaches early_move_atr_mult x atr_bps.",
            allowed=(0, 1),
            nullable="label_unavailable",
        ),
        Column(
            "y_quality_score",
            "float64",
            "label",
            "score",
            "clip((MFE - MAE) / (2 x atr_bps), -1, 1) until the label resolves.",
            (-1.0, 1.0),
            nullable="label_unavailable",
        ),
        Column(
            "ambiguous_bar",
            "bool",
            "label",
            "",
            "One bar touched both barriers (counted as a loss).",
            nullable="label_unavailable",
        ),
        Column(
            "t1",
            "datetime",
            "label",
            "UTC",
            "Close time of the last bar any label of the row needs.",
            nullable="label_unavailable",
        ),
    ),
)

MATERIALIZED_TABLES = (CONTEXT, SEQ_FEATURES, SNAP_FEATURES, ELIGIBILITY, LABELS)
