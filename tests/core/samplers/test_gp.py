from __future__ import annotations

import math
import os
from typing import Any
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.optimize
from scipy.stats import norm

import tunesmith
from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from tunesmith.samplers import GPSampler, RandomSampler
from tunesmith.samplers._gp import gp as gp_module
from tunesmith.samplers._gp.acquisition import Acquisition, LogEHVI2, log_h
from tunesmith.samplers._gp.bfgs import minimize_box, minimize_box_batched
from tunesmith.samplers._gp.gp import (
    MIN_NOISE,
    GaussianProcess,
    PackedDistances,
    fit_gp,
    neg_log_posterior,
)
from tunesmith.samplers._gp.optim import _choose_starts, optimize_acquisition
from tunesmith.samplers._gp.sampler import _non_dominated
from tunesmith.samplers._gp.space import UnitCubeSpace
from tunesmith.trial import Trial, TrialState

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


def _run(sampler: GPSampler, objective: Any, n_trials: int, **kw: Any) -> tunesmith.Study:
    study = tunesmith.create_study(sampler=sampler, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        study.optimize(objective, n_trials=n_trials)
    return study


def _sphere(trial: Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    return (x - 1.3) ** 2 + (y + 0.7) ** 2


def _data(n: int = 18, with_categorical: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((n, 3))
    is_cat = np.array([False, False, with_categorical])
    if with_categorical:
        X[:, 2] = rng.integers(0, 3, n)
    y = np.sin(5 * X[:, 0]) + X[:, 1] ** 2 + 0.3 * X[:, 2]
    return X, (y - y.mean()) / y.std(), is_cat


def _finite_differences(f: Any, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(len(x))])


# --- the model -------------------------------------------------------------------------------


@pytest.mark.parametrize("fit_noise", [True, False])
@pytest.mark.parametrize("with_categorical", [True, False])
def test_log_posterior_gradient_matches_finite_differences(
    fit_noise: bool, with_categorical: bool
) -> None:
    X, y, is_cat = _data(with_categorical=with_categorical)
    dists = PackedDistances(X, is_cat)
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = np.concatenate([rng.normal(0.0, 0.7, 3), [rng.normal(), rng.uniform(-8, -2)]])
        value, grad = neg_log_posterior(theta, dists, y, fit_noise=fit_noise)
        fd = _finite_differences(
            lambda t: neg_log_posterior(t, dists, y, fit_noise=fit_noise)[0], theta
        )
        assert np.isfinite(value)
        if fit_noise:
            np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)
        else:  # the noise is held fixed: no gradient entry for it
            np.testing.assert_allclose(grad[:-1], fd[:-1], rtol=1e-5, atol=1e-5)
            assert grad[-1] == 0.0


def test_posterior_mean_and_variance_gradients_match_finite_differences() -> None:
    X, y, is_cat = _data()
    gp = fit_gp(X, y, is_cat, deterministic=False)
    Xc = np.random.default_rng(2).random((5, 3))
    Xc[:, 2] = [0, 1, 2, 0, 1]
    mean, var, dmean, dvar = gp.predict_with_grad(Xc)
    mean2, var2 = gp.predict(Xc)
    np.testing.assert_allclose(mean, mean2, atol=1e-10)
    np.testing.assert_allclose(var, var2, atol=1e-10)
    # The variance s - k^T K^-1 k carries rounding of ~1e-12; a step of 1e-4 keeps the
    # finite differences above it (their truncation error is ~1e-8).
    for j in range(2):
        e = np.zeros(3)
        e[j] = 1e-4
        fd_mean = (gp.predict(Xc + e)[0] - gp.predict(Xc - e)[0]) / 2e-4
        fd_var = (gp.predict(Xc + e)[1] - gp.predict(Xc - e)[1]) / 2e-4
        np.testing.assert_allclose(dmean[:, j], fd_mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dvar[:, j], fd_var, rtol=1e-5, atol=1e-6)
    assert np.all(dmean[:, 2] == 0.0) and np.all(dvar[:, 2] == 0.0)


def test_posterior_variance_with_covariance_keeps_its_digits_when_the_kernel_is_ill_conditioned() -> (
    None
):
    # A smooth function on many close points: long length scales, a nearly singular kernel
    # matrix. The variance the two-objective search climbs must equal the one it ranks with.
    rng = np.random.default_rng(1)
    X = rng.random((60, 2))
    y = 4.0 * X[:, 0] ** 2 + X[:, 1]
    y = (y - y.mean()) / y.std()
    gp = fit_gp(X, y, np.zeros(2, dtype=bool), deterministic=True)
    Xc = rng.random((50, 2))
    var = gp.predict_with_cov(Xc, X[0], grad=True)[1]
    _, var2 = gp.predict(Xc)
    np.testing.assert_allclose(var, var2, rtol=1e-6, atol=1e-13)


def test_posterior_covariance_with_a_point_and_its_gradient() -> None:
    X, y, is_cat = _data()
    gp = fit_gp(X, y, is_cat, deterministic=False)
    x0 = np.array([0.4, 0.6, 1.0])
    Xc = np.random.default_rng(5).random((6, 3)) * 0.2 + 0.35
    Xc[:, 2] = [0, 1, 2, 1, 1, 0]
    Xc = np.vstack([Xc, x0])
    # Against the textbook formula k(x, x0) - k(x, X) K^-1 k(X, x0).
    K = gp.scale * gp_module.matern52(gp_module._weighted_r2(X, X, gp.lam, is_cat))[0]
    K[np.diag_indices(len(X))] += gp.noise

    def k(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return gp.scale * gp_module.matern52(gp_module._weighted_r2(A, B, gp.lam, is_cat))[0]

    expected = k(Xc, x0[None])[:, 0] - k(Xc, X) @ np.linalg.solve(K, k(X, x0[None])[:, 0])
    mean, var, cov = gp.predict_with_cov(Xc, x0)
    np.testing.assert_allclose(cov, expected, atol=1e-10)
    np.testing.assert_allclose((mean, var), gp.predict(Xc), atol=1e-10)
    assert cov[-1] == pytest.approx(var[-1], rel=1e-6)  # at x0 itself: the variance
    _, _, cov_g, dmean, dvar, dcov = gp.predict_with_cov(Xc, x0, grad=True)
    np.testing.assert_allclose(cov_g, cov, atol=1e-12)
    np.testing.assert_allclose(dmean, gp.predict_with_grad(Xc)[2], atol=1e-10)
    np.testing.assert_allclose(dvar, gp.predict_with_grad(Xc)[3], atol=1e-9)
    for j in range(2):
        e = np.zeros(3)
        e[j] = 1e-4
        fd = (gp.predict_with_cov(Xc + e, x0)[2] - gp.predict_with_cov(Xc - e, x0)[2]) / 2e-4
        np.testing.assert_allclose(dcov[:, j], fd, rtol=1e-5, atol=1e-7)
    assert np.all(dcov[:, 2] == 0.0)


def test_gp_interpolates_a_deterministic_function() -> None:
    X, y, is_cat = _data(with_categorical=False)
    gp = fit_gp(X, y, is_cat, deterministic=True)
    assert gp.noise == pytest.approx(MIN_NOISE)
    mean, var = gp.predict(X)
    np.testing.assert_allclose(mean, y, atol=1e-3)
    assert np.all(var < 1e-3)


def test_fit_warm_start_reaches_the_same_optimum() -> None:
    X, y, is_cat = _data()
    cold = fit_gp(X, y, is_cat, deterministic=False)
    warm = fit_gp(X, y, is_cat, deterministic=False, theta0=cold.theta + 0.3)
    dists = PackedDistances(X, is_cat)
    assert neg_log_posterior(warm.theta, dists, y)[0] == pytest.approx(
        neg_log_posterior(cold.theta, dists, y)[0], abs=0.05
    )


def test_fit_reuses_its_last_factorisation_and_predicts_like_a_fresh_process() -> None:
    X, y, is_cat = _data()
    gp = fit_gp(X, y, is_cat, deterministic=False)
    fresh = GaussianProcess(X, y, is_cat, gp.theta)
    Xc = np.random.default_rng(3).random((7, 3))
    Xc[:, 2] = [0, 1, 2, 0, 1, 2, 0]
    for a, b in zip(gp.predict(Xc), fresh.predict(Xc)):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    for a, b in zip(gp.predict_with_grad(Xc), fresh.predict_with_grad(Xc)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_refit_with_one_more_point_and_the_previous_curvature_takes_few_evaluations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y, is_cat = _data(n=40, with_categorical=False)
    first = fit_gp(X[:-1], y[:-1], is_cat, deterministic=False)
    assert first.hess_inv is not None and first.dists is not None
    calls = []
    real = gp_module._posterior_and_factors

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(gp_module, "_posterior_and_factors", counting)
    warm = fit_gp(
        X,
        y,
        is_cat,
        deterministic=False,
        theta0=first.theta,
        hess_inv0=first.hess_inv,
        dists0=first.dists,
    )
    n_warm = len(calls)
    calls.clear()
    cold = fit_gp(X, y, is_cat, deterministic=False)
    assert n_warm <= 6 < len(calls)
    dists = PackedDistances(X, is_cat)
    assert neg_log_posterior(warm.theta, dists, y)[0] == pytest.approx(
        neg_log_posterior(cold.theta, dists, y)[0], abs=0.05
    )


def test_packed_distances_extended_by_new_points_equal_fresh_ones() -> None:
    X, _, is_cat = _data(n=12)
    old = PackedDistances(X[:9], is_cat)
    new, fresh = old.extended(X, is_cat), PackedDistances(X, is_cat)
    for name in ("d", "flat", "diag", "rows", "cols"):
        np.testing.assert_array_equal(getattr(new, name), getattr(fresh, name))
    assert old.extended(X[:9], is_cat) is old
    # Not a continuation of the old points (one changed): computed afresh.
    X2 = X.copy()
    X2[3, 0] += 0.1
    np.testing.assert_array_equal(old.extended(X2, is_cat).d, PackedDistances(X2, is_cat).d)


# --- the hyperparameter optimiser -----------------------------------------------------------


def _quadratic(A: np.ndarray, c: np.ndarray) -> Any:
    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        r = x - c
        return 0.5 * float(r @ A @ r), A @ r

    return f


def test_minimize_box_finds_the_bounded_minimum_of_a_quadratic() -> None:
    rng = np.random.default_rng(0)
    B = rng.normal(size=(6, 6))
    A = B @ B.T + 0.5 * np.eye(6)
    c = np.array([3.0, -3.0, 0.2, -0.1, 0.3, 0.0])
    lower = np.array([-1.0, -1.0, -1.0, -1.0, -1.0, 0.5])
    upper = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5])  # the last coordinate is fixed
    f = _quadratic(A, c)
    res = minimize_box(f, np.zeros(6), lower, upper, gtol=1e-8, ftol=0.0, max_evals=500)
    ref = scipy.optimize.minimize(
        f,
        np.zeros(6),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lower, upper)),
        options={"gtol": 1e-12, "ftol": 0.0},
    )
    assert res.converged
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    assert res.x[5] == 0.5
    assert res.fun == pytest.approx(ref.fun, abs=1e-10)


def test_minimize_box_with_the_exact_curvature_takes_one_newton_step() -> None:
    A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]])
    c = np.array([0.3, -0.2, 0.1])
    lower, upper = np.full(3, -1.0), np.full(3, 1.0)
    res = minimize_box(
        _quadratic(A, c),
        np.zeros(3),
        lower,
        upper,
        hess_inv=np.linalg.inv(A),
        gtol=1e-9,
        ftol=0.0,
        max_evals=50,
    )
    assert res.n_evals == 2 and res.converged
    np.testing.assert_allclose(res.x, c, atol=1e-12)
    # A wrong curvature (here far too small) still gets there, with more evaluations.
    res = minimize_box(
        _quadratic(A, c),
        np.zeros(3),
        lower,
        upper,
        hess_inv=1e-3 * np.eye(3),
        gtol=1e-9,
        ftol=0.0,
        max_evals=200,
    )
    assert res.converged and res.n_evals > 2
    np.testing.assert_allclose(res.x, c, atol=1e-8)


def test_minimize_box_scales_up_a_far_too_small_carried_curvature() -> None:
    # Steps of a millionth of the right length decrease f by less than the relative tolerance:
    # without rescaling, the search would stop at its first step and stay near the start.
    A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]])
    c = np.array([0.3, -0.2, 0.1])
    f = _quadratic(A, c)
    lower, upper = np.full(3, -1.0), np.full(3, 1.0)
    res = minimize_box(
        f,
        np.zeros(3),
        lower,
        upper,
        hess_inv=1e-6 * np.linalg.inv(A),
        gtol=1e-6,
        ftol=1e-5,
        max_evals=100,
    )
    assert res.converged and res.fun < 1e-6
    np.testing.assert_allclose(res.x, c, atol=1e-3)


def test_minimize_box_stops_at_an_infinite_start_and_survives_infinite_trial_points() -> None:
    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        if x[0] > 0.5:  # a region where the objective cannot be evaluated
            return math.inf, np.zeros(1)
        return float((x[0] - 2.0) ** 2), np.array([2.0 * (x[0] - 2.0)])

    res = minimize_box(
        f, np.zeros(1), np.array([-5.0]), np.array([5.0]), gtol=1e-8, ftol=0.0, max_evals=100
    )
    assert 0.4 < res.x[0] <= 0.5
    res = minimize_box(
        f, np.ones(1), np.array([-5.0]), np.array([5.0]), gtol=1e-8, ftol=0.0, max_evals=100
    )
    assert res.n_evals == 1 and not res.converged and res.hess_inv is None


def test_minimize_box_batched_runs_each_start_as_its_own_search() -> None:
    # Three starts on three different quadratics (one minimum outside the box, one start with
    # a fixed coordinate): each batched search must equal minimize_box from its start, and each
    # call may only ask about the searches that have not finished yet.
    rng = np.random.default_rng(1)
    problems = []
    for scale, centre in ((1.0, [0.3, -0.2]), (50.0, [2.0, 0.5]), (0.2, [-0.4, 0.9])):
        B = rng.normal(size=(2, 2))
        problems.append(_quadratic(scale * (B @ B.T + 0.3 * np.eye(2)), np.array(centre)))
    X0 = np.array([[0.0, 0.0], [-0.9, 0.9], [0.5, -0.5]])
    lower, upper = np.full(2, -1.0), np.full(2, 1.0)
    calls: list[list[int]] = []

    def fun(X: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(rows.tolist())
        out = [problems[i](x) for x, i in zip(X, rows)]
        return np.array([v for v, _ in out]), np.stack([g for _, g in out])

    results = minimize_box_batched(fun, X0, lower, upper, gtol=1e-9, ftol=0.0, max_evals=200)
    assert len(results) == 3
    for i, res in enumerate(results):
        alone = minimize_box(problems[i], X0[i], lower, upper, gtol=1e-9, ftol=0.0, max_evals=200)
        assert res.converged and alone.converged
        np.testing.assert_array_equal(res.x, alone.x)
        assert res.n_evals == alone.n_evals
        # Search i was in exactly its n_evals calls, the first ones.
        assert [i in c for c in calls] == [True] * res.n_evals + [False] * (
            len(calls) - res.n_evals
        )
    assert results[1].x[0] == 1.0  # its minimum lies beyond the upper bound
    assert len(calls) == max(r.n_evals for r in results)
    assert calls[0] == [0, 1, 2] and len(calls[-1]) == 1


# --- log expected improvement ---------------------------------------------------------------


def test_log_h_matches_the_naive_formula_where_ei_is_not_tiny() -> None:
    z = np.linspace(-12.0, 6.0, 301)
    naive = np.log(norm.pdf(z) + z * norm.cdf(z))
    logh, dlogh = log_h(z)
    np.testing.assert_allclose(logh, naive, rtol=1e-9)
    # d log h / dz = Phi(z) / h(z)
    np.testing.assert_allclose(dlogh, norm.cdf(z) / np.exp(naive), rtol=1e-8)


def test_log_h_is_finite_and_accurate_where_ei_underflows() -> None:
    z = np.array([-40.0, -50.0, -1e3, -1e6, -1e8])
    with np.errstate(all="ignore"):
        assert np.all(norm.pdf(z) + z * norm.cdf(z) <= 0.0)  # the naive value is lost
    logh, dlogh = log_h(z)
    assert np.all(np.isfinite(logh)) and np.all(np.isfinite(dlogh))
    assert np.all(np.diff(logh[::-1]) > 0)  # increasing in z
    # For z -> -inf: h(z) = phi(z) / z^2 (1 - 3 / z^2 + 15 / z^4 + O(z^-6)), d log h / dz ~ -z.
    u = 1.0 / z**2
    lead = -0.5 * z**2 - 0.5 * math.log(2 * math.pi) + np.log(u) + np.log1p(-3 * u + 15 * u**2)
    np.testing.assert_allclose(logh, lead, rtol=1e-10)
    np.testing.assert_allclose(dlogh, -z, rtol=1e-2)


@pytest.mark.parametrize("boundary", [-1.0, -25.0])
def test_log_h_is_continuous_across_its_regimes(boundary: float) -> None:
    eps = 1e-9
    below, above = log_h(np.array([boundary - eps, boundary + eps]))[0]
    assert below < above
    assert above - below < 1e-6 * max(1.0, abs(boundary))
    fd = _finite_differences(lambda z: log_h(z)[0], np.array([boundary]), eps=1e-5)
    assert log_h(np.array([boundary]))[1][0] == pytest.approx(fd[0], rel=1e-5)


def test_acquisition_gradient_matches_finite_differences() -> None:
    X, y, is_cat = _data(with_categorical=False)
    objective = fit_gp(X, y, is_cat, deterministic=False)
    c = np.sin(4 * X[:, 0]) * X[:, 1] - 0.1
    constraint = fit_gp(X, (c - c.mean()) / c.std(), is_cat, deterministic=False)
    threshold = -c.mean() / c.std()
    Xc = np.random.default_rng(3).random((4, 3))
    for acq in (
        Acquisition(objective, float(y.max()), []),
        Acquisition(objective, float(y.max()) + 1.0, [(constraint, threshold)]),
        Acquisition(None, 0.0, [(constraint, threshold)]),
    ):
        values, grads = acq.value_and_grad(Xc)
        np.testing.assert_allclose(values, acq(Xc), atol=1e-9)
        for i, x in enumerate(Xc):
            fd = _finite_differences(lambda x, acq=acq: acq(x[None, :])[0], x, eps=1e-4)
            np.testing.assert_allclose(grads[i], fd, rtol=1e-4, atol=1e-5)


def _hypervolume_gain(front: np.ndarray, ref: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Hypervolume each row of ``Y`` adds to ``front`` (losses), by brute force on a grid."""
    a = np.linspace(-3.0, ref[0], 601)[:-1] + (ref[0] + 3.0) / 1200
    b = np.linspace(-3.0, ref[1], 601)[:-1] + (ref[1] + 3.0) / 1200
    A, B = np.meshgrid(a, b, indexing="ij")
    free = ~((front[:, 0, None, None] <= A) & (front[:, 1, None, None] <= B)).any(0)
    cell = (a[1] - a[0]) * (b[1] - b[0])
    return np.array([((y[0] <= A) & (y[1] <= B) & free).sum() * cell for y in Y])


def test_log_ehvi_matches_a_monte_carlo_estimate_and_ignores_dominated_points() -> None:
    front = np.array([[0.0, 2.0], [0.5, 1.0], [1.5, 0.2], [1.0, 1.5], [3.0, -1.0]])
    ref = np.array([2.5, 3.0])  # [1.0, 1.5] is dominated, [3.0, -1.0] beyond the reference
    term = LogEHVI2((None, None), front, ref)  # type: ignore[arg-type]
    np.testing.assert_array_equal(term.upper, [0.0, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(term.height, [3.0, 2.0, 1.0, 0.2])
    mu1, s1 = np.array([0.2, 1.0, 0.7]), np.array([0.3, 0.5, 0.4])
    mu2, s2 = np.array([0.5, 0.3, 0.8]), np.array([0.4, 0.2, 0.6])
    value, _ = term.value_and_grad_stats(mu1, s1, mu2, s2)
    rng = np.random.default_rng(0)
    for i in range(3):
        Y = np.stack([rng.normal(mu1[i], s1[i], 2000), rng.normal(mu2[i], s2[i], 2000)], 1)
        Y = np.maximum(Y, -2.99)  # the grid starts at -3: a negligible truncation
        estimate = _hypervolume_gain(front[:3], ref, Y).mean()
        assert math.exp(value[i]) == pytest.approx(estimate, rel=0.05)


def test_log_ehvi_gradients_match_finite_differences_and_stay_finite_far_away() -> None:
    front = np.array([[0.0, 2.0], [0.5, 1.0], [1.5, 0.2]])
    term = LogEHVI2((None, None), front, np.array([2.5, 3.0]))  # type: ignore[arg-type]
    stats = [
        np.array([0.2, 1.0, -3.0, 40.0]),
        np.array([0.3, 0.5, 0.2, 0.1]),
        np.array([0.5, 0.3, 5.0, 30.0]),
        np.array([0.4, 0.2, 0.3, 0.1]),
    ]
    value, grad = term.value_and_grad_stats(*stats)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    assert value[3] < -1e4  # far beyond the reference point: tiny, but its log is finite
    for k in range(4):
        up = [a.copy() for a in stats]
        down = [a.copy() for a in stats]
        up[k] += 1e-6
        down[k] -= 1e-6
        fd = (term.value_and_grad_stats(*up)[0] - term.value_and_grad_stats(*down)[0]) / 2e-6
        np.testing.assert_allclose(grad[:, k], fd, rtol=1e-4, atol=1e-6)


def test_log_ehvi_gradient_in_x_matches_finite_differences() -> None:
    X, y, is_cat = _data(with_categorical=False)
    gp1 = fit_gp(X, y, is_cat, deterministic=False)
    gp2 = fit_gp(X, -np.cos(3 * X[:, 1]), is_cat, deterministic=False)
    losses = np.stack([gp1.predict(X)[0], gp2.predict(X)[0]], 1)
    acq = Acquisition(None, 0.0, [], pareto=LogEHVI2((gp1, gp2), losses, losses.max(0) + 0.2))
    Xc = np.random.default_rng(4).random((4, 3))
    _, grad = acq.value_and_grad(Xc)
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-5
        fd = (acq(Xc + e) - acq(Xc - e)) / 2e-5
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-4, atol=1e-5)


def _two_loss_processes() -> tuple[GaussianProcess, GaussianProcess, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.random((25, 3))
    F = np.stack([X[:, 0] + 0.3 * np.sin(3 * X[:, 2]), (1 - X[:, 0]) ** 2 + X[:, 1]], 1)
    F = (F - F.mean(0)) / F.std(0)
    is_cat = np.zeros(3, dtype=bool)
    gp1, gp2 = (fit_gp(X, F[:, k], is_cat, deterministic=True) for k in range(2))
    return gp1, gp2, X, F


def test_log_ehvi_outer_strips_give_no_gain_at_the_extreme_points_themselves() -> None:
    gp1, gp2, X, F = _two_loss_processes()
    on_front = _non_dominated(F)
    ref = F.max(0) + 0.1 * (F.max(0) - F.min(0))
    plain = LogEHVI2((gp1, gp2), F[on_front], ref)
    latent = LogEHVI2((gp1, gp2), F[on_front], ref, X[on_front])
    assert latent.extremes is not None
    ends = np.stack([latent.extremes[0][0], latent.extremes[1][0]])
    # Against the observed extremes, the posterior's leftover uncertainty at an extreme point
    # times the outer strip's width looks like a gain; against its latent value it is gone,
    # leaving at most what the neighbouring inner strips offer.
    assert np.all(latent(ends) < plain(ends) - 0.5)
    # Away from the extremes both agree closely (the inner strips dominate there).
    middle = np.array([[0.5, 0.1, 0.5]])
    assert latent(middle)[0] == pytest.approx(plain(middle)[0], abs=0.1)


def test_log_ehvi_with_latent_extremes_gradient_in_x_matches_finite_differences() -> None:
    gp1, gp2, X, F = _two_loss_processes()
    on_front = _non_dominated(F)
    ref = F.max(0) + 0.1 * (F.max(0) - F.min(0))
    acq = Acquisition(None, 0.0, [], pareto=LogEHVI2((gp1, gp2), F[on_front], ref, X[on_front]))
    assert acq.pareto is not None and acq.pareto.extremes is not None
    rng = np.random.default_rng(6)
    Xc = np.vstack(
        [
            rng.random((4, 3)) * 0.3,
            acq.pareto.extremes[0][0] + 0.01,
            acq.pareto.extremes[1][0] - 0.02,
        ]
    )
    value, grad = acq.value_and_grad(Xc)
    np.testing.assert_allclose(value, acq(Xc), rtol=1e-8)
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-6
        fd = (acq(Xc + e) - acq(Xc - e)) / 2e-6
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-4, atol=1e-5)


# --- the acquisition search -----------------------------------------------------------------


def test_starts_are_the_best_candidate_then_distinct_roulette_draws() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((50, 2))
    values = -np.arange(50.0)
    values[7] = 0.5  # the best candidate
    starts = _choose_starts(X, values, 10, rng)
    assert starts[0] == 7
    assert len(starts) == 10 and len(set(starts.tolist())) == 10
    # Weights exp(value - max) fall by e per rank: the draws favour the high values.
    assert np.median(starts[1:]) < 15


def test_starts_are_fewer_when_the_other_candidates_have_zero_weight() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((20, 2))
    values = np.full(20, -1e4)
    values[[3, 11]] = [0.0, -1.0]
    starts = _choose_starts(X, values, 10, rng)
    assert starts.tolist() == [3, 11]


def test_acquisition_length_scales_come_from_the_objective_else_a_constraint() -> None:
    X, y, is_cat = _data(with_categorical=False)
    objective = fit_gp(X, y, is_cat, deterministic=False)
    constraint = fit_gp(X, -y, is_cat, deterministic=False)
    np.testing.assert_allclose(
        Acquisition(objective, 0.0, [(constraint, 0.0)]).length_scales(),
        1.0 / np.sqrt(objective.lam),
    )
    np.testing.assert_allclose(
        Acquisition(None, 0.0, [(constraint, 0.0)]).length_scales(),
        1.0 / np.sqrt(constraint.lam),
    )
    with pytest.raises(ValueError, match="`objective`"):
        Acquisition(None, 0.0, []).length_scales()


@pytest.mark.parametrize("separate_starts", [False, True])
def test_acquisition_search_reaches_the_maximum_with_very_unequal_length_scales(
    separate_starts: bool,
) -> None:
    # y varies 30 times faster along x0 than along x1: the search, measured in length-scale
    # units, must still land on the best point of a dense grid (or better).
    rng = np.random.default_rng(4)
    X = rng.random((25, 2))
    y = np.sin(12.0 * X[:, 0]) + 0.3 * X[:, 1]
    y = (y - y.mean()) / y.std()
    gp = fit_gp(X, y, np.zeros(2, dtype=bool), deterministic=True)
    assert gp.lam[0] > 10.0 * gp.lam[1]
    acq = Acquisition(gp, float(y.max()), [])
    space = UnitCubeSpace({"a": FloatDistribution(0.0, 1.0), "b": FloatDistribution(0.0, 1.0)})
    g = np.linspace(0.0, 1.0, 401)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    best_on_grid = float(acq(grid).max())
    x = optimize_acquisition(
        acq,
        space,
        X[np.argsort(-y)[:5]],
        np.random.default_rng(0),
        separate_starts=separate_starts,
    )
    assert np.all((x >= 0.0) & (x <= 1.0))
    assert float(acq(x[None, :])[0]) >= best_on_grid - 1e-3


def test_acquisition_search_never_returns_worse_than_the_incumbent() -> None:
    X, y, is_cat = _data(with_categorical=False)
    gp = fit_gp(X, y, is_cat, deterministic=True)
    acq = Acquisition(gp, float(y.max()), [])
    space = UnitCubeSpace({n: FloatDistribution(0.0, 1.0) for n in "abc"})
    incumbent = X[np.argmax(y)][None, :]
    for seed in range(3):
        x = optimize_acquisition(acq, space, incumbent, np.random.default_rng(seed))
        assert acq(x[None, :])[0] >= acq(incumbent)[0]


class _Spike:
    """An acquisition that is flat (zero gradient) except in a tiny ball around ``centre``."""

    def __init__(self, centre: np.ndarray) -> None:
        self.centre = centre

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.linalg.norm(X - self.centre, axis=1) < 1e-6, 1.0, 0.0)

    def value_and_grad(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self(X), np.zeros_like(X)

    def length_scales(self) -> np.ndarray:
        return np.ones(len(self.centre))


def test_acquisition_search_scores_extra_candidates() -> None:
    space = UnitCubeSpace({n: FloatDistribution(0.0, 1.0) for n in "abc"})
    centre = np.array([0.31, 0.62, 0.17])
    acq = _Spike(centre)
    far = np.array([[0.9, 0.9, 0.9]])
    rng = np.random.default_rng(0)
    # Random and local candidates never hit the ball; the extra candidate does.
    missed = optimize_acquisition(acq, space, far, rng)  # type: ignore[arg-type]
    assert acq(missed[None, :])[0] == 0.0
    found = optimize_acquisition(
        acq,  # type: ignore[arg-type]
        space,
        far,
        np.random.default_rng(0),
        extra=np.vstack([far, centre]),
        incumbent_start=False,
    )
    np.testing.assert_allclose(found, centre)


# --- the search space -------------------------------------------------------------------------


def test_space_round_trips_grid_and_categorical_values() -> None:
    space = UnitCubeSpace(
        {
            "a": FloatDistribution(1e-3, 1.0, log=True),
            "b": IntDistribution(1, 1000, log=True),
            "c": FloatDistribution(0.0, 1.0, step=0.25),
            "d": CategoricalDistribution(["x", None, 3]),
            "e": IntDistribution(5, 5),
        }
    )
    assert space.names == ["a", "b", "c", "d"] and space.fixed == {"e": 5}
    params = [{"a": 0.01, "b": 37, "c": 0.75, "d": None}, {"a": 1.0, "b": 1, "c": 0.0, "d": 3}]
    X = space.encode(params)
    assert np.all(X[:, :3] >= 0.0) and np.all(X[:, :3] <= 1.0)
    for p, x in zip(params, X):
        decoded = space.decode(x)
        assert decoded["a"] == pytest.approx(p["a"])
        assert {k: decoded[k] for k in "bcde"} == {**{k: p[k] for k in "bcd"}, "e": 5}
    np.testing.assert_allclose(space.snap(X), X)


# --- the sampler -------------------------------------------------------------------------------


def test_gp_sampler_is_exported() -> None:
    assert "GPSampler" in tunesmith.samplers.__all__
    assert tunesmith.samplers.GPSampler is GPSampler


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seed": 1.5}, TypeError, "`seed`.*seed=1.5"),
        ({"seed": True}, TypeError, "`seed`"),
        ({"n_startup_trials": -1}, ValueError, "`n_startup_trials`.*n_startup_trials=-1"),
        ({"n_startup_trials": 2.0}, ValueError, "`n_startup_trials`"),
        ({"independent_sampler": "random"}, TypeError, "`independent_sampler`.*'random'"),
        ({"deterministic_objective": 1}, TypeError, "`deterministic_objective`"),
        ({"constraints_func": 3}, TypeError, "`constraints_func`.*constraints_func=3"),
        ({"warn_independent_sampling": "yes"}, TypeError, "`warn_independent_sampling`"),
    ],
)
def test_bad_arguments_name_the_parameter(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        GPSampler(**kwargs)


def test_positional_arguments_are_rejected() -> None:
    with pytest.raises(TypeError):
        GPSampler(1)  # type: ignore[misc]


def test_gp_converges_on_a_shifted_sphere_and_beats_random_search() -> None:
    gp = _run(GPSampler(seed=0), _sphere, n_trials=30)
    rand = _run(RandomSampler(seed=0), _sphere, n_trials=30)
    # The optimum is (1.3, -0.7) with value 0.
    assert gp.best_value < 1e-2
    assert abs(gp.best_params["x"] - 1.3) < 0.1 and abs(gp.best_params["y"] + 0.7) < 0.1
    assert gp.best_value < rand.best_value


def test_gp_maximises_when_asked_to() -> None:
    def objective(trial: Trial) -> float:
        return -((trial.suggest_float("x", 0.0, 10.0) - 7.0) ** 2)

    study = _run(GPSampler(seed=1, n_startup_trials=4), objective, 14, direction="maximize")
    assert study.best_value > -0.05


def test_gp_finds_the_optimum_of_a_mixed_integer_categorical_space() -> None:
    offsets = {"a": 5.0, "b": 0.0, "c": 3.0}

    def objective(trial: Trial) -> float:
        x = trial.suggest_int("x", -10, 10)
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        return (x - 3) ** 2 + offsets[c]

    study = _run(GPSampler(seed=2, n_startup_trials=6), objective, 22)
    assert study.best_params == {"x": 3, "c": "b"}


def test_same_seed_gives_the_same_trials_and_another_seed_differs() -> None:
    def params(seed: int) -> list[dict[str, Any]]:
        study = _run(GPSampler(seed=seed, n_startup_trials=4), _sphere, 9)
        return [t.params for t in study.trials]

    first = params(5)
    assert first == params(5)
    assert first[6:] != params(6)[6:]


def _distributions() -> st.SearchStrategy[BaseDistribution]:
    floats = st.tuples(st.floats(-100, 100), st.floats(0.01, 100)).map(
        lambda t: FloatDistribution(t[0], t[0] + t[1])
    )
    log_floats = st.tuples(st.floats(1e-5, 10), st.floats(1.5, 1e4)).map(
        lambda t: FloatDistribution(t[0], t[0] * t[1], log=True)
    )
    stepped = st.tuples(st.floats(-10, 10), st.sampled_from([0.1, 0.5, 2.0]), st.integers(1, 20))
    step_floats = stepped.map(lambda t: FloatDistribution(t[0], t[0] + t[1] * t[2], step=t[1]))
    ints = st.tuples(st.integers(-50, 50), st.integers(1, 4), st.integers(1, 30)).map(
        lambda t: IntDistribution(t[0], t[0] + t[1] * t[2], step=t[1])
    )
    log_ints = st.tuples(st.integers(1, 20), st.integers(1, 500)).map(
        lambda t: IntDistribution(t[0], t[0] + t[1], log=True)
    )
    cats = st.lists(st.sampled_from([None, True, 1, 2.5, "a", "b"]), min_size=1, unique=True).map(
        CategoricalDistribution
    )
    return st.one_of(floats, log_floats, step_floats, ints, log_ints, cats)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_distributions(), min_size=1, max_size=4), st.integers(0, 2**31))
def test_suggestions_respect_bounds_steps_logs_and_choices(
    dists: list[BaseDistribution], seed: int
) -> None:
    space = {f"p{i}": d for i, d in enumerate(dists)}

    def objective(trial: Trial) -> float:
        total = 0.0
        for name, d in space.items():
            v = trial._suggest(name, d)
            total += float(d.to_internal_repr(v)) ** 2 % 7.0
        return total

    study = _run(GPSampler(seed=seed, n_startup_trials=3), objective, 6)
    assert len(study.trials) == 6
    for t in study.trials:
        for name, d in space.items():
            assert d.contains(t.params[name]), (name, d, t.params[name])


def test_parameters_outside_the_shared_space_warn_once_and_use_the_independent_sampler() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        if trial.number % 2:
            return x**2 + trial.suggest_float("odd", 0, 1)
        return x**2

    study = tunesmith.create_study(sampler=GPSampler(seed=0, n_startup_trials=3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(objective, n_trials=10)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len([m for m in messages if "'odd'" in m]) == 1
    assert not [m for m in messages if "'x'" in m]
    assert all(0 <= t.params["odd"] <= 1 for t in study.trials if t.number % 2)


def test_no_warning_when_disabled() -> None:
    def objective(trial: Trial) -> float:
        return trial.suggest_float(f"x{trial.number}", 0, 1)

    study = tunesmith.create_study(
        sampler=GPSampler(seed=0, n_startup_trials=1, warn_independent_sampling=False)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        study.optimize(objective, n_trials=4)


def test_constraints_func_leads_to_a_good_feasible_point() -> None:
    # min x^2 + y^2 subject to x + y >= 1: optimum (0.5, 0.5), value 0.5.
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        y = trial.suggest_float("y", -2, 2)
        trial.set_user_attr("c", 1.0 - x - y)
        return x * x + y * y

    sampler = GPSampler(seed=0, constraints_func=lambda t: [t.user_attrs["c"]])
    study = _run(sampler, objective, 28)
    feasible = [t for t in study.trials if t.constraints is not None and t.feasible]
    assert all(t.constraints is not None for t in study.trials)
    best = min(feasible, key=lambda t: t.value)
    assert best.value < 0.6
    # The optimum is on the boundary, so proposals straddle it; many are still feasible.
    assert sum(t.feasible for t in study.trials[10:]) >= 5


def test_set_constraint_values_are_used_without_constraints_func() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        trial.set_constraint([0.5 - x])  # feasible when x >= 0.5
        return x * x

    study = _run(GPSampler(seed=3, n_startup_trials=5), objective, 16)
    best = min((t for t in study.trials if t.feasible), key=lambda t: t.value)
    assert 0.5 <= best.params["x"] < 0.7


def test_no_feasible_trial_yet_still_samples() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        trial.set_constraint([0.95 - x])  # only x >= 0.95 is feasible
        return x

    study = _run(GPSampler(seed=4, n_startup_trials=3), objective, 10)
    assert any(t.feasible for t in study.trials[3:])


def _hypervolume_2d(points: list[list[float]], ref: tuple[float, float]) -> float:
    volume, last = 0.0, ref[1]
    for a, b in sorted(points):
        if a < ref[0] and b < last:
            volume += (ref[0] - a) * (last - b)
            last = b
    return volume


def test_several_objectives_give_a_good_front() -> None:
    def objective(trial: Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", -1, 3)
        y = trial.suggest_float("y", -1, 1)
        return x**2 + y**2, (x - 2) ** 2 + y**2

    directions = ["minimize"] * 2
    gp = _run(GPSampler(seed=0, n_startup_trials=6), objective, 20, directions=directions)
    rand = _run(RandomSampler(seed=0), objective, 20, directions=directions)
    ref = (4.0, 4.0)
    gp_volume = _hypervolume_2d([t.values for t in gp.best_trials], ref)
    assert gp_volume > _hypervolume_2d([t.values for t in rand.best_trials], ref)
    # The true front is y = 0, 0 <= x <= 2: several front trials lie close to it.
    close = [t for t in gp.best_trials if abs(t.params["y"]) < 0.2 and 0 <= t.params["x"] <= 2]
    assert len(close) >= 4


def test_two_objectives_use_one_process_per_loss_and_respect_constraints() -> None:
    def objective(trial: Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 5.0)
        y = trial.suggest_float("y", 0.0, 3.0)
        trial.set_user_attr("c", [(x - 5.0) ** 2 + y**2 - 25.0])
        return 4.0 * x**2 + 4.0 * y**2, (x - 5.0) ** 2 + (y - 5.0) ** 2

    sampler = GPSampler(seed=1, n_startup_trials=8, constraints_func=lambda t: t.user_attrs["c"])
    study = _run(sampler, objective, 30, directions=["minimize", "minimize"])
    models = {k[2:] for k in sampler._theta_cache}
    assert models == {("loss", 0), ("loss", 1), ("constraint", 0)}
    modelled = [t for t in study.trials if t.number >= 8]
    feasible = [t for t in modelled if t.user_attrs["c"][0] <= 0.0]
    assert len(feasible) >= 20
    # The front of this problem is x = y in [0, 3], then y = 3: modelled trials find it.
    near = [t for t in study.best_trials if t.number >= 8]
    assert len(near) >= 8
    on_front = [t for t in near if abs(t.params["x"] - t.params["y"]) < 0.25 or t.params["y"] > 2.9]
    assert len(on_front) >= 0.8 * len(near)


def test_pruned_and_failed_trials_are_ignored() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        if trial.number % 3 == 1:
            trial.report(100.0, 1)
            raise tunesmith.TrialPruned()
        return (x - 1) ** 2

    study = _run(GPSampler(seed=0, n_startup_trials=4), objective, 15)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 10
    assert study.best_value < 0.05


def test_infinite_values_do_not_break_the_model() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        return math.inf if x > 1.5 else (x + 1) ** 2

    study = _run(GPSampler(seed=0, n_startup_trials=4), objective, 12)
    assert study.best_value < 0.1


def test_ask_and_tell_and_two_workers_without_spurious_warnings() -> None:
    # Every trial has x and y, so nothing is ever sampled independently after the startup
    # trials: any UserWarning (turned into an error here) would be a false alarm, e.g. a worker
    # counting trials that finished after its own trial was already planned as a startup trial.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        study = tunesmith.create_study(sampler=GPSampler(seed=0, n_startup_trials=4))
        for _ in range(8):
            trial = study.ask()
            study.tell(trial, _sphere(trial))
        assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 8

        sampler = GPSampler(seed=0, n_startup_trials=4)
        parallel = tunesmith.create_study(sampler=sampler)
        parallel.optimize(_sphere, n_trials=12, n_jobs=2)
    assert len(parallel.get_trials(states=(TrialState.COMPLETE,))) == 12
    assert parallel.best_value < 3.0
    assert sampler._modelled == {}  # per-trial bookkeeping is dropped when trials finish


@pytest.mark.parametrize("user_value", [None, "4"])
def test_blas_thread_setting_is_restored(
    monkeypatch: pytest.MonkeyPatch, user_value: str | None
) -> None:
    if user_value is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", user_value)
    seen: list[str | None] = []
    real = GPSampler._sample_relative

    def spy(self: GPSampler, *args: Any) -> Any:
        seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
        return real(self, *args)

    monkeypatch.setattr(GPSampler, "_sample_relative", spy)
    threadpoolctl = pytest.importorskip("threadpoolctl") if user_value == "4" else None
    before = threadpoolctl.threadpool_info() if threadpoolctl else None
    _run(GPSampler(seed=0, n_startup_trials=2), _sphere, 4)
    assert seen and all(v == "1" for v in seen)
    assert os.environ.get("OPENBLAS_NUM_THREADS") == user_value
    if threadpoolctl is not None:  # the BLAS pools are back to their sizes
        assert threadpoolctl.threadpool_info() == before


def test_hyperparameters_are_cached_per_study_for_warm_starts() -> None:
    sampler = GPSampler(seed=0, n_startup_trials=3, deterministic_objective=True)
    study = _run(sampler, _sphere, 5)
    keys = list(sampler._theta_cache)
    assert keys and all(k[0] == study._study_id for k in keys)
    theta = sampler._theta_cache[keys[0]]
    assert math.exp(theta[-1]) == pytest.approx(MIN_NOISE)  # fixed noise when deterministic
    assert isinstance(
        GaussianProcess(np.zeros((1, 2)), np.zeros(1), np.zeros(2, bool), theta).noise, float
    )
    assert list(sampler._hess_inv_cache) == keys and list(sampler._dists_cache) == keys
    # The pairwise distances (large) are kept for the latest study only.
    other = _run(sampler, _sphere, 5)
    assert {k[0] for k in sampler._dists_cache} == {other._study_id}
    assert {k[0] for k in sampler._theta_cache} == {study._study_id, other._study_id}
