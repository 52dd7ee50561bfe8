from __future__ import annotations

import tunesmith
from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunesmith.samplers import IntersectionSearchSpace, RandomSampler, intersection_search_space
from tunesmith.trial import TrialState, create_trial


def _add(study: tunesmith.Study, dists: dict, state: TrialState = TrialState.COMPLETE) -> None:  # type: ignore[type-arg]
    params = {k: d.to_external_repr(d.to_internal_repr(_first(d))) for k, d in dists.items()}
    value = 0.0 if state is TrialState.COMPLETE else None
    study.add_trial(create_trial(state=state, params=params, distributions=dists, value=value))


def _first(d: object) -> object:
    if isinstance(d, CategoricalDistribution):
        return d.choices[0]
    return d.low  # type: ignore[attr-defined]


X = FloatDistribution(0, 1)
N = IntDistribution(0, 10)
C = CategoricalDistribution(["a", "b"])


def test_intersection_of_complete_trials_sorted_by_name() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    space = IntersectionSearchSpace()
    assert space.calculate(study) == {}
    _add(study, {"x": X, "n": N, "c": C})
    assert list(space.calculate(study)) == ["c", "n", "x"]
    _add(study, {"x": X, "c": C})
    assert space.calculate(study) == {"c": C, "x": X}
    _add(study, {"x": FloatDistribution(0, 2), "c": C})  # other bounds: x drops out
    assert space.calculate(study) == {"c": C}


def test_pruned_trials_count_only_when_asked() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    _add(study, {"x": X, "n": N})
    _add(study, {"x": X}, state=TrialState.PRUNED)
    _add(study, {"n": N}, state=TrialState.FAIL)
    assert IntersectionSearchSpace().calculate(study) == {"n": N, "x": X}
    assert IntersectionSearchSpace(include_pruned=True).calculate(study) == {"x": X}


def test_running_trials_are_ignored_and_counted_once_finished() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    space = IntersectionSearchSpace()
    _add(study, {"x": X, "n": N})
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    assert space.calculate(study) == {"n": N, "x": X}
    study.tell(trial, 1.0)
    assert space.calculate(study) == {"x": X}


def test_reused_on_another_study_starts_over() -> None:
    a = tunesmith.create_study(sampler=RandomSampler(seed=0))
    b = tunesmith.create_study(sampler=RandomSampler(seed=0))
    _add(a, {"x": X})
    _add(b, {"n": N})
    space = IntersectionSearchSpace()
    assert space.calculate(a) == {"x": X}
    assert space.calculate(b) == {"n": N}


def test_the_function_form_agrees() -> None:
    study = tunesmith.create_study(sampler=RandomSampler(seed=0))
    _add(study, {"x": X, "n": N, "c": C})
    _add(study, {"x": X, "c": C})
    _add(study, {"n": N}, state=TrialState.PRUNED)
    trials = study.trials
    assert intersection_search_space(trials) == IntersectionSearchSpace().calculate(study)
    assert intersection_search_space(trials, include_pruned=True) == {}
    assert intersection_search_space([]) == {}
