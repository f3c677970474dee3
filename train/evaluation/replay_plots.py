"""The replay plots: p_long by context bucket (one box per model), the eligibility funnel, and the p_long
histogram with the context ablation (all context permuted); `write_plots` draws them all into a replay
report directory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from train.evaluation.telemetry import GROUPINGS
from train.fitting.plots import plt, save_figure


def plot_by_bucket(title: str, series: Mapping[str, Mapping[str, np.ndarray]], path: Path) -> Path:
    """Box plots of p_long per bucket; one box per model (series) in each bucket, n printed below."""
    models = list(series)
    buckets = list(next(iter(series.values())))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(buckets) * len(models)), 4.5))
    width = 0.8 / len(models)
    for m, model in enumerate(models):
        positions = [b + (m - (len(models) - 1) / 2) * width for b in range(len(buckets))]
        data = [series[model][bucket] for bucket in buckets]
        kept = [(pos, d) for pos, d in zip(positions, data, strict=True) if len(d)]
        if kept:
            box = ax.boxplot(
                [d for _, d in kept],
                positions=[p for p, _ in kept],
                widths=width * 0.9,
                showfliers=False,
                patch_artist=True,
            )
            for patch in box["boxes"]:
                patch.set_facecolor(f"C{m}")
                patch.set_alpha(0.5)
        ax.plot([], [], color=f"C{m}", linewidth=8, alpha=0.5, label=model)
    ax.set_xticks(range(len(buckets)))
    labels = [
        f"{bucket}\n" + " / ".join(f"n={len(series[model][bucket]):,}" for model in models)
        for bucket in buckets
    ]
    ax.set_xticklabels(labels)
    ax.set_ylabel("p_long")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return save_figure(fig, path)


def plot_funnel(funnel: Mapping[str, int], path: Path) -> Path:
    """Cycles, hard-eligible, eligible and predicted as horizontal bars with counts and shares."""
    stages = ["cycles", "hard_eligible", "eligible", "predicted"]
    counts = [funnel[s] for s in stages]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh(stages[::-1], counts[::-1], color="C0", alpha=0.7)
    total = max(counts[0], 1)
    for y, count in enumerate(counts[::-1]):
        ax.text(count, y, f" {count:,} ({count / total:.1%})", va="center")
    ax.set_xlim(0, total * 1.3)
    ax.set_xlabel("cycles (bars)")
    ax.set_title("Eligibility funnel of the replayed cycles")
    return save_figure(fig, path)


def plot_p_long_hist(p: np.ndarray, p_shuffled: np.ndarray, path: Path) -> Path:
    """p_long over all predicted cycles, and with all context permuted (the first of the K permutations)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    if len(p):
        bins = np.linspace(min(p.min(), p_shuffled.min()), max(p.max(), p_shuffled.max()) + 1e-9, 60)
        ax.hist(p, bins=bins, alpha=0.6, label="p_long")
        ax.hist(p_shuffled, bins=bins, alpha=0.6, label="p_long, all context permuted")
        ax.legend()
    ax.set_xlabel("p_long")
    ax.set_ylabel("cycles")
    ax.set_title("p_long distribution and the context ablation")
    return save_figure(fig, path)


def write_plots(
    cycles: dict[str, pl.DataFrame], variants: dict[str, str], funnel: dict[str, Any], report_dir: Path
) -> list[str]:
    """p_long by session / vol regime / trend regime (both models when a baseline is given), the funnel and
    the p_long histogram with the ablation; returns the file names."""
    predicted = {role: c.filter(pl.col("predicted")) for role, c in cycles.items()}
    labels = {role: f"{role} ({variants[role]})" for role in cycles}
    written = []
    for name, (column, names) in GROUPINGS.items():
        series = {
            labels[role]: {
                bucket: c.filter(pl.col(column) == bucket_id)["p_long"].to_numpy()
                for bucket_id, bucket in sorted(names.items())
            }
            for role, c in predicted.items()
        }
        path = report_dir / f"p_long_by_{name}.png"
        plot_by_bucket(f"p_long by {name.replace('_', ' ')}", series, path)
        written.append(path.name)
    written.append(plot_funnel(funnel, report_dir / "eligibility_funnel.png").name)
    hist = plot_p_long_hist(
        predicted["model"]["p_long"].to_numpy(),
        predicted["model"]["p_long_all_context"].to_numpy()[:, 0],
        report_dir / "p_long_ablation.png",
    )
    written.append(hist.name)
    return written
