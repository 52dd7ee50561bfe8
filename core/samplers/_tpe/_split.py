"""Which observations are "good" (below) and which are the rest (above), all vectorised."""

from __future__ import annotations

import numpy as np

from tunesmith.samplers._tpe._hypervolume import hypervolume_contributions
from tunesmith.samplers._tpe._observations import COMPLETE, PRUNED, RUNNING
from tunesmith.study._multi_objective import is_pareto_front

EPS = 1e-12


def pareto_mask(loss: np.ndarray) -> np.ndarray:
    """Rows of ``loss`` (minimised) that no other row dominates; equal rows all count."""
    n, m = loss.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if m != 2:
        return is_pareto_front(loss)
    order = np.lexsort((loss[:, 1], loss[:, 0]))
    f1, f2 = loss[order, 0], loss[order, 1]
    # Sorted by (f1, f2), a row is dominated iff an earlier row has a smaller f2, or the same
    # f2 with a smaller f1.
    prev_min = np.concatenate(([np.inf], np.minimum.accumulate(f2)[:-1]))
    is_new_min = np.concatenate(([True], f2[1:] < prev_min[1:]))
    first_at = np.maximum.accumulate(np.where(is_new_min, np.arange(n), 0))
    prev_first = np.concatenate(([0], first_at[:-1]))
    dominated = (prev_min < f2) | ((prev_min == f2) & (f1[prev_first] < f1))
    dominated[0] = False
    out = np.empty(n, dtype=bool)
    out[order] = ~dominated
    return out


def nondomination_ranks(loss: np.ndarray, enough: int) -> np.ndarray:
    """Front number of each row (0 = Pareto front); rows past the front that reaches
    ``enough`` rows in total get a rank one past it."""
    n = len(loss)
    ranks = np.full(n, -1, dtype=np.int64)
    left = np.arange(n)
    rank = 0
    done = 0
    while len(left) and done < enough:
        mask = pareto_mask(loss[left])
        ranks[left[mask]] = rank
        done += int(mask.sum())
        left = left[~mask]
        rank += 1
    ranks[left] = rank
    return ranks


def reference_point(loss: np.ndarray) -> np.ndarray:
    worst = np.max(loss, axis=0)
    ref = worst + 0.1 * np.abs(worst)
    return np.where(ref == 0, EPS, ref)


def _select_by_front(loss: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` row indices: whole fronts first, the last front cut by hypervolume contribution."""
    n = len(loss)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.arange(n)
    ranks = nondomination_ranks(loss, k)
    counts = np.bincount(ranks)
    full = np.cumsum(counts) <= k
    last_full = int(np.flatnonzero(full)[-1]) if full.any() else -1
    chosen = np.flatnonzero(ranks <= last_full)
    need = k - len(chosen)
    if need > 0:
        tied = np.flatnonzero(ranks == last_full + 1)
        pts = loss[tied]
        finite = np.all(np.isfinite(pts), axis=1)
        contrib = np.full(len(tied), -1.0)
        if finite.any():
            contrib[finite] = hypervolume_contributions(
                pts[finite], reference_point(pts[finite]), rng
            )
        pick = np.argsort(-contrib, kind="stable")[:need]
        chosen = np.concatenate([chosen, tied[pick]])
    return np.sort(chosen)


def _lowest(vals: np.ndarray, k: int) -> np.ndarray:
    """A mask of the ``k`` (``1 <= k <= len(vals)``) smallest ``vals``, ties in row order (as
    a stable sort gives), found by one partition."""
    kth = np.partition(vals, k - 1)[k - 1]
    mask = vals < kth
    need = k - int(np.count_nonzero(mask))
    if need:
        mask[np.flatnonzero(vals == kth)[:need]] = True
    return mask


def _all_complete_and_feasible(state: np.ndarray, violation: np.ndarray) -> bool:
    """Whether every row is a COMPLETE trial without constraint violation."""
    return bool(
        np.logical_and.reduce(state == COMPLETE) and not np.logical_or.reduce(violation > 0)
    )


def split(
    state: np.ndarray,
    loss: np.ndarray,
    step: np.ndarray,
    violation: np.ndarray,
    n_below: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """A boolean mask of the rows that form the "below" set.

    Rows are ranked: feasible COMPLETE trials by value (by non-domination rank and hypervolume
    contribution with several objectives), then feasible PRUNED trials by the last step they
    reached (later first) and their value there, then infeasible trials by total violation.
    RUNNING rows (constant liar) are never below. Input rows must be in trial-number order;
    ties keep that order.
    """
    n = len(state)
    m = loss.shape[1]
    if m == 1 and 0 < n_below < n and _all_complete_and_feasible(state, violation):
        # The usual case, without the categories below: the n_below smallest losses, ties in
        # row order (as the general path gives), found by one partition.
        return _lowest(loss[:, 0], n_below)
    below = np.zeros(n, dtype=bool)
    running = state == RUNNING
    infeasible = (violation > 0) & ~running
    cat = np.where(running, 3, np.where(infeasible, 2, state.astype(np.int64)))
    n_below = min(int(n_below), int(n - running.sum()))
    if n_below <= 0:
        return below
    complete = np.flatnonzero(cat == COMPLETE)
    if m == 1 and len(complete) == n - int(running.sum()):
        # Only COMPLETE rows compete (the usual case): the n_below smallest losses, ties in
        # row order, as the sort below would give, found by one partition instead.
        below[complete] = _lowest(loss[complete, 0], n_below)
        return below
    if m == 1:
        k1 = np.where(cat == COMPLETE, loss[:, 0], 0.0)
    else:
        take = min(n_below, len(complete))
        chosen = complete[_select_by_front(loss[complete], take, rng)]
        below[chosen] = True
        n_below -= take
        if n_below == 0:
            return below
        k1 = np.zeros(n)
        cat = np.where(cat == COMPLETE, 4, cat)  # already decided
    # Pruned: later step first (no report ranks last), then value at that step.
    k1 = np.where(cat == PRUNED, -step, k1)
    if m == 1:
        k2 = np.where(cat == PRUNED, loss[:, 0], 0.0)
    else:
        k2 = np.zeros(n)
        pruned = np.flatnonzero(cat == PRUNED)
        if len(pruned):
            k2[pruned] = nondomination_ranks(loss[pruned], len(pruned))
    k1 = np.where(cat == 2, violation, k1)
    order = np.lexsort((k2, k1, cat))
    if m > 1:
        order = order[cat[order] != 4]
    below[order[:n_below]] = True
    return below


def mo_below_weights(
    state: np.ndarray, loss: np.ndarray, violation: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """MOTPE weights of the below rows: each point's share of the hypervolume it alone
    dominates, so that the model concentrates on the parts of the front that matter; pruned
    and infeasible rows get a token weight."""
    n = len(state)
    w = np.full(n, EPS)
    good = np.flatnonzero((state == COMPLETE) & ~(violation > 0))
    if len(good) == 1:
        w[good] = 1.0
    elif len(good) > 1:
        pts = loss[good]
        contrib = hypervolume_contributions(pts, reference_point(pts), rng)
        top = contrib.max()
        w[good] = np.clip(contrib / top, EPS, 1.0) if top > 0 else 1.0
    return w
