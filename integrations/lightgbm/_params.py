"""A default LightGBM search space."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunesmith.distributions import BaseDistribution, FloatDistribution, IntDistribution
from tunesmith.integrations._params import check_task, suggest_from_space

if TYPE_CHECKING:
    from tunesmith.trial import BaseTrial

_TASKS = {
    "binary": {"objective": "binary", "metric": "binary_logloss"},
    "multiclass": {"objective": "multiclass", "metric": "multi_logloss"},
    "regression": {"objective": "regression", "metric": "l2"},
}


def lightgbm_search_space() -> dict[str, BaseDistribution]:
    """The default space of :func:`suggest_lightgbm_params` (a fresh dict)."""
    return {
        "learning_rate": FloatDistribution(1e-3, 0.5, log=True),
        "num_leaves": IntDistribution(8, 256, log=True),
        "min_child_samples": IntDistribution(5, 100, log=True),
        "feature_fraction": FloatDistribution(0.4, 1.0),
        "bagging_fraction": FloatDistribution(0.4, 1.0),
        "bagging_freq": IntDistribution(0, 7),
        "lambda_l1": FloatDistribution(1e-8, 10.0, log=True),
        "lambda_l2": FloatDistribution(1e-8, 10.0, log=True),
    }


def suggest_lightgbm_params(
    trial: BaseTrial,
    *,
    task: str = "binary",
    overrides: Mapping[str, BaseDistribution | None] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Suggest LightGBM parameters (``lightgbm.train`` names) from a default space.

    The space: ``learning_rate`` 1e-3..0.5 log, ``num_leaves`` 8..256 log,
    ``min_child_samples`` 5..100 log, ``feature_fraction`` 0.4..1, ``bagging_fraction``
    0.4..1, ``bagging_freq`` 0..7, ``lambda_l1`` and ``lambda_l2`` 1e-8..10 log. ``objective``
    and ``metric`` follow ``task`` (``binary``/``binary_logloss``,
    ``multiclass``/``multi_logloss`` - add ``num_class`` via ``fixed`` -, ``regression``/``l2``)
    and ``verbosity`` is -1.

    Args:
        trial: The trial to suggest with.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        overrides: Parameter -> distribution replacing (or adding to) the default space;
            ``None`` as a value drops the parameter.
        fixed: Parameter -> value used as is (not suggested).

    Returns:
        The parameters.

    Example:
        >>> import tunesmith
        >>> trial = tunesmith.create_study().ask()
        >>> params = suggest_lightgbm_params(trial, task="regression", fixed={"num_leaves": 31})
        >>> params["objective"], params["num_leaves"], "num_leaves" in trial.params
        ('regression', 31, False)
    """
    params: dict[str, Any] = {**check_task(task, _TASKS, "suggest_lightgbm_params")}
    params["verbosity"] = -1
    params.update(
        suggest_from_space(
            trial,
            lightgbm_search_space(),
            overrides=overrides,
            fixed=fixed,
            owner="suggest_lightgbm_params",
        )
    )
    return params
