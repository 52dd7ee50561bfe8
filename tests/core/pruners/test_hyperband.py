from __future__ import annotations

from collections import Counter
import pickle
from typing import Any

import pytest

import tunesmith
from tunesmith.pruners import HyperbandPruner, PatientPruner

from ._helpers import add_flat, live, make_study

COMPLETE = tunesmith.TrialState.COMPLETE
# HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3): rungs at 1, 3, 9, 27,
# so 4 brackets with budgets ceil(4 * 3**s / (s + 1)) for s = 3, 2, 1, 0: 27, 12, 6, 4 (sum 49).
# crc32(str(n)) % 49 for n = 0..11 is 18, 2, 7, 20, 15, 41, 44, 11, 36, 7, 41, 16; walking the
# budgets (< 27 -> 0, < 39 -> 1, < 45 -> 2, else 3):
FIRST_BRACKETS = [0, 0, 0, 0, 0, 2, 2, 0, 1, 0, 2, 0]


def _pruner(**kwargs: Any) -> HyperbandPruner:
    return HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3, **kwargs)


@pytest.mark.parametrize(
    ("min_resource", "max_resource", "eta", "n_brackets"),
    [(1, 27, 3, 4), (1, 100, 3, 5), (1, 243, 3, 6), (2, 7, 2, 2), (5, 5, 3, 1), (1, 26, 3, 3)],
)
def test_number_of_brackets(
    min_resource: int, max_resource: int, eta: int, n_brackets: int
) -> None:
    assert HyperbandPruner(min_resource, max_resource, eta).n_brackets == n_brackets


def test_bracket_assignment_is_deterministic_and_covers_every_bracket() -> None:
    a, b = _pruner(), _pruner()
    assert [a.bracket_of(n) for n in range(12)] == FIRST_BRACKETS
    assert [a.bracket_of(n) for n in range(500)] == [b.bracket_of(n) for n in range(500)]
    assert {a.bracket_of(n) for n in range(40)} == {0, 1, 2, 3}
    counts = Counter(a.bracket_of(n) for n in range(49_000))
    for bracket, budget in enumerate([27, 12, 6, 4]):
        assert counts[bracket] / 49_000 == pytest.approx(budget / 49, rel=0.1)


def test_brackets_need_a_complete_trial_with_auto_max_resource() -> None:
    pruner = HyperbandPruner()
    assert pruner.n_brackets is None
    with pytest.raises(RuntimeError, match="not set up yet"):
        pruner.bracket_of(0)
    study = make_study(pruner)
    assert live(study, {100: 1.0}).should_prune() is False
    add_flat(study, [1.0], steps=range(27))  # last step 26 -> max_resource 27
    assert live(study, {1: 1.0}).should_prune() is False
    assert pruner.n_brackets == 4


def test_trials_compete_only_within_their_bracket() -> None:
    study = make_study(_pruner())
    for number in range(5):  # bracket 0: first rung at step 1
        trial = live(study, {1: 0.01})
        assert trial.number == number
        assert trial.should_prune() is False
        assert study._storage.get_trial(trial._trial_id).system_attrs["completed_rung_0"] == 0.01
    t5 = live(study, {3: 0.1})  # bracket 2: first rung at step 9
    assert t5.should_prune() is False
    assert "completed_rung_0" not in study._storage.get_trial(t5._trial_id).system_attrs
    t5.report(0.1, 9)
    # Alone in bracket 2 (against bracket 0's five 0.01 it would be pruned).
    assert t5.should_prune() is False
    t6 = live(study, {9: 0.5})  # bracket 2: 2 values, quota 1, 0.1 is better
    assert t6.should_prune() is True


class _Recorder(tunesmith.samplers.RandomSampler):
    """Records which trials the sampler is shown."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.seen: list[list[int]] = []
        self.finished_seen: list[list[int]] = []
        self.after: list[list[int]] = []
        self.relative: list[list[int]] = []

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict:
        self.relative.append([t.number for t in study.get_trials(deepcopy=False)])
        return {}

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        self.seen.append([t.number for t in study.get_trials(deepcopy=False)])
        self.finished_seen.append([t.number for t in study._get_finished_trials((COMPLETE,))])
        return super().sample_independent(study, trial, name, dist)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self.after.append([t.number for t in study.trials])


def test_sampler_sees_only_the_trials_of_the_same_bracket() -> None:
    pruner = _pruner()
    sampler = _Recorder()
    study = tunesmith.create_study(pruner=pruner, sampler=sampler)
    add_flat(study, [1.0] * 23)  # trials 0..22
    trial = study.ask()
    assert trial.number == 23 and pruner.bracket_of(23) == 1
    trial.suggest_float("x", 0.0, 1.0)
    bracket_1 = [8, 18, 21]  # the bracket-1 trials below 23 (see FIRST_BRACKETS and beyond)
    assert bracket_1 == [n for n in range(23) if pruner.bracket_of(n) == 1]
    assert sampler.seen == [[*bracket_1, 23]]
    assert sampler.relative == [[*bracket_1, 23]]
    assert sampler.finished_seen == [bracket_1]
    study.tell(trial, 0.5)
    assert sampler.after == [[*bracket_1, 23]]
    assert len(study.trials) == 24  # the study itself is untouched


def test_the_bracket_view_delegates_everything_else() -> None:
    pruner = _pruner()
    study = make_study(pruner, direction="maximize")
    add_flat(study, [1.0] * 9)
    trial = study.ask()
    view = pruner.study_for_sampler(study, trial._cache)
    assert view.direction is study.direction
    assert view.study_name == study.study_name
    assert view._storage is study._storage
    assert [t.number for t in view.trials] == [0, 1, 2, 3, 4, 7, 9]  # trial 9's bracket: 0
    assert view.best_trial.number == study.best_trial.number


def test_sampler_sees_the_whole_study_until_hyperband_is_active() -> None:
    pruner = HyperbandPruner()  # max_resource="auto"
    sampler = _Recorder()
    study = tunesmith.create_study(pruner=pruner, sampler=sampler)
    study.add_trial(tunesmith.create_trial(state=tunesmith.TrialState.FAIL))
    study.ask().suggest_float("x", 0.0, 1.0)
    assert sampler.seen == [[0, 1]]


def test_patient_pruner_passes_the_bracket_view_on() -> None:
    inner = _pruner()
    study = make_study(PatientPruner(inner, patience=1))
    add_flat(study, [1.0] * 23)
    trial = study.ask()
    view = study.pruner.study_for_sampler(study, trial._cache)
    assert [t.number for t in view.get_trials(deepcopy=False)] == [8, 18, 21, 23]


def test_hyperband_survives_pickling() -> None:
    pruner = _pruner()
    study = make_study(pruner)
    live(study, {1: 0.01}).should_prune()
    copy = pickle.loads(pickle.dumps(pruner))
    assert [copy.bracket_of(n) for n in range(12)] == FIRST_BRACKETS
    study.pruner = copy
    assert live(study, {1: 0.5}).should_prune() is True  # bracket 0: 0.01 is better


def test_several_objectives() -> None:
    study = make_study(_pruner(), directions=["minimize", "maximize"])
    assert live(study, {1: (1.0, 10.0)}).should_prune() is False  # trial 0, bracket 0
    assert live(study, {1: (2.0, 5.0)}).should_prune() is True  # dominated by trial 0
    assert live(study, {1: (0.5, 5.0)}).should_prune() is False  # a trade-off


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_resource": 0}, ValueError, "min_resource=0"),
        ({"max_resource": "max"}, ValueError, "max_resource='max'"),
        ({"min_resource": 5, "max_resource": 3}, ValueError, "max_resource=3, min_resource=5"),
        ({"reduction_factor": 1}, ValueError, "reduction_factor=1"),
        ({"bootstrap_count": -1, "max_resource": 9}, ValueError, "bootstrap_count=-1"),
        ({"bootstrap_count": 1}, ValueError, "needs an integer `max_resource`"),
    ],
)
def test_argument_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        HyperbandPruner(**kwargs)


def test_tpe_keeps_one_set_of_observations_per_bracket() -> None:
    pruner = _pruner()
    sampler = tunesmith.samplers.TPESampler(seed=0)
    study = tunesmith.create_study(pruner=pruner, sampler=sampler)
    dist = tunesmith.distributions.FloatDistribution(0.0, 1.0)
    for i in range(23):
        v = i / 23
        study.add_trial(
            tunesmith.create_trial(
                params={"x": v}, distributions={"x": dist}, value=v, intermediate_values={0: v}
            )
        )
    a, b = study.ask(), study.ask()  # trials 23 (bracket 1) and 24 (bracket 2)
    views = {t.number: pruner.study_for_sampler(study, t._cache) for t in (a, b)}
    expected = {
        n: [m for m in range(23) if pruner.bracket_of(m) == pruner.bracket_of(n)] for n in views
    }
    assert expected[23] == [8, 18, 21]
    for n in (23, 24, 23, 24):  # alternating brackets must not mix their observations
        snapshot = sampler._snapshot(views[n])
        assert list(snapshot.number[: snapshot.n]) == expected[n]
