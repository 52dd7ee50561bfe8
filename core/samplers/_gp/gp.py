"""Gaussian-process regression with a Matérn-5/2 ARD kernel, fitted by maximum a posteriori.

The kernel between encoded points ``x`` and ``x'`` is

    k(x, x') = s * m(r2),   r2 = sum_d lam_d * dist_d(x, x'),   m(r2) = (1 + sqrt5 r + 5/3 r2) e^(-sqrt5 r)

with ``dist_d`` the squared difference for numerical coordinates and the indicator
``x_d != x'_d`` (Hamming distance) for categorical ones, ``lam_d`` the inverse squared length
scales, ``s`` the output scale, plus a noise variance on the diagonal. The hyperparameters are
optimised in log space, ``theta = [log lam_1 .. log lam_D, log s, log noise]``, on the negative
log posterior (marginal likelihood plus log-normal priors) with its analytic gradient, by a
projected BFGS that starts from the previous fit's optimum and curvature (see ``bfgs.py``).

Priors (all log-normal, so their log densities are quadratics in ``theta``):

* length scale ``l_d = lam_d^(-1/2)``: ``log l_d ~ N(log(0.5) + log(D)/2, 1)``. Scaling the
  centre with ``sqrt(D)`` follows Hvarfner, Hellsten and Nardi (2024, "Vanilla Bayesian
  optimization performs great in high dimensions"): in more dimensions, distances in the cube
  grow like ``sqrt(D)``, so the same correlation needs longer length scales. Their broader,
  longer prior (``N(sqrt2 + log(D)/2, 3)``) let the fit settle on "flat function plus noise" on
  Hartmann6 with 10-30 trials; the tighter one here did not (benchmarks/bench_gp.py);
* output scale: ``log s ~ N(0, 1.5^2)`` (the targets are standardised);
* noise variance: ``log noise ~ N(log 1e-4, 2^2)``, broad enough that deterministic objectives
  can reach the lower bound ``1e-6`` while noisy ones get the noise they show.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import scipy.linalg
import scipy.linalg.blas

from tunesmith.samplers._gp.bfgs import minimize_box

_SQRT5 = math.sqrt(5.0)
_LOG_2PI = math.log(2.0 * math.pi)

#: The lower bound of the noise variance, and the fixed noise of a deterministic objective.
MIN_NOISE = 1e-6
_LOG_LAM_BOUNDS = (math.log(1e-3), math.log(1e4))
_LOG_SCALE_BOUNDS = (math.log(1e-2), math.log(1e2))
_LOG_NOISE_BOUNDS = (math.log(MIN_NOISE), 0.0)

_potrf = scipy.linalg.lapack.dpotrf
_potrs = scipy.linalg.lapack.dpotrs
_trtri = scipy.linalg.lapack.dtrtri
_lauum = scipy.linalg.lapack.dlauum

_SCALE_PRIOR = (0.0, 1.5)
_NOISE_PRIOR = (math.log(1e-4), 2.0)
_LENGTH_PRIOR_SD = 1.0
_GTOL = 1e-2
_FTOL = 1e-5
_MAX_EVALS = 200


def matern52(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Matérn-5/2 correlation ``m(r2)`` and its derivative ``dm/dr2``.

    ``dm/dr2 = -5/6 (1 + sqrt5 r) e^(-sqrt5 r)`` is finite at ``r = 0``, so the gradient needs no
    special case for coincident points.
    """
    a = np.sqrt(np.maximum(r2, 0.0))
    a *= _SQRT5
    e = np.exp(-a)
    a += 1.0  # 1 + sqrt5 r
    m = r2 * (5.0 / 3.0)
    m += a
    m *= e
    a *= e
    a *= -5.0 / 6.0
    return m, a


def _scaled_matern52(r2: np.ndarray, log_scale: float) -> np.ndarray:
    """``exp(log_scale) * m(r2)`` without the derivative, computed in place of ``r2`` (which
    must be ``>= 0`` and is consumed)."""
    a = np.sqrt(r2)
    a *= _SQRT5
    m = r2
    m *= 5.0 / 3.0
    m += a
    m += 1.0  # 1 + sqrt5 r + 5/3 r^2
    np.subtract(log_scale, a, out=a)
    np.exp(a, out=a)  # s e^(-sqrt5 r)
    m *= a
    return m


def _pair_distances(
    Xt: np.ndarray, rows: np.ndarray, cols: np.ndarray, cat: np.ndarray
) -> np.ndarray:
    """``(D, P)`` distances of the pairs ``(rows[p], cols[p])`` of the columns of ``Xt``."""
    d = np.take(Xt, rows, axis=1)
    d -= np.take(Xt, cols, axis=1)
    differs = d[cat] != 0.0
    np.square(d, out=d)
    d[cat] = differs
    return d


class _PairStore:
    """Growable storage of pair distances and indices, shared along a chain of
    :class:`PackedDistances` extended from one another. Only the newest object of the chain
    writes past its own pairs (claimed under the lock); any other extension copies."""

    def __init__(self, d: np.ndarray, rows: np.ndarray, cols: np.ndarray, used: int) -> None:
        self.d, self.rows, self.cols, self.used = d, rows, cols, used
        self.lock = threading.Lock()

    @classmethod
    def with_capacity(cls, dim: int, capacity: int) -> _PairStore:
        idx = np.empty(capacity, dtype=np.intp)
        return cls(np.empty((dim, capacity)), idx, np.empty_like(idx), 0)


#: Storage grows by this factor: a copy every ~12% more points, not every trial.
_GROWTH = 1.25


class PackedDistances:
    """Per-coordinate distances between the training points, for the pairs ``i >= j`` only.

    The kernel matrix is symmetric and LAPACK's Cholesky factorisation and inverse read and
    write only its lower triangle, so the likelihood works on the ``n (n + 1) / 2`` packed pairs:
    half the elementwise work of full matrices. Off-diagonal pairs count twice in the traces.
    The pairs are in row order (``(0, 0), (1, 0), (1, 1), (2, 0), ...``), so the pairs of
    points appended later come last: :meth:`extended` computes only theirs, in place in storage
    with room to grow (allocating a fresh multi-megabyte array per trial cost more in page
    faults than computing it).

    Attributes:
        d: ``(D, P)`` squared differences (``x != x'`` for categorical coordinates).
        rows, cols: The pairs' point indices (``rows >= cols``).
        flat: Flat indices of the pairs in an ``(n, n)`` column-major matrix (``j * n + i``
            for the pair ``(i, j)``): its lower triangle.
        diag: Positions of the diagonal pairs in the packed order.
    """

    def __init__(self, X: np.ndarray, is_categorical: np.ndarray) -> None:
        rows, cols = np.tril_indices(len(X))
        cat = np.flatnonzero(is_categorical)
        d = _pair_distances(X.T.copy(), rows, cols, cat)
        self._set(X, is_categorical, _PairStore(d, rows, cols, len(rows)))

    def _set(self, X: np.ndarray, is_categorical: np.ndarray, store: _PairStore) -> None:
        n = len(X)
        n_pairs = n * (n + 1) // 2
        self.X, self.is_categorical = X.copy(), is_categorical.copy()
        self.n = n
        self._store = store
        self.d = store.d[:, :n_pairs]
        self.rows, self.cols = store.rows[:n_pairs], store.cols[:n_pairs]
        self.flat = self.cols * n
        self.flat += self.rows
        # Pair p is diagonal for p = i (i + 3) / 2.
        self.diag = np.arange(n) * (np.arange(n) + 3) // 2

    def extended(self, X: np.ndarray, is_categorical: np.ndarray) -> PackedDistances:
        """The distances of ``X``: only the new pairs are computed when ``X`` starts with this
        object's points (the usual case, one trial more than at the previous fit)."""
        n0, n = self.n, len(X)
        if (
            n < n0
            or X.shape[1:] != self.X.shape[1:]
            or not np.array_equal(is_categorical, self.is_categorical)
            or not np.array_equal(X[:n0], self.X)
        ):
            return PackedDistances(X, is_categorical)
        if n == n0:
            return self
        p0, p = n0 * (n0 + 1) // 2, n * (n + 1) // 2
        store = self._store
        with store.lock:
            in_place = store.used == p0 and store.d.shape[1] >= p
            if in_place:
                store.used = p
        if not in_place:
            grown = _PairStore.with_capacity(X.shape[1], max(p, int(_GROWTH * p)))
            grown.d[:, :p0] = self.d
            grown.rows[:p0], grown.cols[:p0] = self.rows, self.cols
            grown.used = p
            store = grown
        new = np.arange(n0, n)
        rows, cols = store.rows[p0:p], store.cols[p0:p]
        rows[:] = np.repeat(new, new + 1)
        cols[:] = np.arange(p - p0) - np.repeat(np.cumsum(new + 1) - (new + 1), new + 1)
        cat = np.flatnonzero(is_categorical)
        store.d[:, p0:p] = _pair_distances(X.T.copy(), rows, cols, cat)
        out = PackedDistances.__new__(PackedDistances)
        out._set(X, is_categorical, store)
        return out


def _weighted_r2(
    X1: np.ndarray, X2: np.ndarray, lam: np.ndarray, is_categorical: np.ndarray
) -> np.ndarray:
    """``r2`` between all rows of ``X1`` and ``X2`` without building an ``(n1, n2, D)`` tensor."""
    num = ~is_categorical
    sq = np.sqrt(lam[num])
    A, B = X1[:, num] * sq, X2[:, num] * sq
    r2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    np.maximum(r2, 0.0, out=r2)
    for j in np.flatnonzero(is_categorical):
        r2 += lam[j] * (X1[:, j, None] != X2[None, :, j])
    return r2


def length_prior_mean(dim: int) -> float:
    return math.log(0.5) + 0.5 * math.log(max(dim, 1))


def default_theta(dim: int, deterministic: bool) -> np.ndarray:
    """The prior mode: the starting point of the first fit."""
    log_lam = np.full(dim, -2.0 * length_prior_mean(dim))
    log_lam = np.clip(log_lam, *_LOG_LAM_BOUNDS)
    noise = math.log(MIN_NOISE) if deterministic else _NOISE_PRIOR[0]
    return np.concatenate([log_lam, [_SCALE_PRIOR[0], noise]])


class _Factors:
    """What a fitted process keeps of one factorisation of ``K``: ``alpha = K^-1 y``, ``L^-1``
    and the lower triangle of ``K^-1``."""

    __slots__ = ("L_inv", "alpha", "inv_lower")

    def __init__(self, alpha: np.ndarray, L_inv: np.ndarray, inv_lower: np.ndarray) -> None:
        self.alpha, self.L_inv, self.inv_lower = alpha, L_inv, inv_lower


def _factorise(
    K: np.ndarray, y: np.ndarray, L_inv_out: np.ndarray | None = None
) -> tuple[_Factors, float] | None:
    """Factorise ``K`` (only its lower triangle is read; a column-major ``K`` is overwritten)
    and return the factors and ``log det(K) / 2``, or ``None`` if ``K`` is not positive
    definite.

    ``K^-1 = L^-T L^-1`` as LAPACK's ``potri`` computes it (``trtri``, then ``lauum``), with a
    copy of ``L^-1`` kept between the two (in ``L_inv_out``, column-major, if given) for the
    variances of many points at once. LAPACK is called directly and in place: the
    scipy.linalg wrappers would copy the matrix twice.
    """
    L, info = _potrf(K, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        return None
    alpha, info = _potrs(L, y, lower=1)
    if info != 0:
        return None
    log_det_half = float(np.log(np.diag(L)).sum())  # before L is overwritten by its inverse
    L_inv, info = _trtri(L, lower=1, overwrite_c=1)
    if info != 0:
        return None
    if L_inv_out is None:
        L_inv_out = L_inv.copy(order="F")  # LAPACK's order: no copy per call in `predict`
    else:
        np.copyto(L_inv_out, L_inv)
    inv, info = _lauum(L_inv, lower=1, overwrite_c=1)
    if info != 0:
        return None
    return _Factors(alpha, L_inv_out, inv), log_det_half


def _posterior_and_factors(
    theta: np.ndarray,
    dists: PackedDistances,
    y: np.ndarray,
    fit_noise: bool,
    work: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, np.ndarray, _Factors | None]:
    """:func:`neg_log_posterior`, and the factors of ``K`` (for the fitted process).

    ``work``: two ``(n, n)`` arrays to hold ``K`` (then ``K^-1``) and ``L^-1``, reused from one
    evaluation to the next so that each does not allocate (and page-fault) two more.
    """
    n, dim = dists.n, dists.d.shape[0]
    lam = np.exp(theta[:dim])
    scale = math.exp(theta[dim])
    noise = math.exp(theta[dim + 1])
    m, dm = matern52(lam @ dists.d)
    # K in column-major order (filled through its transpose's flat view), as LAPACK works on
    # it: the calls below then really work in place instead of on copies. Only the lower
    # triangle is ever read, so a reused array needs no clearing.
    K_t, L_inv_t = work if work is not None else (np.zeros((n, n)), None)
    K_t.ravel()[dists.flat] = scale * m
    K_t.ravel()[:: n + 1] += noise
    result = _factorise(K_t.T, y, None if L_inv_t is None else L_inv_t.T)
    if result is None:
        return 1e20, np.zeros_like(theta), None
    factors, log_det_half = result
    alpha = factors.alpha
    lml = -0.5 * float(y @ alpha) - log_det_half - 0.5 * n * _LOG_2PI
    # W = a a^T - K^-1 on the packed pairs. Off-diagonal pairs count twice in the traces; the
    # distances of the diagonal pairs are 0 and their correlations 1.
    W = np.take(alpha, dists.rows)
    W *= np.take(alpha, dists.cols)
    W -= factors.inv_lower.T.ravel()[dists.flat]  # a view: inv_lower is column-major
    w_diag = float(W[dists.diag].sum())
    dm *= W
    grad_lml = np.empty_like(theta)
    grad_lml[:dim] = scale * lam * (dists.d @ dm)
    grad_lml[dim] = scale * (float(W @ m) - 0.5 * w_diag)
    grad_lml[dim + 1] = 0.5 * noise * w_diag if fit_noise else 0.0

    # Priors: log l_d = -log(lam_d)/2 ~ N(mu, sd^2); log s ~ N(...); log noise ~ N(...).
    mu_l = length_prior_mean(dim)
    u = -0.5 * theta[:dim]
    log_prior = -0.5 * float((((u - mu_l) / _LENGTH_PRIOR_SD) ** 2).sum())
    grad_prior = np.zeros_like(theta)
    grad_prior[:dim] = 0.5 * (u - mu_l) / _LENGTH_PRIOR_SD**2
    zs = (float(theta[dim]) - _SCALE_PRIOR[0]) / _SCALE_PRIOR[1]
    log_prior -= 0.5 * zs * zs
    grad_prior[dim] = -zs / _SCALE_PRIOR[1]
    if fit_noise:
        zn = (float(theta[dim + 1]) - _NOISE_PRIOR[0]) / _NOISE_PRIOR[1]
        log_prior -= 0.5 * zn * zn
        grad_prior[dim + 1] = -zn / _NOISE_PRIOR[1]
    return -(lml + log_prior), -(grad_lml + grad_prior), factors


def neg_log_posterior(
    theta: np.ndarray, dists: PackedDistances, y: np.ndarray, *, fit_noise: bool = True
) -> tuple[float, np.ndarray]:
    """The negative log posterior of ``theta`` and its gradient.

    Args:
        theta: ``[log lam_1 .. log lam_D, log s, log noise]``.
        dists: The training inputs' :class:`PackedDistances`.
        y: Standardised training targets.
        fit_noise: With ``False`` the gradient entry of the noise is zero and its prior is left
            out (the noise is held fixed).

    The gradient of the log marginal likelihood is ``1/2 tr((a a^T - K^-1) dK/dtheta_j)`` with
    ``a = K^-1 y``; for ``log lam_d`` the kernel derivative is ``s m'(r2) lam_d dist_d``.
    """
    value, grad, _ = _posterior_and_factors(theta, dists, y, fit_noise)
    return value, grad


class GaussianProcess:
    """A fitted Gaussian process over encoded points; predicts the latent (noise-free) function.

    Args:
        X: ``(n, D)`` encoded training inputs.
        y: ``(n,)`` standardised targets.
        is_categorical: ``(D,)`` mask of categorical coordinates.
        theta: Hyperparameters, see :func:`neg_log_posterior`.

    Attributes:
        hess_inv: After :func:`fit_gp`, the optimiser's inverse-Hessian estimate at ``theta``
            (for the next fit's warm start), else ``None``.
        dists: After :func:`fit_gp`, the training inputs' :class:`PackedDistances` (the next
            fit extends them), else ``None``.
    """

    hess_inv: np.ndarray | None = None
    dists: PackedDistances | None = None

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        is_categorical: np.ndarray,
        theta: np.ndarray,
        *,
        _factors: _Factors | None = None,
    ) -> None:
        dim = X.shape[1]
        self.X, self.y, self.is_categorical, self.theta = X, y, is_categorical, theta
        self.lam = np.exp(theta[:dim])
        self.scale = math.exp(theta[dim])
        self.noise = math.exp(theta[dim + 1])
        self._log_scale = float(theta[dim])
        self._x0_cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        if _factors is None:
            m, _ = matern52(_weighted_r2(X, X, self.lam, is_categorical))
            K = self.scale * m
            K[np.diag_indices(len(X))] += self.noise
            result = _factorise(K.T, y)  # symmetric: its transpose is the column-major K
            if result is None:
                raise np.linalg.LinAlgError("GaussianProcess: the kernel matrix is singular.")
            _factors = result[0]
        self.alpha = _factors.alpha
        self._L_inv = _factors.L_inv
        inv = np.tril(_factors.inv_lower)
        # Predictions multiply by K^-1 (numpy matrix products) rather than solving triangular
        # systems per call: scipy's triangular solve starts BLAS threads even for tiny systems,
        # which on a busy machine cost ~10 ms per call.
        self.K_inv = inv + np.tril(inv, -1).T

    def predict(self, Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance at the rows of ``Xc``."""
        mean, var, _ = self._mean_var_factor(Xc)
        return mean, var

    def _mean_var_factor(self, Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean and variance at the rows of ``Xc``, and ``v = L^-1 k(X, Xc)``."""
        k = _scaled_matern52(
            _weighted_r2(Xc, self.X, self.lam, self.is_categorical), self._log_scale
        )
        mean = k @ self.alpha
        # k K^-1 k^T = |L^-1 k^T|^2: one triangular product, half the work of one with K^-1.
        v = scipy.linalg.blas.dtrmm(1.0, self._L_inv, k.T, lower=1, overwrite_b=1)
        var = self.scale - np.einsum("ij,ij->j", v, v)
        return mean, np.maximum(var, 1e-12), v

    def _kernel_grad(self, Xc: np.ndarray, c: np.ndarray) -> np.ndarray:
        """``sum_j c_ij (x_i - X_j) lam``: with ``c = w * 2 s m'(r2)``, the gradient of
        ``sum_j w_ij k(x_i, X_j)`` in ``x_i`` along numerical coordinates (dk_ij/dx_id = 2 s
        m'(r2_ij) lam_d (x_id - X_jd)), as two ``(m, n) @ (n, D)`` products instead of an
        ``(m, n, D)`` array. Categorical coordinates are the caller's to zero."""
        g = Xc * c.sum(1)[:, None]
        g -= c @ self.X
        g *= self.lam
        return g

    def _mean_var_grads(
        self, Xc: np.ndarray, dm: np.ndarray, kv: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of the posterior mean and variance from ``dm = 2 s m'(r2)`` (consumed)
        and ``kv = k K^-1``."""
        dmean = self._kernel_grad(Xc, dm * self.alpha)
        dm *= kv
        dvar = self._kernel_grad(Xc, dm)
        dvar *= -2.0
        if self.is_categorical.any():
            dmean[:, self.is_categorical] = 0.0
            dvar[:, self.is_categorical] = 0.0
        return dmean, dvar

    def predict_with_grad(
        self, Xc: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean and variance at the rows of ``Xc`` and their ``(m, D)`` gradients
        (zero along categorical coordinates)."""
        # k K^-1 with the explicit inverse: cheaper than two triangular products, but with an
        # ill-conditioned K (long length scales) its variance can lose digits against
        # predict's; predict_with_cov has the steadier form. Kept here because changing it
        # re-draws every single-objective run (benchmarks/README.md, GP).
        r2 = _weighted_r2(Xc, self.X, self.lam, self.is_categorical)
        m, dm = matern52(r2)
        k = self.scale * m
        mean = k @ self.alpha
        kv = k @ self.K_inv
        var = self.scale - (kv * k).sum(1)
        dm *= 2.0 * self.scale
        dmean, dvar = self._mean_var_grads(Xc, dm, kv)
        tiny = var < 1e-12
        if tiny.any():
            var = np.maximum(var, 1e-12)
            dvar[tiny] = 0.0
        return mean, var, dmean, dvar

    def predict_with_cov(
        self, Xc: np.ndarray, x0: np.ndarray, *, grad: bool = False
    ) -> tuple[np.ndarray, ...]:
        """Posterior mean and variance at the rows of ``Xc`` and the posterior covariance of the
        latent function between each row and the point ``x0``: ``(mean, var, cov)``, with
        ``grad`` ``(mean, var, cov, dmean, dvar, dcov)`` (gradients ``(m, D)`` in the rows).

        With it, the variance of ``f(x) - f(x0)`` is ``var(x) + var(x0) - 2 cov``, which
        vanishes at ``x = x0`` however uncertain the function is there.
        """
        if grad:
            return self._with_grad(Xc, x0)
        mean, var, v = self._mean_var_factor(Xc)
        return mean, var, self._cov_from(Xc, x0, v)[0]

    def _x0_terms(self, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``v0 = L^-1 k(X, x0)`` and ``beta = K^-1 k(X, x0)``, kept per ``x0``: the acquisition
        search asks about the same point (a front's extreme) at every step."""
        key = x0.tobytes()
        cached = self._x0_cache.get(key)
        if cached is None:
            k_x0 = _scaled_matern52(
                _weighted_r2(self.X, x0[None, :], self.lam, self.is_categorical), self._log_scale
            )[:, 0]
            # _L_inv holds L^-1 in its lower triangle only.
            v0 = scipy.linalg.blas.dtrmm(1.0, self._L_inv, k_x0[:, None], lower=1)[:, 0]
            beta = scipy.linalg.blas.dtrmm(1.0, self._L_inv, v0[:, None], lower=1, trans_a=1)
            cached = self._x0_cache[key] = (v0, beta[:, 0])
        return cached

    def _cov_from(
        self, Xc: np.ndarray, x0: np.ndarray, v: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``cov(f(x), f(x0)) = k(x, x0) - (L^-1 k(X, x)) . (L^-1 k(X, x0))`` from ``v = L^-1
        k(X, Xc)``; also ``r2(x, x0)`` and ``beta = K^-1 k(X, x0)``."""
        v0, beta = self._x0_terms(x0)
        r2_0 = _weighted_r2(Xc, x0[None, :], self.lam, self.is_categorical)[:, 0]
        k0 = _scaled_matern52(r2_0.copy(), self._log_scale)
        return k0 - v0 @ v, r2_0, beta

    def _with_grad(
        self, Xc: np.ndarray, x0: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r2 = _weighted_r2(Xc, self.X, self.lam, self.is_categorical)
        m, dm = matern52(r2)
        k = self.scale * m
        mean = k @ self.alpha
        # The variance as |L^-1 k^T|^2 (as in predict: k K^-1 k^T with the explicit inverse
        # loses digits when K is ill-conditioned, i.e. with long length scales), and k K^-1 for
        # the gradient as L^-T (L^-1 k^T).
        v = scipy.linalg.blas.dtrmm(1.0, self._L_inv, k.T, lower=1)
        var = self.scale - np.einsum("ij,ij->j", v, v)
        kv = scipy.linalg.blas.dtrmm(1.0, self._L_inv, v, lower=1, trans_a=1).T
        dm *= 2.0 * self.scale
        # cov = k(x, x0) - k(x, X) beta with beta = K^-1 k(X, x0).
        cov, r2_0, beta = self._cov_from(Xc, x0, v)
        _, dm0 = matern52(r2_0)
        c_cov = dm * beta
        dcov = (Xc - x0[None, :]) * (2.0 * self.scale * dm0)[:, None]
        dcov -= Xc * c_cov.sum(1)[:, None]
        dcov += c_cov @ self.X
        dcov *= self.lam
        dmean, dvar = self._mean_var_grads(Xc, dm, kv)
        if self.is_categorical.any():
            dcov[:, self.is_categorical] = 0.0
        tiny = var < 1e-12
        if tiny.any():
            var = np.maximum(var, 1e-12)
            dvar[tiny] = 0.0
        return mean, var, cov, dmean, dvar, dcov


def fit_gp(
    X: np.ndarray,
    y: np.ndarray,
    is_categorical: np.ndarray,
    *,
    deterministic: bool,
    theta0: np.ndarray | None = None,
    hess_inv0: np.ndarray | None = None,
    dists0: PackedDistances | None = None,
) -> GaussianProcess:
    """Fit the hyperparameters by maximum a posteriori and return the fitted process.

    Args:
        X: ``(n, D)`` encoded training inputs.
        y: ``(n,)`` standardised targets.
        is_categorical: ``(D,)`` mask of categorical coordinates.
        deterministic: Hold the noise at :data:`MIN_NOISE` instead of fitting it.
        theta0: Where to start (a previous fit's ``theta``); the prior mode by default.
        hess_inv0: A previous fit's ``hess_inv``: the optimiser starts with that curvature.
        dists0: A previous fit's ``dists``; reused when ``X`` starts with its points.
    """
    dim = X.shape[1]
    start = default_theta(dim, deterministic)
    if theta0 is not None and theta0.shape == start.shape and np.all(np.isfinite(theta0)):
        start = theta0.copy()
    if deterministic:
        start[dim + 1] = math.log(MIN_NOISE)
    dists = (
        dists0.extended(X, is_categorical)
        if dists0 is not None
        else PackedDistances(X, is_categorical)
    )
    lower = np.array([_LOG_LAM_BOUNDS[0]] * dim + [_LOG_SCALE_BOUNDS[0], _LOG_NOISE_BOUNDS[0]])
    upper = np.array([_LOG_LAM_BOUNDS[1]] * dim + [_LOG_SCALE_BOUNDS[1], _LOG_NOISE_BOUNDS[1]])
    if deterministic:
        lower[dim + 1] = upper[dim + 1] = start[dim + 1]
    fit_noise = not deterministic
    last: list[Any] = [None, None]  # the latest evaluation's theta and factors

    n = len(X)
    work = (np.empty((n, n)), np.empty((n, n)))

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad, factors = _posterior_and_factors(theta, dists, y, fit_noise, work)
        last[0], last[1] = theta, factors
        return value, grad

    res = minimize_box(
        objective,
        start,
        lower,
        upper,
        hess_inv=hess_inv0,
        # The fit only has to be good to a small fraction of a nat.
        gtol=_GTOL,
        ftol=_FTOL,
        max_evals=_MAX_EVALS,
    )
    theta = res.x if np.all(np.isfinite(res.x)) else np.clip(start, lower, upper)
    # The optimiser's last evaluation is usually at its result: reuse that factorisation.
    factors = last[1] if last[0] is not None and np.array_equal(last[0], theta) else None
    gp = GaussianProcess(X, y, is_categorical, theta, _factors=factors)
    gp.hess_inv = res.hess_inv
    gp.dists = dists
    return gp
