"""The "above" kernels carried between decisions give what building them afresh gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith
from tunesmith.distributions import FloatDistribution, IntDistribution
from tunesmith.samplers import TPESampler
from tunesmith.samplers._tpe import sampler as tpe_sampler
from tunesmith.samplers._tpe._kernel_cache import AboveKernelCache
from tunesmith.samplers._tpe.parzen_estimator import (
    DimSpec,
    NumericKernels,
    ParzenEstimatorParameters,
)
from tunesmith.trial import Trial

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


def _params(**kw: Any) -> ParzenEstimatorParameters:
    return TPESampler(**kw)._params


def _history(rng: np.random.Generator, rows: int) -> np.ndarray:
    """``(3, rows)`` stored values: a float, a log float, and a dimension with many ties."""
    return np.stack(
        [
            rng.uniform(-5.0, 5.0, rows),
            np.exp(rng.uniform(np.log(1e-3), np.log(10.0), rows)),
            rng.integers(0, 4, rows) * 0.5,
        ]
    )


DISTS = [
    FloatDistribution(-5.0, 5.0),
    FloatDistribution(1e-3, 10.0, log=True),
    FloatDistribution(0.0, 1.5),
]


def _decisions(seed: int, steps: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """A sequence of "above" sets as a study produces them: the store grows by one or two
    rows, a few rows move in and out, and RUNNING rows (numbered after the stored ones) come
    and go."""
    rng = np.random.default_rng(seed)
    out = []
    n = 30
    for _ in range(steps):
        n += int(rng.integers(0, 3))
        members = rng.random(n) > 0.08  # the best few are "below"
        running = int(rng.integers(0, 3))
        ids = np.concatenate([np.flatnonzero(members), n + np.arange(running)])
        out.append((ids, rng.permutation(ids) if rng.random() < 0.2 else ids, n))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sort_order_is_argsort_for_every_decision(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stored = _history(rng, 200)
    cache = AboveKernelCache()
    for _, in_order, n in _decisions(seed, 60):
        # A RUNNING row's values are new at every decision.
        t = np.where(in_order < n, 0.0, 1.0) * rng.uniform(0.0, 1.0, (3, len(in_order)))
        t += stored[:, np.minimum(in_order, len(stored[0]) - 1)] * (in_order < n)
        flat, srt = cache.sort_order(in_order, t, n)
        expected = np.argsort(t, axis=1) + (np.arange(3) * len(in_order))[:, None]
        assert np.array_equal(flat, expected.ravel())
        assert np.array_equal(srt, np.sort(t, axis=1))


def _kernels(
    ids: np.ndarray, n: int, stored: np.ndarray, cache: AboveKernelCache | None, **kw: Any
) -> NumericKernels:
    values = stored[:, ids]
    specs = [DimSpec.of(d) for d in DISTS]
    weights = np.broadcast_to(np.linspace(0.2, 1.0, len(ids)), values.shape)
    valid = np.ones(values.shape, dtype=bool)
    with np.errstate(all="ignore"):
        return NumericKernels(
            specs,
            values,
            valid,
            weights,
            _params(**kw),
            cache=None if cache is None else (cache, ids, n),
        )


@pytest.mark.parametrize(
    "options",
    [{}, {"consider_prior": False}, {"consider_endpoints": True}, {"consider_magic_clip": False}],
)
def test_cached_kernels_give_the_same_density_bit_for_bit(options: dict[str, Any]) -> None:
    rng = np.random.default_rng(7)
    stored = _history(rng, 400)
    x = np.stack([rng.uniform(-5, 5, 24), np.exp(rng.uniform(-6.9, 2.3, 24)), rng.random(24)])
    cache = AboveKernelCache()
    reused = 0
    for ids, _, n in _decisions(3, 80):
        ids = ids[ids < len(stored[0])]
        cached = _kernels(ids, n, stored, cache, **options)
        fresh = _kernels(ids, n, stored, None, **options)
        reused += cached._terms is not None
        assert np.array_equal(cached.sigma, fresh.sigma)
        with np.errstate(all="ignore"):
            assert np.array_equal(cached.joint_log_density(x), fresh.joint_log_density(x))
    assert reused == 80  # the cache served every decision


def test_widths_out_of_floating_point_range_fall_back_to_summed_logs() -> None:
    # 40 dimensions of width ~1e-8 each: the product of a kernel's widths underflows.
    rng = np.random.default_rng(0)
    d, m = 40, 60
    specs = [DimSpec.of(FloatDistribution(0.0, 1e-6)) for _ in range(d)]
    values = rng.uniform(0.0, 1e-6, (d, m))
    weights = np.ones((d, m))
    valid = np.ones((d, m), dtype=bool)
    ids = np.arange(m)
    with np.errstate(all="ignore"):
        cached = NumericKernels(
            specs, values, valid, weights, _params(), cache=(AboveKernelCache(), ids, m)
        )
        fresh = NumericKernels(specs, values, valid, weights, _params())
        x = rng.uniform(0.0, 1e-6, (d, 5))
        assert cached._terms is None
        got = cached.joint_log_density(x)
        assert np.all(np.isfinite(got))
        assert np.array_equal(got, fresh.joint_log_density(x))


class _Busy(AboveKernelCache):
    """A cache another thread always holds: every decision builds its kernels afresh."""

    def __init__(self) -> None:
        super().__init__()
        self.lock.acquire()


def _objective(trial: Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 9)
    drop = trial.suggest_float("drop", 0.0, 0.5, step=0.1)
    act = trial.suggest_categorical("act", ["relu", "tanh"])
    return (x - 1) ** 2 + abs(np.log10(lr) + 3) + 0.1 * n + drop + (act == "tanh")


def _run(monkeypatch: pytest.MonkeyPatch, busy: bool, **kw: Any) -> list[dict[str, Any]]:
    with monkeypatch.context() as m:
        # The cache is used from a few hundred "above" observations on; here from the first.
        m.setattr(tpe_sampler, "_ABOVE_CACHE_MIN", 0)
        if busy:
            m.setattr(tpe_sampler, "AboveKernelCache", _Busy)
        study = tunesmith.create_study(sampler=TPESampler(seed=3, n_startup_trials=5, **kw))
        # Tied values (the same point three times) and out-of-order finishes with RUNNING
        # trials, which the constant liar counts among the "above" observations.
        for _ in range(3):
            study.enqueue_trial({"x": 0.5, "lr": 1e-3, "n": 3, "drop": 0.2, "act": "relu"})
        study.optimize(_objective, n_trials=40)
        waiting = []
        for i in range(30):
            trial = study.ask()
            _objective(trial)
            waiting.append(trial)
            if i % 3 == 2:
                for t in (waiting.pop(1), waiting.pop(0)):
                    study.tell(t, _objective(t))
        study.optimize(_objective, n_trials=30)
        return [t.params for t in study.trials]


@pytest.mark.parametrize("kw", [{}, {"group": True}, {"constant_liar": False}])
def test_studies_suggest_the_same_with_and_without_the_cache(
    monkeypatch: pytest.MonkeyPatch, kw: dict[str, Any]
) -> None:
    assert _run(monkeypatch, busy=False, **kw) == _run(monkeypatch, busy=True, **kw)


def test_int_dimensions_keep_the_tie_order_of_a_full_sort() -> None:
    # Integer lattices tie all the time: each tied row is sorted afresh, not merged.
    dist = IntDistribution(0, 3)
    rng = np.random.default_rng(5)
    stored = rng.integers(0, 4, (2, 300)).astype(float)
    cache = AboveKernelCache()
    specs = [DimSpec.of(dist), DimSpec.of(dist)]
    for n in range(40, 300, 7):
        ids = np.arange(n)
        values = stored[:, ids]
        w = np.ones(values.shape)
        valid = np.ones(values.shape, dtype=bool)
        with np.errstate(all="ignore"):
            cached = NumericKernels(specs, values, valid, w, _params(), cache=(cache, ids, n))
            fresh = NumericKernels(specs, values, valid, w, _params())
        assert np.array_equal(cached.sigma, fresh.sigma)


def test_the_cache_carries_above_kernels_only_from_a_few_hundred_observations() -> None:
    # Below the threshold a decision builds the "above" kernels afresh (cheaper there) and
    # leaves the cache's sort order untouched; from it on the cache holds them.
    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=5))
    rng = np.random.default_rng(0)
    dists = {"x": FloatDistribution(-1.0, 1.0), "y": FloatDistribution(-1.0, 1.0)}

    def add(n: int) -> None:
        study.add_trials(
            [
                tunesmith.trial.create_trial(
                    params={"x": float(a), "y": float(b)}, distributions=dists, value=float(a * a)
                )
                for a, b in rng.uniform(-1.0, 1.0, (n, 2))
            ]
        )

    def caches() -> list[AboveKernelCache]:
        snap, _ = study.sampler._observe(study)  # type: ignore[attr-defined]
        return [c for k, c in snap.caches.items() if k[0] == "above"]

    def objective(trial: Trial) -> float:
        return trial.suggest_float("x", -1.0, 1.0) ** 2 + 0.0 * trial.suggest_float("y", -1.0, 1.0)

    def decide() -> None:
        study.optimize(objective, n_trials=1)

    add(tpe_sampler._ABOVE_CACHE_MIN // 2)
    decide()
    first = caches()
    assert len(first) == 1 and first[0]._sorted_ids is None
    add(tpe_sampler._ABOVE_CACHE_MIN)
    decide()
    held = [c for c in caches() if c._sorted_ids is not None]
    assert len(held) == 1 and held[0]._sorted_ids.shape[1] >= tpe_sampler._ABOVE_CACHE_MIN
