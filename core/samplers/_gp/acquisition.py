"""Log expected improvement, log probability of feasibility, and their sum with gradients.

Expected improvement over ``best`` of a Gaussian ``N(mu, sigma^2)`` is ``sigma * h(z)`` with
``z = (mu - best) / sigma`` and ``h(z) = phi(z) + z Phi(z)``. Far below the incumbent ``h(z)``
underflows (``z < -38`` gives 0 in float64) and its logarithm, the quantity an optimiser needs to
climb out of flat regions, is lost. We compute ``log h`` stably in three regimes:

* ``z > -1``: directly;
* ``-25 <= z <= -1``: ``h(z) = phi(z) (1 - t R(t))`` with ``t = -z`` and the Mills ratio
  ``R(t) = Phi(-t) / phi(t) = sqrt(pi/2) erfcx(t / sqrt2)``, so ``log h = log phi(z) +
  log(1 - t R(t))`` (the cancellation in ``1 - t R`` costs at most ~3 digits here);
* ``z < -25``: the asymptotic series ``1 - t R(t) = t^-2 - 3 t^-4 + 15 t^-6 - 105 t^-8 + ...``
  (terms ``(-1)^(k+1) (2k-1)!! t^-2k``), whose truncation error at ``t = 25`` is below 1e-15.

The derivative is ``d log h / dz = Phi(z) / h(z)``, in the second and third regime
``R(t) / (1 - t R(t))``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr

if TYPE_CHECKING:
    from tunesmith.samplers._gp.gp import GaussianProcess

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_PI_2 = math.sqrt(math.pi / 2.0)
_ASYMPTOTIC_BELOW = -25.0
#: Added to the variance of a difference from an extreme point: smooth near that point (where the
#: variance goes to 0 and the log to -inf), and 1e-10 leaves a standard deviation of 1e-5.
_VAR_D_FLOOR = 1e-10
#: Means and standard deviations of the differences from the two extreme points (see LogEHVI2).
_Outer = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _one_minus_t_mills(t: np.ndarray, ex: np.ndarray) -> np.ndarray:
    """``1 - t R(t)`` for ``t >= 1`` given ``ex = erfcx(t / sqrt2)``: closed form up to 25,
    asymptotic series beyond."""
    small = t <= -_ASYMPTOTIC_BELOW
    if small.all():
        return 1.0 - t * _SQRT_PI_2 * ex
    out = np.empty_like(t)
    out[small] = 1.0 - t[small] * _SQRT_PI_2 * ex[small]
    tl = t[~small]
    inv2 = 1.0 / (tl * tl)
    # t^-2 (1 - 3 u + 15 u^2 - 105 u^3 + 945 u^4 - 10395 u^5) with u = t^-2, Horner form.
    series = 1.0 + inv2 * (-3.0 + inv2 * (15.0 + inv2 * (-105.0 + inv2 * (945.0 - 10395.0 * inv2))))
    out[~small] = inv2 * series
    return out


def _log_h_upper(z: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`log_h` for ``z > -1``."""
    cdf = ndtr(z)
    h = np.exp(-0.5 * z * z - _LOG_SQRT_2PI) + z * cdf
    return np.log(h), (cdf / h if grad else None)


def _log_h_lower(z: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`log_h` for ``z <= -1``."""
    t = -z
    ex = erfcx(t / math.sqrt(2.0))
    q = _one_minus_t_mills(t, ex)
    return -0.5 * t * t - _LOG_SQRT_2PI + np.log(q), (_SQRT_PI_2 * ex / q if grad else None)


def _log_h(z: np.ndarray, grad: bool) -> tuple[np.ndarray, np.ndarray | None]:
    z = np.asarray(z, dtype=float)
    upper = z > -1.0
    # One regime throughout is common (a whole batch far below the incumbent, or near it):
    # then no masked copies.
    if upper.all():
        return _log_h_upper(z, grad)
    if not upper.any():
        return _log_h_lower(z, grad)
    logh = np.empty_like(z)
    logh[upper], d_up = _log_h_upper(z[upper], grad)
    logh[~upper], d_lo = _log_h_lower(z[~upper], grad)
    if not grad:
        return logh, None
    dlogh = np.empty_like(z)
    dlogh[upper], dlogh[~upper] = d_up, d_lo
    return logh, dlogh


def log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(phi(z) + z Phi(z))`` and its derivative in ``z``, finite for every finite ``z``."""
    logh, dlogh = _log_h(z, True)
    assert dlogh is not None
    return logh, dlogh


def log_h_value(z: np.ndarray) -> np.ndarray:
    """:func:`log_h` without the derivative."""
    return _log_h(z, False)[0]


def log_ndtr_with_grad(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log Phi(u)`` and its derivative ``phi(u) / Phi(u)``."""
    lp = log_ndtr(u)
    return lp, np.exp(-0.5 * u * u - _LOG_SQRT_2PI - lp)


def _shifted(a: np.ndarray, first: float) -> np.ndarray:
    """``a`` moved one column to the right, with ``first`` in the first column."""
    out = np.empty_like(a)
    out[:, 0] = first
    out[:, 1:] = a[:, :-1]
    return out


def _log_diff(log_hi: np.ndarray, log_lo: np.ndarray) -> np.ndarray:
    """``log(exp(log_hi) - exp(log_lo))`` for ``log_hi >= log_lo`` (``-inf`` where equal)."""
    with np.errstate(divide="ignore"):
        return log_hi + np.log1p(-np.exp(log_lo - log_hi))


class LogEHVI2:
    """Log expected hypervolume improvement of two independent Gaussian losses (minimised).

    The region a new point could add to the hypervolume is the staircase under the current
    front and the reference point ``r``: with the front sorted by the first loss, the strips
    ``a_j <= u < a_(j+1)`` (``a_0 = -inf``, ``a_(k+1) = r_1``) under the heights ``c_j`` (``r_2``,
    then the second losses of the front points). The improvement is the area of that region
    dominated by ``(Y1, Y2)``, and with independent Gaussians its expectation factorises by strip:

        EHVI = sum_j s1 (h(z_(j+1)) - h(z_j)) * s2 h(w_j),   z = (a - mu1) / s1,  w = (c - mu2) / s2

    since ``int_{-inf}^{c} Phi((b - mu) / s) db = s h((c - mu) / s)`` with ``h(z) = phi(z) + z
    Phi(z)``, the expected-improvement function. Everything is summed in log space, so the value
    stays finite far from the front.

    The two outer strips reach to the reference point, so they are wide, and there the factor
    that needs the new point to beat an extreme of the front (``Y1 < a_1`` in the first strip,
    ``Y2 < c_k`` in the last) is measured against that extreme point's *latent* value: with
    ``D = Y - f(x_e)``, ``E[(-D)+] = s_D h(-m_D / s_D)`` where ``s_D^2 = var(x) + var(x_e) - 2
    cov(x, x_e)``. It vanishes at the extreme point itself. Against the observed value instead,
    the small posterior uncertainty left at an already sampled extreme, times the width of the
    outer strip, looks like a gain, and a dense front draws trial after trial onto its two ends
    (seen on Binh-Korn: about 20 of 300 trials).

    Args:
        objectives: The two losses' processes (standardised, smaller is better).
        front: ``(k, 2)`` losses of the non-dominated feasible trials.
        ref: The reference point, beyond every front point.
        X_front: ``(k, D)`` encoded parameters of ``front``'s rows; without it, the outer strips
            compare with the observed extremes like the others.
    """

    def __init__(
        self,
        objectives: tuple[GaussianProcess, GaussianProcess],
        front: np.ndarray,
        ref: np.ndarray,
        X_front: np.ndarray | None = None,
    ) -> None:
        self.objectives = objectives
        inside = (front[:, 0] < ref[0]) & (front[:, 1] < ref[1])
        pts = front[inside]
        order = np.lexsort((pts[:, 1], pts[:, 0]))
        pts = pts[order]
        # Keep the staircase: each point's second loss below every earlier one's.
        keep = pts[:, 1] < np.minimum.accumulate(np.concatenate([[np.inf], pts[:-1, 1]]))
        pts = pts[keep]
        self.lower = np.concatenate([[-np.inf], pts[:, 0]])
        self.upper = np.concatenate([pts[:, 0], [ref[0]]])
        self.height = np.concatenate([[ref[1]], pts[:, 1]])
        #: Per objective: (encoded extreme point, its posterior mean and variance), or None.
        self.extremes: list[tuple[np.ndarray, float, float]] | None = None
        if X_front is not None and len(pts):
            X_stairs = X_front[inside][order][keep]
            self.extremes = []
            for gp, x_e in zip(objectives, (X_stairs[0], X_stairs[-1])):
                mean, var = gp.predict(x_e[None, :])
                self.extremes.append((x_e, float(mean[0]), float(var[0])))

    def _outer_value(
        self, k: int, X: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Objective ``k``'s mean and standard deviation at ``X``, and those of ``f_k(x) -
        f_k(x_e)`` for its extreme point ``x_e``."""
        assert self.extremes is not None
        x_e, mean_e, var_e = self.extremes[k]
        mean, var, cov = self.objectives[k].predict_with_cov(X, x_e)
        var_d = np.maximum(var + var_e - 2.0 * cov, 0.0) + _VAR_D_FLOOR
        return mean, np.sqrt(var), mean - mean_e, np.sqrt(var_d)

    def _outer_grad(self, k: int, X: np.ndarray) -> tuple[np.ndarray, ...]:
        """As :meth:`_outer_value` (variances instead of standard deviations) plus the
        gradients ``(dmean, dvar, dvar_d)`` (the difference's mean has ``dmean``)."""
        assert self.extremes is not None
        x_e, mean_e, var_e = self.extremes[k]
        mean, var, cov, dmean, dvar, dcov = self.objectives[k].predict_with_cov(X, x_e, grad=True)
        var_d = var + var_e - 2.0 * cov
        dvar_d = dvar - 2.0 * dcov
        dvar_d[var_d < 0.0] = 0.0
        return mean, var, mean - mean_e, np.maximum(var_d, 0.0) + _VAR_D_FLOOR, dmean, dvar, dvar_d

    def value_and_grad_stats(
        self,
        mu1: np.ndarray,
        s1: np.ndarray,
        mu2: np.ndarray,
        s2: np.ndarray,
        outer: _Outer | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``log EHVI`` at predictive means and standard deviations, and its ``(m, 4)`` gradient
        with respect to ``(mu1, s1, mu2, s2)``; with ``outer = (m1, t1, m2, t2)``, the means
        and standard deviations of the differences from the extreme points' latent values
        (see the class), the gradient is ``(m, 8)``: then also with respect to those."""
        value, grad = self._evaluate(mu1, s1, mu2, s2, outer, True)
        assert grad is not None
        return value, grad

    def _evaluate(
        self,
        mu1: np.ndarray,
        s1: np.ndarray,
        mu2: np.ndarray,
        s2: np.ndarray,
        outer: _Outer | None,
        grad: bool,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        m1, sd1, m2, sd2 = mu1[:, None], s1[:, None], mu2[:, None], s2[:, None]
        # Strip j's lower edge is strip j-1's upper one (and -inf for the first strip), so every
        # function of z_lo is the matching function of z_up shifted by one strip.
        z_up = (self.upper - m1) / sd1
        w = (self.height - m2) / sd2
        lh_up = log_h_value(z_up)
        lh_lo = _shifted(lh_up, -np.inf)
        lh_w, dlh_w = _log_h(w, grad)
        log_dh = _log_diff(lh_up, lh_lo)
        # Per strip: log of the first factor, s1 (h(z_up) - h(z_lo)), and of the second, s2 h(w).
        first = log_dh + np.log(sd1)
        second = lh_w + np.log(sd2)
        if outer is not None:
            om1, ot1, om2, ot2 = outer
            u1, u2 = -om1 / ot1, -om2 / ot2
            lh_u1, dlh_u1 = _log_h(u1, grad)
            lh_u2, dlh_u2 = _log_h(u2, grad)
            first[:, 0] = lh_u1 + np.log(ot1)
            second[:, -1] = lh_u2 + np.log(ot2)
        terms = first + second
        top = terms.max(1, keepdims=True)
        weights = np.exp(terms - top)
        total = weights.sum(1, keepdims=True)
        value = (top + np.log(total))[:, 0]
        if not grad:
            return value, None
        assert dlh_w is not None
        weights /= total
        # d/dmu1 log(h(z_up) - h(z_lo)) = -(Phi(z_up) - Phi(z_lo)) / (s1 dh),
        # d/ds1 log(s1 dh) = (phi(z_up) - phi(z_lo)) / (s1 dh) (as d(s h(z))/ds = phi(z)).
        lp_up = log_ndtr(z_up)
        lp_lo = _shifted(lp_up, -np.inf)
        log_phi_up = -0.5 * z_up * z_up - _LOG_SQRT_2PI
        with np.errstate(invalid="ignore", over="ignore"):
            d_mu1 = -np.exp(_log_diff(lp_up, lp_lo) - log_dh)
            phi_up = np.exp(log_phi_up - log_dh)
            phi_lo = np.exp(_shifted(log_phi_up, -np.inf) - log_dh)
        d_s1 = np.nan_to_num(phi_up - phi_lo)
        d_mu1 = np.nan_to_num(d_mu1)
        # d/dmu2 log(s2 h(w)) = -Phi(w) / (s2 h(w)); d/ds2 = phi(w) / (s2 h(w)).
        d_mu2 = -dlh_w
        d_s2 = np.exp(-0.5 * w * w - _LOG_SQRT_2PI - lh_w)
        # With ``outer``, the first strip's first factor and the last strip's second factor
        # depend on the differences instead of (mu1, s1) and (mu2, s2).
        w1, w2 = weights, weights
        if outer is not None:
            w1, w2 = weights.copy(), weights.copy()
            w1[:, 0] = 0.0
            w2[:, -1] = 0.0
        cols = [
            (w1 * d_mu1).sum(1) / s1,
            (w1 * d_s1).sum(1) / s1,
            (w2 * d_mu2).sum(1) / s2,
            (w2 * d_s2).sum(1) / s2,
        ]
        if outer is not None:
            # log(t h(u)) with u = -m / t: d/dm = -h'(u) / (t h(u)); d/dt = phi(u) / (t h(u)).
            for lh_u, dlh_u, u, t, wk in (
                (lh_u1, dlh_u1, u1, ot1, weights[:, 0]),
                (lh_u2, dlh_u2, u2, ot2, weights[:, -1]),
            ):
                assert dlh_u is not None
                cols.append(wk * -dlh_u / t)
                cols.append(wk * np.exp(-0.5 * u * u - _LOG_SQRT_2PI - lh_u) / t)
        return value, np.stack(cols, axis=1)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.extremes is None:
            (mu1, v1), (mu2, v2) = (gp.predict(X) for gp in self.objectives)
            # Without the gradient: about half the work.
            return self._evaluate(mu1, np.sqrt(v1), mu2, np.sqrt(v2), None, False)[0]
        mu1, s1, om1, ot1 = self._outer_value(0, X)
        mu2, s2, om2, ot2 = self._outer_value(1, X)
        return self._evaluate(mu1, s1, mu2, s2, (om1, ot1, om2, ot2), False)[0]

    def value_and_grad(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.extremes is None:
            mu1, v1, dmu1, dv1 = self.objectives[0].predict_with_grad(X)
            mu2, v2, dmu2, dv2 = self.objectives[1].predict_with_grad(X)
        else:
            mu1, v1, om1, ov1, dmu1, dv1, dov1 = self._outer_grad(0, X)
            mu2, v2, om2, ov2, dmu2, dv2, dov2 = self._outer_grad(1, X)
            ot1, ot2 = np.sqrt(ov1), np.sqrt(ov2)
        s1, s2 = np.sqrt(v1), np.sqrt(v2)
        outer = None if self.extremes is None else (om1, ot1, om2, ot2)
        value, g = self.value_and_grad_stats(mu1, s1, mu2, s2, outer)
        # ds = dvar / (2 s)
        grad = (
            g[:, :1] * dmu1
            + g[:, 1:2] * dv1 / (2.0 * s1)[:, None]
            + g[:, 2:3] * dmu2
            + g[:, 3:4] * dv2 / (2.0 * s2)[:, None]
        )
        if outer is not None:
            grad += (
                g[:, 4:5] * dmu1
                + g[:, 5:6] * dov1 / (2.0 * ot1)[:, None]
                + g[:, 6:7] * dmu2
                + g[:, 7:8] * dov2 / (2.0 * ot2)[:, None]
            )
        return value, grad


class Acquisition:
    """Log expected improvement of the objective (or, with ``pareto``, the log expected
    hypervolume improvement of two) plus the log probability that every constraint is met; to
    be maximised.

    Args:
        objective: The objective's process (targets standardised, larger is better), or ``None``
            when no trial is feasible yet: then only the probability of feasibility counts.
        best: The best standardised target among feasible trials.
        constraints: ``(process, threshold)`` pairs: feasible where the process is ``<=
            threshold`` (the standardised image of 0).
        pareto: Two objectives: replaces ``objective``.
    """

    def __init__(
        self,
        objective: GaussianProcess | None,
        best: float,
        constraints: list[tuple[GaussianProcess, float]],
        *,
        pareto: LogEHVI2 | None = None,
    ) -> None:
        self.objective, self.best, self.constraints = objective, best, constraints
        self.pareto = pareto

    def length_scales(self) -> np.ndarray:
        """Length scales (``lam ** -1/2``) of the objective's process, else (no feasible trial
        yet) of the first constraint's: the units the acquisition search measures coordinates in.

        Raises:
            ValueError: There is neither an objective nor a constraint process.
        """
        gp = (
            self.objective
            if self.objective is not None
            else self.pareto.objectives[0]
            if self.pareto is not None
            else (self.constraints[0][0] if self.constraints else None)
        )
        if gp is None:
            raise ValueError(
                "Acquisition: needs an `objective` or `constraints`, got objective=None, "
                "constraints=[]."
            )
        return 1.0 / np.sqrt(gp.lam)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        total = np.zeros(len(X))
        if self.objective is not None:
            mean, var = self.objective.predict(X)
            sd = np.sqrt(var)
            total += np.log(sd) + log_h((mean - self.best) / sd)[0]
        if self.pareto is not None:
            total += self.pareto(X)
        for gp, threshold in self.constraints:
            mean, var = gp.predict(X)
            total += log_ndtr((threshold - mean) / np.sqrt(var))
        return total

    def value_and_grad(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values at the rows of ``X`` and their ``(m, D)`` gradients."""
        total = np.zeros(len(X))
        grad = np.zeros_like(X)
        if self.objective is not None:
            mean, var, dmean, dvar = self.objective.predict_with_grad(X)
            sd = np.sqrt(var)
            z = (mean - self.best) / sd
            lh, dlh = log_h(z)
            total += np.log(sd) + lh
            # d log sd = dvar / (2 var); dz = dmean / sd - z dvar / (2 var)
            half_dlogvar = dvar / (2.0 * var)[:, None]
            grad += half_dlogvar + dlh[:, None] * (dmean / sd[:, None] - z[:, None] * half_dlogvar)
        if self.pareto is not None:
            v, g = self.pareto.value_and_grad(X)
            total += v
            grad += g
        for gp, threshold in self.constraints:
            mean, var, dmean, dvar = gp.predict_with_grad(X)
            sd = np.sqrt(var)
            u = (threshold - mean) / sd
            lp, dlp = log_ndtr_with_grad(u)
            total += lp
            du = -dmean / sd[:, None] - u[:, None] * dvar / (2.0 * var)[:, None]
            grad += dlp[:, None] * du
        return total, grad
