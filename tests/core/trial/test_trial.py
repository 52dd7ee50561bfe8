from __future__ import annotations

import datetime
import math

import pytest

import tunesmith
from tunesmith.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from tunesmith.exceptions import (
    IncompatibleDistributionError,
    TunesmithDeprecationWarning,
    UpdateFinishedTrialError,
)
from tunesmith.samplers import RandomSampler
from tunesmith.trial import Trial, TrialState


def _study(directions: list[str] | None = None, seed: int = 0) -> tunesmith.Study:
    return tunesmith.create_study(sampler=RandomSampler(seed=seed), directions=directions)


@pytest.fixture
def trial() -> Trial:
    return _study().ask()


def test_suggest_float_int_categorical_lie_in_their_distributions(trial: Trial) -> None:
    x = trial.suggest_float("x", -2.0, 3.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    q = trial.suggest_float("q", 0.0, 1.0, step=0.25)
    n = trial.suggest_int("n", 1, 9, step=2)
    u = trial.suggest_int("u", 1, 1024, log=True)
    c = trial.suggest_categorical("c", ["a", "b", None])
    assert -2.0 <= x <= 3.0 and type(x) is float
    assert 1e-5 <= lr <= 1e-1
    assert q in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert n in (1, 3, 5, 7, 9) and type(n) is int
    assert 1 <= u <= 1024 and type(u) is int
    assert c in ("a", "b", None)
    assert trial.params == {"x": x, "lr": lr, "q": q, "n": n, "u": u, "c": c}
    assert trial.distributions == {
        "x": FloatDistribution(-2.0, 3.0),
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "q": FloatDistribution(0.0, 1.0, step=0.25),
        "n": IntDistribution(1, 9, step=2),
        "u": IntDistribution(1, 1024, log=True),
        "c": CategoricalDistribution(["a", "b", None]),
    }


def test_suggestions_are_stored(trial: Trial) -> None:
    x = trial.suggest_float("x", 0, 1)
    c = trial.suggest_categorical("c", [1, 2, 3])
    stored = trial.study._storage.get_trial(trial._trial_id)
    assert stored.params == {"x": x, "c": c}
    assert stored.distributions["c"] == CategoricalDistribution([1, 2, 3])


def test_single_valued_distributions_return_their_value(trial: Trial) -> None:
    assert trial.suggest_float("a", 1.5, 1.5) == 1.5
    assert trial.suggest_int("b", 7, 7) == 7
    assert trial.suggest_categorical("c", ["only"]) == "only"


def test_resuggesting_returns_the_same_value(trial: Trial) -> None:
    x = trial.suggest_float("x", 0, 1)
    assert trial.suggest_float("x", 0, 1) == x
    n = trial.suggest_int("n", 0, 100)
    assert trial.suggest_int("n", 0, 100) == n
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    assert trial.suggest_categorical("c", ["a", "b", "c"]) == c


def test_resuggesting_with_other_bounds_warns_and_keeps_the_first_value(trial: Trial) -> None:
    x = trial.suggest_float("x", 0, 1)
    with pytest.warns(UserWarning, match="parameter 'x' was suggested with") as rec:
        assert trial.suggest_float("x", 0, 2) == x
    assert rec[0].filename == __file__
    assert trial.distributions["x"] == FloatDistribution(0, 1)


@pytest.mark.parametrize(
    "resuggest",
    [
        lambda t: t.suggest_int("x", 0, 1),
        lambda t: t.suggest_categorical("x", [0.0, 1.0]),
    ],
)
def test_resuggesting_with_another_kind_raises_and_leaves_the_trial_intact(
    trial: Trial, resuggest: object
) -> None:
    x = trial.suggest_float("x", 0, 1)
    with pytest.raises(IncompatibleDistributionError, match="parameter 'x' was suggested"):
        resuggest(trial)  # type: ignore[operator]
    assert trial.params == {"x": x}
    assert trial.distributions == {"x": FloatDistribution(0, 1)}
    assert trial.study._storage.get_trial(trial._trial_id).params == {"x": x}
    assert trial.study.tell(trial, 0.0).state is TrialState.COMPLETE


def test_categorical_choices_cannot_change_within_a_trial(trial: Trial) -> None:
    trial.suggest_categorical("c", ["a", "b"])
    with pytest.raises(IncompatibleDistributionError, match="choices"):
        trial.suggest_categorical("c", ["a", "b", "z"])


def test_another_trial_cannot_change_the_kind_of_a_parameter() -> None:
    study = _study()
    t0 = study.ask()
    t0.suggest_float("x", 0, 1)
    study.tell(t0, 0.0)
    t1 = study.ask()
    with pytest.raises(IncompatibleDistributionError):
        t1.suggest_int("x", 0, 1)
    assert t1.params == {}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.suggest_float("x", 1.0, 0.0), "`low` must be <= `high`"),
        (lambda t: t.suggest_float("x", 0.0, 1.0, log=True), "`low` must be > 0"),
        (lambda t: t.suggest_float("x", 1.0, 2.0, log=True, step=0.1), "cannot be used together"),
        (lambda t: t.suggest_int("n", 5, 1), "`low` must be <= `high`"),
        (lambda t: t.suggest_int("n", 0, 10, log=True), "`low` must be >= 1"),
        (lambda t: t.suggest_categorical("c", []), "must not be empty"),
        (lambda t: t.suggest_categorical("c", [[1], [2]]), "of type list"),
    ],
)
def test_bad_suggest_arguments_raise_without_storing(
    trial: Trial, call: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(trial)  # type: ignore[operator]
    assert trial.params == {}


@pytest.mark.parametrize(
    ("method", "args", "expected_dist"),
    [
        ("suggest_uniform", (0.0, 1.0), FloatDistribution(0.0, 1.0)),
        ("suggest_loguniform", (1e-3, 1.0), FloatDistribution(1e-3, 1.0, log=True)),
        ("suggest_discrete_uniform", (0.0, 1.0, 0.25), FloatDistribution(0.0, 1.0, step=0.25)),
    ],
)
def test_deprecated_suggest_methods_work_and_warn(
    trial: Trial, method: str, args: tuple[float, ...], expected_dist: FloatDistribution
) -> None:
    with pytest.warns(FutureWarning, match=f"{method} is deprecated") as rec:
        v = getattr(trial, method)("p", *args)
    assert issubclass(rec[0].category, TunesmithDeprecationWarning)
    assert rec[0].filename == __file__  # points at the caller's line
    assert expected_dist.contains(v)
    assert trial.distributions["p"] == expected_dist


def test_deprecated_positional_step_and_log(trial: Trial) -> None:
    with pytest.warns(FutureWarning, match="passing step to suggest_int") as rec:
        n = trial.suggest_int("n", 0, 10, 5)
    assert rec[0].filename == __file__
    assert n in (0, 5, 10)
    assert trial.distributions["n"] == IntDistribution(0, 10, step=5)
    with pytest.warns(FutureWarning, match="passing step, log to suggest_int"):
        trial.suggest_int("m", 1, 10, 1, True)
    assert trial.distributions["m"] == IntDistribution(1, 10, log=True)
    with pytest.warns(FutureWarning, match="passing step to suggest_float"):
        f = trial.suggest_float("f", 0.0, 1.0, 0.5)
    assert f in (0.0, 0.5, 1.0)
    with pytest.warns(FutureWarning, match="passing step, log to suggest_float"):
        trial.suggest_float("g", 1e-3, 1.0, None, True)
    assert trial.distributions["g"] == FloatDistribution(1e-3, 1.0, log=True)


def test_positional_and_keyword_step_together_is_an_error(trial: Trial) -> None:
    with pytest.raises(TypeError, match="multiple values for argument 'step'"):
        trial.suggest_int("n", 0, 10, 2, step=3)  # type: ignore[misc]
    with pytest.raises(TypeError, match="at most 5 positional arguments"):
        trial.suggest_int("n", 0, 10, 2, False, "extra")


def test_report_and_intermediate_values() -> None:
    study = _study()
    trial = study.ask()
    trial.report(0.5, 0)
    trial.report(1, step=3)  # ints are stored as floats
    with pytest.warns(UserWarning, match="step 0 was reported already") as rec:
        trial.report(9.0, 0)
    assert rec[0].filename == __file__
    assert trial.should_prune() is False
    frozen = study.tell(trial, 1.0)
    assert frozen.intermediate_values == {0: 0.5, 3: 1.0}
    assert type(frozen.intermediate_values[3]) is float
    assert frozen.last_step == 3


@pytest.mark.parametrize(
    ("value", "step", "error", "message"),
    [
        ("high", 0, TypeError, "must be a number, got value='high'"),
        (None, 0, TypeError, "must be a number"),
        (1.0, -1, ValueError, "`step` must be >= 0, got step=-1"),
        (1.0, 1.5, TypeError, "`step` must be an integer, got step=1.5"),
        (1.0, "one", TypeError, "`step` must be an integer"),
        ([1.0, 2.0], 0, ValueError, "the study has 1 objective"),
    ],
)
def test_report_rejects_bad_values(
    trial: Trial, value: object, step: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        trial.report(value, step)  # type: ignore[arg-type]
    assert trial.study._storage.get_trial(trial._trial_id).intermediate_values == {}


def test_report_accepts_integral_float_steps(trial: Trial) -> None:
    trial.report(0.1, 2.0)  # type: ignore[arg-type]
    assert trial.study._storage.get_trial(trial._trial_id).intermediate_values == {2: 0.1}


def test_report_one_value_per_objective_in_multi_objective_studies() -> None:
    study = _study(["minimize", "maximize"])
    trial = study.ask()
    trial.report([0.5, 2], 0)
    trial.report((0.25, 3.0), 1)
    with pytest.raises(ValueError, match="needs 2 number"):
        trial.report([1.0], 2)
    with pytest.raises(ValueError, match="needs one number per objective"):
        trial.report(1.0, 2)
    frozen = study.tell(trial, [0.1, 4.0])
    assert frozen.intermediate_values == {0: (0.5, 2.0), 1: (0.25, 3.0)}
    assert frozen.values == [0.1, 4.0]


def test_user_attrs_are_stored_and_returned_as_copies(trial: Trial) -> None:
    trial.set_user_attr("tags", ["a"])
    trial.set_user_attr("n", 3)
    attrs = trial.user_attrs
    attrs["tags"].append("b")
    assert trial.user_attrs == {"tags": ["a"], "n": 3}
    trial.set_system_attr("sys", 1)
    assert trial.system_attrs == {"sys": 1}
    frozen = trial.study.tell(trial, 0.0)
    assert frozen.user_attrs == {"tags": ["a"], "n": 3}
    assert frozen.system_attrs["sys"] == 1


def test_number_datetime_start_and_study() -> None:
    study = _study()
    before = datetime.datetime.now()
    trials = [study.ask() for _ in range(3)]
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.study is study for t in trials)
    start = trials[0].datetime_start
    assert start is not None and before <= start <= datetime.datetime.now()
    assert "Trial(number=1" in repr(trials[1])


def test_set_constraint_is_read_by_frozen_trial(trial: Trial) -> None:
    trial.set_constraint([0.5, -1])
    frozen = trial.study.tell(trial, 1.0)
    assert frozen.constraints == [0.5, -1.0]
    assert frozen.feasible is False


def test_set_constraint_feasible_and_single_value() -> None:
    study = _study()
    t = study.ask()
    t.set_constraint([-0.5, 0.0])
    assert study.tell(t, 1.0).feasible is True
    t = study.ask()
    t.set_constraint(2.0)  # type: ignore[arg-type]
    assert study.tell(t, 1.0).constraints == [2.0]
    t = study.ask()
    assert study.tell(t, 1.0).constraints is None


def test_set_constraint_rejects_nan_and_non_numbers(trial: Trial) -> None:
    with pytest.raises(ValueError, match="must not be NaN"):
        trial.set_constraint([math.nan])
    with pytest.raises(TypeError, match="must be a number"):
        trial.set_constraint(["x"])  # type: ignore[list-item]
    assert trial.system_attrs == {}


def test_a_finished_trial_cannot_be_changed(trial: Trial) -> None:
    trial.suggest_float("x", 0, 1)
    trial.study.tell(trial, 0.0)
    with pytest.raises(UpdateFinishedTrialError):
        trial.suggest_float("y", 0, 1)
    with pytest.raises(UpdateFinishedTrialError):
        trial.set_user_attr("k", 1)
    with pytest.raises(UpdateFinishedTrialError):
        trial.report(1.0, 0)
    # the recorded parameter is still readable
    assert trial.suggest_float("x", 0, 1) == trial.params["x"]


def test_relative_params_are_empty_for_an_independent_sampler(trial: Trial) -> None:
    assert trial.relative_params == {}


def test_should_prune_asks_the_pruner_with_the_reported_values() -> None:
    seen: list[dict[int, float]] = []

    class AboveHalf(tunesmith.pruners.BasePruner):
        def prune(self, study: tunesmith.Study, trial: tunesmith.FrozenTrial) -> bool:
            seen.append(dict(trial.intermediate_values))
            return trial.intermediate_values[trial.last_step] > 0.5  # type: ignore[index]

    study = tunesmith.create_study(sampler=RandomSampler(seed=0), pruner=AboveHalf())

    def objective(trial: Trial) -> float:
        for step, value in enumerate((0.1, 0.2, 0.9, 0.05)):
            trial.report(value, step)
            if trial.should_prune():
                raise tunesmith.TrialPruned()
        return 0.0

    study.optimize(objective, n_trials=1)
    assert seen == [{0: 0.1}, {0: 0.1, 1: 0.2}, {0: 0.1, 1: 0.2, 2: 0.9}]
    frozen = study.trials[0]
    assert frozen.state is TrialState.PRUNED and frozen.value == 0.9


def test_times_are_datetimes_however_they_are_read() -> None:
    # The in-memory storage stamps trials with time.time(); every way of reading a trial must
    # still give the same local datetimes, also after a copy or a pickle round trip.
    import copy
    import pickle

    study = _study()
    before = datetime.datetime.now()
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    after = datetime.datetime.now()
    raw = study.get_trials(deepcopy=False)[0]
    for t in (copy.copy(raw), pickle.loads(pickle.dumps(raw)), raw, copy.deepcopy(raw)):
        assert type(t.datetime_start) is datetime.datetime
        assert type(t.datetime_complete) is datetime.datetime
        assert before <= t.datetime_start <= t.datetime_complete <= after  # type: ignore[operator]
        assert t.datetime_start == raw.datetime_start
        assert t.duration == raw.datetime_complete - raw.datetime_start  # type: ignore[operator]
    assert raw == pickle.loads(pickle.dumps(raw))
    (summary,) = tunesmith.get_all_study_summaries(study._storage)
    assert summary.datetime_start == raw.datetime_start
    assert study.trials_dataframe()["datetime_start"][0] == raw.datetime_start
