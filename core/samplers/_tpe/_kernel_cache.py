"""What the joint model's "above" kernels keep from one decision to the next.

Between two decisions of one study the "above" set (every observation but the best few) gains a
trial or two and loses at most a few, and a finished trial's values never change. Building its
kernels from scratch is the larger part of a multivariate decision at 1,000 trials: every
dimension is sorted to find each observation's neighbours, and every kernel gets its truncation
mass and its row of the quadratic form. :class:`AboveKernelCache` carries both over, keyed by
the observation's row in the study's :class:`~tunesmith.samplers._tpe._observations.ObservationStore`
(rows never change once written):

- the sort order of each dimension, updated by dropping the rows that left and inserting the
  rows that came (a dimension with tied values is sorted afresh, so that ties are broken exactly
  as a full sort breaks them);
- the per-kernel terms of the joint density (:func:`kernel_terms`), reused for every kernel whose
  width came out the same as last time, in every dimension.

It also keeps the previous decision's "below" model, returned as it is while the best trials
(and their weights) stay the same (:meth:`AboveKernelCache.below_model`).

The sampler uses it from a few hundred "above" observations on (``_ABOVE_CACHE_MIN`` in
``sampler.py``); with fewer, building the kernels afresh costs less than the bookkeeping.
Rows from ``n_stored`` on are not stored trials (RUNNING trials of the constant liar, numbered
after the stored rows for one decision only) and are never reused. The results are the same, bit
for bit, as without the cache.
"""

from __future__ import annotations

from collections.abc import Callable
import itertools
import threading
from typing import TYPE_CHECKING

import numpy as np

from tunesmith.samplers._tpe.parzen_estimator import kernel_terms

if TYPE_CHECKING:
    from tunesmith.samplers._tpe.parzen_estimator import DimSpec, NumericKernels

#: Past this share of new rows a full sort is cheaper than inserting them one by one.
_MAX_NEW_SHARE = 0.25


class AboveKernelCache:
    """The previous decision's "above" kernels of one set of columns of one study."""

    def __init__(self) -> None:
        #: Decisions of several threads may race; the loser builds without the cache.
        self.lock = threading.Lock()
        self._ids: np.ndarray | None = None  # (m,) rows in kernel order
        self._max_id = -1  # the largest of them
        self._stored = 0  # rows below this were stored trials at the previous decision
        self._sorted_ids: np.ndarray | None = None  # (d, m) rows by value, per dimension
        self._sorted_vals: np.ndarray | None = None  # (d, m) the values in that order
        self._tied = np.zeros(0, dtype=bool)  # (d,) rows that may hold equal values
        # What the previous :meth:`terms` call was given and gave, and for which rows.
        self._sig: np.ndarray | None = None  # (c, m) widths of the continuous dimensions
        self._terms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._prev_ids = np.zeros(0, dtype=np.intp)
        self._prev_max_id = -1
        self._prev_stored = 0
        # The previous "below" model: (its store rows, its dimensions, its weights, the model).
        self._below: tuple[np.ndarray, list[DimSpec], np.ndarray, NumericKernels] | None = None

    # -- the "below" model -----------------------------------------------------------------------
    def below_model(
        self,
        ids: np.ndarray,
        n_stored: int,
        specs: list[DimSpec],
        weights: np.ndarray,
        build: Callable[[], NumericKernels],
    ) -> NumericKernels:
        """The "below" model of the observations ``ids`` (store rows, in kernel order) with
        ``weights``: the previous decision's when it had the same rows, dimensions and weights
        (the best few trials often stay the same from one decision to the next, and a stored
        trial's values never change), else ``build()``. Models are never changed once built
        (their lazily computed parts come out the same every time)."""
        prev = self._below
        if (
            prev is not None
            and np.array_equal(prev[0], ids)
            and len(prev[1]) == len(specs)
            and all(x is y for x, y in zip(prev[1], specs))
            and np.array_equal(prev[2], weights)
        ):
            return prev[3]
        model = build()
        stored = len(ids) == 0 or int(ids.max()) < n_stored
        self._below = (ids.copy(), list(specs), np.array(weights), model) if stored else None
        return model

    # -- sort order ------------------------------------------------------------------------------
    def sort_order(
        self, ids: np.ndarray, t: np.ndarray, n_stored: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``np.argsort(t, axis=1)`` for the observations ``ids`` (``(m,)`` store rows, the
        columns of ``t``; rows from ``n_stored`` on are not stored trials), as flat indices
        into ``t`` (row ``j``'s entries offset by ``j * m``), and ``t`` sorted so."""
        d, m = t.shape
        prev = self._sorted_ids
        merged = None
        max_id = int(ids.max()) if m else -1
        if prev is not None and prev.shape[0] == d and m:
            merged = self._merge(ids, t, max_id)
        if merged is None:
            order = np.argsort(t, axis=1)
            sorted_ids = ids[order]
            sorted_vals = np.take_along_axis(t, order, axis=1)
            tied = np.any(sorted_vals[:, 1:] == sorted_vals[:, :-1], axis=1)
        else:
            sorted_ids, sorted_vals, tied = merged
            pos = np.empty(max_id + 1, dtype=np.intp)  # sorted_ids holds the same rows
            pos[ids] = np.arange(m)
            order = pos[sorted_ids]
            for j in np.flatnonzero(tied):  # the tie order of a full sort of this row
                order[j] = np.argsort(t[j])
                sorted_ids[j] = ids[order[j]]
                sorted_vals[j] = t[j, order[j]]
        self._ids = ids
        self._max_id = max_id
        self._stored = n_stored
        self._sorted_ids = sorted_ids
        self._sorted_vals = sorted_vals
        self._tied = tied
        return (order + (np.arange(d) * m)[:, None]).ravel(), sorted_vals

    def _merge(
        self, ids: np.ndarray, t: np.ndarray, max_id: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The previous sorted rows without the rows that left, with the new ones inserted,
        and which rows may hold tied values (a row tied before stays marked); ``None`` when
        too much changed."""
        assert self._sorted_ids is not None and self._sorted_vals is not None
        d, m = t.shape
        prev_ids, prev_vals = self._sorted_ids, self._sorted_vals
        size = max(max_id, self._max_id) + 1
        now = np.zeros(size, dtype=bool)
        now[ids] = True
        now[self._stored :] = False  # rows that were not stored trials are never kept
        keep0 = now[prev_ids[0]]  # every row holds the same ids
        kept = int(np.count_nonzero(keep0))
        if m - kept > _MAX_NEW_SHARE * m:
            return None
        if kept == prev_ids.shape[1]:
            kept_ids, kept_vals = prev_ids, prev_vals
        else:
            keep = now[prev_ids]
            kept_ids = prev_ids[keep].reshape(d, kept)
            kept_vals = prev_vals[keep].reshape(d, kept)
        tied = self._tied.copy()
        if kept == m:
            return kept_ids.copy(), kept_vals.copy(), tied
        had = np.zeros(size, dtype=bool)
        had[kept_ids[0]] = True
        new_cols = np.flatnonzero(~had[ids])
        new_vals = t[:, new_cols]
        k = len(new_cols)
        if k == 1:  # the usual case: one new trial
            new_ids = np.broadcast_to(ids[new_cols], (d, 1))
            # Its place in each row: how many kept values are smaller (searchsorted's left).
            where = np.add.reduce(kept_vals < new_vals, axis=1, dtype=np.intp)[:, None]
        else:
            by_val = np.argsort(new_vals, axis=1)
            flat_by_val = (by_val + (np.arange(d) * k)[:, None]).ravel()
            new_vals = new_vals.ravel().take(flat_by_val).reshape(d, k)
            new_ids = ids[new_cols][by_val]
            where = np.empty(new_vals.shape, dtype=np.intp)
            for j in range(d):
                where[j] = np.searchsorted(kept_vals[j], new_vals[j])
        # Where each new value lands in the merged rows (flat), and every other place.
        where += np.arange(k) + (np.arange(d) * m)[:, None]
        at = where.ravel()
        rest = np.ones(d * m, dtype=bool)
        rest[at] = False
        sorted_ids = np.empty(d * m, dtype=kept_ids.dtype)
        sorted_ids[at] = new_ids.ravel()
        sorted_ids[rest] = kept_ids.ravel()
        sorted_vals = np.empty(d * m)
        sorted_vals[at] = new_vals.ravel()
        sorted_vals[rest] = kept_vals.ravel()
        # Kept values had no ties among themselves unless their row is marked: only the new
        # values' neighbours can tie.
        col = at % m
        v = sorted_vals[at]
        left = (col > 0) & (sorted_vals[np.maximum(at - 1, 0)] == v)
        right = (col < m - 1) & (sorted_vals[np.minimum(at + 1, d * m - 1)] == v)
        tied[(at // m)[left | right]] = True
        return sorted_ids.reshape(d, m), sorted_vals.reshape(d, m), tied

    # -- joint density terms -----------------------------------------------------------------------
    def terms(
        self,
        t: np.ndarray,
        sig: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        extra: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """:func:`kernel_terms` of the observations of the last :meth:`sort_order` call
        (``t`` and ``sig``: ``(c, m)`` values and widths of the continuous dimensions),
        reusing the columns whose widths did not change, then those of ``extra`` (values and
        widths of more kernels, computed every time: the prior); ``None`` when some kernel's
        widths need the overflow-safe log scale (which is decided for all kernels at once, so
        the caller computes the whole set then, and nothing is kept)."""
        assert self._ids is not None
        ids = self._ids
        c, m = sig.shape
        e = 0 if extra is None else extra[0].shape[1]
        out = (np.empty((2 * c, m + e)), np.empty(m + e), np.empty(m + e))
        fresh = self._reuse(sig, out)
        if fresh is None:
            fresh = np.arange(m)
        cols = np.concatenate([fresh, np.arange(m, m + e)])
        if len(cols):
            mu_new, sig_new = t[:, fresh], sig[:, fresh]
            if extra is not None:
                mu_new = np.concatenate([mu_new, extra[0]], axis=1)
                sig_new = np.concatenate([sig_new, extra[1]], axis=1)
            *part, in_range = kernel_terms(mu_new, sig_new, a, b)
            if not in_range:
                self._sig = self._terms = None
                return None
            out[0][:, cols], out[1][cols], out[2][cols] = part
        self._sig = sig
        self._terms = out
        self._prev_ids = ids
        self._prev_max_id = self._max_id
        self._prev_stored = self._stored
        return out

    def _reuse(
        self, sig: np.ndarray, out: tuple[np.ndarray, np.ndarray, np.ndarray]
    ) -> np.ndarray | None:
        """Copy the previous terms of the kernels whose widths are unchanged into ``out``;
        return the columns left to compute (``None``: all of them)."""
        prev_ids, prev_sig, prev_terms = self._prev_ids, self._sig, self._terms
        ids = self._ids
        assert ids is not None
        c, m = sig.shape
        if prev_sig is None or prev_terms is None or prev_sig.shape[0] != c or not m:
            return None
        at = np.full(max(self._max_id, self._prev_max_id) + 1, -1, dtype=np.intp)
        stored = prev_ids < self._prev_stored
        at[prev_ids[stored]] = np.flatnonzero(stored)
        src = at[ids]
        same = src >= 0
        src[~same] = 0
        runs = _runs(src)
        if runs is None:
            same &= np.logical_and.reduce(prev_sig[:, src] == sig, axis=0)
        else:
            for start, stop, first in runs:
                same[start:stop] &= np.logical_and.reduce(
                    prev_sig[:, first : first + stop - start] == sig[:, start:stop], axis=0
                )
        fresh = np.flatnonzero(~same)
        if len(fresh) > m // 2:
            return None
        for old, new in zip(prev_terms, out):
            if runs is None:
                np.take(old, src, axis=-1, out=new[..., :m], mode="clip")
            else:
                for start, stop, first in runs:
                    new[..., start:stop] = old[..., first : first + stop - start]
        return fresh


#: Above this many runs a gather is cheaper than copying run by run.
_MAX_RUNS = 8


def _runs(src: np.ndarray) -> list[tuple[int, int, int]] | None:
    """``src`` (where each entry comes from) as runs ``(start, stop, first)`` with
    ``src[start:stop] == range(first, first + stop - start)``; ``None`` if there are many.

    Kernels are in trial order both times, so from one decision to the next the sources are
    a few shifted blocks, which slices copy much faster than a gather."""
    if len(src) == 0:
        return []
    breaks = np.flatnonzero(np.diff(src) != 1) + 1
    if len(breaks) >= _MAX_RUNS:
        return None
    bounds = [0, *breaks.tolist(), len(src)]
    return [(a, b, int(src[a])) for a, b in itertools.pairwise(bounds)]
