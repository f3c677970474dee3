"""The PNGs of `train compare`, drawn from record.json's numbers, beside it.

- ``differences.png``: B - A direction and early_move log loss (and direction AUC) per fold and pooled,
  each with its 95% paired interval (the same trading days resampled for both versions).
- ``tau_curves.png``: both versions' mean realized_bps per p_long threshold on the paired rows, each with
  its interval and its random-entry band (versions without realized_bps are left out, and the title says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.fitting.plots import plt, save_figure

DIFF_PLOT = "differences.png"
TAU_PLOT = "tau_curves.png"
NAN = float("nan")


def write_compare_plots(record: dict[str, Any], out: Path) -> dict[str, str]:
    plot_differences(record, Path(out) / DIFF_PLOT)
    plot_tau_curves(record, Path(out) / TAU_PLOT)
    return {"differences": DIFF_PLOT, "tau_curves": TAU_PLOT}


def plot_differences(record: dict[str, Any], path: Path) -> Path:
    panels = (("direction", "log_loss"), ("early_move", "log_loss"), ("direction", "auc"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    blocks = [*record["per_fold"], {**record["pooled"], "fold": "pooled"}]
    labels = [f"fold {b['fold']}" if b["fold"] != "pooled" else "pooled" for b in blocks]
    for ax, (head, metric) in zip(axes[0], panels, strict=True):
        for x, block in enumerate(blocks):
            d = block[head]["difference"][metric]
            colour = "C3" if block["fold"] == "pooled" else "C0"
            low, high = d["estimate"] - d["low"], d["high"] - d["estimate"]
            ax.errorbar([x], [d["estimate"]], yerr=[[low], [high]], fmt="o", color=colour, capsize=4)
        ax.axhline(0.0, color="black", linewidth=0.8)
        better = "below 0: B better" if metric == "log_loss" else "above 0: B better"
        ax.set(title=f"B - A {head} {metric} ({better})", ylabel=f"B - A {metric}")
        ax.set_xticks(range(len(blocks)), labels)
    fig.suptitle("Paired differences with 95% intervals (days resampled for both versions)", fontsize=10)
    return save_figure(fig, path)


def plot_tau_curves(record: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    missing = []
    for colour, side in (("C0", "a"), ("C1", "b")):
        table = record["trades"][side]
        if table is None:
            missing.append(side.upper())
            continue
        rows = [r for r in table["table"] if r["rule"].startswith("p_long >=")]
        taus = [r["cut"] for r in rows]
        band = [r["random_band"]["mean_bps"] if r["random_band"] else [NAN, NAN] for r in rows]
        ax.fill_between(
            taus,
            [b[0] for b in band],
            [b[1] for b in band],
            color=colour,
            alpha=0.12,
            label=f"{side.upper()}: random entry, same rate (2.5-97.5%)",
        )
        mean = [r["mean_bps"] for r in rows]
        low = [r.get("intervals", {}).get("mean_bps", {}).get("low", NAN) for r in rows]
        high = [r.get("intervals", {}).get("mean_bps", {}).get("high", NAN) for r in rows]
        ax.errorbar(
            taus,
            mean,
            yerr=[
                [m - lo for m, lo in zip(mean, low, strict=True)],
                [hi - m for m, hi in zip(mean, high, strict=True)],
            ],
            fmt="o-",
            color=colour,
            capsize=3,
            label=f"{side.upper()}: mean realized_bps, 95% interval",
        )
    ax.axhline(0.0, color="black", linewidth=0.8)
    note = f" (no realized_bps: {', '.join(missing)})" if missing else ""
    title = f"Long entries at p_long >= tau, paired rows{note}"
    ax.set(title=title, xlabel="tau", ylabel="mean realized_bps")
    ax.legend(fontsize=7)
    return save_figure(fig, path)
