from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

import tunesmith
from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunesmith.samplers import RandomSampler
from tunesmith.trial import Trial


def _objective(trial: Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    n = trial.suggest_int("n", 0, 100, step=5)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return x + lr + n + len(c)


def _params(seed: int, n_trials: int = 60, n_jobs: int = 1) -> list[dict[str, Any]]:
    study = tunesmith.create_study(sampler=RandomSampler(seed=seed))
    study.optimize(_objective, n_trials=n_trials, n_jobs=n_jobs)
    return [t.params for t in study.trials]


def test_same_seed_same_sequence() -> None:
    assert _params(7) == _params(7)
    assert _params(7) != _params(8)


def test_each_trial_gets_the_same_params_whatever_the_number_of_threads() -> None:
    sequential = _params(11, n_trials=200)
    threaded = _params(11, n_trials=200, n_jobs=4)
    assert threaded == sequential  # trials listed by number


def test_each_trial_depends_only_on_seed_number_and_name() -> None:
    """A parameter's value does not depend on which other parameters the trial suggests."""
    a = tunesmith.create_study(sampler=RandomSampler(seed=3))
    b = tunesmith.create_study(sampler=RandomSampler(seed=3))
    a.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    b.optimize(lambda t: t.suggest_float("other", 0, 1) + t.suggest_float("x", 0, 1), n_trials=5)
    assert [t.params["x"] for t in a.trials] == [t.params["x"] for t in b.trials]


def test_unseeded_samplers_differ() -> None:
    a, b = RandomSampler(), RandomSampler()
    assert _params_with(a) != _params_with(b)


def _params_with(sampler: RandomSampler) -> list[dict[str, Any]]:
    study = tunesmith.create_study(sampler=sampler)
    study.optimize(_objective, n_trials=5)
    return [t.params for t in study.trials]


def test_reseed_rng_changes_the_sequence() -> None:
    sampler = RandomSampler(seed=5)
    before = _params_with(sampler)
    sampler.reseed_rng()
    assert _params_with(sampler) != before


def test_seed_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="`seed` must be an int or None, got seed='1'"):
        RandomSampler(seed="1")  # type: ignore[arg-type]


def test_samples_cover_the_range_roughly_uniformly() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 0, 3), n_trials=1000)
    xs = [t.params["x"] for t in study.trials]
    ks = [t.params["k"] for t in study.trials]
    assert 0.45 < sum(xs) / len(xs) < 0.55
    assert all(0.2 < ks.count(k) / len(ks) < 0.3 for k in range(4))
    assert min(xs) < 0.01 and max(xs) > 0.99


def test_log_sampling_is_uniform_in_log_space() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 1e-6, 1.0, log=True), n_trials=1000)
    logs = [math.log10(t.params["lr"]) for t in study.trials]
    assert -3.3 < sum(logs) / len(logs) < -2.7
    below = sum(1 for v in logs if v < -3) / len(logs)
    assert 0.45 < below < 0.55


# -- the suggest API over random spaces (Hypothesis) --------------------------------------------

_bounds = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@st.composite
def _spaces(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["float", "float_log", "float_step", "int", "int_log", "cat"]))
    if kind == "float":
        lo, hi = sorted((draw(_bounds), draw(_bounds)))
        return kind, {"low": lo, "high": hi}
    if kind == "float_log":
        lo, hi = sorted(
            draw(st.floats(min_value=1e-8, max_value=1e4, allow_nan=False)) for _ in range(2)
        )
        return kind, {"low": lo, "high": hi, "log": True}
    if kind == "float_step":
        lo = draw(_bounds)
        step = draw(st.sampled_from([0.001, 0.05, 0.1, 0.5, 1.0, 3.0]))
        hi = lo + draw(st.integers(0, 1000)) * step + draw(st.floats(0, 0.99)) * step
        return kind, {"low": lo, "high": hi, "step": step}
    if kind == "int":
        lo, hi = sorted((draw(st.integers(-1000, 1000)), draw(st.integers(-1000, 1000))))
        return kind, {"low": lo, "high": hi, "step": draw(st.integers(1, 20))}
    if kind == "int_log":
        lo, hi = sorted((draw(st.integers(1, 10**6)), draw(st.integers(1, 10**6))))
        return kind, {"low": lo, "high": hi, "log": True}
    choices = draw(
        st.lists(
            st.one_of(st.integers(), st.text(max_size=3), st.none(), st.booleans()),
            min_size=1,
            max_size=6,
        )
    )
    return kind, {"choices": choices}


@settings(max_examples=80, deadline=None)
@given(_spaces(), st.integers(0, 2**32))
def test_suggested_values_lie_in_the_distribution(
    space: tuple[str, dict[str, Any]], seed: int
) -> None:
    kind, kw = space
    study = tunesmith.create_study(sampler=RandomSampler(seed=seed))
    trial = study.ask()
    if kind.startswith("float"):
        value = trial.suggest_float("p", **kw)
        dist: Any = FloatDistribution(**kw)
        assert type(value) is float
        assert dist.low <= value <= dist.high
        if dist.step is not None:
            k = (value - dist.low) / dist.step
            assert abs(k - round(k)) < 1e-6  # on the step grid
    elif kind.startswith("int"):
        value = trial.suggest_int("p", **kw)
        dist = IntDistribution(**kw)
        assert type(value) is int
        assert dist.low <= value <= dist.high and (value - dist.low) % dist.step == 0
    else:
        value = trial.suggest_categorical("p", kw["choices"])
        dist = CategoricalDistribution(kw["choices"])
        assert any(value == c and type(value) is type(c) for c in kw["choices"])
    assert dist.contains(value)
    assert trial.distributions["p"] == dist
    # the stored value round-trips through the internal representation
    stored = study.tell(trial, 0.0).params["p"]
    assert stored == value and type(stored) is type(value)
    assert dist.to_external_repr(dist.to_internal_repr(value)) == value


def test_unit_values_are_pinned_across_versions() -> None:
    from tunesmith.samplers._rng import unit

    assert [
        unit(0, 0, "x"),
        unit(42, 7, "lr"),
        unit(-3, 300, "n"),
        unit(2**63 - 1, 12345, "kind"),
    ] == [
        0.555045359738002,
        0.6361096212290289,
        0.4702442795353532,
        0.04166273991473313,
    ]


@pytest.mark.parametrize("seed", [0, 1, -1, -2, 2**63 - 1, -(2**64) + 5, 12345678901234567890123])
def test_unit_blocks_equal_the_one_by_one_values(seed: int) -> None:
    from tunesmith.samplers import _rng

    for name in ("x", "learning rate", "p" * 40):
        for number in (0, 1, 255, 256, 511, 512, 10_000, 2**40):
            value = _rng.unit(seed, number, name)
            assert value == _rng._unit_one(seed, _rng._name_hashes[name], number)
            assert 0.0 <= value < 1.0
    assert _rng._blocks_ok == [True]


def test_subclass_that_samples_differently_is_asked() -> None:
    class Halves(RandomSampler):
        def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
            return 0.5

    assert RandomSampler._independent_by_unit and not Halves._independent_by_unit
    study = tunesmith.create_study(sampler=Halves(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert [t.params["x"] for t in study.trials] == [0.5, 0.5, 0.5]


def test_instance_override_of_sample_independent_is_asked() -> None:
    sampler = RandomSampler(seed=0)
    sampler.sample_independent = lambda *args: 0.25  # type: ignore[method-assign]
    study = tunesmith.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert [t.params["x"] for t in study.trials] == [0.25, 0.25]


def test_interleaved_studies_get_the_values_they_get_alone() -> None:
    def params_alone(seed: int, n: int) -> list[dict[str, Any]]:
        study = tunesmith.create_study(sampler=RandomSampler(seed=seed))
        study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 0, 9), n_trials=n)
        return [t.params for t in study.trials]

    # two studies with the same seed (one 300 trials ahead) and one with another seed, asked
    # in turn, so that each moves between value blocks while the others use theirs
    ahead = tunesmith.create_study(sampler=RandomSampler(seed=3))
    ahead.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 0, 9), n_trials=300)
    studies = [ahead, *(tunesmith.create_study(sampler=RandomSampler(seed=s)) for s in (3, 4))]
    for _ in range(300):
        for study in studies:
            trial = study.ask()
            study.tell(trial, trial.suggest_float("x", 0, 1) + trial.suggest_int("k", 0, 9))
    assert [t.params for t in studies[0].trials] == params_alone(3, 600)
    assert [t.params for t in studies[1].trials] == params_alone(3, 300)
    assert [t.params for t in studies[2].trials] == params_alone(4, 300)
