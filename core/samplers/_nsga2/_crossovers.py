"""Crossover operators for the genetic samplers, on numeric parameters in the unit cube.

Each operator combines ``n_parents`` parent vectors (one row per parent; each column a numeric
parameter, log-scaled ones in log space, scaled to ``[0, 1]``) into one child vector. The
sampler checks the child against ``search_space_bounds`` and draws again if it falls outside.
"""

from __future__ import annotations

import abc
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "BLXAlphaCrossover",
    "BaseCrossover",
    "SBXCrossover",
    "SPXCrossover",
    "UNDXCrossover",
    "UniformCrossover",
    "VSBXCrossover",
]


def _check_prob(owner: str, name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: `{name}` must be in [0, 1], got {name}={value!r}.")
    return float(value)


def _check_positive(owner: str, name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{owner}: `{name}` must be a positive number, got {name}={value!r}.")
    return float(value)


class BaseCrossover(abc.ABC):
    """A crossover operator: ``n_parents`` parent vectors in, one child vector out."""

    def __str__(self) -> str:
        return type(self).__name__

    @property
    @abc.abstractmethod
    def n_parents(self) -> int:
        """How many parents one child needs."""

    @abc.abstractmethod
    def crossover(
        self,
        parents_params: np.ndarray,
        rng: np.random.RandomState,
        study: Study,
        search_space_bounds: np.ndarray,
    ) -> np.ndarray:
        """One child from ``parents_params`` (shape ``(n_parents, n_params)``).

        Args:
            parents_params: The parents' numeric parameters, one row per parent.
            rng: The random state to draw from (the sampler derives it from its seed and the
                trial number).
            study: The study (for operators that depend on, e.g., its number of objectives).
            search_space_bounds: Shape ``(n_params, 2)``: each column's lower and upper bound.

        Returns:
            The child's parameters, shape ``(n_params,)``.
        """


class UniformCrossover(BaseCrossover):
    """Each gene comes from the second parent with probability ``swapping_prob``, else from the
    first (Syswerda 1989).

    Args:
        swapping_prob: Probability of taking a gene from the second parent.
    """

    n_parents = 2  # type: ignore[assignment]

    def __init__(self, swapping_prob: float = 0.5) -> None:
        self._swapping_prob = _check_prob("UniformCrossover", "swapping_prob", swapping_prob)

    def crossover(
        self,
        parents_params: np.ndarray,
        rng: np.random.RandomState,
        study: Study,
        search_space_bounds: np.ndarray,
    ) -> np.ndarray:
        swap = rng.uniform(size=parents_params.shape[1]) < self._swapping_prob
        return np.where(swap, parents_params[1], parents_params[0])


class BLXAlphaCrossover(BaseCrossover):
    """Each gene uniform in the parents' interval widened by ``alpha`` times its length on each
    side (Eshelman and Schaffer 1993).

    Args:
        alpha: Widening factor (``>= 0``).
    """

    n_parents = 2  # type: ignore[assignment]

    def __init__(self, alpha: float = 0.5) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
            raise ValueError(f"BLXAlphaCrossover: `alpha` must be >= 0, got alpha={alpha!r}.")
        self._alpha = float(alpha)

    def crossover(
        self,
        parents_params: np.ndarray,
        rng: np.random.RandomState,
        study: Study,
        search_space_bounds: np.ndarray,
    ) -> np.ndarray:
        lo = parents_params.min(axis=0)
        hi = parents_params.max(axis=0)
        d = hi - lo
        return rng.uniform(lo - self._alpha * d, hi + self._alpha * d)


class _SimulatedBinary(BaseCrossover):
    """Shared body of SBX and vSBX: two children gene by gene, then one gene from either."""

    n_parents = 2  # type: ignore[assignment]
    _name = ""

    def __init__(
        self,
        eta: float | None = None,
        uniform_crossover_prob: float = 0.5,
        use_child_gene_prob: float = 0.5,
    ) -> None:
        self._eta = _check_positive(self._name, "eta", eta)
        self._uniform_prob = _check_prob(
            self._name, "uniform_crossover_prob", uniform_crossover_prob
        )
        self._use_child_prob = _check_prob(self._name, "use_child_gene_prob", use_child_gene_prob)

    def _eta_for(self, study: Study) -> float:
        if self._eta is not None:
            return self._eta
        # A wider spread helps one objective; a tighter one keeps a Pareto front's diversity.
        return 2.0 if len(study.directions) == 1 else 20.0

    @abc.abstractmethod
    def _children(
        self,
        x1: np.ndarray,
        x2: np.ndarray,
        u: np.ndarray,
        eta: float,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def crossover(
        self,
        parents_params: np.ndarray,
        rng: np.random.RandomState,
        study: Study,
        search_space_bounds: np.ndarray,
    ) -> np.ndarray:
        eta = self._eta_for(study)
        p1, p2 = parents_params[0], parents_params[1]
        x1, x2 = np.minimum(p1, p2), np.maximum(p1, p2)
        lo, hi = search_space_bounds[:, 0], search_space_bounds[:, 1]
        n = len(p1)
        u = rng.uniform(size=n)
        c1, c2 = self._children(x1, x2, u, eta, lo, hi)
        # Genes of equal parents stay put; the rest swap between the children at random.
        swap = rng.uniform(size=n) < self._uniform_prob
        c1, c2 = np.where(swap, c2, c1), np.where(swap, c1, c2)
        child = np.where(rng.uniform(size=n) < self._use_child_prob, c1, c2)
        same = np.isclose(p1, p2)
        return np.where(same, p1, child)


class SBXCrossover(_SimulatedBinary):
    """Simulated binary crossover with bounds (Deb and Agrawal 1995; Deb and Kumar 1995).

    Args:
        eta: Distribution index: larger keeps children closer to their parents. ``None``
            means 2 for one objective and 20 for several.
        uniform_crossover_prob: Probability of swapping a gene between the two children.
        use_child_gene_prob: Probability of taking a gene from the first child (else the
            second).
    """

    _name = "SBXCrossover"

    def _children(
        self,
        x1: np.ndarray,
        x2: np.ndarray,
        u: np.ndarray,
        eta: float,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        d = np.maximum(x2 - x1, 1e-14)

        def beta_q(beta: np.ndarray) -> np.ndarray:
            alpha = 2.0 - np.power(beta, -(eta + 1.0))
            small = u <= 1.0 / alpha
            with np.errstate(invalid="ignore", divide="ignore"):
                a = np.power(u * alpha, 1.0 / (eta + 1.0))
                b = np.power(1.0 / np.maximum(2.0 - u * alpha, 1e-14), 1.0 / (eta + 1.0))
            return np.where(small, a, b)

        bq1 = beta_q(1.0 + 2.0 * (x1 - lo) / d)
        bq2 = beta_q(1.0 + 2.0 * (hi - x2) / d)
        c1 = 0.5 * ((x1 + x2) - bq1 * d)
        c2 = 0.5 * ((x1 + x2) + bq2 * d)
        return c1, c2


class VSBXCrossover(_SimulatedBinary):
    """Modified simulated binary crossover (vSBX), which can place children anywhere between
    and around the parents rather than only near them (Pan et al. 2021).

    Args:
        eta: Distribution index; ``None`` means 2 for one objective and 20 for several.
        uniform_crossover_prob: Probability of swapping a gene between the two children.
        use_child_gene_prob: Probability of taking a gene from the first child (else the
            second).
    """

    _name = "VSBXCrossover"

    def _children(
        self,
        x1: np.ndarray,
        x2: np.ndarray,
        u: np.ndarray,
        eta: float,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        e = 1.0 / (eta + 1.0)
        u = np.clip(u, 1e-12, 1.0 - 1e-12)
        beta1 = np.power(1.0 / (2.0 * u), e)
        beta2 = np.power(1.0 / (2.0 * (1.0 - u)), e)
        mean = 0.5 * (x1 + x2)
        half = 0.5 * np.abs(x1 - x2)
        low_half = u <= 0.5
        c1 = np.where(low_half, mean - beta1 * half, mean + beta2 * half)
        c2 = np.where(low_half, mean + beta1 * half, mean - beta2 * half)
        return c1, c2


class UNDXCrossover(BaseCrossover):
    """Unimodal normal distribution crossover (Ono et al. 2003): a normal sample around the
    midpoint of two parents, stretched along their difference, with spread from a third.

    Args:
        sigma_xi: Standard deviation along the line through the first two parents.
        sigma_eta: Standard deviation orthogonal to it; ``0.35 / sqrt(n_params)`` by default.
    """

    n_parents = 3  # type: ignore[assignment]

    def __init__(self, sigma_xi: float = 0.5, sigma_eta: float | None = None) -> None:
        self._sigma_xi = float(_check_positive("UNDXCrossover", "sigma_xi", sigma_xi) or 0.5)
        self._sigma_eta = _check_positive("UNDXCrossover", "sigma_eta", sigma_eta)

    def crossover(
        self,
        parents_params: np.ndarray,
        rng: np.random.RandomState,
        study: Study,
        search_space_bounds: np.ndarray,
    ) -> np.ndarray:
        p1, p2, p3 = parents_params[0], parents_params[1], parents_params[2]
        n = len(p1)
        mid = 0.5 * (p1 + p2)
        d = p2 - p1
        norm_d = float(np.linalg.norm(d))
        sigma_eta = self._sigma_eta if self._sigma_eta is not None else 0.35 / math.sqrt(n)
        child = mid.copy()
        if norm_d > 1e-14:
            e1 = d / norm_d
            # Distance of the third parent from the line through the first two.
            v = p3 - p1
            dist = float(np.linalg.norm(v - (v @ e1) * e1))
            child += rng.normal(0.0, self._sigma_xi) * d
            if n > 1:
                # An orthonormal basis of the complement of e1 (QR of [e1 | random]).
                basis, _ = np.linalg.qr(np.column_stack([e1, rng.normal(size=(n, n - 1))]))
                etas = rng.normal(0.0, sigma_eta, size=n - 1)
                child += dist * (basis[:, 1:] @ etas)
        else:
            dist = float(np.linalg.norm(p3 - p1))
            child += dist * rng.normal(0.0, sigma_eta, size=n)
        return child


class SPXCrossover(BaseCrossover):
    """Simplex crossover (Tsutsui et al. 1999): uniform in the parents' simplex expanded by
    ``epsilon`` about its centroid.

    Args:
        epsilon: Expansion rate; ``sqrt(n_params + 2)`` by default.
    """

    n_parents = 3  # type: ignore[assignment]

    def __init__(self, epsilon: float | None = None) -> None:
        self._epsilon = _check_positive("SPXCrossover", "epsilon", epsilon)

    def crossover(
        self,
        parents_params: np.ndarray,
        rng: np.random.RandomState,
        study: Study,
        search_space_bounds: np.ndarray,
    ) -> np.ndarray:
        k, n = parents_params.shape
        eps = self._epsilon if self._epsilon is not None else math.sqrt(n + 2)
        g = parents_params.mean(axis=0)
        xs = g + eps * (parents_params - g)
        # Uniform barycentric weights over the expanded simplex, drawn recursively.
        c = np.zeros(n)
        for i in range(1, k):
            r = rng.uniform() ** (1.0 / i)
            c = r * (xs[i - 1] - xs[i] + c)
        return xs[k - 1] + c
