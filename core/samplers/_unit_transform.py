"""Numeric search spaces mapped to the unit cube and back.

Evolution strategies and quasi-random samplers work on ``[0, 1]^d``: every float or int
parameter becomes one coordinate (log-scaled parameters in log space, so equal steps mean equal
ratios). Grid parameters (ints, floats with ``step``) own the cell ``[v - step/2, v + step/2]``
around each grid value, so every grid value gets an equal share of the cube and rounding back
lands on the grid.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.distributions import FloatDistribution, IntDistribution

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tunesmith.distributions import BaseDistribution


class UnitTransform:
    """Maps the numeric parameters of ``space`` to ``[0, 1]^d`` and back.

    Args:
        space: Name -> FloatDistribution or IntDistribution (no categoricals).
        keep_grid: Leave grid parameters (non-log ints and stepped floats) on their grid: the
            cube spans ``[low, high]`` exactly and :attr:`steps` gives each one's step in unit
            coordinates (for CMA-ES with margin). Otherwise every coordinate is continuous and
            :attr:`steps` is all zero.
    """

    def __init__(self, space: Mapping[str, BaseDistribution], *, keep_grid: bool = False) -> None:
        self.names = list(space)
        self.distributions = [space[k] for k in self.names]
        n = len(self.names)
        lo = np.empty(n)
        hi = np.empty(n)
        steps = np.zeros(n)
        for i, d in enumerate(self.distributions):
            if not isinstance(d, (FloatDistribution, IntDistribution)):
                raise TypeError(f"UnitTransform: {self.names[i]!r} is not numeric: {d!r}.")
            step = d.step
            if d.log:
                half = 0.5 if isinstance(d, IntDistribution) else 0.0
                lo[i], hi[i] = math.log(d.low - half), math.log(d.high + half)
            elif step is None:
                lo[i], hi[i] = d.low, d.high
            elif keep_grid:
                lo[i], hi[i] = d.low, d.high
                steps[i] = step / (d.high - d.low)
            else:
                lo[i], hi[i] = d.low - step / 2, d.high + step / 2
        self._lo = lo
        self._width = hi - lo
        self.steps = steps

    @property
    def dim(self) -> int:
        return len(self.names)

    def to_unit(self, params: Mapping[str, Any]) -> np.ndarray:
        """The unit coordinates of one trial's external ``params`` (clipped into the cube)."""
        x = np.empty(len(self.names))
        for i, (name, d) in enumerate(zip(self.names, self.distributions)):
            v = float(params[name])
            x[i] = math.log(v) if d.log else v  # type: ignore[attr-defined]  # numeric only
        return np.clip((x - self._lo) / self._width, 0.0, 1.0)

    def from_unit(self, u: np.ndarray) -> dict[str, Any]:
        """External parameter values for unit coordinates ``u`` (clipped into the cube)."""
        t = self._lo + np.clip(u, 0.0, 1.0) * self._width
        out: dict[str, Any] = {}
        for name, d, v in zip(self.names, self.distributions, t.tolist()):
            out[name] = _snap(d, v)
        return out


def _snap(d: BaseDistribution, v: float) -> Any:
    """The value of ``d`` nearest to the (log-space when ``d.log``) coordinate ``v``."""
    if isinstance(d, IntDistribution):
        if d.log:
            return min(max(round(math.exp(v)), d.low), d.high)
        k = round((v - d.low) / d.step)
        return min(max(d.low + k * d.step, d.low), d.high)
    assert isinstance(d, FloatDistribution)
    if d.log:
        return min(max(math.exp(v), d.low), d.high)
    if d.step is None:
        return min(max(v, d.low), d.high)
    k = round((v - d.low) / d.step)
    # Re-derive from the integer index so the value sits exactly on the grid.
    return min(max(d.low + k * d.step, d.low), d.high)
