"""The problem suite of ``bench_quality.py``, written once against the define-by-run API.

Every objective only calls ``trial.suggest_*`` and ``trial.set_user_attr``, which both tunesmith
and Optuna provide, so the same function runs on either library. Every problem is minimised:
synthetic functions are shifted so their optimum is 0 away from the centre of the box, the
scikit-learn problems return the cross-validated error (1 - accuracy), and the two-objective
problems are scored by the hypervolume of the feasible trials against ``ref_point``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import functools
import math
from typing import Any

import numpy as np

Objective = Callable[[Any], Any]


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    Attributes:
        name: Unique name (the ``--problems`` filter matches substrings of it).
        kind: ``synthetic``, ``mixed``, ``conditional``, ``sklearn`` or ``two-objective``.
        objective: The define-by-run objective.
        n_objectives: 1 or 2 (both minimised).
        continuous_only: True when the space has no categorical and no conditional parameter
            (the problems CMA-ES runs on).
        ref_point: Hypervolume reference point of a two-objective problem.
        constrained: The objective stores its constraint values (<= 0 is feasible) in the user
            attribute ``constraints``; read them with :func:`constraints_func`.
    """

    name: str
    kind: str
    objective: Objective
    n_objectives: int = 1
    continuous_only: bool = True
    ref_point: tuple[float, float] | None = None
    constrained: bool = False


def constraints_func(trial: Any) -> list[float]:
    """Constraint values a constrained objective stored in its trial's user attributes."""
    return list(trial.user_attrs["constraints"])


def _shift(dim: int) -> np.ndarray:
    # A fixed, irregular shift: the optimum is neither at the centre nor on a grid point.
    return 1.7 * np.sin(np.arange(1, dim + 1) * 1.3)


def _suggest_vector(trial: Any, dim: int, low: float, high: float) -> np.ndarray:
    return np.array([trial.suggest_float(f"x{i}", low, high) for i in range(dim)])


def _sphere(z: np.ndarray) -> float:
    return float((z**2).sum())


def _ellipsoid(z: np.ndarray) -> float:
    d = len(z)
    weights = 10.0 ** (6.0 * np.arange(d) / max(d - 1, 1))
    return float((weights * z**2).sum())


def _rosenbrock(z: np.ndarray) -> float:
    x = z + 1.0  # optimum of the unshifted function is at 1
    return float((100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum())


def _rastrigin(z: np.ndarray) -> float:
    return float(10.0 * len(z) + (z**2 - 10.0 * np.cos(2.0 * math.pi * z)).sum())


def _ackley(z: np.ndarray) -> float:
    d = len(z)
    a = -20.0 * math.exp(-0.2 * math.sqrt(float((z**2).sum()) / d))
    b = -math.exp(float(np.cos(2.0 * math.pi * z).sum()) / d)
    return a + b + 20.0 + math.e


def _styblinski_tang(z: np.ndarray) -> float:
    # The unshifted optimum is at -2.903534 in every coordinate, value -39.16617 * d.
    x = z - 2.903534
    return float(0.5 * (x**4 - 16.0 * x**2 + 5.0 * x).sum() + 39.16617 * len(z))


def _synthetic(
    name: str, func: Callable[[np.ndarray], float], dim: int, low: float, high: float
) -> Problem:
    shift = _shift(dim)

    def objective(trial: Any) -> float:
        return func(_suggest_vector(trial, dim, low, high) - shift)

    return Problem(f"{name}-{dim}d", "synthetic", objective)


# --- mixed spaces: ints, log scales, steps, categoricals -----------------------------------------


def _mixed_numeric(trial: Any) -> float:
    """Float, log float, stepped float, int and log int; no categorical (CMA-ES runs here)."""
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    frac = trial.suggest_float("frac", 0.0, 1.0, step=0.05)
    n = trial.suggest_int("n", -20, 20)
    width = trial.suggest_int("width", 1, 1024, log=True)
    return (
        (x - 1.3) ** 2
        + (math.log10(lr) + 2.7) ** 2
        + 4.0 * (frac - 0.35) ** 2
        + 0.05 * (n - 7) ** 2
        + (math.log2(width) - 6.5) ** 2 / 4.0
    )


def _mixed_categorical(trial: Any) -> float:
    """Two categoricals that change the landscape, plus numeric parameters."""
    act = trial.suggest_categorical("activation", ["relu", "tanh", "sigmoid", "gelu"])
    opt = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    layers = trial.suggest_int("layers", 1, 8)
    dropout = trial.suggest_float("dropout", 0.0, 0.8)
    best_lr = {"sgd": -1.3, "adam": -3.2, "rmsprop": -2.5}[opt]
    return (
        {"relu": 0.2, "tanh": 0.5, "sigmoid": 1.0, "gelu": 0.0}[act]
        + {"sgd": 0.4, "adam": 0.0, "rmsprop": 0.1}[opt]
        + (math.log10(lr) - best_lr) ** 2
        + 0.1 * (layers - 5) ** 2
        + 3.0 * (dropout - 0.25) ** 2
    )


def _int_grid(trial: Any) -> float:
    """Eight integer parameters: a shifted sphere on a lattice (no categorical)."""
    shift = np.round(4.0 * _shift(8))
    x = np.array([trial.suggest_int(f"k{i}", -10, 10) for i in range(8)])
    return float(((x - shift) ** 2).sum())


# --- conditional (define-by-run) spaces ----------------------------------------------------------


def _branches(trial: Any) -> float:
    """Three model families, each with its own parameters; the best one is not the first."""
    model = trial.suggest_categorical("model", ["linear", "tree", "kernel"])
    if model == "linear":
        c = trial.suggest_float("linear_c", 1e-4, 1e2, log=True)
        return 0.6 + 0.1 * (math.log10(c) - 0.5) ** 2
    if model == "tree":
        depth = trial.suggest_int("tree_depth", 1, 16)
        leaf = trial.suggest_float("tree_min_leaf", 0.0, 0.5)
        return 0.3 + 0.01 * (depth - 9) ** 2 + 2.0 * (leaf - 0.05) ** 2
    gamma = trial.suggest_float("kernel_gamma", 1e-4, 1e1, log=True)
    c = trial.suggest_float("kernel_c", 1e-2, 1e3, log=True)
    return 0.1 * ((math.log10(gamma) + 1.5) ** 2 + (math.log10(c) - 1.2) ** 2)


def _nested(trial: Any) -> float:
    """Two levels of branching with a shared parameter and branch-specific continuous ones."""
    base = trial.suggest_float("base", -3.0, 3.0)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    if kind == "a":
        sub = trial.suggest_categorical("a_sub", ["a1", "a2", "a3"])
        y = trial.suggest_float(f"{sub}_y", -5.0, 5.0)
        target = {"a1": 2.0, "a2": -1.0, "a3": 0.5}[sub]
        offset = {"a1": 0.5, "a2": 0.0, "a3": 1.0}[sub]
        return offset + (y - target) ** 2 + (base - 1.0) ** 2
    n = trial.suggest_int("b_n", 1, 10)
    ys = [trial.suggest_float(f"b_y{i}", -2.0, 2.0) for i in range(3)]
    return 0.8 + 0.1 * (n - 3) ** 2 + sum((v - 0.7) ** 2 for v in ys) + (base + 1.0) ** 2


# --- scikit-learn HPO (small models, 3-fold CV, fast evaluations) --------------------------------


@functools.cache
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
    }[name]
    X, y = loader(return_X_y=True)
    if name == "digits":
        # A fixed subsample keeps one SVC evaluation around 20 ms.
        idx = np.random.default_rng(0).permutation(len(y))[:600]
        X, y = X[idx], y[idx]
    return X, y


def _cv_error(model: Any, data: str) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, y = _dataset(data)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    return 1.0 - float(cross_val_score(model, X, y, cv=cv, n_jobs=1).mean())


def _svc_digits(trial: Any) -> float:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    c = trial.suggest_float("C", 1e-3, 1e3, log=True)
    gamma = trial.suggest_float("gamma", 1e-5, 1e0, log=True)
    return _cv_error(make_pipeline(StandardScaler(), SVC(C=c, gamma=gamma)), "digits")


def _knn_wine(trial: Any) -> float:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    scaler = trial.suggest_categorical("scaler", ["standard", "minmax", "none"])
    k = trial.suggest_int("n_neighbors", 1, 40)
    weights = trial.suggest_categorical("weights", ["uniform", "distance"])
    p = trial.suggest_float("p", 1.0, 3.0)
    knn = KNeighborsClassifier(n_neighbors=k, weights=weights, p=p)
    steps = {"standard": [StandardScaler()], "minmax": [MinMaxScaler()], "none": []}[scaler]
    return _cv_error(make_pipeline(*steps, knn), "wine")


def _tree_breast_cancer(trial: Any) -> float:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(
        max_depth=trial.suggest_int("max_depth", 1, 20),
        min_samples_leaf=trial.suggest_int("min_samples_leaf", 1, 64, log=True),
        max_features=trial.suggest_float("max_features", 0.05, 1.0),
        ccp_alpha=trial.suggest_float("ccp_alpha", 1e-5, 1e-1, log=True),
        random_state=0,
    )
    return _cv_error(model, "breast_cancer")


def _model_choice_breast_cancer(trial: Any) -> float:
    """A conditional HPO space: pick the classifier, then its own hyperparameters."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    name = trial.suggest_categorical("classifier", ["logreg", "knn", "tree"])
    if name == "logreg":
        model: Any = LogisticRegression(
            C=trial.suggest_float("logreg_C", 1e-4, 1e2, log=True), max_iter=200
        )
    elif name == "knn":
        model = KNeighborsClassifier(n_neighbors=trial.suggest_int("knn_k", 1, 50))
    else:
        model = DecisionTreeClassifier(
            max_depth=trial.suggest_int("tree_depth", 1, 12), random_state=0
        )
    return _cv_error(make_pipeline(StandardScaler(), model), "breast_cancer")


# --- two objectives (hypervolume) ----------------------------------------------------------------


def _zdt(variant: int, dim: int) -> Objective:
    def objective(trial: Any) -> tuple[float, float]:
        x = np.array([trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dim)])
        f1 = float(x[0])
        g = 1.0 + 9.0 * float(x[1:].mean())
        ratio = f1 / g
        f2 = g * (1.0 - math.sqrt(ratio)) if variant == 1 else g * (1.0 - ratio**2)
        return f1, f2

    return objective


def _binh_korn(trial: Any) -> tuple[float, float]:
    """Binh and Korn's constrained problem: two constraints, both <= 0 when feasible."""
    x = trial.suggest_float("x", 0.0, 5.0)
    y = trial.suggest_float("y", 0.0, 3.0)
    c1 = (x - 5.0) ** 2 + y**2 - 25.0
    c2 = 7.7 - (x - 8.0) ** 2 - (y + 3.0) ** 2
    trial.set_user_attr("constraints", [c1, c2])
    return 4.0 * x**2 + 4.0 * y**2, (x - 5.0) ** 2 + (y - 5.0) ** 2


def hypervolume_2d(points: np.ndarray, ref_point: tuple[float, float]) -> float:
    """Hypervolume (area) dominated by ``points`` (minimised) and bounded by ``ref_point``."""
    if len(points) == 0:
        return 0.0
    pts = points[(points[:, 0] < ref_point[0]) & (points[:, 1] < ref_point[1])]
    if len(pts) == 0:
        return 0.0
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
    area, best_f2 = 0.0, ref_point[1]
    for f1, f2 in pts:
        if f2 < best_f2:
            area += (ref_point[0] - f1) * (best_f2 - f2)
            best_f2 = f2
    return float(area)


def _build() -> list[Problem]:
    problems = [
        _synthetic("sphere", _sphere, 5, -5.0, 5.0),
        _synthetic("sphere", _sphere, 20, -5.0, 5.0),
        _synthetic("ellipsoid", _ellipsoid, 10, -5.0, 5.0),
        _synthetic("rosenbrock", _rosenbrock, 2, -5.0, 5.0),
        _synthetic("rosenbrock", _rosenbrock, 10, -5.0, 5.0),
        _synthetic("rastrigin", _rastrigin, 5, -5.12, 5.12),
        _synthetic("rastrigin", _rastrigin, 20, -5.12, 5.12),
        _synthetic("ackley", _ackley, 2, -10.0, 10.0),
        _synthetic("ackley", _ackley, 10, -10.0, 10.0),
        _synthetic("styblinski-tang", _styblinski_tang, 5, -5.0, 5.0),
        _synthetic("styblinski-tang", _styblinski_tang, 20, -5.0, 5.0),
        Problem("mixed-numeric", "mixed", _mixed_numeric),
        Problem("mixed-categorical", "mixed", _mixed_categorical, continuous_only=False),
        Problem("int-lattice-8d", "mixed", _int_grid),
        Problem("branches", "conditional", _branches, continuous_only=False),
        Problem("nested-branches", "conditional", _nested, continuous_only=False),
        Problem("svc-digits", "sklearn", _svc_digits),
        Problem("knn-wine", "sklearn", _knn_wine, continuous_only=False),
        Problem("tree-breast_cancer", "sklearn", _tree_breast_cancer),
        Problem(
            "model-choice-breast_cancer",
            "sklearn",
            _model_choice_breast_cancer,
            continuous_only=False,
        ),
        Problem("zdt1-5d", "two-objective", _zdt(1, 5), 2, ref_point=(1.1, 11.0)),
        Problem("zdt2-5d", "two-objective", _zdt(2, 5), 2, ref_point=(1.1, 11.0)),
        Problem(
            "binh-korn-constrained",
            "two-objective",
            _binh_korn,
            2,
            ref_point=(140.0, 50.0),
            constrained=True,
        ),
    ]
    names = [p.name for p in problems]
    assert len(names) == len(set(names)), names
    return problems


PROBLEMS: list[Problem] = _build()
BY_NAME: dict[str, Problem] = {p.name: p for p in PROBLEMS}
