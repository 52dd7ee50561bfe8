from __future__ import annotations

import math
from typing import Any

import pytest

import tunesmith
from tunesmith._keys import FAIL_REASON_KEY
from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunesmith.exceptions import TrialNotFoundError, UpdateFinishedTrialError
from tunesmith.samplers import RandomSampler
from tunesmith.storages import RDBStorage
from tunesmith.study import Study
from tunesmith.trial import TrialState


def _study(**kwargs: Any) -> Study:
    return tunesmith.create_study(sampler=RandomSampler(seed=0), **kwargs)


def test_ask_then_tell_completes_the_trial() -> None:
    study = _study()
    trial = study.ask()
    assert trial.number == 0
    assert study.trials[0].state is TrialState.RUNNING
    x = trial.suggest_float("x", 0, 1)
    frozen = study.tell(trial, x**2)
    assert frozen.state is TrialState.COMPLETE and frozen.value == x**2
    assert frozen.params == {"x": x}
    assert study.trials[0].state is TrialState.COMPLETE
    assert study.best_trial.number == 0


def test_ask_with_fixed_distributions_suggests_them_at_once() -> None:
    study = _study()
    trial = study.ask(
        {
            "x": FloatDistribution(0, 1),
            "n": IntDistribution(1, 3),
            "c": CategoricalDistribution(["only"]),
        }
    )
    assert set(trial.params) == {"x", "n", "c"}
    assert trial.params["c"] == "only"
    assert 0 <= trial.params["x"] <= 1 and trial.params["n"] in (1, 2, 3)
    assert trial.suggest_float("x", 0, 1) == trial.params["x"]  # same value when re-suggested
    assert study.tell(trial, 1.0).params == trial.params


def test_tell_by_number() -> None:
    study = _study()
    t0, t1 = study.ask(), study.ask()
    assert study.tell(1, 5.0).value == 5.0
    assert study.tell(t0.number, 3.0).value == 3.0
    assert [t.value for t in study.trials] == [3.0, 5.0]
    assert t1.number == 1


def test_tell_several_values() -> None:
    study = _study(directions=["minimize", "maximize"])
    trial = study.ask()
    assert study.tell(trial, [1, 2.5]).values == [1.0, 2.5]
    with pytest.raises(ValueError, match="has 2 objective"):
        study.tell(study.ask(), 1.0, state=TrialState.COMPLETE)


def test_tell_pruned_keeps_the_last_reported_value() -> None:
    study = _study()
    trial = study.ask()
    trial.report(0.7, 1)
    trial.report(0.3, 2)
    frozen = study.tell(trial, state=TrialState.PRUNED)
    assert frozen.state is TrialState.PRUNED and frozen.value == 0.3
    assert study.tell(study.ask(), state=TrialState.PRUNED).value is None


def test_tell_pruned_in_a_multi_objective_study_keeps_the_last_values() -> None:
    study = _study(directions=["minimize", "minimize"])
    trial = study.ask()
    trial.report([1.0, 2.0], 0)
    assert study.tell(trial, state=TrialState.PRUNED).values == [1.0, 2.0]


def test_tell_fail() -> None:
    study = _study()
    frozen = study.tell(study.ask(), state=TrialState.FAIL)
    assert frozen.state is TrialState.FAIL and frozen.values is None


@pytest.mark.parametrize(
    ("values", "state", "message"),
    [
        (None, TrialState.COMPLETE, "state=COMPLETE needs `values`"),
        (1.0, TrialState.PRUNED, "`values` cannot be given with state=TrialState.PRUNED"),
        (1.0, TrialState.FAIL, "`values` cannot be given with state=TrialState.FAIL"),
        (1.0, TrialState.RUNNING, "`state` must be COMPLETE, PRUNED or FAIL"),
        (1.0, TrialState.WAITING, "`state` must be COMPLETE, PRUNED or FAIL"),
        ("x", TrialState.COMPLETE, "returned 'x', which is not a number"),
        (math.nan, TrialState.COMPLETE, "returned NaN"),
    ],
)
def test_invalid_tell_raises_and_leaves_the_trial_running(
    values: Any, state: TrialState, message: str
) -> None:
    study = _study()
    trial = study.ask()
    with pytest.raises(ValueError, match=message):
        study.tell(trial, values, state=state)
    assert study.trials[0].state is TrialState.RUNNING
    assert study.tell(trial, 1.0).state is TrialState.COMPLETE


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (None, "returned None"),
        (math.nan, "returned NaN"),
        ([1.0, 2.0], "returned 2 value(s)"),
        ("abc", "which is not a number"),
    ],
)
def test_tell_without_an_explicit_state_fails_bad_values_with_a_warning(
    values: Any, reason: str
) -> None:
    study = _study()
    with pytest.warns(UserWarning, match=f"Trial 0 failed: .*{reason[:10]}") as rec:
        frozen = study.tell(study.ask(), values)
    assert rec[0].filename == __file__
    assert frozen.state is TrialState.FAIL
    assert reason in frozen.system_attrs[FAIL_REASON_KEY]


def test_telling_a_finished_trial_raises_unless_skipped() -> None:
    study = _study()
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(UpdateFinishedTrialError, match=r"already COMPLETE.*skip_if_finished"):
        study.tell(trial, 2.0)
    with pytest.raises(UpdateFinishedTrialError):
        study.tell(0, 2.0)
    assert isinstance(UpdateFinishedTrialError("x"), RuntimeError)
    frozen = study.tell(trial, 2.0, skip_if_finished=True)
    assert frozen.value == 1.0
    assert study.tell(0, state=TrialState.FAIL, skip_if_finished=True).state is TrialState.COMPLETE


def test_telling_a_failed_trial_twice_with_skip() -> None:
    study = _study()
    trial = study.ask()
    with pytest.warns(UserWarning, match="returned None"):
        study.tell(trial)
    assert study.tell(trial, skip_if_finished=True).state is TrialState.FAIL
    with pytest.raises(UpdateFinishedTrialError, match="already FAIL"):
        study.tell(trial, 1.0)


def test_tell_rejects_unknown_and_foreign_trials() -> None:
    study = _study()
    with pytest.raises(TrialNotFoundError, match="trial_number=5"):
        study.tell(5, 1.0)
    with pytest.raises(TypeError, match="must be a Trial or a trial number, got trial='0'"):
        study.tell("0", 1.0)  # type: ignore[arg-type]
    other = _study()
    with pytest.raises(ValueError, match="belongs to another study"):
        study.tell(other.ask(), 1.0)


def test_tell_refuses_a_waiting_trial() -> None:
    study = _study()
    study.enqueue_trial({"x": 0.5})
    with pytest.raises(ValueError, match="it is WAITING, not RUNNING"):
        study.tell(0, 1.0)


def test_enqueued_trials_are_asked_first_with_their_params_and_attrs() -> None:
    study = _study()
    study.enqueue_trial({"x": 0.25, "c": "b"}, user_attrs={"source": "manual"})
    assert study.trials[0].state is TrialState.WAITING
    trial = study.ask()
    assert trial.number == 0
    assert trial.user_attrs == {"source": "manual"}
    assert trial.suggest_float("x", 0, 1) == 0.25
    assert trial.suggest_categorical("c", ["a", "b"]) == "b"
    study.tell(trial, 1.0)
    assert study.ask().number == 1  # the queue is empty: a new trial


def test_partial_enqueued_params_sample_the_rest() -> None:
    study = _study()
    study.enqueue_trial({"x": 0.5})
    trial = study.ask()
    assert trial.suggest_float("x", 0, 1) == 0.5
    y = trial.suggest_float("y", 10, 20)
    assert 10 <= y <= 20


def test_enqueued_value_outside_the_distribution_warns() -> None:
    study = _study()
    study.enqueue_trial({"x": 5.0})
    trial = study.ask()
    with pytest.warns(UserWarning, match="the enqueued value x=5.0 is outside") as rec:
        assert trial.suggest_float("x", 0, 1) == 5.0
    assert rec[0].filename == __file__


def test_enqueue_skip_if_exists() -> None:
    study = _study()
    study.enqueue_trial({"x": 0.5})
    study.enqueue_trial({"x": 0.5}, skip_if_exists=True)  # queued already
    assert len(study.trials) == 1
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    study.tell(trial, 1.0)
    study.enqueue_trial({"x": 0.5}, skip_if_exists=True)  # finished already
    assert len(study.trials) == 1
    study.enqueue_trial({"x": 0.5, "y": 1}, skip_if_exists=True)  # other params
    study.enqueue_trial({"x": 0.5})  # without the flag, duplicates are allowed
    assert len(study.trials) == 3


def test_enqueue_rejects_a_non_mapping() -> None:
    with pytest.raises(TypeError, match=r"`params` must be a dict, got params=\[1\]"):
        _study().enqueue_trial([1])  # type: ignore[arg-type]


def test_each_enqueued_trial_goes_to_exactly_one_worker() -> None:
    study = _study()
    for i in range(50):
        study.enqueue_trial({"i": i})
    study.optimize(lambda t: float(t.suggest_int("i", 0, 1000)), n_trials=50, n_jobs=4)
    assert sorted(t.params["i"] for t in study.trials) == list(range(50))


def test_ask_and_tell_from_several_threads() -> None:
    import threading

    study = _study()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(250):
                trial = study.ask()
                study.tell(trial, trial.suggest_float("x", 0, 1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    trials = study.trials
    assert [t.number for t in trials] == list(range(1000))
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert study.best_value == min(t.value for t in trials)  # type: ignore[type-var]


class _CountingRDB(RDBStorage):
    """A real SQLite RDB storage that counts trial reads."""

    reads = 0

    def get_trial(self, trial_id: int) -> Any:
        _CountingRDB.reads += 1
        return super().get_trial(trial_id)


class _HookedSampler(RandomSampler):
    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seen: list[tunesmith.trial.FrozenTrial] = []

    def before_trial(self, study: Any, trial: tunesmith.trial.FrozenTrial) -> None:
        self.seen.append(trial)


@pytest.mark.parametrize(
    "make_sampler",
    [lambda: tunesmith.samplers.TPESampler(seed=0, n_startup_trials=2), lambda: _HookedSampler(0)],
    ids=["tpe-no-hook", "before_trial-hook"],
)
def test_ask_reads_the_new_trial_once_from_a_database(make_sampler: Any, tmp_path: Any) -> None:
    # A sampler without a before_trial hook (TPE) costs no read for it; one with a hook gets the
    # one read, and the Trial a copy of that record: one read per ask either way.
    study = tunesmith.create_study(
        storage=_CountingRDB(f"sqlite:///{tmp_path}/r.db"), sampler=make_sampler()
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    _CountingRDB.reads = 0
    trial = study.ask()
    assert _CountingRDB.reads == 1
    study.tell(trial, trial.suggest_float("x", 0, 1))


def test_a_before_trial_hook_keeps_its_own_copy_of_the_new_trial(tmp_path: Any) -> None:
    # What the objective does after ask is not seen in the record the hook was given.
    sampler = _HookedSampler(0)
    study = tunesmith.create_study(
        storage=_CountingRDB(f"sqlite:///{tmp_path}/h.db"), sampler=sampler
    )
    trial = study.ask()
    assert [t.number for t in sampler.seen] == [0]
    x = trial.suggest_float("x", 0, 1)
    assert sampler.seen[0].params == {} and trial.params == {"x": x}
    assert study.tell(trial, x).params == {"x": x}
