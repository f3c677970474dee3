"""ENTRY_V10 / ENTRY_V10_CTX hybrid transformer (docs/trainer.md, seed architecture).

One config object (`ModelConfig`) builds either variant. `v10` fuses [sequence, snapshot, regime]; `v10_ctx`
adds the seed's ContextEncoder (categorical embeddings + a Linear on the continuous part, without the seed's
LayerNorm in front of it) at the fusion layer only, so the transformer itself is identical in both variants.
Ids are validated, never clamped: the seed clamped them and silently mapped ASIA onto EU, which is the kind
of bug we refuse to copy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

VARIANTS = ("v10", "v10_ctx")
POOLINGS = ("mean", "last")
CTX_CAT_NAMES = ("session_id", "trend_regime_id", "vol_regime_id", "atr_bucket", "spread_bucket")
HEAD_NAMES = ("direction", "early_move", "quality")


@dataclass(frozen=True)
class ModelConfig:
    """Every hyperparameter of the model; defaults are the seed's V10_CTX values."""

    variant: str = "v10_ctx"
    seq_len: int = 30
    seq_dim: int = 16
    snap_dim: int = 88
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3
    ff_dim: int = 512
    dropout: float = 0.05
    snap_hidden: tuple[int, ...] = (256, 128)
    regime_dim: int = 16
    n_sessions: int = 4
    n_vol_regimes: int = 4
    n_trend_regimes: int = 3
    ctx_cat_cardinalities: tuple[int, ...] = (4, 3, 4, 4, 3)
    ctx_emb_dim: int = 8
    ctx_cont_dim: int = 2
    fusion_hidden: int = 128
    fusion_dropout: float = 0.1
    head_hidden: int = 128
    head_dropout: float = 0.05
    pooling: str = "mean"
    # The seed's LayerNorm(2) in front of ContextContEncoder's Linear: only for bundles of schema
    # entry_v10_bundle/1, which were trained with it; new models never have it (see ContextContEncoder).
    ctx_cont_layernorm: bool = False

    def __post_init__(self) -> None:
        # JSON round trips give lists; normalise so equality and hashing keep working.
        object.__setattr__(self, "snap_hidden", tuple(self.snap_hidden))
        object.__setattr__(self, "ctx_cat_cardinalities", tuple(self.ctx_cat_cardinalities))
        if self.variant not in VARIANTS:
            raise ValueError(f"ModelConfig.variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"ModelConfig.pooling must be one of {POOLINGS}, got {self.pooling!r}")
        for name in (
            "seq_len",
            "seq_dim",
            "snap_dim",
            "d_model",
            "n_heads",
            "n_layers",
            "ff_dim",
            "regime_dim",
            "n_sessions",
            "n_vol_regimes",
            "n_trend_regimes",
            "ctx_emb_dim",
            "ctx_cont_dim",
            "fusion_hidden",
            "head_hidden",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ModelConfig.{name} must be a positive int, got {value!r}")
        for name in ("dropout", "fusion_dropout", "head_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"ModelConfig.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"ModelConfig.d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if not self.snap_hidden or any(int(h) <= 0 for h in self.snap_hidden):
            raise ValueError(
                f"ModelConfig.snap_hidden must be non-empty positive ints, got {self.snap_hidden}"
            )
        if len(self.ctx_cat_cardinalities) != len(CTX_CAT_NAMES) or min(self.ctx_cat_cardinalities) <= 0:
            raise ValueError(
                f"ModelConfig.ctx_cat_cardinalities must be 5 positive ints {CTX_CAT_NAMES}, "
                f"got {self.ctx_cat_cardinalities}"
            )

    @property
    def fusion_in_dim(self) -> int:
        base = self.d_model + self.snap_hidden[-1] + 3 * self.regime_dim
        if self.variant == "v10_ctx":
            base += len(self.ctx_cat_cardinalities) * self.ctx_emb_dim + self.ctx_cont_dim
        return base

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are refused so a stale bundle cannot load half-understood."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"ModelConfig.from_dict: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**data)


def _check_shape(name: str, t: Tensor, expected: tuple[int | None, ...]) -> None:
    shape = tuple(t.shape)
    wrong_len = len(shape) != len(expected)
    if wrong_len or any(e is not None and e != s for e, s in zip(expected, shape, strict=True)):
        exp = ", ".join("B" if e is None else str(e) for e in expected)
        raise ValueError(f"{name}: expected shape [{exp}], got {list(t.shape)}")


def _check_ids(name: str, ids: Tensor, n: int) -> None:
    """Ids must be integers in [0, n); an embedding lookup would otherwise fail cryptically or wrap."""
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"{name}: expected an integer tensor, got {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= n):
        lo, hi = int(ids.min()), int(ids.max())
        raise ValueError(f"{name}: ids must be in [0, {n - 1}], got min {lo}, max {hi}")


class ContextCatEncoder(nn.Module):
    """One embedding per categorical context feature (seed order), concatenated: [B, 5] -> [B, 40]."""

    def __init__(self, cardinalities: tuple[int, ...], emb_dim: int) -> None:
        super().__init__()
        self.cardinalities = tuple(cardinalities)
        self.embeddings = nn.ModuleList(nn.Embedding(n, emb_dim) for n in self.cardinalities)

    def forward(self, ctx_cat: Tensor) -> Tensor:
        _check_shape("ctx_cat", ctx_cat, (None, len(self.cardinalities)))
        for j, n in enumerate(self.cardinalities):
            _check_ids(f"ctx_cat[:, {j}] ({CTX_CAT_NAMES[j]})", ctx_cat[:, j], n)
        return torch.cat([emb(ctx_cat[:, j]) for j, emb in enumerate(self.embeddings)], dim=-1)


class ContextContEncoder(nn.Module):
    """Linear on the z-scored continuous context (atr_bps, spread_bps): [B, dim] -> [B, dim].

    No LayerNorm in front (the seed had one): normalizing a 2-vector (a, b) gives (+1, -1) or (-1, +1) (0, 0
    when a = b), so only sign(a - b) would reach the model (docs/trainer.md). The inputs are
    already z-scored with statistics fitted on the training split.
    """

    def __init__(self, dim: int = 2, *, seed_layernorm: bool = False) -> None:
        super().__init__()
        self.dim = dim
        # only to replay bundles trained with the seed's encoder (ModelConfig.ctx_cont_layernorm)
        self.norm = nn.LayerNorm(dim) if seed_layernorm else None
        self.linear = nn.Linear(dim, dim)

    def forward(self, ctx_cont: Tensor) -> Tensor:
        _check_shape("ctx_cont", ctx_cont, (None, self.dim))
        out: Tensor = self.linear(ctx_cont if self.norm is None else self.norm(ctx_cont))
        return out


class SequenceEncoder(nn.Module):
    """Causal pre-norm transformer over the last `seq_len` bars, pooled to [B, d_model].

    The causal mask makes step t depend only on steps <= t, so the per-step states mean the same thing
    offline and in a live loop that only ever has the past.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.seq_len, self.seq_dim, self.pooling = config.seq_len, config.seq_dim, config.pooling
        self.input_proj = nn.Linear(config.seq_dim, config.d_model)
        self.pos_emb = nn.Embedding(config.seq_len, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.n_heads,
            config.ff_dim,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        # Nested tensors are unsupported with norm_first; disabling avoids a warning, not a behaviour change.
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(config.d_model)
        causal = torch.triu(torch.ones(config.seq_len, config.seq_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal_mask", causal, persistent=False)

    def encode_steps(self, seq_x: Tensor) -> Tensor:
        """Per-step states [B, L, d_model] before pooling; step t sees steps 0..t only."""
        _check_shape("seq_x", seq_x, (None, self.seq_len, self.seq_dim))
        pos = torch.arange(self.seq_len, device=seq_x.device)
        h = self.input_proj(seq_x) + self.pos_emb(pos)
        mask: Tensor = self.causal_mask  # type: ignore[assignment]
        h = self.encoder(h, mask=mask, is_causal=True)
        out: Tensor = self.final_norm(h)
        return out

    def forward(self, seq_x: Tensor) -> Tensor:
        steps = self.encode_steps(seq_x)
        return steps.mean(dim=1) if self.pooling == "mean" else steps[:, -1]


class SnapshotEncoder(nn.Module):
    """MLP on the snapshot vector, Linear -> LayerNorm -> GELU per layer (no dropout, as in the seed)."""

    def __init__(self, snap_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.snap_dim = snap_dim
        layers: list[nn.Module] = []
        for d_in, d_out in zip((snap_dim, *hidden[:-1]), hidden, strict=True):
            layers += [nn.Linear(d_in, d_out), nn.LayerNorm(d_out), nn.GELU()]
        self.net = nn.Sequential(*layers)

    def forward(self, snap_x: Tensor) -> Tensor:
        _check_shape("snap_x", snap_x, (None, self.snap_dim))
        out: Tensor = self.net(snap_x)
        return out


class RegimeEmbeddings(nn.Module):
    """Session, vol and trend regime embeddings concatenated to [B, 3 * regime_dim]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.sizes = {
            "session_id": config.n_sessions,
            "vol_regime_id": config.n_vol_regimes,
            "trend_regime_id": config.n_trend_regimes,
        }
        self.session = nn.Embedding(config.n_sessions, config.regime_dim)
        self.vol = nn.Embedding(config.n_vol_regimes, config.regime_dim)
        self.trend = nn.Embedding(config.n_trend_regimes, config.regime_dim)

    def forward(self, session_id: Tensor, vol_regime_id: Tensor, trend_regime_id: Tensor) -> Tensor:
        for name, ids in (
            ("session_id", session_id),
            ("vol_regime_id", vol_regime_id),
            ("trend_regime_id", trend_regime_id),
        ):
            _check_shape(name, ids, (None,))
            _check_ids(name, ids, self.sizes[name])
        return torch.cat([self.session(session_id), self.vol(vol_regime_id), self.trend(trend_regime_id)], -1)


def _head(d_in: int, hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1))


class _EntryTrunk(nn.Module):
    """Encoders, fusion MLP and heads shared by both variants; subclasses only decide what gets fused."""

    variant = ""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.variant != self.variant:
            raise ValueError(
                f"{type(self).__name__} needs variant {self.variant!r}, got {config.variant!r}; "
                "use build_model(config)"
            )
        self.config = config
        self.seq_encoder = SequenceEncoder(config)
        self.snap_encoder = SnapshotEncoder(config.snap_dim, config.snap_hidden)
        self.regime_embeddings = RegimeEmbeddings(config)
        fusion: list[nn.Module] = []
        for d_in in (config.fusion_in_dim, config.fusion_hidden):
            fusion += [
                nn.Linear(d_in, config.fusion_hidden),
                nn.LayerNorm(config.fusion_hidden),
                nn.GELU(),
                nn.Dropout(config.fusion_dropout),
            ]
        self.fusion = nn.Sequential(*fusion)
        self.heads = nn.ModuleDict(
            {n: _head(config.fusion_hidden, config.head_hidden, config.head_dropout) for n in HEAD_NAMES}
        )

    def encode(self, seq_x: Tensor, snap_x: Tensor) -> Tensor:
        """The market-data part of the fusion input, [B, d_model + snap_hidden[-1]]; context comes after."""
        parts = [self.seq_encoder(seq_x), self.snap_encoder(snap_x)]
        if parts[0].shape[0] != parts[1].shape[0]:
            raise ValueError(f"inputs disagree on batch size: {[int(p.shape[0]) for p in parts]}")
        return torch.cat(parts, dim=-1)

    def _decide(
        self,
        encoded: Tensor,
        session_id: Tensor,
        vol_regime_id: Tensor,
        trend_regime_id: Tensor,
        extra: tuple[Tensor, ...] = (),
    ) -> dict[str, Tensor]:
        parts = [encoded, self.regime_embeddings(session_id, vol_regime_id, trend_regime_id), *extra]
        batch = {int(p.shape[0]) for p in parts}
        if len(batch) != 1:
            raise ValueError(f"inputs disagree on batch size: {sorted(batch)}")
        z = self.fusion(torch.cat(parts, dim=-1))
        return {
            "direction_logit": self.heads["direction"](z),
            "early_move_logit": self.heads["early_move"](z),
            # tanh: y_quality_score, the MSE target, lives in [-1, 1].
            "quality": torch.tanh(self.heads["quality"](z)),
        }


class EntryV10HybridTransformer(_EntryTrunk):
    """ENTRY_V10: [sequence, snapshot, regime] fused; no context inputs or parameters.

    Returns {"direction_logit", "early_move_logit", "quality"}, each [B, 1]. quality is tanh-squashed to
    [-1, 1] because the trainer regresses it with MSE on y_quality_score, which lives in [-1, 1].
    """

    variant = "v10"

    def forward(
        self,
        seq_x: Tensor,
        snap_x: Tensor,
        session_id: Tensor,
        vol_regime_id: Tensor,
        trend_regime_id: Tensor,
    ) -> dict[str, Tensor]:
        return self.decide(self.encode(seq_x, snap_x), session_id, vol_regime_id, trend_regime_id)

    def decide(
        self, encoded: Tensor, session_id: Tensor, vol_regime_id: Tensor, trend_regime_id: Tensor
    ) -> dict[str, Tensor]:
        """Outputs from `encode`'s result and the regime ids (replay re-runs this part with other context)."""
        return self._decide(encoded, session_id, vol_regime_id, trend_regime_id)


class EntryV10CtxHybridTransformer(_EntryTrunk):
    """ENTRY_V10_CTX: V10 plus the context encoders, injected at the fusion layer only (seed STEP3 plan).

    Same outputs as `EntryV10HybridTransformer` (quality tanh-squashed to [-1, 1]).
    """

    variant = "v10_ctx"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.context_cat_encoder = ContextCatEncoder(config.ctx_cat_cardinalities, config.ctx_emb_dim)
        self.context_cont_encoder = ContextContEncoder(
            config.ctx_cont_dim, seed_layernorm=config.ctx_cont_layernorm
        )

    def forward(
        self,
        seq_x: Tensor,
        snap_x: Tensor,
        session_id: Tensor,
        vol_regime_id: Tensor,
        trend_regime_id: Tensor,
        ctx_cat: Tensor,
        ctx_cont: Tensor,
    ) -> dict[str, Tensor]:
        encoded = self.encode(seq_x, snap_x)
        return self.decide(encoded, session_id, vol_regime_id, trend_regime_id, ctx_cat, ctx_cont)

    def decide(
        self,
        encoded: Tensor,
        session_id: Tensor,
        vol_regime_id: Tensor,
        trend_regime_id: Tensor,
        ctx_cat: Tensor,
        ctx_cont: Tensor,
    ) -> dict[str, Tensor]:
        """Outputs from `encode`'s result and the context (replay re-runs this part with other context)."""
        extra = (self.context_cat_encoder(ctx_cat), self.context_cont_encoder(ctx_cont))
        return self._decide(encoded, session_id, vol_regime_id, trend_regime_id, extra)


def build_model(config: ModelConfig) -> nn.Module:
    """The model class for `config.variant`, built from the config alone."""
    classes: dict[str, type[_EntryTrunk]] = {
        "v10": EntryV10HybridTransformer,
        "v10_ctx": EntryV10CtxHybridTransformer,
    }
    if config.variant not in classes:
        raise ValueError(f"unknown variant {config.variant!r}; expected one of {VARIANTS}")
    return classes[config.variant](config)
