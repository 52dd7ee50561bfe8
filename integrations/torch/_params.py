"""Search-space helpers that turn suggestions into configured PyTorch objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

    Range = float | tuple[float, float]

__all__ = ["suggest_lr_scheduler", "suggest_mlp", "suggest_optimizer"]

_OPTIMIZERS = {
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "SGD": torch.optim.SGD,
    "RMSprop": torch.optim.RMSprop,
    "Adagrad": torch.optim.Adagrad,
}
_WITH_MOMENTUM = frozenset({"SGD", "RMSprop"})
_ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
}
_SCHEDULERS = ("none", "step", "cosine", "exponential")


def _choices(value: str | Iterable[str], known: Iterable[str], what: str, owner: str) -> list[str]:
    """``value`` as a list of known names (a single string is a fixed choice)."""
    names = [value] if isinstance(value, str) else list(value)
    known = list(known)
    if not names:
        raise ValueError(f"{owner}: `{what}` must name at least one of {known}, got {value!r}.")
    for name in names:
        if name not in known:
            raise ValueError(f"{owner}: `{what}` must be among {known}, got {name!r}.")
    return names


def _range(
    value: Any, what: str, owner: str, *, integer: bool = False, positive: bool = False
) -> tuple[Any, Any]:
    """``(low, high)`` from a pair, or ``(v, v)`` from a single number (a fixed value)."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"{owner}: `{what}` must be {kind} or a (low, high) pair, got {what}={value!r}."
            )
        low, high = value
    else:
        low = high = value
    for v in (low, high):
        ok = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok:
            raise TypeError(
                f"{owner}: `{what}` must be {kind} or a (low, high) pair, got {what}={value!r}."
            )
    if low > high:
        raise ValueError(
            f"{owner}: `{what}` must have low <= high, got {what}=({low!r}, {high!r})."
        )
    if positive and low <= 0:
        raise ValueError(f"{owner}: `{what}` must be > 0, got {what}={value!r}.")
    return low, high


def _float(trial: BaseTrial, name: str, bounds: tuple[float, float], *, log: bool = False) -> float:
    low, high = bounds
    if low == high:
        return float(low)
    return trial.suggest_float(name, float(low), float(high), log=log)


def _int(trial: BaseTrial, name: str, bounds: tuple[int, int], *, log: bool = False) -> int:
    low, high = bounds
    if low == high:
        return int(low)
    return trial.suggest_int(name, low, high, log=log)


def _categorical(trial: BaseTrial, name: str, names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return trial.suggest_categorical(name, list(names))


def suggest_optimizer(
    trial: BaseTrial,
    params: Iterable[Any],
    *,
    choices: str | Sequence[str] = ("Adam", "AdamW", "SGD", "RMSprop"),
    lr: Range = (1e-5, 1e-1),
    weight_decay: Range = (1e-8, 1e-2),
    momentum: Range = (0.0, 0.99),
    prefix: str = "",
) -> torch.optim.Optimizer:
    """Suggest an optimizer and its settings and return it, built on ``params``.

    Parameters (names prefixed with ``prefix``): ``optimizer`` (categorical over ``choices``),
    ``lr`` and ``weight_decay`` (log scale), ``momentum`` (only for SGD and RMSprop). A single
    value instead of a ``(low, high)`` pair fixes a setting (it is then not a parameter of the
    trial), so does a single name for ``choices``. A weight decay of 0 needs a fixed value
    (``weight_decay=0.0``): a log-scale range cannot include it.

    Args:
        trial: The trial (``Trial``, ``FixedTrial`` or :class:`DistributedTrial`).
        params: The model's parameters (``model.parameters()``) or parameter groups.
        choices: Optimizer names among Adam, AdamW, SGD, RMSprop, Adagrad.
        lr: Learning-rate range (log scale) or a fixed value.
        weight_decay: Weight-decay range (log scale) or a fixed value.
        momentum: Momentum range (linear scale) or a fixed value; SGD and RMSprop only.
        prefix: Prepended to every parameter name (two optimizers in one trial).

    Example:
        >>> import tunesmith, torch
        >>> trial = tunesmith.trial.FixedTrial({"optimizer": "SGD", "lr": 0.01,
        ...                                     "weight_decay": 1e-4, "momentum": 0.9})
        >>> opt = suggest_optimizer(trial, torch.nn.Linear(2, 1).parameters())
        >>> type(opt).__name__, opt.defaults["lr"], opt.defaults["momentum"]
        ('SGD', 0.01, 0.9)
    """
    owner = "suggest_optimizer"
    names = _choices(choices, _OPTIMIZERS, "choices", owner)
    lr_bounds = _range(lr, "lr", owner, positive=True)
    wd_bounds = _range(weight_decay, "weight_decay", owner)
    if wd_bounds[0] != wd_bounds[1] and wd_bounds[0] <= 0:
        raise ValueError(
            f"{owner}: a `weight_decay` range is on a log scale and must be > 0, got "
            f"weight_decay={weight_decay!r} (pass weight_decay=0.0 for none)."
        )
    mom_bounds = _range(momentum, "momentum", owner)
    if mom_bounds[0] < 0 or mom_bounds[1] >= 1:
        raise ValueError(f"{owner}: `momentum` must lie in [0, 1), got momentum={momentum!r}.")
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: `params` is empty (did you pass a model without parameters?).")
    name = _categorical(trial, f"{prefix}optimizer", names)
    kwargs: dict[str, float] = {
        "lr": _float(trial, f"{prefix}lr", lr_bounds, log=True),
        "weight_decay": _float(trial, f"{prefix}weight_decay", wd_bounds, log=True),
    }
    if name in _WITH_MOMENTUM:
        kwargs["momentum"] = _float(trial, f"{prefix}momentum", mom_bounds)
    return _OPTIMIZERS[name](params, **kwargs)


def suggest_mlp(
    trial: BaseTrial,
    in_features: int,
    out_features: int,
    *,
    n_layers: int | tuple[int, int] = (1, 3),
    units: int | tuple[int, int] = (4, 128),
    dropout: Range = (0.0, 0.5),
    activation: str | Sequence[str] = ("relu", "tanh"),
    prefix: str = "",
) -> nn.Sequential:
    """Suggest a multi-layer perceptron and return it as an ``nn.Sequential``.

    Parameters (names prefixed with ``prefix``): ``n_layers`` (hidden layers), ``activation``,
    and per hidden layer ``i`` ``n_units_l{i}`` (log scale) and ``dropout_l{i}``. Each hidden
    layer is ``Linear -> activation -> Dropout``; the last layer is a ``Linear`` to
    ``out_features`` (no activation: pair it with a loss that takes logits). A single value
    instead of a pair fixes a setting.

    Example:
        >>> import tunesmith
        >>> trial = tunesmith.trial.FixedTrial({"n_layers": 2, "activation": "tanh",
        ...     "n_units_l0": 16, "dropout_l0": 0.1, "n_units_l1": 8, "dropout_l1": 0.0})
        >>> suggest_mlp(trial, 4, 3)
        Sequential(
          (0): Linear(in_features=4, out_features=16, bias=True)
          (1): Tanh()
          (2): Dropout(p=0.1, inplace=False)
          (3): Linear(in_features=16, out_features=8, bias=True)
          (4): Tanh()
          (5): Dropout(p=0.0, inplace=False)
          (6): Linear(in_features=8, out_features=3, bias=True)
        )
    """
    owner = "suggest_mlp"
    for what, v in (("in_features", in_features), ("out_features", out_features)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{owner}: `{what}` must be an integer >= 1, got {what}={v!r}.")
    layer_bounds = _range(n_layers, "n_layers", owner, integer=True)
    if layer_bounds[0] < 0:
        raise ValueError(f"{owner}: `n_layers` must be >= 0, got n_layers={n_layers!r}.")
    unit_bounds = _range(units, "units", owner, integer=True, positive=True)
    drop_bounds = _range(dropout, "dropout", owner)
    if drop_bounds[0] < 0 or drop_bounds[1] >= 1:
        raise ValueError(f"{owner}: `dropout` must lie in [0, 1), got dropout={dropout!r}.")
    acts = _choices(activation, _ACTIVATIONS, "activation", owner)

    depth = _int(trial, f"{prefix}n_layers", layer_bounds)
    layers: list[nn.Module] = []
    act = _categorical(trial, f"{prefix}activation", acts) if depth else None
    width = in_features
    for i in range(depth):
        units_i = _int(trial, f"{prefix}n_units_l{i}", unit_bounds, log=True)
        p = _float(trial, f"{prefix}dropout_l{i}", drop_bounds)
        assert act is not None
        layers += [nn.Linear(width, units_i), _ACTIVATIONS[act](), nn.Dropout(p)]
        width = units_i
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def suggest_lr_scheduler(
    trial: BaseTrial,
    optimizer: torch.optim.Optimizer,
    *,
    choices: str | Sequence[str] = _SCHEDULERS,
    step_size: int | tuple[int, int] = (1, 10),
    gamma: Range = (0.1, 0.99),
    t_max: int = 10,
    prefix: str = "",
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Suggest a learning-rate schedule for ``optimizer``; ``None`` for ``"none"``.

    Parameters (names prefixed with ``prefix``): ``scheduler`` (over ``choices``); for
    ``"step"`` (``StepLR``) ``step_size`` and ``gamma``; for ``"exponential"``
    (``ExponentialLR``) ``gamma``. ``"cosine"`` (``CosineAnnealingLR``) anneals over ``t_max``
    epochs (usually the epoch budget) and adds no parameter. Call ``scheduler.step()`` once per
    epoch.

    Example:
        >>> import tunesmith, torch
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> trial = tunesmith.trial.FixedTrial({"scheduler": "step", "step_size": 3,
        ...                                     "gamma": 0.5})
        >>> sched = suggest_lr_scheduler(trial, opt)
        >>> type(sched).__name__, sched.step_size, sched.gamma
        ('StepLR', 3, 0.5)
    """
    owner = "suggest_lr_scheduler"
    names = _choices(choices, _SCHEDULERS, "choices", owner)
    size_bounds = _range(step_size, "step_size", owner, integer=True)
    if size_bounds[0] < 1:
        raise ValueError(f"{owner}: `step_size` must be >= 1, got step_size={step_size!r}.")
    gamma_bounds = _range(gamma, "gamma", owner)
    if gamma_bounds[0] <= 0 or gamma_bounds[1] > 1:
        raise ValueError(f"{owner}: `gamma` must lie in (0, 1], got gamma={gamma!r}.")
    if isinstance(t_max, bool) or not isinstance(t_max, int) or t_max < 1:
        raise ValueError(f"{owner}: `t_max` must be an integer >= 1, got t_max={t_max!r}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{owner}: `optimizer` must be a torch.optim.Optimizer, got {type(optimizer).__name__}."
        )
    kind = _categorical(trial, f"{prefix}scheduler", names)
    sched = torch.optim.lr_scheduler
    if kind == "step":
        return sched.StepLR(
            optimizer,
            step_size=_int(trial, f"{prefix}step_size", size_bounds),
            gamma=_float(trial, f"{prefix}gamma", gamma_bounds),
        )
    if kind == "exponential":
        return sched.ExponentialLR(optimizer, gamma=_float(trial, f"{prefix}gamma", gamma_bounds))
    if kind == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=t_max)
    return None
