"""Parzen estimators on the internal representation of a search space, batched over dimensions.

Numerical dimensions use truncated normal kernels on a *transformed* axis: the value itself,
its logarithm for ``log=True``, and, for ``step`` or integer distributions, the same axis widened
by half a step on each side so that a grid point owns the interval around it (a kernel's
probability for a grid point is the mass of that interval). Categorical dimensions use kernels
that put most of their mass on the observed choice and spread ``prior_weight`` over the rest.

Every kernel set is stored padded as ``(dimensions, kernels)`` arrays so that one numpy
expression evaluates all candidates against all kernels of all dimensions: an *independent*
estimator is a separate mixture per dimension (each with its own observations and weights), a
*joint* one a mixture of product kernels shared by all dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import functools
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import erfc, erfcx, ndtr, ndtri

from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.samplers._tpe._kernel_cache import AboveKernelCache

EPS = 1e-12
_SQRT_HALF = math.sqrt(0.5)
_LOG_HALF = math.log(0.5)


@dataclass(frozen=True)
class ParzenEstimatorParameters:
    """The estimator options of :class:`~tunesmith.samplers.TPESampler`."""

    consider_prior: bool
    prior_weight: float
    consider_magic_clip: bool
    consider_endpoints: bool
    categorical_distance_func: dict[str, Callable[[Any, Any], float]] | None


@dataclass(frozen=True)
class DimSpec:
    """How one distribution maps onto the estimator's axis."""

    categorical: bool
    low: float  # external bounds (numerical)
    high: float
    step: float  # 0.0 for a continuous axis
    log: bool
    a: float  # bounds on the transformed axis
    b: float
    is_int: bool
    n_choices: int

    @classmethod
    def of(cls, dist: BaseDistribution) -> DimSpec:
        if isinstance(dist, CategoricalDistribution):
            n = len(dist.choices)
            return cls(True, 0.0, n - 1.0, 1.0, False, 0.0, n - 1.0, True, n)
        assert isinstance(dist, (FloatDistribution, IntDistribution))
        low, high = float(dist.low), float(dist.high)
        step = 0.0 if dist.step is None else float(dist.step)
        a, b = low - step / 2, high + step / 2
        if dist.log:
            a, b = math.log(a), math.log(b)
        return cls(
            False, low, high, step, bool(dist.log), a, b, isinstance(dist, IntDistribution), 0
        )


#: Below this, ``erfc(-r / sqrt 2) - erfc(-l / sqrt 2)`` (twice the mass) is near or past the
#: end of the normal floating-point range, and :func:`_log_gauss_mass_tail` takes over.
_TAIL_MASS = 1e-280
#: The log mass below which :func:`_log_gauss_mass` needs its tail form.
_TAIL_LOG = math.log(_TAIL_MASS / 2)


def _log_gauss_mass(lo: np.ndarray, hi: np.ndarray, *, exact_tail: bool = True) -> np.ndarray:
    """``log(Phi(hi) - Phi(lo))`` for ``lo <= hi``, accurate in both tails.

    The interval is mirrored into the left half when it lies right of 0, so that its left end
    ``l`` is at most 0; then ``2 (Phi(r) - Phi(l)) = erfc(-r / sqrt 2) - erfc(-l / sqrt 2)``
    has no cancellation beyond the one inherent in a narrow interval (``erfc`` is accurate
    relative to its value on the left half). Two ``erfc`` calls: about half the cost of the
    ``erfcx`` form, which remains for the few intervals whose mass is too small for this one
    (beyond about 36 widths). ``exact_tail=False``: those are left as they come (below
    :data:`_TAIL_LOG`, possibly ``-inf``), for callers that drop such terms anyway.
    """
    flip = lo > 0
    left = np.where(flip, -hi, lo)
    right = np.where(flip, -lo, hi)
    right *= -_SQRT_HALF
    left *= -_SQRT_HALF
    twice = erfc(right)
    twice -= erfc(left)
    with np.errstate(divide="ignore"):
        out = np.log(twice)
    out += _LOG_HALF
    if not exact_tail:
        return out
    tail = twice < _TAIL_MASS
    if tail.any():
        out[tail] = _log_gauss_mass_tail(lo[tail], hi[tail])
    return out


def _log_gauss_mass_tail(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:func:`_log_gauss_mass` for intervals of any mass, however far out.

    Mirrored as there; with ``Phi(z) = erfcx(-z / sqrt 2) exp(-z^2 / 2) / 2`` for ``z <= 0``
    (``erfcx`` only ever sees arguments >= 0, where it neither overflows nor loses precision),
    ``log Phi(l)`` and ``log Phi(r)`` are exact to rounding however far out they are, and the
    mass is ``log Phi(r) + log1p(-Phi(l) / Phi(r))``.
    """
    flip = lo > 0
    left = np.where(flip, -hi, lo)
    right = np.where(flip, -lo, hi)
    e_left = erfcx(left * -_SQRT_HALF)
    e_right = erfcx(np.abs(right) * _SQRT_HALF)
    half_r2 = 0.5 * right * right
    log_left = np.log(0.5 * e_left) - 0.5 * left * left
    # Phi(r) is 1 - Phi(-r) right of 0
    log_right = np.where(
        right > 0, np.log1p(-0.5 * e_right * np.exp(-half_r2)), np.log(0.5 * e_right) - half_r2
    )
    return log_right + np.log1p(-np.exp(log_left - log_right))


#: Kernel pruning in the joint density's grid dimensions (see
#: :meth:`NumericKernels._add_grid_pruned`): used above this many kernels, with this many exact
#: kernels per candidate for the lower bound, dropping kernels this far (in log) below it. The
#: same margin decides which far-tail terms the independent model's grid mixtures may drop
#: (:meth:`NumericKernels._grid_mixture`).
_PRUNE_MIN_KERNELS = 128
_PRUNE_TOP = 3
_PRUNE_MARGIN = 50.0


class GridCandidates:
    """The candidate side of the grid dimensions' masses for one set of candidates, shared by
    every estimator over the same dimensions (a decision's two models).

    ``lo`` and ``hi`` (``(g, C, 1)``): each candidate's interval on the transformed axis of
    each grid dimension; :meth:`distinct` gives one dimension's distinct intervals and each
    candidate's index among them (for mass tables over distinct kernels).
    """

    def __init__(self, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.x = x
        self.lo = lo
        self.hi = hi
        self._distinct: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def distinct(self, kern: NumericKernels, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grid dimension ``j``'s distinct candidate intervals (``(u, 1)`` lower and upper
        edges) and each candidate's index among them."""
        hit = self._distinct.get(j)
        if hit is None:
            ux, inv_x = _small_unique(self.x[j])
            lo, hi = kern._edges(ux[None, :], np.array([j]))
            hit = self._distinct[j] = (lo[0][:, None], hi[0][:, None], inv_x)
        return hit


def _small_unique(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(v, return_inverse=True)`` for a short one-dimensional ``v`` without NaNs,
    with a fraction of its overhead."""
    order = np.argsort(v)
    srt = v[order]
    first = np.empty(len(v), dtype=bool)
    if len(v):
        first[0] = True
        np.not_equal(srt[1:], srt[:-1], out=first[1:])
    inv = np.empty(len(v), dtype=np.intp)
    inv[order] = np.cumsum(first) - 1
    return srt[first], inv


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m, axis=axis)


def _sigmas(
    mus: np.ndarray,
    valid: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    params: ParzenEstimatorParameters,
) -> np.ndarray:
    """Bandwidths by the distance to the neighbouring observations, per dimension (row)."""
    d, n = mus.shape
    if n == 0:
        return np.empty((d, 0))
    if valid.all():
        return _sigmas_dense(mus, a, b, params)
    count = valid.sum(axis=1)
    filled = np.where(valid, mus, np.inf)
    order = np.argsort(filled, axis=1, kind="stable")
    rows = np.arange(d)[:, None]
    srt = filled[rows, order]
    ext = np.empty((d, n + 2))
    ext[:, 0] = a
    ext[:, 1:-1] = srt
    cols = np.arange(n + 2)[None, :]
    # Everything after the last valid observation becomes the upper end.
    ext = np.where(cols <= count[:, None], ext, b[:, None])
    left = ext[:, 1:-1] - ext[:, :-2]
    right = ext[:, 2:] - ext[:, 1:-1]
    sig_sorted = np.maximum(left, right)
    if not params.consider_endpoints:
        many = np.flatnonzero(count >= 2)
        if len(many):
            last = count[many] - 1
            sig_sorted[many, 0] = right[many, 0]
            sig_sorted[many, last] = left[many, last]
    sig = np.empty_like(sig_sorted)
    sig[rows, order] = sig_sorted
    span = b - a
    if params.consider_magic_clip:
        n_kernels = count + (1 if params.consider_prior else 0)
        min_sig = span / np.minimum(100.0, 1.0 + n_kernels)
    else:
        min_sig = np.full(d, EPS)
    sig = np.minimum(np.maximum(sig, min_sig[:, None]), span[:, None])
    return np.where(valid, sig, 1.0)


def _sigmas_dense(
    mus: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    params: ParzenEstimatorParameters,
    flat: np.ndarray | None = None,
    sorted_mus: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`_sigmas` when every observation is valid (the common case, and the joint
    model's only one): no padding, and the clip is applied before scattering back. ``flat``
    and ``sorted_mus``: the sort order of each row (see :func:`_sort_order`) and the rows
    sorted, if the caller has them."""
    d, n = mus.shape
    if flat is None:
        flat = _sort_order(mus)
    srt = mus.ravel().take(flat).reshape(d, n) if sorted_mus is None else sorted_mus
    # The gaps between neighbours, the bounds counting as neighbours of the ends.
    gaps = np.empty((d, n + 1))
    if n:
        np.subtract(srt[:, 0], a, out=gaps[:, 0])
        np.subtract(srt[:, 1:], srt[:, :-1], out=gaps[:, 1:-1])
        np.subtract(b, srt[:, -1], out=gaps[:, -1])
    else:
        np.subtract(b, a, out=gaps[:, 0])
    sig_sorted = np.maximum(gaps[:, :-1], gaps[:, 1:])
    if not params.consider_endpoints and n >= 2:
        sig_sorted[:, 0] = gaps[:, 1]
        sig_sorted[:, -1] = gaps[:, -2]
    span = b - a
    if params.consider_magic_clip:
        n_kernels = n + (1 if params.consider_prior else 0)
        min_sig = span / min(100.0, 1.0 + n_kernels)
    else:
        min_sig = np.full(d, EPS)
    # np.clip with per-row bounds goes through buffered iteration; two binary ufuncs do not.
    np.maximum(sig_sorted, min_sig[:, None], out=sig_sorted)
    np.minimum(sig_sorted, span[:, None], out=sig_sorted)
    sig = np.empty(d * n)
    sig[flat] = sig_sorted.ravel()
    return sig.reshape(d, n)


def rows_view(row: np.ndarray, d: int) -> np.ndarray:
    """``np.broadcast_to(row, (d, len(row)))`` (read-only, nothing copied) for a contiguous
    one-dimensional ``row``, without ``broadcast_to``'s several microseconds of checks."""
    out = np.ndarray((d, row.shape[0]), row.dtype, buffer=row, strides=(0, row.itemsize))
    out.flags.writeable = False
    return out


def _sort_order(mus: np.ndarray) -> np.ndarray:
    """``np.argsort(mus, axis=1)`` as flat indices (row ``j`` offset by ``j * n``): one-dimensional
    take and put are much cheaper than their two-dimensional counterparts."""
    d, n = mus.shape
    return (np.argsort(mus, axis=1) + (np.arange(d) * n)[:, None]).ravel()


# OpenBLAS hands a matrix product to its thread pool once m * n * k passes about 2**19; a product
# that small then costs 10 to 400 times more than on one thread (the pool's wake-up and spinning,
# worst on busy cores: 9 ms instead of 20 us for 24 x 20 x 1,100 here). The joint density's
# product grows with the history, so it is cut into blocks that stay on the calling thread.
_SERIAL_MNK = 1 << 18


def _serial_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` (``(m, k) @ (k, n)``) in column blocks small enough for one BLAS thread, as
    a C-contiguous ``(m, n)`` array (``out``, if given): the row reductions that follow (a
    candidate's mixture over kernels) run several times faster on contiguous rows."""
    m, k = a.shape
    n = b.shape[1]
    block = max(1, _SERIAL_MNK // max(1, m * k))
    if out is None:
        if n <= block:
            return a @ b
        out = np.empty((m, n))
    for s in range(0, n, block):
        np.matmul(a, b[:, s : s + block], out=out[:, s : s + block])
    return out


_scratch_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape``, backed by this thread's buffer
    ``name`` (grown as needed, kept between decisions).

    A decision's largest arrays (candidates x kernels) are made and dropped once or twice per
    decision; as fresh allocations at the top of the heap they made the C allocator give the
    memory back and fault it in again every time (hundreds of page faults, about a sixth of a
    mixed-space decision). Callers must be done with the array before ``name`` is asked for
    again on the same thread.
    """
    bufs: dict[str, np.ndarray] | None = getattr(_scratch_local, "bufs", None)
    if bufs is None:
        bufs = _scratch_local.bufs = {}
    size = math.prod(shape)
    buf = bufs.get(name)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = bufs[name] = np.empty(max(size, int(1.25 * size) + 1024), dtype=dtype)
    return buf[:size].reshape(shape)


def _log_trunc_norm(z_lo: np.ndarray, z_hi: np.ndarray) -> np.ndarray:
    """``log(Phi(z_hi) - Phi(z_lo))`` for kernels whose mean lies between the bounds
    (``z_lo <= 0 <= z_hi``), computed only where a bound is near enough to matter."""
    out = np.zeros(z_lo.shape)
    near = (z_lo > -8.5) | (z_hi < 8.5)
    if near.all():
        return np.log(ndtr(z_hi) - ndtr(z_lo))
    if near.any():
        out[near] = np.log(ndtr(z_hi[near]) - ndtr(z_lo[near]))
    return out


def kernel_terms(
    mu: np.ndarray, sig: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Per-kernel pieces of the joint log density over continuous dimensions.

    For kernels with means ``mu`` and widths ``sig`` (``(c, K)``) on axes ``[a, b]`` (``(c,)``),
    with ``u = mu - centre`` and ``s2 = 1 / sig**2``, a kernel's log density at ``t`` (centred
    too) is ``[t^2, t] @ rhs + offset`` with the right-hand side ``rhs = [-s2 / 2; u s2]``
    (``(2c, K)``) and ``offset = log_scale - sum(u**2 s2) / 2``, where the log scale
    ``-sum(log sig) - sum(log_norm)`` (``(K,)``) is the log density at the kernel's mean.
    Returned: ``rhs``, ``offset``, ``log_scale``, and whether the log scale took one logarithm
    of the product of widths per kernel (possible when every product stays in floating-point
    range; otherwise it sums the logarithms).
    """
    c = len(a)
    prod = np.multiply.reduce(sig, axis=0)
    in_range = not prod.size or bool(
        np.minimum.reduce(prod) > 1e-290 and np.maximum.reduce(prod) < np.inf
    )
    log_sig = np.log(prod) if in_range else np.sum(np.log(sig), axis=0)
    inv = 1.0 / sig
    log_norm = _log_trunc_norm((a[:, None] - mu) * inv, (b[:, None] - mu) * inv)
    centred = mu - (0.5 * (a + b))[:, None]
    rhs = np.empty((2 * c, mu.shape[1]))
    s2 = np.multiply(inv, inv, out=rhs[:c])
    us2 = np.multiply(centred, s2, out=rhs[c:])
    quad0 = np.sum(centred * us2, axis=0)
    s2 *= -0.5
    log_scale = -log_sig - np.sum(log_norm, axis=0)
    return rhs, log_scale - 0.5 * quad0, log_scale, in_range


class _Axes:
    """The per-dimension constants of a list of :class:`DimSpec` as arrays (read-only), made
    once per list: a decision builds two estimators over the same dimensions."""

    _made: dict[tuple[int, ...], tuple[list[DimSpec], _Axes]] = {}

    def __init__(self, specs: list[DimSpec]) -> None:
        def arr(name: str, dtype: type) -> np.ndarray:
            return np.array([getattr(s, name) for s in specs], dtype=dtype)

        self.a, self.b = arr("a", float), arr("b", float)
        self.low, self.high, self.step = arr("low", float), arr("high", float), arr("step", float)
        self.log, self.is_int = arr("log", bool), arr("is_int", bool)
        self.disc = self.step > 0
        self.any_log = bool(self.log.any())
        self.cont = np.flatnonzero(~self.disc)
        #: The grid dimensions, as an index array and as Python ints.
        self.disc_idx = np.flatnonzero(self.disc)
        self.disc_list = [int(j) for j in self.disc_idx]
        self.a_disc, self.b_disc = self.a[self.disc_idx], self.b[self.disc_idx]
        self.center = 0.5 * (self.a + self.b)
        self.span = self.b - self.a
        self.a_cont, self.b_cont = self.a[self.cont], self.b[self.cont]
        self.center_cont = 0.5 * (self.a_cont + self.b_cont)
        for v in vars(self).values():
            if isinstance(v, np.ndarray):
                v.flags.writeable = False

    @classmethod
    def of(cls, specs: list[DimSpec]) -> _Axes:
        # Keyed by identity (the sampler keeps one DimSpec per distribution); the entry holds
        # the specs themselves, so an id is never reused while its entry lives.
        key = tuple(map(id, specs))
        hit = cls._made.get(key)
        if hit is not None:
            return hit[1]
        axes = cls(specs)
        if len(cls._made) >= 256:
            cls._made.clear()
        cls._made[key] = (list(specs), axes)
        return axes


class NumericKernels:
    """Truncated normal kernels of ``d`` numerical dimensions, padded to a common count.

    Args:
        specs: One :class:`DimSpec` per dimension.
        values: ``(d, n)`` observed values in the external numerical form; ignored where
            ``valid`` is false.
        valid: ``(d, n)`` which observations a dimension uses.
        weights: ``(d, n)`` non-negative observation weights (the prior is added here).
        params: The estimator options.
    """

    def __init__(
        self,
        specs: list[DimSpec],
        values: np.ndarray,
        valid: np.ndarray,
        weights: np.ndarray,
        params: ParzenEstimatorParameters,
        *,
        cache: tuple[AboveKernelCache, np.ndarray, int] | None = None,
    ) -> None:
        d = values.shape[0]
        self.d = d
        axes = _Axes.of(specs)
        self.axes = axes
        self.a, self.b, self.low, self.high = axes.a, axes.b, axes.low, axes.high
        self.step, self.log, self.is_int, self.disc = axes.step, axes.log, axes.is_int, axes.disc
        dense = bool(valid.all())
        t = values
        if axes.any_log:
            t = values.copy()
            lg = self.log
            t[lg] = np.log(values[lg] if dense else np.where(valid[lg], values[lg], 1.0))
        if not dense:
            t = np.where(valid, t, self.a[:, None])
            cache = None
        if cache is not None and t.shape[1]:
            store, ids, n_stored = cache
            sig = _sigmas_dense(t, self.a, self.b, params, *store.sort_order(ids, t, n_stored))
        else:
            cache = None
            sig = _sigmas(t, valid, self.a, self.b, params)
        count = np.full(d, values.shape[1]) if dense else valid.sum(axis=1)
        use_prior = params.consider_prior or bool(np.any(count == 0))
        # Every dimension weighs the observations alike (a broadcast row, as the sampler
        # passes them when every observation is valid): normalise that row once.
        shared = dense and weights.strides[0] == 0
        w = weights[:1] if shared else weights if dense else np.where(valid, weights, 0.0)
        obs_t, obs_sig = t, sig
        if use_prior:
            prior_w = np.where(
                count == 0, 1.0, params.prior_weight if params.consider_prior else 0.0
            )
            t = np.concatenate([t, axes.center[:, None]], axis=1)
            sig = np.concatenate([sig, axes.span[:, None]], axis=1)
            w = np.concatenate([w, prior_w[: len(w), None]], axis=1)
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total > 0, total, 1.0)
        if shared:
            w = rows_view(w[0], d)
        self.mu = t
        self.sigma = sig
        self.weights = w
        self._clip = not params.consider_magic_clip
        self._grid: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._grid_norm: np.ndarray | None = None
        #: The joint density's per-kernel terms of the continuous dimensions, when the cache
        #: gave them (see :func:`kernel_terms`).
        self._terms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if cache is not None:
            cont = axes.cont
            if len(cont):
                prior = (t[cont, -1:], sig[cont, -1:]) if use_prior else None
                self._terms = cache[0].terms(
                    obs_t[cont], obs_sig[cont], axes.a_cont, axes.b_cont, prior
                )

    @functools.cached_property
    def inv_sigma(self) -> np.ndarray:
        """``(d, K)`` reciprocal widths."""
        return 1.0 / self.sigma

    @functools.cached_property
    def log_norm(self) -> np.ndarray:
        """``(d, K)`` log of each kernel's mass inside the bounds."""
        # Means lie inside [a, b] and widths are at most b - a, so the truncated mass is at
        # least Phi(0.5) - Phi(-0.5) and the plain difference is accurate.
        inv = self.inv_sigma
        t = self.mu
        return _log_trunc_norm((self.a[:, None] - t) * inv, (self.b[:, None] - t) * inv)

    @functools.cached_property
    def log_w(self) -> np.ndarray:
        """``(d, K)`` log weights (computed on first use: the joint model needs one row)."""
        with np.errstate(divide="ignore"):
            return np.log(self.weights)

    def joint_log_weights(self) -> np.ndarray:
        """``(K,)`` log weights of the product kernels (every row is the same in a joint
        model)."""
        with np.errstate(divide="ignore"):
            return np.log(self.weights[0])

    # -- sampling ----------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, kernel: np.ndarray) -> np.ndarray:
        """Draw one value per entry of ``kernel`` (``(d, C)`` kernel indices per dimension,
        or ``(C,)``: the same kernels in every dimension); external form."""
        if kernel.ndim == 1:
            mu = self.mu.take(kernel, axis=1)
            sig = self.sigma.take(kernel, axis=1)
        else:
            rows = np.arange(self.d)[:, None]
            mu = self.mu[rows, kernel]
            sig = self.sigma[rows, kernel]
        a, b = self.a[:, None], self.b[:, None]
        lo = ndtr((a - mu) / sig)
        hi = ndtr((b - mu) / sig)
        u = lo + rng.random(mu.shape) * (hi - lo)
        x = mu + sig * ndtri(u)
        x = np.where(np.isfinite(x), x, mu)
        x = np.clip(x, a, b)
        return self.to_external(x)

    def to_external(self, x: np.ndarray) -> np.ndarray:
        """Map points of the transformed axis to admissible external values (numeric)."""
        if self.axes.any_log:
            x = np.where(self.log[:, None], np.exp(x), x)
        low, high = self.low[:, None], self.high[:, None]
        if self.axes.disc_list:
            step = np.where(self.disc, self.step, 1.0)[:, None]
            k = np.round((x - low) / step)
            k = np.clip(k, 0.0, np.round((high - low) / step))
            x = np.where(self.disc[:, None], low + k * step, x)
        return np.clip(x, low, high)

    # -- densities ---------------------------------------------------------------------------
    def _edges(self, x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = (self.step[rows] / 2)[:, None]
        lo, hi = x - half, x + half
        lg = self.log[rows][:, None]
        if lg.any():
            lo = np.where(lg, np.log(np.maximum(lo, 0.0)), lo)
            hi = np.where(lg, np.log(hi), hi)
        return lo, hi

    def _transform(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        lg = self.log[rows][:, None]
        if lg.any():
            return np.where(lg, np.log(np.maximum(x, 1e-300)), x)
        return x

    def _cont_log_terms(self, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``(len(rows), C, K)`` log kernel densities of continuous dimensions ``rows``."""
        t = self._transform(x, rows)
        z = (t[:, :, None] - self.mu[rows][:, None, :]) * self.inv_sigma[rows][:, None, :]
        return -0.5 * z * z + (np.log(self.inv_sigma[rows]) - self.log_norm[rows])[:, None, :]

    def grid_candidates(self, x: np.ndarray) -> GridCandidates:
        """The candidate side of the grid dimensions' masses for the candidates ``x``
        (``(d, C)``); the same for every estimator over these dimensions, so a decision
        computes it once for both of its models."""
        disc = self.axes.disc_idx
        lo, hi = self._edges(x[disc], disc)
        return GridCandidates(x, lo[:, :, None], hi[:, :, None])

    def _grid_direct(self, cands: GridCandidates) -> np.ndarray:
        """``(C, K)``: the grid dimensions' summed log masses (each relative to the kernel's
        mass inside the bounds) of every candidate under every kernel, computed pair by pair
        for all grid dimensions at once: for few kernels, cheaper than tables over distinct
        kernels."""
        axes = self.axes
        gi = axes.disc_idx
        mu, sig = self.mu[gi], self.sigma[gi]  # (g, K)
        inv = 1.0 / sig
        norm = self._grid_norm
        if norm is None:
            norm = self._grid_norm = _log_gauss_mass(
                (axes.a_disc[:, None] - mu) * inv, (axes.b_disc[:, None] - mu) * inv
            ).sum(axis=0)
        mu3, inv3 = mu[:, None, :], inv[:, None, :]
        mass = _log_gauss_mass((cands.lo - mu3) * inv3, (cands.hi - mu3) * inv3)
        out: np.ndarray = mass.sum(axis=0)
        out -= norm
        return out

    def _grid_kernels(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Grid dimension ``j``'s distinct (mean, width) kernels: their means, inverse widths
        and log masses inside the bounds, and each kernel's index among them (kept: a model
        reused by the next decision needs them again)."""
        hit = self._grid.get(j)
        if hit is None:
            key = self.mu[j] + 1j * self.sigma[j]
            uk, inv_k = np.unique(key, return_inverse=True)
            mu = uk.real
            inv = 1.0 / uk.imag
            log_norm = _log_gauss_mass((self.a[j] - mu) * inv, (self.b[j] - mu) * inv)
            hit = self._grid[j] = (mu, inv, log_norm, inv_k.ravel())
        return hit

    def _grid_masses(
        self, j: int, cands: GridCandidates
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For grid dimension ``j``: the mass table of the distinct candidate values against
        the distinct (mean, width) kernels, with both inverse indices.

        Grid dimensions repeat themselves (integer means, clipped widths), so the table is
        usually tiny compared with candidates x kernels.
        """
        lo, hi, inv_x = cands.distinct(self, j)
        mu, inv, log_norm, inv_k = self._grid_kernels(j)
        table = _log_gauss_mass((lo - mu) * inv, (hi - mu) * inv)
        table -= log_norm
        return table, inv_x, inv_k

    def joint_log_density(
        self,
        x: np.ndarray,
        log_w: np.ndarray | None = None,
        cands: GridCandidates | None = None,
        extra: Sequence[tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]] | None = None,
        *,
        in_scratch: bool = False,
    ) -> np.ndarray:
        """``(C, K)``: the log density of every product kernel at every candidate ``x[:, c]``,
        plus ``log_w`` (``(K,)``, the kernels' log weights) if given, plus further log
        factors at most 0 (such as categorical dimensions'): ``f(arg)`` (``(C, K)``) for each
        ``(f, arg)`` of ``extra``, computed one at a time and added in place.
        ``cands``: :meth:`grid_candidates` of ``x``, if the caller has it. ``in_scratch``: the
        result may live in this thread's :func:`scratch` buffer ``"density"`` (valid until the
        next such call on the thread).

        The Gaussian exponent summed over continuous dimensions is a quadratic form, so it is
        computed with two contractions over dimensions instead of a ``(d, C, K)`` array.

        With continuous and grid dimensions and many kernels, grid masses are only computed
        for the kernels that can matter (see :meth:`_add_grid_pruned`); the others get
        ``-inf``, which changes a candidate's mixture by less than ``K * exp(-50)`` of its
        value, far below rounding.
        """
        C, K = x.shape[1], self.mu.shape[1]
        total = None
        axes = self.axes
        cont = axes.cont
        if len(cont):
            terms = self._terms
            if terms is None:
                # Kept: a model reused from one decision to the next needs them again.
                rhs, offset, log_scale, _ = kernel_terms(
                    self.mu[cont], self.sigma[cont], axes.a_cont, axes.b_cont
                )
                terms = self._terms = (rhs, offset, log_scale)
            rhs, offset, log_scale = terms
            if log_w is not None:
                offset = offset + log_w
            t = self._transform(x[cont], cont) - axes.center_cont[:, None]
            # Both contractions in one matrix product: [t^2, t] @ [-s2 / 2; u s2].
            lhs = np.concatenate([t * t, t], axis=0).T
            buf = scratch("density", (C, K)) if in_scratch else None
            total = _serial_matmul(lhs, rhs, buf)
            total += offset
            if self._clip:
                # The expanded quadratic form cancels: with widths far below the axis's span
                # its rounding could lift a kernel above its own peak.
                np.minimum(total, log_scale if log_w is None else log_scale + log_w, out=total)
            log_w = None
        for factor, arg in extra or ():
            if total is None:
                total = factor(arg)
            else:
                total += factor(arg)
        if axes.disc_list:
            if cands is None:
                cands = self.grid_candidates(x)
            if K <= _PRUNE_MIN_KERNELS:
                part = self._grid_direct(cands)
                if total is None:
                    total = part
                else:
                    total += part
            elif len(cont):
                # The continuous factors (and the weights folded into them) make the bound.
                assert total is not None
                self._add_grid_pruned(total, cands)
            else:
                for j in axes.disc_list:
                    table, inv_x, inv_k = self._grid_masses(j, cands)
                    # Two one-axis takes: several times cheaper than one two-axis gather.
                    part = table.take(inv_x, axis=0).take(inv_k, axis=1)
                    if total is None:
                        total = part
                    else:
                        total += part
        if total is None:
            total = np.zeros((C, K))
        if log_w is not None:
            total += log_w
        return total

    def _add_grid_pruned(self, total: np.ndarray, cands: GridCandidates) -> None:
        """Add the grid dimensions' log masses to ``total`` (``(C, K)``, holding every other
        factor) where they can matter, and ``-inf`` elsewhere.

        Grid masses are at most 1, so ``total`` bounds each kernel's final value from above.
        The exact final values of each candidate's few best kernels by that bound give a
        lower bound ``L`` of the candidate's best kernel; kernels whose bound is below
        ``L - 50`` cannot move the candidate's mixture (each adds less than ``exp(-50)`` of
        it) and are dropped. Far from every candidate in the continuous dimensions, that is
        most of the "above" model's kernels, whose grid masses (normal CDFs of every distinct
        candidate value against every distinct kernel) were the largest cost of a decision.
        """
        C = total.shape[0]
        # Each candidate's best few kernels by the bound, by repeated argmax (argpartition
        # would allocate a (C, K) index array, and large short-lived arrays make the heap grow
        # and shrink on every decision).
        rows = np.arange(C)
        top = np.empty((C, _PRUNE_TOP), dtype=np.intp)
        exact = np.empty((C, _PRUNE_TOP))
        for i in range(_PRUNE_TOP):
            best = np.argmax(total, axis=1)
            top[:, i] = best
            exact[:, i] = total[rows, best]
            total[rows, best] = -np.inf
        for i in reversed(range(_PRUNE_TOP)):  # reversed: a row with repeats ends right
            total[rows, top[:, i]] = exact[:, i]
        exact += self._grid_pairs(cands, np.repeat(rows, _PRUNE_TOP), top.ravel()).reshape(
            C, _PRUNE_TOP
        )
        floor = np.maximum.reduce(exact, axis=1) - _PRUNE_MARGIN
        # Only the (candidate, kernel) pairs that can matter: a kernel near one candidate is
        # usually far from most others.
        cand_i, kern_i = np.nonzero(total >= floor[:, None])
        kept = total[cand_i, kern_i]
        kept += self._grid_pairs(cands, cand_i, kern_i)
        total.fill(-np.inf)
        total[cand_i, kern_i] = kept

    def _grid_pairs(
        self, cands: GridCandidates, cand_i: np.ndarray, kern_i: np.ndarray
    ) -> np.ndarray:
        """``(P,)``: the grid dimensions' summed log masses (each relative to the kernel's mass
        inside the bounds) of candidate ``cand_i[p]`` under kernel ``kern_i[p]``, for each
        pair ``p``; both ends of every interval in one call."""
        axes = self.axes
        gi = axes.disc_idx
        g, P = len(gi), len(cand_i)
        mu = self.mu[gi].take(kern_i, axis=1)  # (g, P)
        inv = 1.0 / self.sigma[gi].take(kern_i, axis=1)
        lo = np.empty((2, g, P))
        hi = np.empty((2, g, P))
        np.subtract(cands.lo[:, :, 0].take(cand_i, axis=1), mu, out=lo[0])
        np.subtract(cands.hi[:, :, 0].take(cand_i, axis=1), mu, out=hi[0])
        np.subtract(axes.a_disc[:, None], mu, out=lo[1])
        np.subtract(axes.b_disc[:, None], mu, out=hi[1])
        lo *= inv
        hi *= inv
        mass = _log_gauss_mass(lo, hi)
        out: np.ndarray = mass[0].sum(axis=0)
        out -= mass[1].sum(axis=0)
        return out

    def log_pdf_per_dim(self, x: np.ndarray) -> np.ndarray:
        """``(d, C)``: each dimension's own mixture at the values ``x`` (``(d, C)``)."""
        out = np.empty(x.shape)
        cont = self.axes.cont
        if len(cont):
            # Sum the kernels directly in linear scale after shifting by the largest
            # coefficient, in single precision (this is the hot loop: candidates x kernels x
            # dimensions, and the result only ranks candidates); rows where everything
            # underflows are redone in double precision and log scale.
            t = self._transform(x[cont], cont)
            inv_s = self.inv_sigma[cont]
            coef = self.log_w[cont] + np.log(inv_s) - self.log_norm[cont]
            shift = np.max(coef, axis=1)
            shift = np.where(np.isfinite(shift), shift, 0.0)
            # exp(coef - 0.5 * ((t - mu) / sigma)^2), with the 0.5 folded into the scale.
            scale = (inv_s * math.sqrt(0.5)).astype(np.float32)[:, None, :]
            # In this thread's buffer: a fresh (c, C, K) array per call made the C allocator
            # grow and trim the heap on every decision.
            z = scratch("per_dim", (len(cont), t.shape[1], scale.shape[2]), np.float32)
            np.multiply(t.astype(np.float32)[:, :, None], scale, out=z)
            z -= (self.mu[cont] * inv_s * math.sqrt(0.5)).astype(np.float32)[:, None, :]
            np.multiply(z, z, out=z)
            np.subtract((coef - shift[:, None]).astype(np.float32)[:, None, :], z, out=z)
            np.exp(z, out=z)
            s = z.sum(axis=2, dtype=np.float64)
            out[cont] = np.log(s) + shift[:, None]
            bad = ~np.all(np.isfinite(out[cont]), axis=1)
            if bad.any():
                rows = cont[bad]
                full = self._cont_log_terms(rows, x[rows]) + self.log_w[rows][:, None, :]
                out[rows] = _logsumexp(full, axis=2)
        cands = self.grid_candidates(x) if self.axes.disc_list else None
        for j in self.axes.disc_list:
            assert cands is not None
            out[j] = self._grid_mixture(j, cands)
        return out

    def _grid_mixture(self, j: int, cands: GridCandidates) -> np.ndarray:
        """``(C,)``: grid dimension ``j``'s mixture at the candidates, from the table of
        distinct candidate values against distinct kernels (a grid dimension's mixture only
        needs the total weight of each distinct kernel).

        Terms past the reach of :func:`_log_gauss_mass`'s fast form (below ``exp(-645)``,
        weighted at most ``exp(-645)`` times the largest weight) are dropped where the
        candidate's best term exceeds that by a margin of 50, and computed exactly in the rare
        rows where it does not: far from a candidate, narrow kernels of a large grid (an
        integer range of hundreds) were a third of the table and cost more than the rest.
        """
        lo, hi, inv_x = cands.distinct(self, j)
        mu, inv, log_norm, inv_k = self._grid_kernels(j)
        log_w = np.log(np.bincount(inv_k, weights=self.weights[j], minlength=len(mu)))
        table = _log_gauss_mass((lo - mu) * inv, (hi - mu) * inv, exact_tail=False)
        rough = table < _TAIL_LOG
        table -= log_norm
        table += log_w
        if rough.any():
            table[rough] = -np.inf
            cap = _TAIL_LOG + np.max(log_w - log_norm)
            redo = np.flatnonzero(
                np.logical_or.reduce(rough, axis=1) & (table.max(axis=1) < cap + _PRUNE_MARGIN)
            )
            if len(redo):
                exact = _log_gauss_mass((lo[redo] - mu) * inv, (hi[redo] - mu) * inv)
                exact -= log_norm
                exact += log_w
                table[redo] = exact
        return _logsumexp(table, axis=1)[inv_x]


class CategoricalKernels:
    """Kernels of one categorical dimension.

    Args:
        spec: The dimension.
        indices: ``(n,)`` observed choice indices (only the valid ones).
        weights: ``(n,)`` their weights.
        params: The estimator options.
        distance: ``distance(i, j)`` between choices ``i`` and ``j``, as an ``(c, c)`` matrix,
            or ``None`` for kernels that only know equal and different.
    """

    def __init__(
        self,
        spec: DimSpec,
        indices: np.ndarray,
        weights: np.ndarray,
        params: ParzenEstimatorParameters,
        distance: np.ndarray | None,
    ) -> None:
        c = spec.n_choices
        n = len(indices)
        pw = params.prior_weight
        if distance is None:
            # The spill-over onto other choices shrinks as observations accumulate (one
            # prior's worth shared by all kernels), so the model commits as evidence grows.
            table = np.full((c, c), pw / (n + 1))
            table[np.arange(c), np.arange(c)] += 1.0
        else:
            # Kernels sharpen as observations accumulate, so that near choices share mass
            # early and the model commits later.
            scale = np.max(distance, axis=1, keepdims=True)
            rel = distance / np.where(scale > 0, scale, 1.0)
            sharp = math.log1p(n) * 2.0
            table = np.exp(-sharp * rel * rel) + pw / c
        table /= table.sum(axis=1, keepdims=True)
        self.table = table
        use_prior = params.consider_prior or n == 0
        w = np.asarray(weights, dtype=float)
        prior_w = (1.0 if n == 0 else pw) if use_prior else 0.0
        total = w.sum() + prior_w
        if total <= 0:
            w, prior_w, total = np.ones(n), 0.0, float(n)
        self.indices = indices.astype(np.intp)
        self.w = w / total
        self.prior_w = prior_w / total
        self.n_choices = c
        # The whole mixture collapses to one distribution over the choices.
        counts = np.bincount(self.indices, weights=self.w, minlength=c)
        self.probs = counts @ table + self.prior_w / c
        self._log_table: np.ndarray | None = None

    def kernel_rows(self) -> np.ndarray:
        """``(K, c)``: each kernel's distribution over choices (prior last when present)."""
        rows = self.table[self.indices]
        if self.prior_w > 0 or len(self.indices) == 0:
            rows = np.vstack([rows, np.full((1, self.n_choices), 1.0 / self.n_choices)])
        return rows

    def log_factor(self, cand: np.ndarray) -> np.ndarray:
        """``(C, K)``: ``log(kernel_rows()[:, cand]).T``, the log probability of each
        candidate choice under each kernel, without the ``(K, c)`` and ``(K, C)``
        intermediates (two gathers from the ``(c + 1, c)`` table of log probabilities)."""
        log_table = self._log_table
        if log_table is None:
            c = self.n_choices
            with np.errstate(divide="ignore"):
                log_table = np.log(np.vstack([self.table, np.full((1, c), 1.0 / c)]))
            self._log_table = log_table
        kernels = self.indices
        if self.prior_w > 0 or len(self.indices) == 0:
            kernels = np.append(kernels, self.n_choices)  # the prior's row
        return log_table.take(cand, axis=1).T.take(kernels, axis=1)

    def log_weights(self) -> np.ndarray:
        w = self.w
        if self.prior_w > 0 or len(self.indices) == 0:
            w = np.append(w, self.prior_w)
        return np.log(w)
