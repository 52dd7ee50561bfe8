"""The map between a search space and the scaled unit cube the Gaussian process works in.

Each non-categorical parameter becomes one coordinate in ``[0, 1]``: floats linearly (in log
space with ``log=True``); integers and stepped floats as a continuous relaxation whose cells of
width one grid step are centred on the grid values, so every grid value owns an equal share of
the cube and rounding a coordinate gives the nearest grid value. A categorical parameter becomes
one coordinate holding the *index* of its choice; the kernel compares such coordinates for
equality only (a Hamming-distance term), never by distance.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tunesmith.distributions import BaseDistribution

_CONTINUOUS, _GRID, _CATEGORICAL = 0, 1, 2


class UnitCubeSpace:
    """Encodes parameter dicts as rows of a matrix and decodes rows back.

    Distributions that hold a single value are kept out of the cube and always decode to that
    value.

    Args:
        search_space: The parameters to model, by name.
    """

    def __init__(self, search_space: Mapping[str, BaseDistribution]) -> None:
        self.fixed: dict[str, Any] = {}
        self.names: list[str] = []
        self.dists: list[BaseDistribution] = []
        kinds, lows, highs, steps, n_choices, logs = [], [], [], [], [], []
        for name, dist in search_space.items():
            if dist.single():
                self.fixed[name] = dist.to_external_repr(
                    0.0 if isinstance(dist, CategoricalDistribution) else dist.low  # type: ignore[attr-defined]
                )
                continue
            self.names.append(name)
            self.dists.append(dist)
            if isinstance(dist, CategoricalDistribution):
                kinds.append(_CATEGORICAL)
                lows.append(0.0)
                highs.append(1.0)
                steps.append(1.0)
                logs.append(False)
                n_choices.append(len(dist.choices))
                continue
            assert isinstance(dist, (FloatDistribution, IntDistribution))
            n_choices.append(0)
            logs.append(dist.log)
            if isinstance(dist, FloatDistribution) and dist.step is None:
                kinds.append(_CONTINUOUS)
                lo, hi = float(dist.low), float(dist.high)
                steps.append(0.0)
                if dist.log:
                    lo, hi = math.log(lo), math.log(hi)
            else:
                kinds.append(_GRID)
                step = float(dist.step) if dist.step is not None else 1.0
                steps.append(step)
                if dist.log:  # log ints (step 1): cells [v - 1/2, v + 1/2] in log space
                    lo, hi = math.log(dist.low - 0.5), math.log(dist.high + 0.5)
                else:
                    lo, hi = dist.low - 0.5 * step, dist.high + 0.5 * step
            lows.append(lo)
            highs.append(hi)
        self.kinds = np.array(kinds, dtype=np.int64)
        self.is_categorical = self.kinds == _CATEGORICAL
        self.is_grid = self.kinds == _GRID
        self.n_choices = np.array(n_choices, dtype=np.int64)
        self._logs = np.array(logs, dtype=bool)
        self._lows = np.array(lows, dtype=float)
        self._widths = np.array(highs, dtype=float) - self._lows
        self._steps = np.array(steps, dtype=float)

    @property
    def dim(self) -> int:
        return len(self.names)

    def encode(self, params_list: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The ``(len(params_list), dim)`` matrix of encoded parameter dicts."""
        internal = np.array(
            [
                [d.to_internal_repr(p[n]) for n, d in zip(self.names, self.dists)]
                for p in params_list
            ],
            dtype=float,
        ).reshape(len(params_list), self.dim)
        t = np.where(self._logs, np.log(np.where(self._logs, internal, 1.0)), internal)
        x = (t - self._lows) / self._widths
        return np.where(self.is_categorical, internal, x)

    def _values(self, X: np.ndarray) -> np.ndarray:
        """Internal values (grid values rounded, clipped to the bounds) of encoded rows."""
        t = self._lows + np.clip(X, 0.0, 1.0) * self._widths
        v = np.where(self._logs, np.exp(t), t)
        out = np.empty_like(v)
        for j, dist in enumerate(self.dists):
            col = v[:, j]
            if self.is_categorical[j]:
                out[:, j] = np.clip(np.round(X[:, j]), 0, self.n_choices[j] - 1)
                continue
            assert isinstance(dist, (FloatDistribution, IntDistribution))
            if self.is_grid[j]:
                step = self._steps[j]
                n_max = round((dist.high - dist.low) / step)
                col = dist.low + np.clip(np.round((col - dist.low) / step), 0, n_max) * step
            out[:, j] = np.clip(col, dist.low, dist.high)
        return out

    def snap(self, X: np.ndarray) -> np.ndarray:
        """``X`` with grid and categorical coordinates moved to the encodings of valid values."""
        if not (self.is_grid.any() or self.is_categorical.any()):
            return np.clip(X, 0.0, 1.0)
        v = self._values(X)
        t = np.where(self._logs, np.log(np.where(self._logs, v, 1.0)), v)
        x = (t - self._lows) / self._widths
        snapped = np.where(self.is_grid, x, np.clip(X, 0.0, 1.0))
        return np.where(self.is_categorical, v, snapped)

    def grid_neighbours(self, X: np.ndarray, j: int) -> np.ndarray:
        """Rows of ``X`` moved one grid step down and one up along grid coordinate ``j``
        (``2 * len(X)`` rows; a row at a bound stays there)."""
        dist = self.dists[j]
        step = self._steps[j]
        v = self._values(X)[:, j]
        moved = np.concatenate([v - step, v + step])
        moved = np.clip(moved, dist.low, dist.high)  # type: ignore[attr-defined]
        t = np.log(moved) if self._logs[j] else moved
        out = np.concatenate([X, X])
        out[:, j] = (t - self._lows[j]) / self._widths[j]
        return out

    def from_unit(self, U: np.ndarray) -> np.ndarray:
        """Encoded rows from uniform samples ``U`` in ``[0, 1)`` (categoricals: index cells)."""
        X = U.copy()
        cat = self.is_categorical
        if cat.any():
            X[:, cat] = np.minimum(
                np.floor(U[:, cat] * self.n_choices[cat]), self.n_choices[cat] - 1
            )
        return self.snap(X)

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """The parameter dict (external values) of one encoded row, fixed parameters included."""
        v = self._values(x.reshape(1, -1))[0]
        params = {n: d.to_external_repr(float(val)) for n, d, val in zip(self.names, self.dists, v)}
        params.update(self.fixed)
        return params
