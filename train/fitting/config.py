"""The trainer's typed configuration: one frozen dataclass per concern, loaded from TOML.

Usage::

    config = load_run_config(Path("train.toml"), overrides={"epochs": 3, "variant": "v10"})

Defaults are the seed's (docs/trainer.md). Unknown keys in a TOML file are refused, naming the file
and the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from featurestore.errors import InputError
from schemas.versions import DEFAULT_CONTRACT
from train.fitting.base_model import GRID_AXES, BaseModelConfig
from train.fitting.model import VARIANTS, ModelConfig
from train.fitting.splits import SplitConfig, TimeSplit

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, schedule and stopping (docs/trainer.md)."""

    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-5
    grad_clip: float = 1.0
    loss_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)  # direction, early_move, quality
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    early_stop_patience: int = 7
    max_train_rows: int | None = None  # cap for quick runs: the most recent rows of the training split
    threads: int | None = None  # torch intra-op threads; None = torch's default
    device: str = "cpu"  # "cpu" or "cuda" (each torchrun rank takes its LOCAL_RANK's GPU)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"[optim] device must be one of {', '.join(DEVICES)}, got {self.device!r}")


def default_splits() -> SplitConfig:
    """Train about Feb-Jul, validate on August, test on September-October 2025 (docs/trainer.md)."""
    return SplitConfig(
        train=TimeSplit("train", date(2025, 2, 1), date(2025, 7, 31)),
        val=TimeSplit("val", date(2025, 8, 1), date(2025, 8, 31)),
        test=TimeSplit("test", date(2025, 9, 1), date(2025, 10, 27)),
        embargo_bars=30,
    )


@dataclass(frozen=True)
class RunConfig:
    """Everything one `train run` needs besides the snapshot id."""

    variant: str = "v10_ctx"
    seed: int = 1337
    splits: SplitConfig = field(default_factory=default_splits)
    optim: OptimConfig = field(default_factory=OptimConfig)
    base_model: BaseModelConfig = field(default_factory=BaseModelConfig)
    model: ModelConfig | None = None  # None = the seed architecture for `variant`

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}: use one of {', '.join(VARIANTS)}")
        # one seed per run: it seeds torch and the base model (XGBoost) alike
        if self.base_model.seed != self.seed:
            object.__setattr__(self, "base_model", dataclasses.replace(self.base_model, seed=self.seed))
        # the default contract here; `prepare` checks again with the snapshot's own contract
        self.splits.check_embargo(self.model_config.seq_len, DEFAULT_CONTRACT.label_margin_bars)

    @property
    def model_config(self) -> ModelConfig:
        if self.model is None:
            return ModelConfig(variant=self.variant)
        return dataclasses.replace(self.model, variant=self.variant)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["model"] = self.model_config.to_dict()
        return out


def _fits(value: Any, hint: Any) -> bool:
    """Whether a TOML value has the type a config field declares (int for float is fine; bool is not int)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args, strict=True))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a type this checker does not know: the dataclass's own checks decide


def check_types(cls: type, values: dict[str, Any], where: str) -> None:
    """Refuse a value whose type differs from the field's, naming the file, section and key.

    Raises:
        ValueError: e.g. `tiny.toml [optim]: epochs must be int, got '3' (str); write epochs = 3`.
    """
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        hint = hints.get(key)
        if hint is not None and not _fits(value, hint):
            raise ValueError(
                f"{where}: {key} must be {_toml_name(hint)}, got {value!r} ({type(value).__name__}); "
                f"how to fix: write {key} as {_toml_name(hint)}"
            )


def _toml_name(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_toml_name(a) for a in args)
    if typing.get_origin(hint) is tuple:
        n = "" if len(args) == 2 and args[1] is Ellipsis else f"{len(args)} "
        return f"an array of {n}{_toml_name(args[0]).split(' ', 1)[1]}s"
    names = {int: "an integer", float: "a number", str: "a string", bool: "a boolean (true/false)"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    check_types(cls, values, where)
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _splits(values: dict[str, Any], where: str) -> SplitConfig:
    base = default_splits()
    parts = {}
    for name in ("train", "val", "test"):
        if name in values:
            given = values.pop(name)
            if not isinstance(given, list) or len(given) != 2:
                raise ValueError(
                    f"{where} [splits]: {name} must be [first, last] (two dates), got {given!r}; "
                    f'write {name} = ["2025-02-01", "2025-07-31"]'
                )
            first, last = given
            parts[name] = TimeSplit(name, date.fromisoformat(str(first)), date.fromisoformat(str(last)))
        else:
            parts[name] = getattr(base, name)
    embargo = values.pop("embargo_bars", base.embargo_bars)
    check_types(SplitConfig, {"embargo_bars": embargo}, f"{where} [splits]")
    if values:
        raise ValueError(
            f"{where} [splits]: unknown key(s) {sorted(values)}; known: train, val, test, embargo_bars"
        )
    return SplitConfig(train=parts["train"], val=parts["val"], test=parts["test"], embargo_bars=embargo)


def load_run_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a TOML file (optional) and apply CLI overrides (keys of RunConfig or OptimConfig).

    Raises:
        InputError: the file cannot be read or is not TOML (exit 2).
        ValueError: unknown keys, values of the wrong type or invalid values, naming the file and key.
    """
    data: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        where = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(
                path,
                f"cannot read the config ({exc.strerror or exc})",
                fix="pass --config an existing TOML file",
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(
                path,
                f"not valid TOML: {exc}",
                fix="see tests/train/tiny.toml for the format",
            ) from None
    sections = {"splits", "optim", "base_model", "model"}
    top = {k: v for k, v in data.items() if k not in sections}
    optim = dict(data.get("optim", {}))
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        (top if key in ("variant", "seed") else optim)[key] = value
    kwargs: dict[str, Any] = _build_top(top, where)
    kwargs["optim"] = _build(OptimConfig, optim, f"{where} [optim]")
    kwargs["splits"] = _splits(dict(data.get("splits", {})), where)
    base_section = dict(data.get("base_model", {}))
    if "seed" in base_section:
        raise ValueError(
            f"{where} [base_model]: seed is not a base-model setting; how to fix: set the run's top-level "
            "seed (or --seed), which seeds both the transformer and the base model"
        )
    for axis in set(GRID_AXES) & set(base_section):  # `max_depth = 3` is a one-point axis of the grid
        if not isinstance(base_section[axis], list):
            base_section[axis] = [base_section[axis]]
    kwargs["base_model"] = _build(BaseModelConfig, base_section, f"{where} [base_model]")
    if "model" in data:
        check_types(ModelConfig, dict(data["model"]), f"{where} [model]")
        kwargs["model"] = ModelConfig.from_dict(
            {**data["model"], "variant": kwargs.get("variant", "v10_ctx")}
        )
    try:
        return RunConfig(**kwargs)
    except ValueError as exc:  # checks across sections (e.g. the embargo against [model] seq_len)
        raise ValueError(f"{where}: {exc}") from None


def _build_top(top: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(top) - {"variant", "seed"})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; top-level keys are variant and seed")
    check_types(RunConfig, top, where)
    return dict(top)
