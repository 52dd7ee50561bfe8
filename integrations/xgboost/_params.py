"""A default XGBoost search space."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunesmith.distributions import BaseDistribution, FloatDistribution, IntDistribution
from tunesmith.integrations._params import check_task, suggest_from_space

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

_TASKS = {
    "binary": {"objective": "binary:logistic", "eval_metric": "logloss"},
    "multiclass": {"objective": "multi:softprob", "eval_metric": "mlogloss"},
    "regression": {"objective": "reg:squarederror", "eval_metric": "rmse"},
}


def xgboost_search_space() -> dict[str, BaseDistribution]:
    """The default space of :func:`suggest_xgboost_params` (a fresh dict)."""
    return {
        "learning_rate": FloatDistribution(1e-3, 0.5, log=True),
        "max_depth": IntDistribution(2, 12),
        "min_child_weight": FloatDistribution(1e-2, 100.0, log=True),
        "subsample": FloatDistribution(0.5, 1.0),
        "colsample_bytree": FloatDistribution(0.3, 1.0),
        "reg_lambda": FloatDistribution(1e-8, 10.0, log=True),
        "reg_alpha": FloatDistribution(1e-8, 10.0, log=True),
        "gamma": FloatDistribution(1e-8, 1.0, log=True),
    }


def suggest_xgboost_params(
    trial: BaseTrial,
    *,
    task: str = "binary",
    overrides: Mapping[str, BaseDistribution | None] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Suggest XGBoost parameters from a default space; usable with ``xgboost.train`` and
    with ``XGBClassifier(**params)``/``XGBRegressor(**params)``.

    The space (names valid for both APIs): ``learning_rate`` (eta) 1e-3..0.5 log,
    ``max_depth`` 2..12, ``min_child_weight`` 1e-2..100 log, ``subsample`` 0.5..1,
    ``colsample_bytree`` 0.3..1, ``reg_lambda`` (lambda) 1e-8..10 log, ``reg_alpha`` (alpha)
    1e-8..10 log, ``gamma`` 1e-8..1 log. ``objective`` and ``eval_metric`` follow ``task``:
    ``binary:logistic``/``logloss``, ``multi:softprob``/``mlogloss`` (add ``num_class`` via
    ``fixed`` for ``xgboost.train``), ``reg:squarederror``/``rmse``.

    Args:
        trial: The trial to suggest with.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        overrides: Parameter -> distribution replacing (or adding to) the default space;
            ``None`` as a value drops the parameter.
        fixed: Parameter -> value used as is (not suggested); wins over the space and ``task``.

    Returns:
        The parameters.

    Example:
        >>> import tunesmith
        >>> from tunesmith.distributions import IntDistribution
        >>> trial = tunesmith.create_study().ask()
        >>> params = suggest_xgboost_params(
        ...     trial, task="regression", overrides={"max_depth": IntDistribution(3, 4)},
        ...     fixed={"gamma": 0.0})
        >>> params["objective"], 3 <= params["max_depth"] <= 4, params["gamma"]
        ('reg:squarederror', True, 0.0)
    """
    defaults = check_task(task, _TASKS, "suggest_xgboost_params")
    params = dict(defaults)
    params.update(
        suggest_from_space(
            trial,
            xgboost_search_space(),
            overrides=overrides,
            fixed=fixed,
            owner="suggest_xgboost_params",
        )
    )
    return params
