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


def _one_minus_t_mills(t: np.ndarray) -> np.ndarray:
    """``1 - t R(t)`` for ``t >= 1``: closed form up to 25, asymptotic series beyond."""
    out = np.empty_like(t)
    small = t <= -_ASYMPTOTIC_BELOW
    ts = t[small]
    out[small] = 1.0 - ts * _SQRT_PI_2 * erfcx(ts / math.sqrt(2.0))
    tl = t[~small]
    inv2 = 1.0 / (tl * tl)
    # t^-2 (1 - 3 u + 15 u^2 - 105 u^3 + 945 u^4 - 10395 u^5) with u = t^-2, Horner form.
    series = 1.0 + inv2 * (-3.0 + inv2 * (15.0 + inv2 * (-105.0 + inv2 * (945.0 - 10395.0 * inv2))))
    out[~small] = inv2 * series
    return out


def log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(phi(z) + z Phi(z))`` and its derivative in ``z``, finite for every finite ``z``."""
    z = np.asarray(z, dtype=float)
    logh = np.empty_like(z)
    dlogh = np.empty_like(z)
    upper = z > -1.0
    zu = z[upper]
    h = np.exp(-0.5 * zu * zu - _LOG_SQRT_2PI) + zu * ndtr(zu)
    logh[upper] = np.log(h)
    dlogh[upper] = ndtr(zu) / h
    t = -z[~upper]
    q = _one_minus_t_mills(t)
    logh[~upper] = -0.5 * t * t - _LOG_SQRT_2PI + np.log(q)
    dlogh[~upper] = _SQRT_PI_2 * erfcx(t / math.sqrt(2.0)) / q
    return logh, dlogh


def log_ndtr_with_grad(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log Phi(u)`` and its derivative ``phi(u) / Phi(u)``."""
    lp = log_ndtr(u)
    return lp, np.exp(-0.5 * u * u - _LOG_SQRT_2PI - lp)


class Acquisition:
    """Log expected improvement of the objective plus the log probability that every constraint
    is met; to be maximised.

    Args:
        objective: The objective's process (targets standardised, larger is better), or ``None``
            when no trial is feasible yet: then only the probability of feasibility counts.
        best: The best standardised target among feasible trials.
        constraints: ``(process, threshold)`` pairs: feasible where the process is ``<=
            threshold`` (the standardised image of 0).
    """

    def __init__(
        self,
        objective: GaussianProcess | None,
        best: float,
        constraints: list[tuple[GaussianProcess, float]],
    ) -> None:
        self.objective, self.best, self.constraints = objective, best, constraints

    def length_scales(self) -> np.ndarray:
        """Length scales (``lam ** -1/2``) of the objective's process, else (no feasible trial
        yet) of the first constraint's: the units the acquisition search measures coordinates in.

        Raises:
            ValueError: There is neither an objective nor a constraint process.
        """
        gp = (
            self.objective
            if self.objective is not None
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
        for gp, threshold in self.constraints:
            mean, var, dmean, dvar = gp.predict_with_grad(X)
            sd = np.sqrt(var)
            u = (threshold - mean) / sd
            lp, dlp = log_ndtr_with_grad(u)
            total += lp
            du = -dmean / sd[:, None] - u[:, None] * dvar / (2.0 * var)[:, None]
            grad += dlp[:, None] * du
        return total, grad
