"""The context-usage evidence and verdict: sensitivity against the measured noise floor, reliance with its
block-bootstrap interval, benefit, and the four verdicts on models whose use of context is known."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from train.evaluation.context_evidence import (
    IGNORES,
    INCONCLUSIVE,
    MOVES,
    USES,
    VerdictConfig,
    benefit,
    model_context_usage,
)
from train.fitting.config import OptimConfig, RunConfig
from train.fitting.dataset import SEQ_LEN, Tensors
from train.fitting.fit import fit
from train.fitting.metrics import predict
from train.fitting.model import ModelConfig, build_model
from train.serving.scoring import AblationPlan, ablation_outputs, context_swaps, predict_rows

SMALL = {
    "d_model": 16,
    "n_heads": 2,
    "n_layers": 1,
    "ff_dim": 32,
    "snap_hidden": (32, 16),
    "regime_dim": 4,
    "fusion_hidden": 16,
    "head_hidden": 16,
}
N, TRAIN_END, VAL_END = 5000, 2000, 2500  # test rows 2500..4999: 2,500 cycles over ~105 days


def world(*, session_label: bool, n: int = N, seed: int = 0) -> tuple[Tensors, np.ndarray]:
    """Noise features, one row per hour. With `session_label` the label depends on the session only (EU
    mostly up, US mostly down); without, on a market feature only (snap[:, 0] > 0, 80% of the time)."""
    g = torch.Generator().manual_seed(seed)
    session = torch.randint(1, 4, (n,), generator=g)
    vol = torch.randint(0, 3, (n,), generator=g)
    trend = torch.randint(0, 3, (n,), generator=g)
    ctx_cat = torch.stack(
        [session, trend, vol, torch.randint(0, 4, (n,), generator=g), torch.randint(0, 3, (n,), generator=g)],
        1,
    )
    snap = torch.randn(n, 88, generator=g)
    if session_label:
        up_rate = torch.tensor([0.5, 0.85, 0.15, 0.5])[session]
    else:
        up_rate = torch.where(snap[:, 0] > 0, 0.8, 0.2)
    y = (torch.rand(n, generator=g) < up_rate).float()
    tensors = Tensors(
        seq=torch.randn(n, 16, generator=g),
        snap=snap,
        ctx_cat=ctx_cat,
        ctx_cont=torch.randn(n, 2, generator=g),
        regime=torch.stack([session, vol, trend], 1),
        targets=torch.stack([y, y, torch.zeros(n)], 1),
    )
    ts = np.datetime64("2025-01-06T00:00", "us") + np.arange(n) * np.timedelta64(1, "h")
    return tensors, ts


TEST_ROWS = np.arange(VAL_END, N)


def evidence(
    model: torch.nn.Module,
    tensors: Tensors,
    ts: np.ndarray,
    rows: np.ndarray = TEST_ROWS,
    config: VerdictConfig | None = None,
) -> dict:
    """What replay computes for the context usage of `model` on `rows` (the same scoring functions)."""
    config = config or VerdictConfig()
    return model_context_usage(model, model.config.variant, tensors, rows, ts[rows], config)


def untrained(variant: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(ModelConfig(variant=variant, **SMALL)).eval()


@pytest.fixture(scope="module")
def session_world() -> tuple[Tensors, np.ndarray]:
    return world(session_label=True)


@pytest.fixture(scope="module")
def trained(session_world) -> torch.nn.Module:
    """A small v10_ctx trained where the label depends on the session only."""
    tensors, _ = session_world
    idx = {
        "train": torch.arange(SEQ_LEN, TRAIN_END),
        "val": torch.arange(TRAIN_END, VAL_END),
        "test": torch.from_numpy(TEST_ROWS),
    }
    config = RunConfig(
        variant="v10_ctx",
        seed=3,
        optim=OptimConfig(epochs=2, batch_size=64, lr=3e-3),
        model=ModelConfig(**SMALL),
    )
    return fit(tensors, tensors, idx, config).model


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_an_untrained_model_never_gets_uses_context(seed: int) -> None:
    """A random network is sensitive to every input (the old sensitivity rule called it "uses context"),
    but permuting its context does not worsen its held-out loss where the labels do not depend on it."""
    tensors, ts = world(session_label=False, seed=seed)
    usage = evidence(untrained("v10_ctx", seed), tensors, ts)
    assert usage["verdict"] == MOVES, usage["reason"]
    assert usage["sensitivity"]["all_context"]["above_floor"]
    assert usage["sensitivity"]["all_context"]["mean_abs_delta"] > 0.002  # what the old rule needed
    direction = usage["reliance"]["all_context"]["direction"]
    assert direction["low"] <= 0 <= direction["high"] and direction["n"] == len(TEST_ROWS)
    assert "not above 0" in usage["reason"] and "early_move" in usage["reason"]


def test_the_skill_condition_keeps_lucky_untrained_models_out_of_uses_context() -> None:
    """Where the labels depend strongly on session (85% / 15% up), a random network's arbitrary session
    preference lines up with them by chance about half the time, and permuting context then really raises
    its held-out loss. Requiring the model to beat the base rate as well keeps most of them out; the two
    left (seeds 2 and 4 of 10) really do predict better than a constant, by luck."""
    relied, uses = 0, 0
    for seed in range(10):
        tensors, ts = world(session_label=True, seed=seed)
        usage = evidence(untrained("v10_ctx", seed), tensors, ts)
        relied += usage["reliance"]["all_context"]["direction"]["low"] > 0
        uses += usage["verdict"] == USES
        if usage["verdict"] == USES:
            assert usage["skill"]["high"] < 0
    assert relied >= 4 and uses <= 2, (relied, uses)


def test_a_model_trained_where_the_label_depends_on_session_uses_context(trained, session_world) -> None:
    tensors, ts = session_world
    usage = evidence(trained, tensors, ts)
    assert usage["verdict"] == USES, usage["reason"]
    for head in ("direction", "early_move"):
        reliance = usage["reliance"]["all_context"][head]
        assert reliance["low"] > 0.02 and reliance["estimate"] > reliance["low"], reliance
        assert len(reliance["per_repeat"]) == 5 and min(reliance["per_repeat"]) > 0
    assert usage["reliance"]["ctx_cat"]["direction"]["low"] > 0  # session is in ctx_cat too
    assert usage["n_days"] == 105 and usage["noise_floor"]["max_abs_delta"] == 0.0
    assert "held-out direction log loss rises by +0." in usage["reason"]


def test_zeroed_ctx_encoders_with_session_in_the_regime_embeddings_is_not_ignoring(
    trained, session_world
) -> None:
    """ctx_cat / ctx_cont do not reach the output at all, but session still does (through the regime
    embeddings, scaled x5): that model reads context and must not be called "ignores context"."""
    tensors, ts = session_world
    blind = copy.deepcopy(trained)
    with torch.no_grad():
        for emb in blind.context_cat_encoder.embeddings:
            emb.weight.zero_()
        linear = blind.context_cont_encoder.linear
        linear.weight.zero_()
        linear.bias.zero_()
        blind.regime_embeddings.session.weight.mul_(5.0)
    usage = evidence(blind, tensors, ts)
    assert usage["verdict"] != IGNORES, usage["reason"]
    for group in ("ctx_cat", "ctx_cont"):
        assert usage["sensitivity"][group]["max_abs_delta"] == 0.0
        assert not usage["sensitivity"][group]["above_floor"]
    assert usage["sensitivity"]["all_context"]["mean_abs_delta"] > 0.01


def test_a_model_that_reads_no_context_at_all_ignores_it(trained, session_world) -> None:
    tensors, ts = session_world
    deaf = copy.deepcopy(trained)
    with torch.no_grad():
        for emb in (*deaf.context_cat_encoder.embeddings, *deaf.regime_embeddings.children()):
            emb.weight.zero_()
        deaf.context_cont_encoder.linear.weight.zero_()
    usage = evidence(deaf, tensors, ts)
    assert usage["verdict"] == IGNORES, usage["reason"]
    assert usage["sensitivity"]["all_context"]["max_abs_delta"] == 0.0
    assert "not above the noise floor" in usage["reason"]


def test_v10_gets_its_regime_id_measures_only(session_world) -> None:
    tensors, ts = session_world
    usage = evidence(untrained("v10", 0), tensors, ts)
    assert set(usage["sensitivity"]) == set(usage["reliance"]) == {"all_context"}
    assert usage["sensitivity"]["all_context"]["above_floor"]
    assert "the regime ids (v10 has no ctx_cat/ctx_cont inputs)" in usage["reason"]
    assert usage["verdict"] in (USES, MOVES)


def test_too_few_cycles_days_or_labels_is_inconclusive(session_world) -> None:
    tensors, ts = session_world
    model = untrained("v10_ctx", 0)
    few = evidence(model, tensors, ts, rows=TEST_ROWS[:400])
    assert few["verdict"] == INCONCLUSIVE and "only 400 predicted cycles over 17" in few["reason"]
    unlabelled = dataclasses.replace(tensors, targets=tensors.targets.clone())
    unlabelled.targets[VAL_END : VAL_END + 2200] = float("nan")
    usage = evidence(model, unlabelled, ts)
    assert usage["verdict"] == INCONCLUSIVE, usage["reason"]
    assert usage["reliance"]["all_context"]["direction"]["n_unlabelled"] == 2200
    assert "only 300 labelled cycles" in usage["reason"]


def test_replay_scoring_runs_through_the_training_inference_loop(trained, session_world) -> None:
    """predict_rows (serving) and metrics.predict (training) give identical outputs; the control run (each
    row's own context through the swap path) reproduces them exactly, so the floor is 0 on the CPU."""
    tensors, _ = session_world
    plan = AblationPlan(repeats=2, seed=0)
    outputs = predict_rows(
        trained, "v10_ctx", tensors, TEST_ROWS, swaps=context_swaps(TEST_ROWS, "v10_ctx", plan)
    )
    reference = predict(trained, tensors, torch.from_numpy(TEST_ROWS), "v10_ctx")
    assert np.array_equal(outputs["model"]["p_long"], reference["direction"].astype(np.float64))
    assert np.array_equal(outputs["model"]["p_early_move"], reference["early_move"].astype(np.float64))
    assert np.array_equal(outputs["control"]["p_long"], outputs["model"]["p_long"])
    regrouped = ablation_outputs(outputs, "v10_ctx", plan)
    assert set(regrouped) == {"control", "ctx_cat", "ctx_cont", "all_context"}
    assert regrouped["all_context"]["p_early_move"].shape == (len(TEST_ROWS), 2)


def test_benefit_is_the_paired_log_loss_difference_with_its_interval() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    ts = np.datetime64("2025-01-06T00:00", "us") + np.arange(n) * np.timedelta64(1, "h")
    y = (rng.random(n) < 0.5).astype(np.float64)
    good = np.where(y == 1, 0.7, 0.3)
    labels = {"y_direction": y, "y_early_move": np.where(np.arange(n) < 100, np.nan, y)}
    out = benefit(
        labels,
        {"p_long": good, "p_early_move": np.full(n, 0.5)},
        {"p_long": np.full(n, 0.5), "p_early_move": np.full(n, 0.5)},
        ts,
    )
    assert out["direction"]["high"] < 0
    assert out["direction"]["estimate"] == pytest.approx(-np.log(0.7) - np.log(2), rel=1e-9)
    assert out["early_move"]["estimate"] == 0.0 and out["early_move"]["n_left_out"] == 100


@pytest.mark.parametrize("bad", [{"repeats": 0}, {"n_resamples": 0}, {"min_cycles": 1}, {"min_days": 1}])
def test_verdict_config_refuses_nonsense(bad: dict) -> None:
    with pytest.raises(ValueError, match="VerdictConfig"):
        VerdictConfig(**bad)
