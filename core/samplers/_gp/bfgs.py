"""A small projected BFGS minimiser for box-bounded problems whose curvature can be carried over.

The Gaussian process is refitted after every trial, and one more point changes the log
posterior little: its minimiser and its curvature stay nearly where they were. scipy's
L-BFGS-B cannot be given a curvature estimate, so each refit spent its first evaluations
rediscovering the scale of the problem (the first step, of unit length along the gradient,
often went far past the minimum and had to be cut back twice) and then crept along flat
directions. Here the dense inverse-Hessian approximation (a dozen parameters) is returned with
the result and passed to the next fit, so a refit usually takes one or two quasi-Newton steps.

The method: the active set is the coordinates at a bound whose gradient points outward (and
those whose bounds coincide); the step is ``-H g`` on the free coordinates, projected onto the
box, with a backtracking (Armijo) line search along the projected path; ``H`` gets the usual
BFGS update whenever the curvature condition holds. Stopping rules are L-BFGS-B's: the largest
projected-gradient entry at most ``gtol``, or a relative decrease of at most ``ftol``; and one
more, which saves the evaluation that would only confirm convergence: after at least one step,
the decrease the quasi-Newton model predicts for the next step, ``-g.d / 2``, is below the
``ftol`` threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

_ARMIJO = 1e-4
_MAX_BACKTRACKS = 30
#: The first step without a curvature estimate moves no coordinate further than this.
_FIRST_STEP = 1.0
#: No step moves a coordinate further than this.
_MAX_STEP = 5.0
#: A carried-over inverse Hessian found too small by more than this factor is scaled up.
_RESCALE_ABOVE = 4.0


@dataclass
class BoxResult:
    """The outcome of :func:`minimize_box`.

    Attributes:
        x: The best point found.
        fun: The objective there.
        hess_inv: The inverse-Hessian approximation at ``x``, for warm starts.
        n_evals: Number of objective evaluations.
        converged: Whether a stopping rule (rather than the evaluation budget or a failed line
            search) ended the search.
    """

    x: np.ndarray
    fun: float
    hess_inv: np.ndarray | None
    n_evals: int
    converged: bool


def _usable(hess_inv: np.ndarray | None, n: int) -> bool:
    return (
        hess_inv is not None
        and hess_inv.shape == (n, n)
        and bool(np.all(np.isfinite(hess_inv)))
        and bool(np.all(np.diag(hess_inv) > 0.0))
    )


def minimize_box(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    hess_inv: np.ndarray | None = None,
    gtol: float,
    ftol: float,
    max_evals: int,
) -> BoxResult:
    """Minimise ``fun`` (returning the value and the gradient) over ``lower <= x <= upper``.

    Args:
        fun: The objective and its gradient.
        x0: The start (clipped into the box).
        lower: Lower bounds; a coordinate with ``lower == upper`` is held fixed.
        upper: Upper bounds.
        hess_inv: An inverse-Hessian approximation to start from (a previous result's); without
            one, the first step follows the gradient.
        gtol: Stop when the largest projected-gradient entry is at most this.
        ftol: Stop when a step decreases ``f`` by at most ``ftol * max(|f|, 1)``, or the model
            predicts that the next one would.
        max_evals: Evaluation budget.
    """
    search = _box_search(x0, lower, upper, hess_inv, gtol, ftol, max_evals)
    x = next(search)
    while True:
        try:
            x = search.send(fun(x))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def minimize_box_batched(
    fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    X0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    gtol: float,
    ftol: float,
    max_evals: int,
) -> list[BoxResult]:
    """Minimise ``fun`` from each row of ``X0`` separately, evaluating all unfinished searches
    together: ``fun(X, rows)`` gets the points ``X`` (one row per unfinished search) and their
    indices ``rows`` into ``X0``, and returns their values and gradients.

    Each search is :func:`minimize_box` from its own start with its own curvature estimate, so
    it stops as soon as it has converged, and a start in a steep basin does not slow the
    others; one call of ``fun`` per step keeps the cost of a step near that of one search's.

    Args:
        fun: Values ``(m,)`` and gradients ``(m, n)`` at the rows of its first argument.
        X0: ``(k, n)`` starts.
        lower: Lower bounds, shared by all searches.
        upper: Upper bounds, shared by all searches.
        gtol: As in :func:`minimize_box`.
        ftol: As in :func:`minimize_box`.
        max_evals: Evaluation budget of each search.

    Returns:
        One result per start, in the order of ``X0``.
    """
    searches = [_box_search(x0, lower, upper, None, gtol, ftol, max_evals) for x0 in X0]
    pending = {i: next(search) for i, search in enumerate(searches)}
    results: list[BoxResult | None] = [None] * len(searches)
    while pending:
        rows = np.fromiter(pending, dtype=np.intp, count=len(pending))
        values, grads = fun(np.stack([pending[i] for i in rows]), rows)
        for j, i in enumerate(rows.tolist()):
            try:
                pending[i] = searches[i].send((float(values[j]), grads[j]))
            except StopIteration as stop:
                results[i] = stop.value
                del pending[i]
    done = [r for r in results if r is not None]
    assert len(done) == len(results)  # every search ends, at the latest at its budget
    return done


def _box_search(
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    hess_inv: np.ndarray | None,
    gtol: float,
    ftol: float,
    max_evals: int,
) -> Generator[np.ndarray, tuple[float, np.ndarray], BoxResult]:
    """The search of :func:`minimize_box` as a coroutine: it yields each point to evaluate and
    is sent back the value and gradient there, so that several searches can share one batched
    evaluation per step (:func:`minimize_box_batched`)."""
    n = len(x0)
    x = np.clip(np.asarray(x0, dtype=float), lower, upper)
    fixed = lower >= upper
    f, g = yield x
    evals = 1
    if not np.isfinite(f):
        return BoxResult(x, float(f), None, evals, False)
    H = hess_inv.copy() if hess_inv is not None and _usable(hess_inv, n) else None
    converged = False
    # The model's prediction only stops the search after a step of this call has updated the
    # curvature: a carried-over estimate that is far too small would otherwise predict tiny
    # decreases and freeze the hyperparameters from one fit to the next.
    stepped = False
    while evals < max_evals:
        active = fixed | ((x <= lower) & (g > 0.0)) | ((x >= upper) & (g < 0.0))
        free = ~active
        if not free.any() or np.max(np.abs(g[free])) <= gtol:
            converged = True
            break
        d = np.zeros(n)
        if H is not None:
            d[free] = -(H[np.ix_(free, free)] @ g[free])
            slope = float(g @ d)
            if not slope < 0.0:  # no descent direction: forget the curvature
                H = None
            elif stepped and -0.5 * slope <= ftol * max(abs(f), 1.0):
                converged = True
                break
        if H is None:
            d[free] = -g[free] * (_FIRST_STEP / np.max(np.abs(g[free])))
        longest = float(np.max(np.abs(d)))
        if longest > _MAX_STEP:
            d *= _MAX_STEP / longest
        # Backtracking along the projected path x(t) = clip(x + t d).
        t = 1.0
        accepted = False
        for _ in range(_MAX_BACKTRACKS):
            if evals >= max_evals:
                break
            x_new = np.clip(x + t * d, lower, upper)
            s = x_new - x
            if not np.any(s):
                break
            gs = float(g @ s)
            f_new, g_new = yield x_new
            evals += 1
            if np.isfinite(f_new) and f_new <= f + _ARMIJO * gs:
                accepted = True
                break
            # Minimiser of the quadratic through f, the slope and f_new, kept in [0.1t, 0.5t].
            excess = f_new - f - gs
            t_q = -gs * t / (2.0 * excess) if np.isfinite(excess) and excess > 0.0 else 0.5 * t
            t = min(max(t_q, 0.1 * t), 0.5 * t)
        if not accepted:
            if H is not None:  # retry once along the gradient
                H = None
                continue
            break
        yv = g_new - g
        sy = float(s @ yv)
        rescaled = False
        if sy > 1e-10 * float(np.sqrt((s @ s) * (yv @ yv))):
            if H is None:
                H = np.eye(n) * (sy / float(yv @ yv))
            elif not stepped:
                # The first step with a carried-over estimate measures it: H y should be about
                # s. Far too small an H takes tiny steps that would pass the decrease test
                # below and leave the hyperparameters where they were; scale it up instead.
                tau = sy / float(yv @ H @ yv)
                if tau > _RESCALE_ABOVE:
                    H *= tau
                    rescaled = True
            rho = 1.0 / sy
            Hy = H @ yv
            H += (rho * rho * float(yv @ Hy) + rho) * np.outer(s, s) - rho * (
                np.outer(Hy, s) + np.outer(s, Hy)
            )
        decrease = f - f_new
        x, f, g = x_new, float(f_new), g_new
        stepped = True
        if not rescaled and decrease <= ftol * max(abs(f), 1.0):
            converged = True
            break
    return BoxResult(x, float(f), H, evals, converged)
