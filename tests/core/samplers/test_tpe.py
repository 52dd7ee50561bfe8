from __future__ import annotations

import math
import pickle
from typing import Any
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

import tunesmith
from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from tunesmith.samplers import RandomSampler, TPESampler, intersection_search_space
from tunesmith.samplers._tpe import hypervolume, hypervolume_contributions
from tunesmith.samplers._tpe._observations import COMPLETE, PRUNED, RUNNING
from tunesmith.samplers._tpe._split import mo_below_weights, pareto_mask, split
from tunesmith.trial import Trial, TrialState, create_trial

tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)


def _sphere(trial: Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    return (x - 1.0) ** 2 + (y + 2.0) ** 2


def _mixed(trial: Trial) -> float:
    a = trial.suggest_float("a", -3.0, 3.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    drop = trial.suggest_float("drop", 0.0, 0.5, step=0.1)
    n = trial.suggest_int("n", 1, 9, step=2)
    b = trial.suggest_int("b", 8, 512, log=True)
    act = trial.suggest_categorical("act", ["relu", "tanh", None, 1.5])
    return a * a + abs(math.log10(lr) + 3) + drop + n + abs(math.log2(b) - 6) + (act != "tanh")


def _params(study: tunesmith.Study) -> list[dict[str, Any]]:
    return [t.params for t in study.trials]


# -- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"multivariate": False},
        {"multivariate": True, "group": True},
        {"constant_liar": False},
    ],
    ids=["default", "independent", "group", "no-liar"],
)
def test_same_seed_gives_the_same_trials(kwargs: dict[str, Any]) -> None:
    runs = []
    for _ in range(2):
        study = tunesmith.create_study(sampler=TPESampler(seed=7, n_startup_trials=5, **kwargs))
        study.optimize(_mixed, n_trials=25)
        runs.append(_params(study))
    assert runs[0] == runs[1]
    other = tunesmith.create_study(sampler=TPESampler(seed=8, n_startup_trials=5, **kwargs))
    other.optimize(_mixed, n_trials=25)
    assert _params(other) != runs[0]


def test_same_history_gives_the_same_suggestion_whatever_the_order_trials_finished() -> None:
    # Thirty trials run at once (as with thirty workers) and finish in opposite orders in two
    # studies: the next trial gets the same parameters in both.
    dists = {"x": FloatDistribution(-5, 5), "k": IntDistribution(0, 9)}
    suggestions = []
    for reverse in (False, True):
        study = tunesmith.create_study(sampler=TPESampler(seed=3))
        trials = [study.ask(fixed_distributions=dists) for _ in range(30)]
        for t in reversed(trials) if reverse else trials:
            study.tell(t, t.params["x"] ** 2 + t.params["k"])
        nxt = study.ask()
        suggestions.append((nxt.suggest_float("x", -5, 5), nxt.suggest_int("k", 0, 9)))
    assert suggestions[0] == suggestions[1]


# -- spaces ----------------------------------------------------------------------------------


@st.composite
def _distributions(draw: st.DrawFn) -> BaseDistribution:
    kind = draw(st.sampled_from(["float", "log", "fstep", "int", "istep", "ilog", "cat"]))
    if kind == "cat":
        n = draw(st.integers(1, 5))
        pool = ["a", "b", 3, 4.5, None, True]
        return CategoricalDistribution(pool[:n])
    if kind in ("int", "istep", "ilog"):
        low = draw(st.integers(1 if kind == "ilog" else -20, 20))
        high = low + draw(st.integers(0, 50))
        step = draw(st.integers(1, 7)) if kind == "istep" else 1
        return IntDistribution(low, high, log=kind == "ilog", step=step)
    if kind == "log":
        low = draw(st.floats(1e-6, 10.0))
        return FloatDistribution(low, low * draw(st.floats(1.0, 1e4)), log=True)
    low = draw(st.floats(-100.0, 100.0))
    high = low + draw(st.floats(0.0, 50.0))
    if kind == "fstep":
        return FloatDistribution(low, high, step=draw(st.sampled_from([0.1, 0.25, 1.0, 3.0])))
    return FloatDistribution(low, high)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dists=st.lists(_distributions(), min_size=1, max_size=4),
    multivariate=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_values_respect_bounds_steps_logs_and_choices(
    dists: list[BaseDistribution], multivariate: bool, seed: int
) -> None:
    sampler = TPESampler(seed=seed, n_startup_trials=3, multivariate=multivariate)
    study = tunesmith.create_study(sampler=sampler)

    def objective(trial: Trial) -> float:
        total = 0.0
        for i, d in enumerate(dists):
            v = trial._suggest(f"p{i}", d)
            assert d.contains(v), (d, v)
            if isinstance(d, IntDistribution):
                assert type(v) is int
            elif isinstance(d, FloatDistribution):
                assert type(v) is float
            total += hash(repr(v)) % 7
        return total

    study.optimize(objective, n_trials=12)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 12


def test_grid_values_are_exact_grid_points() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=2))

    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0, step=0.1)
        k = trial.suggest_int("k", 3, 30, step=3)
        return abs(x - 0.7) + abs(k - 12)

    study.optimize(objective, n_trials=30)
    for t in study.trials:
        assert abs(t.params["x"] * 10 - round(t.params["x"] * 10)) < 1e-9
        assert (t.params["k"] - 3) % 3 == 0
    assert study.best_value < 0.35  # at most one grid step away from (0.7, 12)


def test_dynamic_space_parameters_appear_and_disappear() -> None:
    def objective(trial: Trial) -> float:
        n = trial.number
        x = trial.suggest_float("x", -1.0, 1.0)
        if n % 3 == 0:
            x += trial.suggest_int("extra", 0, 4)
        if n >= 20:  # a parameter that only exists later, with a new range
            x += trial.suggest_float("late", 10.0, 20.0)
        if n % 2 == 0:
            x += len(trial.suggest_categorical("c", ["a", "bb"]))
        return x * x

    sampler = TPESampler(seed=1, n_startup_trials=5, multivariate=True, group=True)
    study = tunesmith.create_study(sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # group=True needs no independent fallback warning
        study.optimize(objective, n_trials=40)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 40
    for t in study.trials:
        for name, value in t.params.items():
            assert t.distributions[name].contains(value)
    assert all("late" in t.params for t in study.trials[20:])


def test_intersection_space_matches_the_reference_function() -> None:
    sampler = TPESampler(seed=0, n_startup_trials=100, group=False)
    study = tunesmith.create_study(sampler=sampler)

    def objective(trial: Trial) -> float:
        trial.suggest_float("x", 0, 1)
        if trial.number % 2:
            trial.suggest_int("odd", 0, 3)
        if trial.number == 5:
            raise tunesmith.TrialPruned()
        return 1.0

    study.optimize(objective, n_trials=10)
    sampler = study.sampler
    assert isinstance(sampler, TPESampler)
    t = study.ask()
    space = sampler.infer_relative_search_space(study, t._cache)
    assert space == intersection_search_space(study.trials, include_pruned=True)
    assert list(space) == ["x"]


# -- parallel, ask/tell ----------------------------------------------------------------------


def test_n_jobs_two_completes_and_stays_in_bounds() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=5))
    study.optimize(_mixed, n_trials=40, n_jobs=2)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 40
    assert sorted(t.number for t in trials) == list(range(40))
    for t in trials:
        for name, value in t.params.items():
            assert t.distributions[name].contains(value)


def test_ask_and_tell_loop_converges() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=2))
    for _ in range(60):
        trial = study.ask()
        study.tell(trial, _sphere(trial))
    assert study.best_value < 0.5


def test_ask_with_fixed_distributions_uses_the_model() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=2, n_startup_trials=3))
    dists = {"x": FloatDistribution(-5, 5), "y": FloatDistribution(-5, 5)}
    for _ in range(15):
        trial = study.ask(fixed_distributions=dists)
        study.tell(trial, _sphere(trial))
    last = study.ask(fixed_distributions=dists)
    assert set(last.relative_params) == {"x", "y"}


# -- optimisation quality --------------------------------------------------------------------


def test_converges_on_a_sphere_and_beats_random_search() -> None:
    tpe = tunesmith.create_study(sampler=TPESampler(seed=0))
    tpe.optimize(_sphere, n_trials=100)
    rnd = tunesmith.create_study(sampler=RandomSampler(seed=0))
    rnd.optimize(_sphere, n_trials=100)
    best = tpe.best_params
    distance = math.hypot(best["x"] - 1.0, best["y"] + 2.0)
    assert distance < 0.25
    assert tpe.best_value < rnd.best_value


def test_multivariate_converges_on_a_sphere() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=0, multivariate=True))
    study.optimize(_sphere, n_trials=100)
    best = study.best_params
    assert math.hypot(best["x"] - 1.0, best["y"] + 2.0) < 0.25


def test_maximize_direction_is_respected() -> None:
    study = tunesmith.create_study(direction="maximize", sampler=TPESampler(seed=0))
    study.optimize(lambda t: -_sphere(t), n_trials=60)
    assert study.best_value > -0.5


def _figure3(trial: Trial) -> float:
    # The conditional space of the Optuna paper's define-by-run example: the classifier chosen
    # first decides which hyperparameters exist.
    classifier = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
    if classifier == "SVC":
        c = trial.suggest_float("svc_c", 1e-10, 1e10, log=True)
        return 0.1 + abs(math.log10(c) - 2.0) * 0.05  # best: 0.1 at C=100
    depth = trial.suggest_int("rf_max_depth", 2, 32, log=True)
    return 0.3 + abs(depth - 8) * 0.01  # best: 0.3


def test_group_models_each_branch_of_a_conditional_space() -> None:
    sampler = TPESampler(seed=0, multivariate=True, group=True, n_startup_trials=10)
    study = tunesmith.create_study(sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.optimize(_figure3, n_trials=60)
    late = study.trials[30:]
    t = study.ask()
    relative = t.relative_params
    # Every branch parameter is decided jointly within its group.
    assert {"classifier", "svc_c", "rf_max_depth"} <= set(relative)
    assert sum(t.params["classifier"] == "SVC" for t in late) >= 20
    assert study.best_value < 0.2


def test_multivariate_without_group_warns_for_conditional_parameters() -> None:
    sampler = TPESampler(seed=0, multivariate=True, group=False, n_startup_trials=5)
    study = tunesmith.create_study(sampler=sampler)
    with pytest.warns(UserWarning, match="svc_c|rf_max_depth"):
        study.optimize(_figure3, n_trials=20)
    t = study.ask()
    assert set(t.relative_params) == {"classifier"}


class _Recording(TPESampler):
    """Records which parameters each trial decided in ``sample_relative``."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.relative: list[set[str]] = []

    def sample_relative(
        self, study: Any, trial: Any, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        out = super().sample_relative(study, trial, search_space)
        self.relative.append(set(out))
        return out


def _suggestions(objective: Any, n_trials: int, directions: int = 1, **kw: Any) -> list[Any]:
    sampler = _Recording(seed=2, n_startup_trials=5, **kw)
    study = tunesmith.create_study(directions=["minimize"] * directions, sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n_trials)
    return list(zip([t.params for t in study.trials], sampler.relative))


def test_default_groups_a_conditional_space_like_group_true() -> None:
    default = _suggestions(_figure3, 30)
    assert default == _suggestions(_figure3, 30, group=True)
    assert default != _suggestions(_figure3, 30, group=False)
    # Branch parameters are decided with their group (relatively), not one by one.
    later = [rel for _, rel in default[5:]]
    assert all("classifier" in rel for rel in later)
    assert any("svc_c" in rel for rel in later) and any("rf_max_depth" in rel for rel in later)


def test_default_on_a_fixed_space_is_the_plain_joint_model() -> None:
    assert _suggestions(_mixed, 30) == _suggestions(_mixed, 30, group=False)


def test_default_does_not_group_with_several_objectives() -> None:
    def two(trial: Trial) -> tuple[float, float]:
        v = _figure3(trial)
        return v, 1.0 - v

    assert _suggestions(two, 30, directions=2) == _suggestions(two, 30, 2, group=False)


def test_group_must_be_a_bool_or_none() -> None:
    with pytest.raises(TypeError, match="`group` must be a bool or None, got group='yes'"):
        TPESampler(group="yes")  # type: ignore[arg-type]


def test_group_with_multivariate_false_warns_and_turns_it_on() -> None:
    with pytest.warns(UserWarning, match="`group=True` needs `multivariate=True`"):
        sampler = TPESampler(group=True, multivariate=False)
    assert sampler._multivariate is True


def test_group_alone_implies_multivariate_silently() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = TPESampler(group=True)
    assert sampler._multivariate is True


def test_default_is_joint_for_one_objective_and_independent_for_several() -> None:
    """Optuna 5's defaults: multivariate=None decides per study, constant_liar=True."""
    sampler = TPESampler(seed=0, n_startup_trials=2)
    assert sampler._constant_liar is True
    single = tunesmith.create_study(sampler=sampler)
    multi = tunesmith.create_study(sampler=sampler, directions=["minimize", "minimize"])
    assert sampler._is_joint(single) is True
    assert sampler._is_joint(multi) is False
    assert TPESampler(multivariate=False)._is_joint(single) is False
    assert TPESampler(multivariate=True)._is_joint(multi) is True


def test_default_multivariate_does_not_warn_on_conditional_spaces() -> None:
    def objective(trial: tunesmith.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_float(f"x_{kind}", -1, 1)
        return x * x

    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.optimize(objective, n_trials=15)
    assert len(study.trials) == 15


# -- constant liar ---------------------------------------------------------------------------


def _liar_study(constant_liar: bool) -> tuple[tunesmith.Study, float]:
    """A 1-d study whose good trials sit around 0.3, plus one RUNNING trial there."""
    study = tunesmith.create_study(
        sampler=TPESampler(seed=11, n_startup_trials=0, constant_liar=constant_liar)
    )
    dist = {"x": FloatDistribution(0.0, 1.0)}
    for i in range(40):
        x = i / 39
        study.add_trial(create_trial(params={"x": x}, distributions=dist, value=abs(x - 0.3)))
    running = study.ask(fixed_distributions=dist)
    return study, running.params["x"]


def test_constant_liar_steers_away_from_running_trials() -> None:
    # Eight more workers ask while the first trial still runs. Without the liar they all pile
    # onto the promising point; with it each RUNNING trial counts as a bad observation, so g(x)
    # is high where others are busy and the suggestions spread out.
    spread = {}
    near = {}
    for liar in (True, False):
        study, at = _liar_study(liar)
        xs = np.array([study.ask().suggest_float("x", 0.0, 1.0) for _ in range(8)])
        spread[liar] = float(np.std(xs))
        near[liar] = int(np.sum(np.abs(xs - at) < 0.01))
    assert spread[True] > 3 * spread[False]
    assert near[False] >= 3
    assert near[True] < near[False]


def test_constant_liar_puts_running_trials_in_the_bad_set() -> None:
    state = np.array([COMPLETE, COMPLETE, RUNNING, COMPLETE], dtype=np.int8)
    loss = np.array([[3.0], [1.0], [0.0], [2.0]])
    below = split(state, loss, np.zeros(4), np.zeros(4), 2, np.random.default_rng(0))
    assert below.tolist() == [False, True, False, True]


# -- ranking of pruned, infeasible and failed trials -----------------------------------------


def test_split_ranks_complete_then_pruned_by_step_then_infeasible() -> None:
    state = np.array([PRUNED, PRUNED, COMPLETE, PRUNED, COMPLETE, COMPLETE], dtype=np.int8)
    loss = np.array([[0.0], [5.0], [9.0], [1.0], [8.0], [-1.0]])
    step = np.array([3.0, 7.0, np.inf, 7.0, np.inf, np.inf])
    violation = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    rng = np.random.default_rng(0)
    # Row 5 has the best value but is infeasible: last.
    assert split(state, loss, step, violation, 2, rng).tolist() == [0, 0, 1, 0, 1, 0]
    # Then pruned trials at the later step, the better value first.
    assert split(state, loss, step, violation, 3, rng).tolist() == [0, 0, 1, 1, 1, 0]
    assert split(state, loss, step, violation, 4, rng).tolist() == [0, 1, 1, 1, 1, 0]
    assert split(state, loss, step, violation, 6, rng).all()


@settings(deadline=None)  # no timing in tests: a busy CI machine is slow now and then
@given(
    losses=st.lists(
        st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0, np.inf]), min_size=1, max_size=40
    ),
    running=st.lists(st.booleans(), min_size=40, max_size=40),
    n_below=st.integers(0, 45),
)
def test_split_of_complete_rows_is_the_stable_sort_by_value(
    losses: list[float], running: list[bool], n_below: int
) -> None:
    # Only COMPLETE (and RUNNING) rows: the smallest values, ties broken by row order, never a
    # RUNNING row. Many ties on purpose.
    n = len(losses)
    is_running = np.array(running[:n])
    state = np.where(is_running, RUNNING, COMPLETE).astype(np.int8)
    loss = np.array(losses)[:, None]
    zeros = np.zeros(n)
    below = split(state, loss, zeros, zeros, n_below, np.random.default_rng(0))
    rows = [i for i in sorted(range(n), key=lambda i: (losses[i], i)) if not is_running[i]]
    assert np.flatnonzero(below).tolist() == sorted(rows[:n_below])


def test_pruned_trials_inform_the_model_through_their_last_value() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=5))

    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        for step in range(3):
            trial.report(abs(x - 2.0) + (2 - step), step)
            if x < 0 and step == 1:
                raise tunesmith.TrialPruned()
        return abs(x - 2.0)

    study.optimize(objective, n_trials=40)
    assert study.get_trials(states=(TrialState.PRUNED,))
    assert abs(study.best_params["x"] - 2.0) < 0.3


def test_failed_trials_are_ignored() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=5))

    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        if trial.number % 2:
            raise ValueError("boom")
        return x * x

    study.optimize(objective, n_trials=20, catch=(ValueError,))
    # Only COMPLETE and PRUNED trials count towards the startup phase.
    t = study.ask()
    assert set(t.relative_params) == {"x"}
    assert len(study.get_trials(states=(TrialState.FAIL,))) == 10


def test_startup_trials_are_random_then_the_model_takes_over() -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=5))
    for i in range(6):
        t = study.ask()
        t.suggest_float("x", 0, 1)
        assert (t.relative_params == {}) == (i < 5)
        study.tell(t, 1.0)


def test_constraints_func_finds_the_feasible_optimum() -> None:
    # Minimise x^2 + y^2 subject to x + y >= 1: the optimum is 0.5 at (0.5, 0.5).
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        y = trial.suggest_float("y", -2, 2)
        trial.set_user_attr("c", 1.0 - x - y)
        return x * x + y * y

    def constraints(trial: tunesmith.trial.FrozenTrial) -> list[float]:
        return [trial.user_attrs["c"]]

    tpe = tunesmith.create_study(sampler=TPESampler(seed=0, constraints_func=constraints))
    tpe.optimize(objective, n_trials=80)
    blind = tunesmith.create_study(sampler=TPESampler(seed=0))
    blind.optimize(objective, n_trials=80)
    assert all(t.constraints is not None for t in tpe.trials)
    assert all(t.constraints is None for t in blind.trials)

    def best_feasible(study: tunesmith.Study) -> float:
        return min(t.value for t in study.trials if t.user_attrs["c"] <= 0)

    def late_feasible_share(study: tunesmith.Study) -> float:
        return float(np.mean([t.user_attrs["c"] <= 0 for t in study.trials[40:]]))

    # Without constraints TPE heads for the infeasible origin; with them it searches the
    # feasible side of the boundary and finds a better feasible point.
    assert late_feasible_share(tpe) > late_feasible_share(blind) + 0.3
    assert best_feasible(tpe) < min(0.75, best_feasible(blind))
    assert tpe.best_trial.feasible


def test_constraints_from_set_constraint_are_honoured() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        trial.set_constraint([x - 1.0])  # feasible for x <= 1
        return -x

    study = tunesmith.create_study(sampler=TPESampler(seed=0))
    study.optimize(objective, n_trials=50)
    assert 0.9 < study.best_params["x"] <= 1.0
    # Infeasible trials have better values but must not pull the model: most late trials
    # stay within 0.5 of the constrained optimum rather than at the unconstrained one (x=2).
    late = [t.params["x"] for t in study.trials[25:]]
    assert np.mean([abs(x - 1.0) < 0.5 for x in late]) > 0.6
    assert max(t.params["x"] for t in study.best_trials) <= 1.0


# -- several objectives ----------------------------------------------------------------------


def _two_objectives(trial: Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    z = trial.suggest_float("z", 0.0, 1.0)
    g = 1.0 + 9.0 * (y + z) / 2.0  # ZDT1 with three variables
    return x, g * (1.0 - math.sqrt(x / g))


def _front_hypervolume(study: tunesmith.Study) -> float:
    pts = np.array([t.values for t in study.best_trials])
    return hypervolume(pts, np.array([1.1, 11.0]))


def test_motpe_beats_random_search_on_hypervolume() -> None:
    wins = 0
    for seed in (0, 1):
        tpe = tunesmith.create_study(
            directions=["minimize", "minimize"], sampler=TPESampler(seed=seed)
        )
        tpe.optimize(_two_objectives, n_trials=60)
        rnd = tunesmith.create_study(
            directions=["minimize", "minimize"], sampler=RandomSampler(seed=seed)
        )
        rnd.optimize(_two_objectives, n_trials=60)
        wins += _front_hypervolume(tpe) > _front_hypervolume(rnd)
    assert wins == 2


def test_motpe_handles_maximize_and_pruned_trials() -> None:
    study = tunesmith.create_study(
        directions=["maximize", "minimize"], sampler=TPESampler(seed=0, n_startup_trials=4)
    )

    def objective(trial: Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        trial.report((x, 1 - x), 0)
        if trial.number % 4 == 3:
            raise tunesmith.TrialPruned()
        return x, (1 - x) ** 2

    study.optimize(objective, n_trials=20)
    assert len(study.get_trials(states=(TrialState.PRUNED,))) == 5
    assert len(study.best_trials) >= 1


def test_mo_split_fills_fronts_then_breaks_ties_by_hypervolume() -> None:
    loss = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.9], [0.45, 0.55]])
    state = np.zeros(5, dtype=np.int8)
    zeros = np.zeros(5)
    rng = np.random.default_rng(0)
    # The front is rows 0, 1, 2, 4; the two extremes contribute most hypervolume.
    below = split(state, loss, zeros, zeros, 2, rng)
    assert below.tolist() == [True, True, False, False, False]
    below = split(state, loss, zeros, zeros, 4, rng)
    assert below.tolist() == [True, True, True, False, True]
    w = mo_below_weights(state[:3], loss[:3], zeros[:3], rng)
    # Exclusive areas against the reference point (1.1, 1.1): 0.05, 0.05 and 0.25.
    assert w == pytest.approx([0.2, 0.2, 1.0])


def test_pareto_mask_matches_the_brute_force_definition() -> None:
    rng = np.random.default_rng(5)
    pts = rng.integers(0, 6, size=(80, 2)).astype(float)
    expected = [not any(np.all(q <= p) and np.any(q < p) for q in pts) for p in pts]
    assert pareto_mask(pts).tolist() == expected


# -- hypervolume -----------------------------------------------------------------------------


def _hv_grid(points: np.ndarray, ref: np.ndarray, cells: int = 40) -> float:
    axes = [np.linspace(0, r, cells, endpoint=False) + r / cells / 2 for r in ref]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(ref))
    dom = np.any(np.all(points[None] <= grid[:, None], axis=2), axis=1)
    return float(dom.mean() * np.prod(ref))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_is_exact_on_grid_points(m: int) -> None:
    rng = np.random.default_rng(m)
    pts = rng.integers(0, 4, size=(6, m)).astype(float) / 4
    ref = np.ones(m)
    assert hypervolume(pts, ref) == pytest.approx(_hv_grid(pts, ref, cells=8))


def test_hypervolume_contributions() -> None:
    pts = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0]])
    ref = np.array([4.0, 4.0])
    assert hypervolume(pts, ref) == pytest.approx(6.0)
    assert hypervolume_contributions(pts, ref).tolist() == [1.0, 1.0, 1.0, 0.0]
    pts3 = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])
    c = hypervolume_contributions(pts3, np.ones(3))
    assert c == pytest.approx([0.125, 0.125, 0.125])
    assert hypervolume(pts3, np.ones(3)) == pytest.approx(0.5)
    mc = hypervolume_contributions(
        np.tile(pts3, (30, 1)) + 1e-3 * np.arange(90)[:, None], np.ones(3) * 2
    )
    assert mc.shape == (90,) and np.all(mc >= 0)


# -- options ---------------------------------------------------------------------------------


def test_categorical_distance_func_is_used() -> None:
    calls = []

    def dist(a: int, b: int) -> float:
        calls.append((a, b))
        return abs(a - b)

    sampler = TPESampler(seed=0, n_startup_trials=3, categorical_distance_func={"k": dist})
    study = tunesmith.create_study(sampler=sampler)
    study.optimize(lambda t: abs(t.suggest_categorical("k", list(range(10))) - 6), n_trials=25)
    assert calls
    assert study.best_value == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"consider_prior": False},
        {"consider_magic_clip": False},
        {"consider_endpoints": True},
        {"prior_weight": 0.0},
        {"weights": lambda n: np.ones(n)},
        {"gamma": lambda n: 3},
        {"n_ei_candidates": 1},
    ],
)
def test_options_still_optimise(kwargs: dict[str, Any]) -> None:
    study = tunesmith.create_study(sampler=TPESampler(seed=0, **kwargs))
    study.optimize(_sphere, n_trials=40)
    # The model's trials are better than the random startup trials, typically.
    startup = np.median([t.value for t in study.trials[:10]])
    modelled = np.median([t.value for t in study.trials[10:]])
    assert modelled < startup


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"prior_weight": -1.0},
            "`prior_weight` must be a finite number >= 0, got prior_weight=-1.0",
        ),
        ({"prior_weight": float("nan")}, "`prior_weight`"),
        (
            {"n_startup_trials": -1},
            "`n_startup_trials` must be an integer >= 0, got n_startup_trials=-1",
        ),
        (
            {"n_ei_candidates": 0},
            "`n_ei_candidates` must be an integer >= 1, got n_ei_candidates=0",
        ),
        ({"n_ei_candidates": 2.5}, "`n_ei_candidates`"),
    ],
)
def test_bad_values_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        TPESampler(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"multivariate": "yes"}, "`multivariate` must be a bool or None, got multivariate='yes'"),
        ({"gamma": 0.1}, "`gamma` must be callable, got gamma=0.1"),
        ({"weights": [1, 2]}, "`weights` must be callable"),
        ({"seed": 1.5}, "`seed` must be an int or None, got seed=1.5"),
        ({"constraints_func": 3}, "`constraints_func` must be callable or None"),
        ({"categorical_distance_func": {"k": 1}}, "`categorical_distance_func` must map"),
    ],
)
def test_bad_types_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        TPESampler(**kwargs)


def test_bad_gamma_or_weights_results_are_reported() -> None:
    study = tunesmith.create_study(sampler=TPESampler(n_startup_trials=1, gamma=lambda n: -1))
    study.optimize(_sphere, n_trials=1)
    with pytest.raises(ValueError, match=r"`gamma` must return an integer >= 0, got gamma\(1\)=-1"):
        study.optimize(_sphere, n_trials=1)
    study = tunesmith.create_study(
        sampler=TPESampler(n_startup_trials=1, weights=lambda n: -np.ones(n))
    )
    study.optimize(_sphere, n_trials=1)
    with pytest.raises(ValueError, match=r"`weights\(\d+\)` must return"):
        study.optimize(_sphere, n_trials=1)


def test_sampler_pickles_and_keeps_its_seed() -> None:
    sampler = TPESampler(seed=5, n_startup_trials=3)
    study = tunesmith.create_study(sampler=sampler)
    study.optimize(_sphere, n_trials=8)
    clone = pickle.loads(pickle.dumps(sampler))
    a = tunesmith.create_study(sampler=clone)
    b = tunesmith.create_study(sampler=TPESampler(seed=5, n_startup_trials=3))
    a.optimize(_sphere, n_trials=8)
    b.optimize(_sphere, n_trials=8)
    assert _params(a) == _params(b)


def test_create_study_uses_tpe_by_default() -> None:
    assert isinstance(tunesmith.create_study().sampler, TPESampler)


# -- the estimator against scipy -------------------------------------------------------------


def _estimator_params(**kw: Any) -> Any:
    from tunesmith.samplers._tpe.parzen_estimator import ParzenEstimatorParameters

    base = dict(
        consider_prior=True,
        prior_weight=1.0,
        consider_magic_clip=True,
        consider_endpoints=False,
        categorical_distance_func=None,
    )
    base.update(kw)
    return ParzenEstimatorParameters(**base)


def test_numeric_mixtures_match_scipy_truncated_normals() -> None:
    from scipy.stats import truncnorm

    from tunesmith.samplers._tpe.parzen_estimator import DimSpec, NumericKernels

    dists = [
        FloatDistribution(-2.0, 3.0),
        FloatDistribution(1e-3, 10.0, log=True),
        IntDistribution(0, 10, step=2),
        IntDistribution(1, 100, log=True),
    ]
    specs = [DimSpec.of(d) for d in dists]
    rng = np.random.default_rng(0)
    obs = np.array(
        [[tunesmith.samplers._base.from_unit(d, u) for u in rng.random(7)] for d in dists],
        dtype=float,
    )
    valid = np.ones_like(obs, dtype=bool)
    valid[1, 3] = False  # a dimension may miss an observation
    weights = np.where(valid, np.linspace(0.5, 1.0, 7)[None, :], 0.0)
    with np.errstate(divide="ignore"):  # the sampler runs the estimator under this errstate
        kern = NumericKernels(specs, obs, valid, weights, _estimator_params())
    x = np.array(
        [[tunesmith.samplers._base.from_unit(d, u) for u in rng.random(5)] for d in dists],
        dtype=float,
    )
    got = kern.log_pdf_per_dim(x)
    for j, s in enumerate(specs):
        mu, sig, w = kern.mu[j], kern.sigma[j], kern.weights[j]
        a, b = (s.a - mu) / sig, (s.b - mu) / sig
        for c in range(x.shape[1]):
            v = x[j, c]
            if s.step == 0:
                t = math.log(v) if s.log else v
                dens = truncnorm.pdf(t, a, b, loc=mu, scale=sig)
            else:
                lo, hi = v - s.step / 2, v + s.step / 2
                if s.log:
                    lo, hi = math.log(lo), math.log(hi)
                dens = truncnorm.cdf(hi, a, b, loc=mu, scale=sig) - truncnorm.cdf(
                    lo, a, b, loc=mu, scale=sig
                )
            # Densities leave out the 1/sqrt(2 pi) that every kernel shares (it cancels in
            # l/g); the continuous sum runs in single precision (it only ranks candidates).
            offset = 0.5 * math.log(2 * math.pi) if s.step == 0 else 0.0
            assert got[j, c] - offset == pytest.approx(math.log(np.sum(w * dens)), abs=1e-4)
    # The joint density of a product kernel is the sum of the per-dimension log densities.
    joint = kern.joint_log_density(x)
    k = 2
    per_dim = 0.0
    for j, s in enumerate(specs):
        mu, sig = kern.mu[j, k], kern.sigma[j, k]
        a, b = (s.a - mu) / sig, (s.b - mu) / sig
        v = x[j, 0]
        if s.step == 0:
            t = math.log(v) if s.log else v
            per_dim += math.log(truncnorm.pdf(t, a, b, loc=mu, scale=sig))
            per_dim += 0.5 * math.log(2 * math.pi)
        else:
            lo, hi = v - s.step / 2, v + s.step / 2
            if s.log:
                lo, hi = math.log(lo), math.log(hi)
            per_dim += math.log(
                truncnorm.cdf(hi, a, b, loc=mu, scale=sig)
                - truncnorm.cdf(lo, a, b, loc=mu, scale=sig)
            )
    assert joint[0, k] == pytest.approx(per_dim, abs=1e-6)


def test_samples_stay_on_the_grid_and_inside_the_bounds() -> None:
    from tunesmith.samplers._tpe.parzen_estimator import DimSpec, NumericKernels

    dists = [FloatDistribution(0.0, 1.0, step=0.25), IntDistribution(2, 64, log=True)]
    specs = [DimSpec.of(d) for d in dists]
    obs = np.array([[0.0, 1.0, 0.25], [2.0, 64.0, 8.0]])
    kern = NumericKernels(
        specs, obs, np.ones_like(obs, dtype=bool), np.ones_like(obs), _estimator_params()
    )
    rng = np.random.default_rng(1)
    kernel = np.tile(np.arange(4), (2, 50))
    xs = kern.sample(rng, kernel)
    assert set(np.round(xs[0] * 4).tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert np.all(xs[1] == np.round(xs[1])) and xs[1].min() >= 2 and xs[1].max() <= 64


def test_hyperopt_parameters_build_a_working_sampler() -> None:
    params = TPESampler.hyperopt_parameters()
    assert params["n_startup_trials"] == 20 and params["gamma"](100) == 3
    study = tunesmith.create_study(sampler=TPESampler(seed=0, **params))
    study.optimize(_sphere, n_trials=30)
    assert len(study.trials) == 30


def test_trials_without_constraint_values_rank_last_with_a_warning() -> None:
    sampler = TPESampler(seed=0, n_startup_trials=2, constraints_func=lambda t: [0.0])
    study = tunesmith.create_study(sampler=sampler)
    dist = {"x": FloatDistribution(0, 1)}
    # Added trials never pass through after_trial, so they have no constraint values.
    study.add_trials(
        [create_trial(params={"x": x}, distributions=dist, value=x) for x in (0.1, 0.5)]
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)  # all missing: no warning
    with pytest.warns(UserWarning, match="no constraint values"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert study.trials[-1].constraints == [0.0]


def test_works_on_a_sqlite_storage_with_two_workers(tmp_path: Any) -> None:
    # Storages that build fresh trial objects on every read: the cache keys on trial ids.
    url = f"sqlite:///{tmp_path / 'tpe.db'}"
    sampler = TPESampler(seed=0, n_startup_trials=4, constant_liar=True)
    study = tunesmith.create_study(storage=url, sampler=sampler)
    study.optimize(_sphere, n_trials=16, n_jobs=2)
    again = tunesmith.load_study(study_name=study.study_name, storage=url, sampler=sampler)
    again.optimize(_sphere, n_trials=4)
    trials = again.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 20
    assert all(-5 <= t.params["x"] <= 5 and -5 <= t.params["y"] <= 5 for t in trials)


def test_stored_validity_is_extended_row_by_row_and_matches_a_fresh_check() -> None:
    # Which stored rows hold a usable value per parameter is kept between decisions and only
    # extended by the new rows; it must equal the direct range check, missing parameters
    # (conditional branches) included.
    from tunesmith.samplers._tpe.sampler import _stored_valid

    sampler = TPESampler(seed=0, n_startup_trials=5)
    study = tunesmith.create_study(sampler=sampler)

    def objective(trial: tunesmith.Trial) -> float:
        x = trial.suggest_float("x", -2.0, 2.0)
        if x > 0:
            return x + trial.suggest_int("k", 1, 9)
        return -x

    space = {"x": FloatDistribution(-2.0, 2.0), "k": IntDistribution(1, 9)}
    seen = []
    for _ in range(4):
        study.optimize(objective, n_trials=6)
        snap, running = sampler._observe(study)
        values, valid, cols = sampler._param_matrix(snap, running, None, space)
        assert cols is not None
        want = (values >= [-2.0, 1.0]) & (values <= [2.0, 9.0])
        np.testing.assert_array_equal(valid, want)
        assert not valid[:, 1].all() and valid[:, 0].all()
        seen.append(valid)
    assert [v.shape[0] for v in seen] == [6, 12, 18, 24]
    np.testing.assert_array_equal(seen[-1][:18], seen[-2])
    # A cached array covering more rows than asked for is not used.
    snap, _ = sampler._observe(study)
    vals = snap.values[:10, list(cols)]
    short = _stored_valid(snap, cols, vals, np.array([-2.0, 1.0]), np.array([2.0, 9.0]))
    assert short.shape == (10, 2)


def test_observations_follow_trials_that_finish_out_of_order() -> None:
    # The sampler reads only the trials from the first one unfinished at its previous read:
    # trials that finish later, in any order, must still all be taken in, and the running ones
    # reported for the constant liar.
    sampler = TPESampler(seed=0, n_startup_trials=100)
    study = tunesmith.create_study(sampler=sampler)
    trials = [study.ask() for _ in range(4)]
    for t in trials:
        t.suggest_float("x", 0, 1)
    snap, running = sampler._observe(study)
    assert snap.n == 0 and [t.number for t in running] == [0, 1, 2, 3]
    study.tell(trials[2], 2.0)
    snap, running = sampler._observe(study)
    assert snap.number.tolist() == [2] and [t.number for t in running] == [0, 1, 3]
    study.tell(trials[0], 0.0)
    study.tell(trials[1], state=TrialState.FAIL)
    study.tell(trials[3], state=TrialState.PRUNED)
    snap, running = sampler._observe(study)
    assert sorted(snap.number.tolist()) == [0, 2, 3] and running == []
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    snap, running = sampler._observe(study)
    assert sorted(snap.number.tolist()) == [0, 2, 3, 4, 5, 6] and running == []


@pytest.mark.parametrize(
    "shape", [(24, 20, 5), (24, 20, 546), (24, 20, 547), (24, 20, 5001), (3, 1, 100_000)]
)
def test_serial_matmul_is_the_matrix_product(shape: tuple[int, int, int]) -> None:
    # The joint density's product is cut into blocks (so OpenBLAS keeps it on one thread);
    # the blocks must add up to exactly the product, whatever the block boundaries.
    from tunesmith.samplers._tpe.parzen_estimator import _serial_matmul

    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    out = _serial_matmul(a, b)
    assert out.shape == (m, n)
    assert out.flags.c_contiguous
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)
    buf = np.empty((m, n))
    assert _serial_matmul(a, b, buf) is buf
    np.testing.assert_array_equal(buf, out)


def _log_mass_reference(lo: float, hi: float) -> float:
    # Written with log_ndtr (accurate in both tails), mirrored into the left half.
    from scipy.special import log_ndtr

    if lo > 0:
        lo, hi = -hi, -lo
    a, b = float(log_ndtr(lo)), float(log_ndtr(hi))
    return b + math.log1p(-math.exp(a - b))


@pytest.mark.parametrize("centre", [-150.0, -37.6, -9.0, -1.3, -0.02, 0.0, 0.4, 2.5, 37.6, 80.0])
@pytest.mark.parametrize("width", [1e-4, 0.05, 1.0, 6.0])
def test_log_gauss_mass_is_accurate_in_the_body_and_far_tails(centre: float, width: float) -> None:
    from tunesmith.samplers._tpe.parzen_estimator import _log_gauss_mass

    lo, hi = centre - width / 2, centre + width / 2
    got = _log_gauss_mass(np.array([lo]), np.array([hi]))[0]
    want = _log_mass_reference(lo, hi)
    # Near-empty intervals lose digits to the difference of two nearly equal CDF values
    # (about 1e-16 / width relative), in any formula.
    assert got == pytest.approx(want, rel=1e-13 / width, abs=1e-13)
    # Symmetric about 0.
    mirrored = _log_gauss_mass(np.array([-hi]), np.array([-lo]))[0]
    assert mirrored == pytest.approx(got, rel=1e-13 / width, abs=1e-13)


def test_log_gauss_mass_fast_form_agrees_with_the_tail_form_and_hands_over_far_out() -> None:
    from tunesmith.samplers._tpe import parzen_estimator as pe

    rng = np.random.default_rng(3)
    lo = np.concatenate([rng.normal(size=4000) * 6, rng.uniform(-60.0, 60.0, 1000)])
    width = 10.0 ** rng.uniform(-3, 1, len(lo))
    hi = lo + width
    fast, tail = pe._log_gauss_mass(lo, hi), pe._log_gauss_mass_tail(lo, hi)
    assert np.all(np.isfinite(fast))
    # Both lose digits on narrow intervals far out (about x^2 * 1e-16 / width relative).
    far = np.minimum(np.abs(lo), np.abs(hi))
    tol = 1e-13 * (1.0 + far * far) / np.minimum(width, 1.0)
    assert np.all(np.abs(fast - tail) <= tol * np.maximum(1.0, np.abs(tail)))
    # Masses past the floating-point range of the fast form come from the tail form exactly.
    out = far > 40
    assert out.any()
    np.testing.assert_array_equal(fast[out], tail[out])


def test_log_gauss_mass_of_a_whole_axis_and_half_of_it() -> None:
    from tunesmith.samplers._tpe.parzen_estimator import _log_gauss_mass

    lo = np.array([-np.inf, -np.inf, 0.0, -1.0])
    hi = np.array([np.inf, 0.0, np.inf, 1.0])
    with np.errstate(all="ignore"):  # erfcx(inf) = 0: log(0) on the way to the limit
        got = _log_gauss_mass(lo, hi)
    from scipy.stats import norm

    want = [0.0, math.log(0.5), math.log(0.5), math.log(norm.cdf(1) - norm.cdf(-1))]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def test_default_weights_are_linspace_then_ones() -> None:
    from tunesmith.samplers._tpe.sampler import default_weights

    for n in [0, 1, 24, 25, 26, 27, 100, 977, 5000]:
        want = (
            np.ones(n)
            if n < 25
            else np.concatenate([np.linspace(1.0 / n, 1.0, num=n - 25), np.ones(25)])
        )
        got = default_weights(n)
        assert np.array_equal(got, want), n
        got[:] = 0.0  # a copy: the cached weights are not changed
        assert np.array_equal(default_weights(n), want)


def test_rows_view_is_a_read_only_broadcast() -> None:
    from tunesmith.samplers._tpe.parzen_estimator import rows_view

    row = np.arange(5.0)
    view = rows_view(row, 3)
    assert view.shape == (3, 5) and np.array_equal(view, np.broadcast_to(row, (3, 5)))
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 1.0


def test_below_model_is_reused_while_the_best_trials_stay() -> None:
    from tunesmith.samplers._tpe import sampler as tpe_sampler
    from tunesmith.samplers._tpe._kernel_cache import AboveKernelCache

    built: list[int] = []
    original = AboveKernelCache.below_model

    def counting(self: Any, ids: Any, n_stored: int, specs: Any, w: Any, build: Any) -> Any:
        def wrapped() -> Any:
            built.append(len(ids))
            return build()

        return original(self, ids, n_stored, specs, w, wrapped)

    study = tunesmith.create_study(sampler=TPESampler(seed=0, n_startup_trials=10))
    # A flat objective after a good start: the best trials never change, so after the first
    # model decision the "below" model is built again only when gamma(n) grows.
    values = iter([float(i) for i in range(10)] + [100.0] * 30)
    mp = pytest.MonkeyPatch()
    mp.setattr(AboveKernelCache, "below_model", counting)
    try:
        study.optimize(
            lambda t: t.suggest_float("x", 0, 1) + 0 * t.suggest_float("y", 0, 1) + next(values),
            n_trials=40,
        )
    finally:
        mp.undo()
    assert tpe_sampler.AboveKernelCache is AboveKernelCache
    gammas = {tpe_sampler.default_gamma(n) for n in range(10, 40)}
    assert len(built) == len(gammas) < 30


def _random_kernels(
    dists: list[BaseDistribution], n: int, seed: int
) -> tuple[Any, np.ndarray, np.random.Generator]:
    """A joint estimator over ``n`` uniformly random observations of ``dists`` (equal
    weights, default options), the observations, and the generator for more draws."""
    from tunesmith.samplers._tpe import parzen_estimator as pe

    rng = np.random.default_rng(seed)
    values = np.array(
        [[tunesmith.samplers._base.from_unit(d, u) for u in rng.random(n)] for d in dists]
    )
    params = pe.ParzenEstimatorParameters(True, 1.0, True, False, None)
    with np.errstate(all="ignore"):
        kern = pe.NumericKernels(
            [pe.DimSpec.of(d) for d in dists],
            values,
            np.ones(values.shape, bool),
            np.ones(values.shape),
            params,
        )
    return kern, values, rng


def test_pruned_grid_kernels_leave_every_mixture_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.special import logsumexp

    from tunesmith.samplers._tpe import parzen_estimator as pe

    dists = [
        FloatDistribution(-5.0, 5.0),
        FloatDistribution(1e-4, 1.0, log=True),
        IntDistribution(1, 400),
        IntDistribution(8, 1024, log=True),
        FloatDistribution(0.0, 1.0, step=0.1),
    ]
    n = 600
    kern, values, rng = _random_kernels(dists, n, seed=4)
    with np.errstate(all="ignore"):
        # Candidates near a few observations (as the "below" model draws them), and far ones.
        x = np.concatenate([values[:, :12], values[:, :12] * 0.9 + 0.05], axis=1)
        x[2] = np.round(x[2])
        x[3] = np.clip(np.round(x[3]), 8, 1024)
        x[4] = np.round(x[4] * 10) / 10
        cat = np.log(rng.uniform(0.05, 1.0, (x.shape[1], n + 1)))
        extra = [(np.copy, cat)]
        log_w = kern.joint_log_weights()
        pruned = kern.joint_log_density(x, log_w, None, extra)
        monkeypatch.setattr(pe, "_PRUNE_MIN_KERNELS", 10**9)
        full = kern.joint_log_density(x, log_w, None, extra)
    assert np.isneginf(pruned).any(axis=0).mean() > 0.05  # kernels were dropped
    kept = np.isfinite(pruned)
    np.testing.assert_allclose(pruned[kept], full[kept], rtol=1e-13, atol=1e-11)
    np.testing.assert_allclose(
        logsumexp(pruned, axis=1), logsumexp(full, axis=1), rtol=1e-14, atol=0
    )


def test_grid_masses_by_table_and_pair_by_pair_agree() -> None:
    # Models with many kernels and only grid dimensions use tables over distinct kernels;
    # models with few kernels compute every (candidate, kernel) pair: the same values.

    dists = [IntDistribution(1, 50), IntDistribution(8, 1024, log=True), IntDistribution(0, 3)]
    n = 400
    kern, values, rng = _random_kernels(dists, n, seed=7)
    x = values[:, rng.integers(0, n, 24)]
    with np.errstate(all="ignore"):
        by_table = kern.joint_log_density(x)
        pairwise = kern._grid_direct(kern.grid_candidates(x))
    assert by_table.shape == pairwise.shape == (24, n + 1)
    np.testing.assert_allclose(by_table, pairwise, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("prior", [True, False])
def test_per_dimension_grid_mixture_drops_only_terms_that_cannot_count(prior: bool) -> None:
    # The independent model's grid mixtures leave out kernels whose mass at a candidate is
    # past the fast form's range (below exp(-645)) when a better term exists; where every term
    # is that far out (no prior kernel, candidates far from every observation) the rows are
    # computed exactly. Either way the mixture equals the sum over every kernel.
    from scipy.special import logsumexp

    from tunesmith.samplers._tpe import parzen_estimator as pe

    dist = IntDistribution(1, 10_000)
    spec = pe.DimSpec.of(dist)
    rng = np.random.default_rng(11)
    obs = np.concatenate([rng.integers(1, 20, 150), rng.integers(1, 2_000, 50)]).astype(float)
    params = pe.ParzenEstimatorParameters(prior, 1.0, True, False, None)
    with np.errstate(all="ignore"):
        kern = pe.NumericKernels(
            [spec], obs[None, :], np.ones((1, len(obs)), bool), np.ones((1, len(obs))), params
        )
        x = np.concatenate([rng.integers(1, 30, 8), rng.integers(9_000, 10_001, 8)]).astype(float)
        got = kern.log_pdf_per_dim(x[None, :])[0]
    mu, sig, w = kern.mu[0], kern.sigma[0], kern.weights[0]
    ref = np.empty(len(x))
    for i, v in enumerate(x):
        terms = [
            _log_mass_reference((v - 0.5 - m) / s, (v + 0.5 - m) / s)
            - _log_mass_reference((spec.a - m) / s, (spec.b - m) / s)
            + math.log(wk)
            for m, s, wk in zip(mu, sig, w)
        ]
        ref[i] = logsumexp(terms)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-11)
    # Without a prior, some far candidates have every term in the far tail (the exact rows).
    far = (x[8:, None] - 0.5 - mu[None, :]) / sig[None, :]
    assert prior or np.any(np.all(far > 40, axis=1))


def test_scratch_buffers_are_per_name_and_per_thread() -> None:
    import threading

    from tunesmith.samplers._tpe.parzen_estimator import scratch

    a = scratch("test-a", (3, 4))
    a[:] = 1.0
    b = scratch("test-b", (3, 4))
    b[:] = 2.0
    assert np.all(a == 1.0) and a.shape == (3, 4) and a.flags.c_contiguous
    # The same name again: the same memory, grown when asked for more.
    assert np.shares_memory(scratch("test-a", (2, 2)), a)
    big = scratch("test-a", (100, 100))
    assert big.shape == (100, 100) and not np.shares_memory(big, b)
    assert scratch("test-f32", (5,), np.float32).dtype == np.float32
    seen: list[np.ndarray] = []
    t = threading.Thread(target=lambda: seen.append(scratch("test-a", (2, 2))))
    t.start()
    t.join()
    assert not np.shares_memory(seen[0], big)


@pytest.mark.parametrize("n", [60, 400])  # few kernels (pair by pair) and many (tables)
@pytest.mark.parametrize("with_float", [False, True])
def test_joint_density_adds_the_kernel_weights_on_every_path(n: int, with_float: bool) -> None:
    # Grid-only models take other paths than models with a continuous dimension (which fold
    # the weights into each kernel's offset); every path must add the weights.
    dists: list[BaseDistribution] = [IntDistribution(1, 50), IntDistribution(0, 9)]
    if with_float:
        dists.append(FloatDistribution(-1.0, 1.0))
    kern, values, rng = _random_kernels(dists, n, seed=n)
    x = values[:, rng.integers(0, n, 24)]
    log_w = np.log(rng.uniform(0.01, 1.0, n + 1))
    cat = np.log(rng.uniform(0.05, 1.0, (24, n + 1)))
    with np.errstate(all="ignore"):
        weighted = kern.joint_log_density(x, log_w, None, [(np.copy, cat)])
        plain = kern.joint_log_density(x, None, None, [(np.copy, cat)])
    assert weighted.shape == (24, n + 1)
    if n > 128 and with_float:
        # Kernels that cannot matter are dropped (-inf) where weights and the other factors
        # put them far below each candidate's best; the mixtures agree.
        from scipy.special import logsumexp

        np.testing.assert_allclose(
            logsumexp(weighted, axis=1), logsumexp(plain + log_w, axis=1), rtol=1e-12
        )
    else:
        np.testing.assert_allclose(weighted, plain + log_w, rtol=1e-12, atol=1e-12)
