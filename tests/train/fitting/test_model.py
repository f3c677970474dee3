"""Shape, causality, context-sensitivity and validation tests for train/model.py (CPU, small batches)."""

from __future__ import annotations

import inspect
import json

import pytest
import torch

from train.fitting.model import (
    ContextCatEncoder,
    ContextContEncoder,
    EntryV10CtxHybridTransformer,
    EntryV10HybridTransformer,
    ModelConfig,
    RegimeEmbeddings,
    SequenceEncoder,
    build_model,
)

B = 3
HEAD_KEYS = {"direction_logit", "early_move_logit", "quality"}


def _inputs(batch: int = B, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "seq_x": torch.randn(batch, 30, 16, generator=g),
        "snap_x": torch.randn(batch, 88, generator=g),
        "session_id": torch.randint(0, 4, (batch,), generator=g),
        "vol_regime_id": torch.randint(0, 4, (batch,), generator=g),
        "trend_regime_id": torch.randint(0, 3, (batch,), generator=g),
    }


def _ctx(batch: int = B, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cards = ModelConfig().ctx_cat_cardinalities
    cat = torch.stack([torch.randint(0, n, (batch,), generator=g) for n in cards], dim=1)
    return {"ctx_cat": cat.to(torch.int64), "ctx_cont": torch.randn(batch, 2, generator=g)}


@pytest.fixture(scope="module")
def ctx_model() -> EntryV10CtxHybridTransformer:
    torch.manual_seed(0)
    model = build_model(ModelConfig(variant="v10_ctx"))
    assert isinstance(model, EntryV10CtxHybridTransformer)
    return model.eval()


@pytest.fixture(scope="module")
def v10_model() -> EntryV10HybridTransformer:
    torch.manual_seed(0)
    model = build_model(ModelConfig(variant="v10"))
    assert isinstance(model, EntryV10HybridTransformer)
    return model.eval()


def test_v10_shapes(v10_model: EntryV10HybridTransformer) -> None:
    out = v10_model(**_inputs())
    assert set(out) == HEAD_KEYS
    assert all(v.shape == (B, 1) for v in out.values())
    assert out["quality"].abs().max() <= 1.0


def test_v10_ctx_shapes_and_train_mode_backward(ctx_model: EntryV10CtxHybridTransformer) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(variant="v10_ctx")).train()
    out = model(**_inputs(), **_ctx())
    assert set(out) == HEAD_KEYS
    assert all(v.shape == (B, 1) for v in out.values())
    sum(v.sum() for v in out.values()).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert ctx_model(**_inputs(), **_ctx())["quality"].shape == (B, 1)


@torch.no_grad()
def test_v10_ctx_reacts_to_ctx_cat_and_ctx_cont(ctx_model: EntryV10CtxHybridTransformer) -> None:
    x, ctx = _inputs(), _ctx()
    base = ctx_model(**x, **ctx)
    again = ctx_model(**x, **ctx)
    assert torch.equal(base["direction_logit"], again["direction_logit"])  # eval mode is deterministic

    cat = ctx["ctx_cat"].clone()
    cat[:, 3] = (cat[:, 3] + 1) % 4  # atr_bucket only
    changed = ctx_model(**x, ctx_cat=cat, ctx_cont=ctx["ctx_cont"])
    assert not torch.allclose(changed["direction_logit"], base["direction_logit"])

    changed = ctx_model(**x, ctx_cat=ctx["ctx_cat"], ctx_cont=ctx["ctx_cont"] + torch.tensor([2.0, -1.0]))
    assert not torch.allclose(changed["direction_logit"], base["direction_logit"])


@torch.no_grad()
def test_context_cont_encoder_keeps_magnitudes_not_only_the_sign_of_the_difference() -> None:
    """(1, 2) and (3, 6) have the same sign of atr - spread: a LayerNorm in front would give both the same
    output (docs/trainer.md). Without it the encoder is affine in (atr_bps, spread_bps)."""
    torch.manual_seed(0)
    encoder = ContextContEncoder(2)
    pairs = torch.tensor([[1.0, 2.0], [2.0, 1.0], [3.0, 6.0], [0.0, 0.0]])
    out = encoder(pairs)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert not torch.allclose(out[i], out[j]), (pairs[i].tolist(), pairs[j].tolist())
    zero = out[3]
    torch.testing.assert_close(out[2] - zero, 3.0 * (out[0] - zero))  # (3, 6) = 3 x (1, 2)


@torch.no_grad()
def test_v10_ctx_output_differs_for_context_pairs_with_the_same_sign(
    ctx_model: EntryV10CtxHybridTransformer,
) -> None:
    x, ctx = _inputs(batch=1), _ctx(batch=1)
    logits = [
        ctx_model(**x, ctx_cat=ctx["ctx_cat"], ctx_cont=torch.tensor([pair]))["direction_logit"]
        for pair in ([1.0, 2.0], [3.0, 6.0])
    ]
    assert not torch.allclose(logits[0], logits[1])


def test_v10_has_no_context(v10_model: EntryV10HybridTransformer) -> None:
    names = [n for n, _ in v10_model.named_parameters()]
    assert names and not [n for n in names if "ctx" in n or "context" in n]
    params = inspect.signature(v10_model.forward).parameters
    assert list(params) == ["seq_x", "snap_x", "session_id", "vol_regime_id", "trend_regime_id"]
    with pytest.raises(TypeError):
        v10_model(**_inputs(), **_ctx())


def test_ctx_variant_has_context_parameters(ctx_model: EntryV10CtxHybridTransformer) -> None:
    names = [n for n, _ in ctx_model.named_parameters()]
    assert any(n.startswith("context_cat_encoder.") for n in names)
    assert any(n.startswith("context_cont_encoder.") for n in names)


@pytest.mark.parametrize("train_mode", [False, True], ids=["eval", "train_no_dropout"])
@torch.no_grad()
def test_sequence_encoder_is_causal(train_mode: bool) -> None:
    # Eval under no_grad may take PyTorch's fused fast path; train mode (dropout 0) takes the reference path.
    torch.manual_seed(0)
    enc = SequenceEncoder(ModelConfig(dropout=0.0)).train(train_mode)
    x = torch.randn(2, 30, 16)
    steps = enc.encode_steps(x)
    assert steps.shape == (2, 30, 128)
    for t in (0, 7, 28):
        y = x.clone()
        y[:, t + 1 :] = torch.randn_like(y[:, t + 1 :]) * 5
        later = enc.encode_steps(y)
        torch.testing.assert_close(later[:, : t + 1], steps[:, : t + 1], rtol=1e-5, atol=1e-5)
        assert not torch.allclose(later[:, t + 1 :], steps[:, t + 1 :])

    torch.testing.assert_close(enc(x.clone()), enc(x))
    y = x.clone()
    y[:, -1] += 1.0
    assert not torch.allclose(enc(y), enc(x))


@torch.no_grad()
def test_pooled_output_is_mean_of_steps() -> None:
    torch.manual_seed(0)
    enc = SequenceEncoder(ModelConfig()).eval()
    x = torch.randn(2, 30, 16)
    torch.testing.assert_close(enc(x), enc.encode_steps(x).mean(dim=1))


@pytest.mark.parametrize(
    ("key", "bad", "expected"),
    [
        ("seq_x", torch.zeros(B, 29, 16), r"seq_x: expected shape \[B, 30, 16\], got \[3, 29, 16\]"),
        ("seq_x", torch.zeros(B, 30, 15), r"seq_x: expected shape \[B, 30, 16\]"),
        ("seq_x", torch.zeros(30, 16), r"seq_x: expected shape \[B, 30, 16\], got \[30, 16\]"),
        ("snap_x", torch.zeros(B, 85), r"snap_x: expected shape \[B, 88\], got \[3, 85\]"),
        ("session_id", torch.zeros(B, 1, dtype=torch.long), r"session_id: expected shape \[B\]"),
        ("session_id", torch.tensor([0, 4, 1]), r"session_id: ids must be in \[0, 3\].*max 4"),
        ("vol_regime_id", torch.tensor([0, -1, 1]), r"vol_regime_id: ids must be in \[0, 3\].*min -1"),
        ("trend_regime_id", torch.tensor([0, 3, 1]), r"trend_regime_id: ids must be in \[0, 2\]"),
        ("trend_regime_id", torch.tensor([0.0, 1.0, 1.0]), r"trend_regime_id: expected an integer tensor"),
        ("snap_x", torch.zeros(B + 1, 88), r"batch size"),
    ],
)
def test_bad_inputs_raise(
    ctx_model: EntryV10CtxHybridTransformer, key: str, bad: torch.Tensor, expected: str
) -> None:
    kwargs = {**_inputs(), **_ctx(), key: bad}
    with pytest.raises(ValueError, match=expected):
        ctx_model(**kwargs)


@pytest.mark.parametrize(
    ("cat_col", "value", "expected"),
    [
        (0, 4, r"ctx_cat\[:, 0\] \(session_id\): ids must be in \[0, 3\]"),
        (1, 3, r"ctx_cat\[:, 1\] \(trend_regime_id\): ids must be in \[0, 2\]"),
        (4, -1, r"ctx_cat\[:, 4\] \(spread_bucket\): ids must be in \[0, 2\]"),
    ],
)
def test_ctx_ids_out_of_range_raise(
    ctx_model: EntryV10CtxHybridTransformer, cat_col: int, value: int, expected: str
) -> None:
    ctx = _ctx()
    ctx["ctx_cat"][1, cat_col] = value
    with pytest.raises(ValueError, match=expected):
        ctx_model(**_inputs(), **ctx)


def test_ctx_shapes_raise(ctx_model: EntryV10CtxHybridTransformer) -> None:
    ctx = _ctx()
    with pytest.raises(ValueError, match=r"ctx_cat: expected shape \[B, 5\], got \[3, 4\]"):
        ctx_model(**_inputs(), ctx_cat=ctx["ctx_cat"][:, :4], ctx_cont=ctx["ctx_cont"])
    with pytest.raises(ValueError, match=r"ctx_cont: expected shape \[B, 2\], got \[3, 3\]"):
        ctx_model(**_inputs(), ctx_cat=ctx["ctx_cat"], ctx_cont=torch.zeros(B, 3))


def test_standalone_encoders_validate() -> None:
    enc = ContextCatEncoder((4, 3, 4, 4, 3), 8)
    assert enc(_ctx()["ctx_cat"]).shape == (B, 40)
    reg = RegimeEmbeddings(ModelConfig())
    assert reg(*(torch.zeros(B, dtype=torch.long) for _ in range(3))).shape == (B, 48)


def test_config_round_trip_and_unknown_keys() -> None:
    cfg = ModelConfig(variant="v10", d_model=64, snap_hidden=(64, 32))
    data = json.loads(json.dumps(cfg.to_dict()))
    assert ModelConfig.from_dict(data) == cfg
    assert ModelConfig.from_dict(ModelConfig().to_dict()) == ModelConfig()
    with pytest.raises(ValueError, match=r"unknown keys \['bogus', 'n_head'\]"):
        ModelConfig.from_dict({**data, "bogus": 1, "n_head": 2})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"d_model": 130}, "divisible by n_heads"),
        ({"variant": "v11"}, "variant must be one of"),
        ({"seq_dim": 0}, "seq_dim must be a positive int"),
        ({"snap_hidden": ()}, "snap_hidden"),
        ({"ctx_cat_cardinalities": (4, 3, 4, 4)}, "ctx_cat_cardinalities must be 5"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"pooling": "max"}, "pooling must be one of"),
    ],
)
def test_config_invariants(overrides: dict[str, object], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        ModelConfig(**overrides)  # type: ignore[arg-type]


def test_class_refuses_wrong_variant() -> None:
    with pytest.raises(ValueError, match="needs variant 'v10'"):
        EntryV10HybridTransformer(ModelConfig(variant="v10_ctx"))


def test_parameter_count_of_default_model() -> None:
    """Pinned: a change of the default architecture must be deliberate (and change this number)."""
    n_ctx = sum(p.numel() for p in build_model(ModelConfig(variant="v10_ctx")).parameters())
    n_v10 = sum(p.numel() for p in build_model(ModelConfig(variant="v10")).parameters())
    assert n_ctx == 769_225  # 769_229 with the seed's LayerNorm(2) on ctx_cont
    assert n_v10 == 763_699
