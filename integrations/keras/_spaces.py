"""Search-space helpers for Keras 3 models: an optimizer and a stack of dense layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

__all__ = ["suggest_dense_layers", "suggest_optimizer"]

# Names accepted in `choices`, with the Keras class each builds.
OPTIMIZERS: dict[str, Any] = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "nadam": keras.optimizers.Nadam,
    "adamax": keras.optimizers.Adamax,
    "adagrad": keras.optimizers.Adagrad,
}


def _range(
    owner: str, name: str, value: Any, *, kind: type, low: float, positive: bool = False
) -> tuple[Any, Any]:
    """Check that ``value`` is a ``(low, high)`` pair of ``kind`` within bounds."""
    kinds = (int, float) if kind is float else (int,)
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, kinds) and not isinstance(v, bool) for v in value)
    )
    if not ok:
        raise TypeError(
            f"{owner}: `{name}` must be a (low, high) pair of {kind.__name__}s, "
            f"got {name}={value!r}."
        )
    lo, hi = value
    if lo > hi:
        raise ValueError(f"{owner}: `{name}` must have low <= high, got {name}={tuple(value)!r}.")
    if lo < low or (positive and lo <= 0):
        bound = "> 0" if positive else f">= {low}"
        raise ValueError(f"{owner}: `{name}` must be {bound}, got {name}={tuple(value)!r}.")
    return lo, hi


def _choices(owner: str, name: str, value: Any, known: Sequence[str] | None) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise TypeError(
            f"{owner}: `{name}` must be a non-empty sequence of names, got {name}={value!r}."
        )
    if known is not None:
        unknown = [c for c in value if c not in known]
        if unknown:
            raise ValueError(
                f"{owner}: `{name}` has unknown names {unknown!r}; known: {', '.join(known)}."
            )
    return list(value)


def suggest_optimizer(
    trial: BaseTrial,
    *,
    choices: Sequence[str] = ("adam", "adamw", "sgd", "rmsprop"),
    lr: tuple[float, float] = (1e-5, 1e-1),
    weight_decay: tuple[float, float] | None = (1e-6, 1e-2),
    momentum: tuple[float, float] | None = (0.0, 0.99),
    prefix: str = "",
) -> keras.optimizers.Optimizer:
    """Suggest an optimizer and its learning rate (and weight decay) and build it.

    Parameters (names start with ``prefix``): ``optimizer`` (one of ``choices``),
    ``learning_rate`` (log scale over ``lr``), ``weight_decay`` (log scale; decoupled weight
    decay, which every Keras 3 optimizer applies; ``None`` keeps each optimizer's default) and,
    for ``"sgd"`` only, ``momentum`` (``None`` keeps 0).

    Args:
        trial: The trial to suggest with.
        choices: Optimizer names among ``adam, adamw, sgd, rmsprop, nadam, adamax, adagrad``.
        lr: ``(low, high)`` learning-rate range, both > 0.
        weight_decay: ``(low, high)`` range, both > 0, or ``None``.
        momentum: ``(low, high)`` range within [0, 1) for SGD, or ``None``.
        prefix: Prepended to every parameter name (for models with several optimizers).

    Returns:
        A new, configured ``keras.optimizers.Optimizer``.

    Example:
        >>> import tunesmith
        >>> trial = tunesmith.trial.FixedTrial(
        ...     {"optimizer": "adamw", "learning_rate": 3e-4, "weight_decay": 1e-3})
        >>> opt = suggest_optimizer(trial)
        >>> type(opt).__name__, round(float(opt.learning_rate), 6), opt.weight_decay
        ('AdamW', 0.0003, 0.001)
    """
    owner = "suggest_optimizer"
    names = _choices(owner, "choices", choices, list(OPTIMIZERS))
    lr_lo, lr_hi = _range(owner, "lr", lr, kind=float, low=0.0, positive=True)
    if weight_decay is not None:
        wd = _range(owner, "weight_decay", weight_decay, kind=float, low=0.0, positive=True)
    if momentum is not None:
        mom = _range(owner, "momentum", momentum, kind=float, low=0.0)
        if mom[1] >= 1.0:
            raise ValueError(f"{owner}: `momentum` must be < 1, got momentum={tuple(momentum)!r}.")
    name = trial.suggest_categorical(f"{prefix}optimizer", names)
    kwargs: dict[str, Any] = {
        "learning_rate": trial.suggest_float(f"{prefix}learning_rate", lr_lo, lr_hi, log=True)
    }
    if weight_decay is not None:
        kwargs["weight_decay"] = trial.suggest_float(f"{prefix}weight_decay", *wd, log=True)
    if momentum is not None and name == "sgd":
        kwargs["momentum"] = trial.suggest_float(f"{prefix}momentum", *mom)
    return OPTIMIZERS[name](**kwargs)


def suggest_dense_layers(
    trial: BaseTrial,
    *,
    n_layers: tuple[int, int] = (1, 3),
    units: tuple[int, int] = (8, 128),
    dropout: tuple[float, float] | None = (0.0, 0.5),
    activation: Sequence[str] = ("relu", "tanh"),
    prefix: str = "",
) -> list[keras.layers.Layer]:
    """Suggest a stack of hidden ``Dense`` layers, each followed by ``Dropout``.

    Parameters (names start with ``prefix``): ``n_layers``; ``units_<i>`` (log scale) and
    ``dropout_<i>`` for each layer ``i = 0 .. n_layers - 1``; one ``activation`` shared by the
    layers. Put the list between the input and the output layer of a ``keras.Sequential``.

    Args:
        trial: The trial to suggest with.
        n_layers: ``(low, high)`` number of hidden layers, low >= 1.
        units: ``(low, high)`` units per layer, low >= 1.
        dropout: ``(low, high)`` dropout rate within [0, 1), or ``None`` for no Dropout layers.
        activation: Activation names Keras knows (``"relu"``, ``"tanh"``, ``"gelu"``, ...).
        prefix: Prepended to every parameter name.

    Returns:
        ``[Dense, Dropout, Dense, Dropout, ...]`` (no Dropout when ``dropout`` is ``None``).

    Example:
        >>> import keras, tunesmith
        >>> trial = tunesmith.trial.FixedTrial({"n_layers": 2, "units_0": 64, "dropout_0": 0.1,
        ...                                      "units_1": 16, "dropout_1": 0.0,
        ...                                      "activation": "relu"})
        >>> layers = suggest_dense_layers(trial)
        >>> [type(layer).__name__ for layer in layers]
        ['Dense', 'Dropout', 'Dense', 'Dropout']
        >>> model = keras.Sequential([keras.Input((4,)), *layers, keras.layers.Dense(1)])
        >>> model.output_shape
        (None, 1)
    """
    owner = "suggest_dense_layers"
    nl = _range(owner, "n_layers", n_layers, kind=int, low=1)
    un = _range(owner, "units", units, kind=int, low=1)
    if dropout is not None:
        dr = _range(owner, "dropout", dropout, kind=float, low=0.0)
        if dr[1] >= 1.0:
            raise ValueError(f"{owner}: `dropout` must be < 1, got dropout={tuple(dropout)!r}.")
    acts = _choices(owner, "activation", activation, None)
    for act in acts:
        try:
            keras.activations.get(act)
        except (ValueError, TypeError):
            raise ValueError(
                f"{owner}: `activation` has {act!r}, which Keras does not know."
            ) from None
    count = trial.suggest_int(f"{prefix}n_layers", *nl)
    act = trial.suggest_categorical(f"{prefix}activation", acts)
    layers: list[keras.layers.Layer] = []
    for i in range(count):
        width = trial.suggest_int(f"{prefix}units_{i}", *un, log=True)
        layers.append(keras.layers.Dense(width, activation=act))
        if dropout is not None:
            layers.append(keras.layers.Dropout(trial.suggest_float(f"{prefix}dropout_{i}", *dr)))
    return layers
