"""The context-usage verdict in both directions, its statistics, and the cycle funnel."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from train.evaluation.telemetry import (
    IGNORES,
    UNDETERMINED,
    USES,
    VerdictConfig,
    by_bucket,
    context_usage,
    cycle_funnel,
    rank_test,
)
from train.fitting.config import OptimConfig, RunConfig
from train.fitting.dataset import SEQ_LEN, Tensors
from train.fitting.fit import fit
from train.fitting.model import ModelConfig
from train.serving.scoring import context_ablations, predict_rows

SESSIONS = {0: "ASIA", 1: "EU", 2: "US", 3: "OVERLAP"}


def session_world(n: int = 6000, seed: int = 0) -> Tensors:
    """Noise features; the label depends on the session only (EU mostly up, US mostly down)."""
    g = torch.Generator().manual_seed(seed)
    session = torch.randint(1, 4, (n,), generator=g)
    vol = torch.randint(0, 3, (n,), generator=g)
    trend = torch.randint(0, 3, (n,), generator=g)
    ctx_cat = torch.stack(
        [session, trend, vol, torch.randint(0, 4, (n,), generator=g), torch.randint(0, 3, (n,), generator=g)],
        1,
    )
    up_rate = torch.tensor([0.5, 0.85, 0.15, 0.5])[session]
    y = (torch.rand(n, generator=g) < up_rate).float()
    targets = torch.stack([y, y, torch.zeros(n)], 1)
    return Tensors(
        seq=torch.randn(n, 16, generator=g),
        snap=torch.randn(n, 88, generator=g),
        ctx_cat=ctx_cat,
        ctx_cont=torch.randn(n, 2, generator=g),
        regime=torch.stack([session, vol, trend], 1),
        targets=targets,
    )


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Module, Tensors, np.ndarray]:
    tensors = session_world()
    n = len(tensors.targets)
    idx = {
        "train": torch.arange(SEQ_LEN, 5000),
        "val": torch.arange(5000, 5500),
        "test": torch.arange(5500, n),
    }
    small = ModelConfig(
        d_model=16,
        n_heads=2,
        n_layers=1,
        ff_dim=32,
        snap_hidden=(32, 16),
        regime_dim=4,
        fusion_hidden=16,
        head_hidden=16,
    )
    config = RunConfig(
        variant="v10_ctx", seed=3, optim=OptimConfig(epochs=4, batch_size=128, lr=3e-3), model=small
    )
    model = fit(tensors, tensors, idx, config).model
    return model, tensors, idx["test"].numpy()


def verdict_of(model: torch.nn.Module, tensors: Tensors, rows: np.ndarray) -> dict:
    """What replay computes for the context usage of `model` on `rows`."""
    outputs = predict_rows(model, "v10_ctx", tensors, rows, ablations=context_ablations(rows, seed=1))
    regime = tensors.regime[rows].numpy()
    groups = {"session": regime[:, 0], "vol_regime": regime[:, 1], "trend_regime": regime[:, 2]}
    return context_usage(
        outputs["model"]["p_long"],
        outputs["ctx_shuffled"]["p_long"],
        outputs["all_context_shuffled"]["p_long"],
        groups,
        VerdictConfig(),
    )


def test_a_model_trained_where_the_label_depends_on_session_uses_context(trained) -> None:
    model, tensors, rows = trained
    usage = verdict_of(model, tensors, rows)
    assert usage["verdict"] == USES, usage["reason"]
    assert usage["rank_tests"]["session"]["significant"]
    assert usage["rank_tests"]["session"]["effect"] in ("medium", "large")
    assert usage["ablation_ctx_shuffled"]["mean_abs_delta"] > 0.02
    assert "p_long differs across session" in usage["reason"]


def test_a_model_whose_context_inputs_are_zeroed_ignores_context(trained) -> None:
    model, tensors, rows = trained
    blind = copy.deepcopy(model)
    with torch.no_grad():
        for emb in blind.context_cat_encoder.embeddings:
            emb.weight.zero_()
        linear = blind.context_cont_encoder.linear
        linear.weight.zero_()
        linear.bias.zero_()
    usage = verdict_of(blind, tensors, rows)
    assert usage["verdict"] == IGNORES, usage["reason"]
    assert usage["ablation_ctx_shuffled"]["max_abs_delta"] == 0.0
    # the regime ids still carry the session, so shuffling every context input still moves p_long
    assert usage["ablation_all_context_shuffled"]["mean_abs_delta"] > 0.0


def test_rank_test_separates_equal_and_shifted_buckets() -> None:
    rng = np.random.default_rng(0)
    ids = np.repeat([1, 2, 3], 400)
    same = rank_test(rng.normal(0.5, 0.05, 1200), ids, SESSIONS, VerdictConfig())
    assert (
        not same["significant"]
        and same["effect"] == "negligible"
        and same["buckets"] == ["EU", "US", "OVERLAP"]
    )
    shifted = rank_test(rng.normal(0.5, 0.05, 1200) + 0.1 * (ids == 2), ids, SESSIONS, VerdictConfig())
    assert shifted["significant"] and shifted["effect"] == "large" and shifted["p_value"] < 1e-10
    flat = rank_test(np.full(1200, 0.5), ids, SESSIONS, VerdictConfig())
    assert flat["h"] == 0.0 and not flat["significant"]


def test_small_buckets_are_left_out_and_too_few_cycles_are_undetermined() -> None:
    ids = np.array([1] * 50 + [2] * 10)
    test = rank_test(np.linspace(0, 1, 60), ids, SESSIONS, VerdictConfig())
    assert test["buckets"] == ["EU"] and test["h"] is None and "fewer than 2 buckets" in test["note"]
    p = np.linspace(0.4, 0.6, 60)
    groups = {"session": ids, "vol_regime": np.zeros(60, int), "trend_regime": np.zeros(60, int)}
    usage = context_usage(p, p[::-1], p[::-1], groups, VerdictConfig())
    assert usage["verdict"] == UNDETERMINED and "only 60 predicted cycles" in usage["reason"]


def test_by_bucket_lists_every_bucket_and_values_on_request() -> None:
    p = np.array([0.4, 0.5, 0.6, 0.7])
    ids = np.array([1, 1, 2, 2])
    out = by_bucket(p, ids, SESSIONS, per_cycle=True)
    assert list(out) == ["ASIA", "EU", "US", "OVERLAP"]
    assert out["ASIA"]["n"] == 0 and out["ASIA"]["mean"] is None and out["ASIA"]["values"] == []
    assert out["EU"]["mean"] == pytest.approx(0.45) and out["US"]["values"] == [0.6, 0.7]
    assert "values" not in by_bucket(p, ids, SESSIONS)["EU"]


def test_funnel_counts_stages_and_checks_the_invariant() -> None:
    status = np.array(["HARD_BLOCK", "SOFT_BLOCK", "ELIGIBLE", "ELIGIBLE"])
    reason = np.array(["HARD_SESSION_BLOCK", "SOFT_VOL_EXTREME", "ELIGIBLE", "ELIGIBLE"])
    eligible = status == "ELIGIBLE"
    funnel = cycle_funnel(status, reason, eligible, np.array([False, False, True, False]))
    assert (funnel["cycles"], funnel["hard_eligible"], funnel["eligible"], funnel["predicted"]) == (
        4,
        3,
        2,
        1,
    )
    assert funnel["invariant_holds"] and funnel["by_reason"]["ELIGIBLE"] == 2
    broken = cycle_funnel(status, reason, eligible, np.array([True, True, True, False]))
    assert not broken["invariant_holds"]


@pytest.mark.parametrize(
    "bad", [{"alpha": 0.0}, {"min_mean_abs_delta": -1.0}, {"min_bucket_cycles": 1}, {"min_cycles": 0}]
)
def test_verdict_config_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError, match="VerdictConfig"):
        VerdictConfig(**bad)
