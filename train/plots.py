"""Every PNG the trainer writes: loss curves and calibration (bundles), and the replay plots (p_long by
context bucket, the eligibility funnel, the p_long histogram with the ablation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 110


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_losses(history: list[dict[str, float]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train")
    ax.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weighted loss")
    ax.set_title("Loss curves")
    ax.legend()
    return _save(fig, path)


def plot_calibration(tables: dict[str, list[dict[str, float]]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    for name, rows in tables.items():
        ax.plot([r["mean_p"] for r in rows], [r["observed"] for r in rows], marker="o", label=name)
    ax.set_xlabel("predicted p_long")
    ax.set_ylabel("observed y_direction rate")
    ax.set_title("Calibration (direction head)")
    ax.legend()
    return _save(fig, path)


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
    return _save(fig, path)


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
    return _save(fig, path)


def plot_p_long_hist(p: np.ndarray, p_shuffled: np.ndarray, path: Path) -> Path:
    """p_long over all predicted cycles, and with ctx_cat/ctx_cont shuffled (the ablation)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    if len(p):
        bins = np.linspace(min(p.min(), p_shuffled.min()), max(p.max(), p_shuffled.max()) + 1e-9, 60)
        ax.hist(p, bins=bins, alpha=0.6, label="p_long")
        ax.hist(p_shuffled, bins=bins, alpha=0.6, label="p_long, ctx shuffled")
        ax.legend()
    ax.set_xlabel("p_long")
    ax.set_ylabel("cycles")
    ax.set_title("p_long distribution and the context ablation")
    return _save(fig, path)
