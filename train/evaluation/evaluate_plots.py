"""The PNGs of `train evaluate`, drawn from report.json's numbers (each with its interval), beside it.

- ``per_fold_metrics.png``: direction log loss and AUC per fold, each variant and each baseline with its
  95% interval (block bootstrap by trading day on the fold's test block). The logistic baseline's AUC is a
  point without a bar (its interval comes from per-day scores, which an AUC does not decompose into).
- ``reliability.png``: the pooled reliability diagram per variant: observed y_direction rate against mean
  p_long per decile of p_long, each bin's rate with its interval (the bins' n in the title).
- ``tau_curve.png``: mean realized_bps per p_long threshold with its interval, against the random band; the
  title gives the SPA p-value of all the rules against staying flat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from train.evaluation.rule_family import p_text
from train.fitting.plots import plt, save_figure

TAU_PLOT = "tau_curve.png"
PER_FOLD_PLOT = "per_fold_metrics.png"
RELIABILITY_PLOT = "reliability.png"
NAN = float("nan")


def write_plots(report: dict[str, Any], out: Path) -> dict[str, str]:
    """Draw every plot into ``out``; returns {plot: file name} (relative to the report directory)."""
    out = Path(out)
    plot_per_fold(report, out / PER_FOLD_PLOT)
    plot_reliability(report, out / RELIABILITY_PLOT)
    plot_tau_curves(report, out / TAU_PLOT)
    return {"per_fold_metrics": PER_FOLD_PLOT, "reliability": RELIABILITY_PLOT, "tau_curve": TAU_PLOT}


def _point(interval: dict[str, Any] | None) -> tuple[float, float, float]:
    if not interval:
        return NAN, NAN, NAN
    return interval["estimate"], interval["low"], interval["high"]


def per_fold_series(report: dict[str, Any], metric: str) -> dict[str, list[tuple[float, float, float]]]:
    """(estimate, low, high) per fold of the direction ``metric`` for each variant and baseline."""
    series: dict[str, list[tuple[float, float, float]]] = {}
    for variant, folds in report["per_fold"].items():
        series[variant] = [_point(f["metrics"]["intervals"]["direction"].get(metric)) for f in folds]
    first = next(iter(report["per_fold"].values()))  # baselines are shared by the variants of a fold
    for name in ("prior", "logistic", "base_model"):
        points = []
        for f in first:
            interval = f["metrics"]["baseline_intervals"][name]["direction"].get(metric)
            if interval is None and name == "logistic":
                value = f["metrics"]["baselines"]["direction"]["logistic"][metric]
                points.append((value, NAN, NAN))
            else:
                points.append(_point(interval))
        if not all(np.isnan(p[0]) for p in points):
            series["base model alone" if name == "base_model" else name] = points
    return series


def _core_range(series: dict[str, list[tuple[float, float, float]]]) -> tuple[float, float]:
    """A y range that shows every series whose estimates lie near the variants' (a baseline far off, such
    as an overfitted logistic model's log loss, is drawn at the edge with its value written beside it)."""
    values = np.array([v for points in series.values() for p in points for v in p], dtype=float)
    variants = np.array([v for name in series if name.startswith("v10") for p in series[name] for v in p])
    values, variants = values[np.isfinite(values)], variants[np.isfinite(variants)]
    if len(variants) == 0 or len(values) == 0:
        return (0.0, 1.0) if len(values) == 0 else (float(values.min()), float(values.max()))
    lo, hi = float(variants.min()), float(variants.max())
    span = max(hi - lo, 1e-3)
    near = values[(values >= lo - 2 * span) & (values <= hi + 2 * span)]
    lo, hi = float(near.min()), float(near.max())
    margin = 0.08 * max(hi - lo, 1e-3)
    return lo - margin, hi + margin


def plot_per_fold(report: dict[str, Any], path: Path) -> Path:
    metrics = (("log_loss", "direction log loss (lower is better)"), ("auc", "direction AUC"))
    names = [*report["per_fold"], "prior", "logistic", "base model alone"]
    colors = {name: f"C{i}" for i, name in enumerate(names)}
    fig, axes = plt.subplots(1, len(metrics), figsize=(12, 4.5), squeeze=False)
    for ax, (metric, title) in zip(axes[0], metrics, strict=True):
        series = per_fold_series(report, metric)
        low_edge, high_edge = _core_range(series)
        width = 0.8 / max(len(series), 1)
        for i, (name, points) in enumerate(series.items()):
            x = np.arange(len(points)) + (i - (len(series) - 1) / 2) * width
            est, low, high = (np.array(v, dtype=float) for v in zip(*points, strict=True))
            off = est > high_edge
            shown = np.where(off, high_edge, est)
            bar = np.isfinite(low) & np.isfinite(high) & ~off
            color = colors[name]
            if bar.any():
                ax.errorbar(x[bar], est[bar], yerr=[est[bar] - low[bar], high[bar] - est[bar]], fmt="o",
                            capsize=3, color=color, label=name)  # fmt: skip
            rest = ~bar
            if rest.any():
                label = None if bar.any() else f"{name} (off scale)" if off.any() else f"{name} (no interval)"
                ax.plot(x[rest], shown[rest], "^" if off.any() else "o", mfc="none", color=color, label=label)
            for k in np.flatnonzero(off):
                ax.annotate(f"{est[k]:.2f} [{low[k]:.2f}, {high[k]:.2f}] off scale", (x[k], high_edge),
                            fontsize=7, color=color, xytext=(3, -10), textcoords="offset points")  # fmt: skip
        if metric == "auc":
            ax.axhline(0.5, color="black", linewidth=0.8)
        ax.set_ylim(low_edge, high_edge + 0.02 * (high_edge - low_edge))
        folds = [f["fold"] for f in report["folds"]]
        ax.set_xticks(range(len(folds)), [f"fold {k}" for k in folds])
        ax.set(title=f"{title}, 95% interval by trading day", ylabel=metric)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_reliability(report: dict[str, Any], path: Path) -> Path:
    variants = list(report["pooled"])
    fig, axes = plt.subplots(1, len(variants), figsize=(5.5 * len(variants), 5), squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        table = report["pooled"][variant]["reliability_direction"]
        mean_p = np.array([r["mean_p"] for r in table])
        observed = np.array([r["observed"] for r in table])
        low = np.array([r["low"] for r in table])
        high = np.array([r["high"] for r in table])
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
        ax.errorbar(mean_p, observed, yerr=[observed - low, high - observed], fmt="o-", capsize=3,
                    label="observed rate, 95% interval")  # fmt: skip
        span = [min(mean_p.min(), low.min()) - 0.05, max(mean_p.max(), high.max()) + 0.05]
        ax.set(xlim=span, ylim=span, xlabel="mean p_long (decile bin)", ylabel="observed y_direction rate")
        counts = [r["n"] for r in table]
        ax.set_title(
            f"{variant}: reliability, pooled test blocks\n{len(table)} bins of p_long, n {min(counts)}-"
            f"{max(counts)} per bin, {sum(counts)} rows"
        )
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_tau_curves(report: dict[str, Any], path: Path) -> Path:
    """Mean realized_bps per p_long threshold with its interval, against the random-entry band."""
    variants = list(report["pooled"])
    fig, axes = plt.subplots(1, len(variants), figsize=(6 * len(variants), 4), squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        rows = [r for r in report["pooled"][variant]["trades"]["table"] if r["rule"].startswith("p_long >=")]
        taus = [r["cut"] for r in rows]
        mean = [r["mean_bps"] for r in rows]
        low = [r.get("intervals", {}).get("mean_bps", {}).get("low", NAN) for r in rows]
        high = [r.get("intervals", {}).get("mean_bps", {}).get("high", NAN) for r in rows]
        band = [r["random_band"]["mean_bps"] if r["random_band"] else [NAN] * 2 for r in rows]
        ax.fill_between(
            taus,
            [b[0] for b in band],
            [b[1] for b in band],
            color="grey",
            alpha=0.3,
            label="random entry, same rate (2.5-97.5%)",
        )
        ax.fill_between(taus, low, high, color="C0", alpha=0.25, label="95% interval (days)")
        ax.plot(taus, mean, "o-", color="C0", label="mean realized_bps")
        ax.axhline(0.0, color="black", linewidth=0.8)
        family = report["pooled"][variant]["rule_family"]
        spa = family["benchmarks"]["no position"]
        title = (
            f"{variant}: long entries at p_long >= tau\n"
            f"best of {len(family['rules'])} rules vs staying flat: "
            f"SPA p {p_text(spa['p_values']['consistent'], family['reps'])} over {spa['days']} days"
        )
        ax.set(title=title, xlabel="tau", ylabel="mean realized_bps")
        ax.legend(fontsize=8)
    return save_figure(fig, path)
