"""Default search spaces for common estimators, matched by class name.

Matching by name (not by ``isinstance``) lets the spaces for XGBoost's and LightGBM's
scikit-learn wrappers live here without importing either library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


def _forest() -> dict[str, BaseDistribution]:
    return {
        "n_estimators": IntDistribution(50, 500, log=True),
        "max_depth": IntDistribution(2, 32, log=True),
        "min_samples_split": IntDistribution(2, 20),
        "min_samples_leaf": IntDistribution(1, 10),
        "max_features": FloatDistribution(0.1, 1.0),
    }


def _gradient_boosting() -> dict[str, BaseDistribution]:
    return {
        "learning_rate": FloatDistribution(1e-3, 0.5, log=True),
        "n_estimators": IntDistribution(50, 500, log=True),
        "max_depth": IntDistribution(2, 10),
        "subsample": FloatDistribution(0.5, 1.0),
        "min_samples_leaf": IntDistribution(1, 20),
    }


def _hist_gradient_boosting() -> dict[str, BaseDistribution]:
    return {
        "learning_rate": FloatDistribution(1e-3, 0.5, log=True),
        "max_iter": IntDistribution(50, 500, log=True),
        "max_leaf_nodes": IntDistribution(8, 128, log=True),
        "min_samples_leaf": IntDistribution(5, 100, log=True),
        "l2_regularization": FloatDistribution(1e-8, 10.0, log=True),
    }


def _svm() -> dict[str, BaseDistribution]:
    return {
        "C": FloatDistribution(1e-3, 1e3, log=True),
        "gamma": FloatDistribution(1e-4, 1e1, log=True),
        "kernel": CategoricalDistribution(["rbf", "linear"]),
    }


def _svr() -> dict[str, BaseDistribution]:
    return {**_svm(), "epsilon": FloatDistribution(1e-3, 1.0, log=True)}


def _knn() -> dict[str, BaseDistribution]:
    return {
        "n_neighbors": IntDistribution(1, 50, log=True),
        "weights": CategoricalDistribution(["uniform", "distance"]),
        "p": IntDistribution(1, 2),
    }


def _logistic() -> dict[str, BaseDistribution]:
    return {"C": FloatDistribution(1e-4, 1e4, log=True)}


def _alpha() -> dict[str, BaseDistribution]:
    return {"alpha": FloatDistribution(1e-4, 1e3, log=True)}


def _elastic_net() -> dict[str, BaseDistribution]:
    return {**_alpha(), "l1_ratio": FloatDistribution(0.0, 1.0)}


def _gaussian_nb() -> dict[str, BaseDistribution]:
    return {"var_smoothing": FloatDistribution(1e-12, 1e-2, log=True)}


def _discrete_nb() -> dict[str, BaseDistribution]:
    return {
        "alpha": FloatDistribution(1e-3, 10.0, log=True),
        "fit_prior": CategoricalDistribution([True, False]),
    }


def _mlp() -> dict[str, BaseDistribution]:
    return {
        "hidden_layer_sizes": IntDistribution(16, 256, log=True),
        "alpha": FloatDistribution(1e-6, 1e-1, log=True),
        "learning_rate_init": FloatDistribution(1e-4, 1e-1, log=True),
        "activation": CategoricalDistribution(["relu", "tanh"]),
    }


def _xgboost() -> dict[str, BaseDistribution]:
    return {
        "learning_rate": FloatDistribution(1e-3, 0.5, log=True),
        "n_estimators": IntDistribution(50, 1000, log=True),
        "max_depth": IntDistribution(2, 12),
        "min_child_weight": FloatDistribution(1e-2, 100.0, log=True),
        "subsample": FloatDistribution(0.5, 1.0),
        "colsample_bytree": FloatDistribution(0.3, 1.0),
        "reg_lambda": FloatDistribution(1e-8, 10.0, log=True),
        "reg_alpha": FloatDistribution(1e-8, 10.0, log=True),
    }


def _lightgbm() -> dict[str, BaseDistribution]:
    return {
        "learning_rate": FloatDistribution(1e-3, 0.5, log=True),
        "n_estimators": IntDistribution(50, 1000, log=True),
        "num_leaves": IntDistribution(8, 256, log=True),
        "min_child_samples": IntDistribution(5, 100, log=True),
        "subsample": FloatDistribution(0.5, 1.0),
        "subsample_freq": IntDistribution(0, 5),
        "colsample_bytree": FloatDistribution(0.3, 1.0),
        "reg_lambda": FloatDistribution(1e-8, 10.0, log=True),
        "reg_alpha": FloatDistribution(1e-8, 10.0, log=True),
    }


_SPACES: dict[str, Callable[[], dict[str, BaseDistribution]]] = {
    "RandomForestClassifier": _forest,
    "RandomForestRegressor": _forest,
    "ExtraTreesClassifier": _forest,
    "ExtraTreesRegressor": _forest,
    "GradientBoostingClassifier": _gradient_boosting,
    "GradientBoostingRegressor": _gradient_boosting,
    "HistGradientBoostingClassifier": _hist_gradient_boosting,
    "HistGradientBoostingRegressor": _hist_gradient_boosting,
    "SVC": _svm,
    "SVR": _svr,
    "KNeighborsClassifier": _knn,
    "KNeighborsRegressor": _knn,
    "LogisticRegression": _logistic,
    "Ridge": _alpha,
    "RidgeClassifier": _alpha,
    "Lasso": _alpha,
    "ElasticNet": _elastic_net,
    "GaussianNB": _gaussian_nb,
    "MultinomialNB": _discrete_nb,
    "BernoulliNB": _discrete_nb,
    "ComplementNB": _discrete_nb,
    "MLPClassifier": _mlp,
    "MLPRegressor": _mlp,
    "XGBClassifier": _xgboost,
    "XGBRegressor": _xgboost,
    "LGBMClassifier": _lightgbm,
    "LGBMRegressor": _lightgbm,
}


def default_search_space(estimator: Any) -> dict[str, BaseDistribution]:
    """The built-in search space for ``estimator``: a fresh dict of name -> distribution.

    Estimators are matched by class name, so the spaces for ``XGBClassifier``/``XGBRegressor``
    and ``LGBMClassifier``/``LGBMRegressor`` need neither library installed. For a ``Pipeline``
    the space of its final step is returned with names prefixed by that step's name
    (``"clf__C"``). Edit the returned dict freely and pass it as ``param_distributions``. The
    ranges are listed in ``docs/integrations/sklearn.md``.

    Args:
        estimator: A scikit-learn estimator (class or instance) or a ``Pipeline``.

    Returns:
        A new dict mapping parameter names to tunesmith distributions.

    Raises:
        ValueError: there is no built-in space for the estimator.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> default_search_space(LogisticRegression())
        {'C': FloatDistribution(low=0.0001, high=10000.0, log=True, step=None)}
    """
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and not isinstance(estimator, type):
        name, last = steps[-1]
        inner = default_search_space(last)
        return {f"{name}__{k}": v for k, v in inner.items()}
    cls = estimator if isinstance(estimator, type) else type(estimator)
    factory = _SPACES.get(cls.__name__)
    if factory is None:
        raise ValueError(
            f"default_search_space: there is no built-in search space for {cls.__name__}; "
            "pass `param_distributions` (a dict of parameter name -> tunesmith distribution). "
            f"Estimators with a built-in space: {', '.join(sorted(_SPACES))}."
        )
    return factory()
