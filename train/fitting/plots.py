"""The PNGs a training run writes into its bundle (loss curves, calibration); `save_figure` for all plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 110


def save_figure(fig: Any, path: Path) -> Path:
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
    return save_figure(fig, path)


def plot_calibration(tables: dict[str, list[dict[str, float]]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    for name, rows in tables.items():
        ax.plot([r["mean_p"] for r in rows], [r["observed"] for r in rows], marker="o", label=name)
    ax.set_xlabel("predicted p_long")
    ax.set_ylabel("observed y_direction rate")
    ax.set_title("Calibration (direction head)")
    ax.legend()
    return save_figure(fig, path)
