from __future__ import annotations

from collections.abc import Iterator
import logging
import math
import threading
import time
from typing import Any

import pytest

import tunesmith
from tunesmith._keys import FAIL_REASON_KEY
from tunesmith.samplers import RandomSampler
from tunesmith.study import Study
from tunesmith.trial import FrozenTrial, Trial, TrialState


def _study(**kwargs: Any) -> Study:
    return tunesmith.create_study(sampler=RandomSampler(seed=0), **kwargs)


def quadratic(trial: Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    y = trial.suggest_int("y", -3, 3)
    return (x - 2) ** 2 + y * y


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """The records of the ``tunesmith`` logger at INFO and above."""
    logger = logging.getLogger("tunesmith")
    level = tunesmith.logging.get_verbosity()
    tunesmith.logging.set_verbosity(tunesmith.logging.INFO)
    handler = _ListHandler()
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        tunesmith.logging.set_verbosity(level)


def test_n_trials_runs_exactly_that_many() -> None:
    study = _study()
    study.optimize(quadratic, n_trials=25)
    trials = study.trials
    assert [t.number for t in trials] == list(range(25))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert study.best_value == min(t.value for t in trials)  # type: ignore[type-var]
    study.optimize(quadratic, n_trials=5)  # a second call adds trials
    assert len(study.trials) == 30


def test_n_trials_zero_runs_nothing() -> None:
    study = _study()
    study.optimize(quadratic, n_trials=0)
    assert study.trials == []


def test_timeout_ends_an_unbounded_run() -> None:
    study = _study()

    def slow(trial: Trial) -> float:
        time.sleep(0.01)
        return quadratic(trial)

    study.optimize(slow, timeout=0.1)
    n = len(study.trials)
    assert n >= 1
    assert all(t.state is TrialState.COMPLETE for t in study.trials)


def test_timeout_zero_starts_no_trial() -> None:
    study = _study()
    study.optimize(quadratic, n_trials=10, timeout=0)
    assert study.trials == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": -1}, "`n_trials` must be a non-negative integer or None, got n_trials=-1"),
        ({"n_trials": 2.5}, "got n_trials=2.5"),
        ({"n_trials": True}, "got n_trials=True"),
        ({"timeout": -1}, "`timeout` must be a non-negative number of seconds or None"),
        ({"timeout": "10"}, "got timeout='10'"),
        (
            {"n_trials": 1, "n_jobs": 0},
            "`n_jobs` must be a positive integer or -1 .all CPUs., got n_jobs=0",
        ),
        ({"n_trials": 1, "n_jobs": -2}, "got n_jobs=-2"),
        ({"n_trials": 1, "n_jobs": 1.5}, "got n_jobs=1.5"),
    ],
)
def test_optimize_validates_its_arguments(kwargs: dict[str, Any], message: str) -> None:
    study = _study()
    with pytest.raises(ValueError, match=message):
        study.optimize(quadratic, **kwargs)
    assert study.trials == []


def test_optimize_rejects_a_non_callable_and_bad_catch() -> None:
    study = _study()
    with pytest.raises(TypeError, match="`func` must be callable"):
        study.optimize(42, n_trials=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`catch` must hold exception types"):
        study.optimize(quadratic, n_trials=1, catch=("ValueError",))  # type: ignore[arg-type]
    assert study.trials == []


def test_an_exception_fails_the_trial_and_propagates(records: list[logging.LogRecord]) -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        trial.suggest_float("x", 0, 1)
        if trial.number == 2:
            raise ValueError("boom")
        return 1.0

    with pytest.raises(ValueError, match="boom"):
        study.optimize(objective, n_trials=10)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    failed = study.trials[2]
    assert failed.values is None and "x" in failed.params
    assert "ValueError('boom')" in failed.system_attrs[FAIL_REASON_KEY]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert any("Trial 2 failed because of the following error" in r.getMessage() for r in warnings)


@pytest.mark.parametrize("catch", [(ValueError,), ValueError, [KeyError, ValueError]])
def test_caught_exceptions_fail_the_trial_and_the_study_goes_on(catch: Any) -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        if trial.number % 2:
            raise ValueError("odd")
        return float(trial.number)

    study.optimize(objective, n_trials=6, catch=catch)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL] * 3
    with pytest.raises(ValueError, match="odd"):  # a subclass of what is caught is not enough
        study.optimize(objective, n_trials=2, catch=(KeyError,))


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        (math.nan, "the objective returned NaN"),
        (None, "the objective returned None"),
        ("high", "returned 'high', which is not a number"),
        ([1.0, 2.0], "the study has 1 objective(s) but the objective returned 2 value(s)"),
        (object, "which is not a number"),
    ],
)
def test_bad_return_values_fail_the_trial_with_a_warning(
    records: list[logging.LogRecord], returned: Any, reason: str
) -> None:
    study = _study()
    study.optimize(lambda t: returned if t.number == 0 else 1.0, n_trials=3)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[0].values is None
    assert reason in trials[0].system_attrs[FAIL_REASON_KEY]
    assert any(
        r.levelno == logging.WARNING and reason in r.getMessage() and "Trial 0" in r.getMessage()
        for r in records
    )


def test_bad_return_values_in_multi_objective_studies() -> None:
    study = _study(directions=["minimize", "maximize"])
    results: list[Any] = [1.0, [1.0, math.nan], [1.0, 2.0, 3.0], (1.0, 2.0)]
    study.optimize(lambda t: results[t.number], n_trials=4)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3 + [TrialState.COMPLETE]
    assert study.trials[3].values == [1.0, 2.0]


def test_pruned_trials_keep_their_last_intermediate_value() -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        trial.report(3.0, 0)
        trial.report(2.0, 1)
        raise tunesmith.TrialPruned()

    study.optimize(objective, n_trials=2)
    assert all(t.state is TrialState.PRUNED for t in study.trials)
    assert study.trials[0].value == 2.0
    with pytest.raises(ValueError, match="No trial is COMPLETE"):
        _ = study.best_trial


def test_keyboard_interrupt_fails_the_running_trial_and_keeps_the_rest() -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 3:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3 + [TrialState.FAIL]
    assert "x" in trials[3].params
    # the study is usable afterwards
    study.optimize(lambda t: 0.0, n_trials=1)
    assert len(study.trials) == 5


def test_keyboard_interrupt_with_threads_leaves_no_trial_running() -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        if trial.number == 20:
            raise KeyboardInterrupt
        return 0.0

    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=200, n_jobs=3)
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    assert states[20] is TrialState.FAIL
    assert states.count(TrialState.FAIL) == 1


def test_callbacks_see_each_finished_trial_in_order() -> None:
    study = _study()
    seen: list[tuple[int, TrialState]] = []

    def callback(s: Study, t: FrozenTrial) -> None:
        assert s is study
        assert t.state.is_finished()
        seen.append((t.number, t.state))

    def objective(trial: Trial) -> float:
        if trial.number == 1:
            raise tunesmith.TrialPruned()
        return 0.0

    study.optimize(objective, n_trials=3, callbacks=[callback, lambda s, t: None])
    assert seen == [(0, TrialState.COMPLETE), (1, TrialState.PRUNED), (2, TrialState.COMPLETE)]


def test_callbacks_run_for_caught_failures_too() -> None:
    study = _study()
    seen: list[TrialState] = []

    def objective(trial: Trial) -> float:
        raise RuntimeError("x")

    study.optimize(
        objective, n_trials=2, catch=(RuntimeError,), callbacks=[lambda s, t: seen.append(t.state)]
    )
    assert seen == [TrialState.FAIL, TrialState.FAIL]


def test_an_error_in_a_callback_propagates() -> None:
    study = _study()

    def callback(s: Study, t: FrozenTrial) -> None:
        raise LookupError("callback failed")

    with pytest.raises(LookupError, match="callback failed"):
        study.optimize(lambda t: 0.0, n_trials=5, callbacks=[callback])
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]


def test_gc_after_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    calls: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(1) or 0)
    _study().optimize(lambda t: 0.0, n_trials=4, gc_after_trial=True)
    assert len(calls) == 4
    calls.clear()
    _study().optimize(lambda t: 0.0, n_trials=4)
    assert calls == []


def test_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    _study().optimize(lambda t: 1.0, n_trials=7, show_progress_bar=True)
    out, err = capsys.readouterr()
    assert "7/7" in err
    assert "best: #0 1" in err
    assert out == ""


def test_progress_bar_with_only_a_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    _study().optimize(lambda t: 1.0, timeout=0.05, show_progress_bar=True)
    err = capsys.readouterr().err
    assert "s" in err and "/0s" in err  # seconds, not trials


def test_progress_bar_without_a_budget_warns(records: list[logging.LogRecord]) -> None:
    study = _study()
    study.optimize(lambda t: study.stop() or 1.0, show_progress_bar=True)
    assert any("needs `n_trials` or `timeout`" in r.getMessage() for r in records)


def test_trial_results_are_logged_at_info(records: list[logging.LogRecord]) -> None:
    study = _study()
    study.optimize(lambda t: t.suggest_int("n", 5, 5) * 1.0, n_trials=2)
    messages = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert any(
        "Trial 1 finished with value: 5.0 and parameters: {'n': 5}. Best is trial 0 with value: 5.0."
        in m
        for m in messages
    )


def test_stop_from_the_objective_and_from_a_callback() -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        if trial.number == 4:
            study.stop()
        return 0.0

    study.optimize(objective, n_trials=100)
    assert len(study.trials) == 5
    study.optimize(lambda t: 0.0, n_trials=3)  # the flag does not stick
    assert len(study.trials) == 8
    study.optimize(lambda t: 0.0, callbacks=[lambda s, t: s.stop()])
    assert len(study.trials) == 9


def test_stop_outside_optimize_raises() -> None:
    with pytest.raises(RuntimeError, match="inside an objective or a callback"):
        _study().stop()


def test_nested_optimize_raises() -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        study.optimize(lambda t: 0.0, n_trials=1)
        return 0.0

    with pytest.raises(RuntimeError, match="nested optimize calls are not supported"):
        study.optimize(objective, n_trials=1)
    assert study.trials[0].state is TrialState.FAIL


def test_n_jobs_minus_one_uses_every_cpu() -> None:
    study = _study()
    names: set[str] = set()

    def objective(trial: Trial) -> float:
        names.add(threading.current_thread().name)
        return quadratic(trial)

    study.optimize(objective, n_trials=40, n_jobs=-1)
    assert len(study.trials) == 40
    assert all(n.startswith("tunesmith-worker-") for n in names)


def test_an_exception_in_a_worker_thread_propagates() -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        if trial.number == 10:
            raise ZeroDivisionError("in a thread")
        # Slow enough that the 1,000 trials take far longer than the error takes to stop the
        # other workers (the framework alone runs 1,000 trials in about 10 ms).
        time.sleep(0.002)
        return 0.0

    with pytest.raises(ZeroDivisionError, match="in a thread"):
        study.optimize(objective, n_trials=1000, n_jobs=4)
    trials = study.trials
    assert len(trials) < 1000
    assert TrialState.RUNNING not in {t.state for t in trials}
    assert trials[10].state is TrialState.FAIL


def test_threads_2000_trials_numbers_unique_contiguous_none_running() -> None:
    study = _study()
    seen: list[int] = []
    lock = threading.Lock()

    def objective(trial: Trial) -> float:
        with lock:
            seen.append(trial.number)
        return quadratic(trial)

    study.optimize(objective, n_trials=2000, n_jobs=4)
    trials = study.trials
    assert len(trials) == 2000
    assert [t.number for t in trials] == list(range(2000))
    assert sorted(seen) == list(range(2000))
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert len({t._trial_id for t in trials}) == 2000
    assert study.best_value == min(t.value for t in trials)  # type: ignore[type-var]
    assert len(study.get_trials(states=(TrialState.RUNNING,))) == 0


@pytest.mark.parametrize("atomic", [True, False])
def test_budget_hands_out_exactly_n_trials_slots_across_threads(atomic: bool) -> None:
    # With the GIL a slot is one next() on a counter; without it (free-threaded Python) each
    # take holds the budget's lock. Both must hand out exactly n_trials slots.
    from tunesmith.study._optimize import _Budget

    budget = _Budget(_study(), n_trials=5000, timeout=None)
    budget._atomic = atomic
    granted = [0] * 8

    def worker(i: int) -> None:
        while budget.take():
            granted[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 5000
    assert budget.take() is False


def test_threads_with_failures_and_prunes_count_correctly() -> None:
    study = _study()

    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number % 3 == 1:
            raise tunesmith.TrialPruned()
        if trial.number % 3 == 2:
            raise ValueError("fail")
        return x

    study.optimize(objective, n_trials=300, n_jobs=4, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 100
    assert states.count(TrialState.PRUNED) == 100
    assert states.count(TrialState.FAIL) == 100


def test_enqueued_trials_run_first() -> None:
    study = _study()
    study.enqueue_trial({"x": 2.0, "y": 0})
    study.enqueue_trial({"x": -1.0})
    study.optimize(quadratic, n_trials=3)
    trials = study.trials
    assert trials[0].params == {"x": 2.0, "y": 0} and trials[0].value == 0.0
    assert trials[1].params["x"] == -1.0 and -3 <= trials[1].params["y"] <= 3
    assert study.best_params == {"x": 2.0, "y": 0}
