"""The model's inputs, read from the contract a snapshot or bundle was built under.

Sequence and snapshot inputs are the feature and categorical columns the version declares for
`seq_features` and `snap_features`, in declared order, plus the three hybrid channels each; the context
inputs are the context table's categorical ids and continuous features in declared order. The model's
widths (`ModelConfig.seq_dim`, `snap_dim`, `ctx_cont_dim`, the id cardinalities) follow from them, so v1 and
v2 give the seed's 16 / 88 / 5 + 2 and a version with one more snapshot feature gives 89.

Usage::

    inputs = ModelInputs.of(snapshot.contract)
    inputs.names()["snap"][-4]                       # the last declared snapshot feature
    config = inputs.configure(run_config)            # the model sized for these inputs
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.contract import Contract
from train.fitting.config import RunConfig
from train.fitting.hybrid import SEQ_CHANNELS, SNAP_CHANNELS

REGIME_IDS = ("session_id", "vol_regime_id", "trend_regime_id")


@dataclass(frozen=True)
class ModelInputs:
    """The ordered input names of one contract version, and the id cardinalities of its context."""

    version: str
    seq_features: tuple[str, ...]
    snap_features: tuple[str, ...]
    ctx_cat: tuple[str, ...]
    ctx_cont: tuple[str, ...]
    cardinalities: Mapping[str, int]  # categorical context id -> number of ids (largest allowed + 1)

    @classmethod
    def of(cls, contract: Contract) -> ModelInputs:
        """The inputs `contract` declares.

        Raises:
            ValueError: the context lacks one of the regime ids the model embeds.
        """
        context = contract.table("context")
        cats = context.by_role("categorical")
        missing = [name for name in REGIME_IDS if name not in {c.name for c in cats}]
        if missing:
            raise ValueError(
                f"contract {contract.version} declares no context categorical {missing[0]!r}, which the "
                f"model embeds as a regime id; how to fix: keep {', '.join(REGIME_IDS)} in [tables.context]"
            )
        return cls(
            version=contract.version,
            seq_features=tuple(c.name for c in contract.feature_columns("seq_features")),
            snap_features=tuple(c.name for c in contract.feature_columns("snap_features")),
            ctx_cat=tuple(c.name for c in cats),
            ctx_cont=tuple(c.name for c in context.by_role("feature")),
            cardinalities={c.name: int(max(c.allowed or (0,))) + 1 for c in cats},
        )

    @property
    def seq(self) -> tuple[str, ...]:
        return self.seq_features + SEQ_CHANNELS

    @property
    def snap(self) -> tuple[str, ...]:
        return self.snap_features + SNAP_CHANNELS

    def names(self) -> dict[str, tuple[str, ...]]:
        """The ordered input names per tensor (stored in bundles and checked when they are loaded)."""
        return {"seq": self.seq, "snap": self.snap, "ctx_cat": self.ctx_cat, "ctx_cont": self.ctx_cont}

    def normalized(self) -> tuple[str, ...]:
        """The inputs normalization is fitted on (each once)."""
        return tuple(dict.fromkeys(self.seq + self.snap + self.ctx_cont))

    def model_dims(self) -> dict[str, Any]:
        """The `ModelConfig` fields these inputs fix."""
        return {
            "seq_dim": len(self.seq),
            "snap_dim": len(self.snap),
            "ctx_cont_dim": len(self.ctx_cont),
            "ctx_cat_cardinalities": tuple(self.cardinalities[n] for n in self.ctx_cat),
            "n_sessions": self.cardinalities["session_id"],
            "n_vol_regimes": self.cardinalities["vol_regime_id"],
            "n_trend_regimes": self.cardinalities["trend_regime_id"],
        }

    def configure(self, config: RunConfig) -> RunConfig:
        """`config` with its model sized for these inputs."""
        return dataclasses.replace(
            config, model=dataclasses.replace(config.model_config, **self.model_dims())
        )


def first_difference(
    stored: Mapping[str, Sequence[str]], expected: Mapping[str, Sequence[str]]
) -> str | None:
    """The first input a bundle recorded that differs from what the contract gives, in words (None: same)."""
    for group, names in expected.items():
        have = stored.get(group)
        if have is None or list(have) == list(names):
            continue
        for i in range(max(len(have), len(names))):
            a = have[i] if i < len(have) else "(nothing)"
            b = names[i] if i < len(names) else "(nothing)"
            if a != b:
                return (
                    f"{group} inputs differ at position {i}: the bundle was trained with {a!r}, the contract "
                    f"gives {b!r} ({len(have)} inputs against {len(names)})"
                )
    return None
