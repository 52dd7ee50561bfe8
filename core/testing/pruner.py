"""The pruner contract as a pytest test class, and a deterministic pruner for tests.

A pruner's test module subclasses :class:`PrunerContract` and provides the ``pruner`` fixture
(a fresh pruner per test, configured so that it prunes in the suite's scenario)::

    import pytest
    from tunesmith.pruners import MedianPruner
    from tunesmith.testing.pruner import PrunerContract

    class TestMedianContract(PrunerContract):
        @pytest.fixture
        def pruner(self):
            return MedianPruner(n_startup_trials=2)

The suite runs a fixed *scenario*: 14 trials with known curves (one with gaps between its steps,
some with NaN, one with an infinite value, one that stalls), three of them RUNNING at a time as
if in three workers, each reporting its next step and asking the pruner in turn; a pruned trial
is told PRUNED, a trial that reaches its last step is told COMPLETE with its last value.

What every pruner must do:

* ``prune`` returns a ``bool``, and ``False`` for a trial that has reported nothing;
* it works on a study whose other trials are all RUNNING, and with NaN values anywhere;
* it does not write trials: the other trials, and the decided trial's values, parameters,
  state and user attributes are unchanged by a decision (the pruner may record *system*
  attributes on the trial it decides on, as successive halving records its rung values);
* decisions follow the study's direction: a maximised study whose values are the negated ones
  of a minimised study gets the same decisions;
* one pruner object used by two studies at once keeps them apart, and a pickled copy (as
  process workers get) decides as the original.

Capability flags, set on the subclass, say which variant of a guarantee the pruner gives:

* ``expects_pruning`` (default ``True``): the pruner prunes at least one trial of the scenario;
  ``False`` for a pruner that never prunes there (the suite then asserts it prunes none).
* ``direction_aware`` (default ``True``): ``False`` for a pruner whose rule does not depend on
  the direction (fixed bounds, as :class:`~tunesmith.pruners.ThresholdPruner`): the suite then
  checks that the same values give the same decisions in both directions.
* ``supports_multi_objective`` (default ``True``): the scenario also runs on a study with two
  objectives (each trial reports a pair); ``False``: ``prune`` on such a study must raise
  ``ValueError`` (with a message saying why) rather than decide on part of the values.
* ``supports_pickle`` (default ``True``): ``False`` for a pruner that cannot cross processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
import math
import pickle
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from tunesmith.pruners._base import BasePruner
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial
    from tunesmith.trial._trial import Trial

__all__ = ["DeterministicPruner", "PrunerContract", "run_scenario", "scenario_curves"]

Decision = tuple[int, int, bool]  # trial number, step, pruned


class DeterministicPruner(BasePruner):
    """Prunes every trial once it has reported step ``from_step`` or a later one.

    For tests of code that reacts to pruning (objectives, pruning callbacks of integrations):
    the answer depends on the trial's own reports only, never on other trials. Before any
    report it says ``False``, like every pruner.

    Args:
        from_step: The first step at which trials are pruned; ``None`` never prunes.

    Example:
        >>> import tunesmith
        >>> from tunesmith.testing.pruner import DeterministicPruner
        >>> study = tunesmith.create_study(pruner=DeterministicPruner(from_step=2))
        >>> trial = study.ask()
        >>> trial.report(0.5, step=1)
        >>> trial.should_prune()
        False
        >>> trial.report(0.4, step=2)
        >>> trial.should_prune()
        True
    """

    def __init__(self, from_step: int | None = 0) -> None:
        if from_step is not None and (
            isinstance(from_step, bool) or not isinstance(from_step, int) or from_step < 0
        ):
            raise ValueError(
                "DeterministicPruner: `from_step` must be an integer >= 0 or None, got "
                f"from_step={from_step!r}."
            )
        self.from_step = from_step
        self.n_calls = 0

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        self.n_calls += 1
        last = trial.last_step
        return self.from_step is not None and last is not None and last >= self.from_step

    def __repr__(self) -> str:
        return f"DeterministicPruner(from_step={self.from_step!r})"


def scenario_curves() -> list[dict[int, float]]:
    """The suite's 14 learning curves (step -> value, to minimise), in the order trials start.

    Curves fall as ``base + 1 / (step + 1)`` over steps 0..11, with bases spread over
    ``[0, 1.3]`` in a mixed order, so early trials are neither all good nor all bad. Trial 2
    reports only steps 0, 2, 5, 9 and 11; trial 3 has NaN at steps 2 and 5; trial 6 starts with
    two NaN; trial 9 stalls and climbs after step 3; trial 11 reports ``inf`` at step 4.
    """
    curves = []
    for i in range(14):
        base = (i * 5 % 14) / 10.0
        curves.append({s: base + 1.0 / (s + 1) for s in range(12)})
    curves[2] = {s: v for s, v in curves[2].items() if s in (0, 2, 5, 9, 11)}
    curves[3][2] = curves[3][5] = math.nan
    curves[6][0] = curves[6][1] = math.nan
    curves[9] = {s: (v if s <= 3 else curves[9][3] + 0.05 * (s - 3)) for s, v in curves[9].items()}
    curves[11][4] = math.inf
    return curves


def _final_value(curve: Mapping[int, Any]) -> Any:
    """A COMPLETE trial's value: its last finite reported value."""
    for step in sorted(curve, reverse=True):
        v = curve[step]
        values = v if isinstance(v, tuple) else (v,)
        if all(math.isfinite(x) for x in values):
            return list(v) if isinstance(v, tuple) else v
    raise ValueError("a scenario curve needs a finite value")  # pragma: no cover


def _decide(study: Study, trial: Trial) -> bool:
    """Ask the study's pruner about ``trial`` as ``trial.should_prune()`` does, and check that
    the answer is a ``bool``."""
    frozen = study.get_trials(deepcopy=False)[trial.number]
    answer = study.pruner.prune(study, frozen)
    assert isinstance(answer, bool), (
        f"{study.pruner!r}.prune returned {answer!r} ({type(answer).__name__}), not a bool"
    )
    return answer


def _fingerprint(t: FrozenTrial, *, own: bool) -> tuple[Any, ...]:
    fields = (
        t.state,
        t.values,
        dict(t.params),
        dict(t.intermediate_values),
        dict(t.user_attrs),
        t.datetime_start,
    )
    return fields if own else (*fields, dict(t.system_attrs))


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return repr(a) == repr(b)  # NaN != NaN, but reprs match


def run_scenario(
    study: Study,
    curves: Sequence[Mapping[int, Any]],
    *,
    n_workers: int = 3,
    check_writes: bool = False,
) -> Iterator[Decision]:
    """Run ``curves`` as trials of ``study``, ``n_workers`` RUNNING at a time, yielding each
    decision as ``(trial number, step, pruned)``.

    With ``check_writes``, every decision is checked not to change any trial but the decided
    trial's system attributes.
    """
    waiting = list(curves)
    active: list[list[Any]] = []  # [trial, curve, steps, index of the next step]
    while waiting or active:
        while waiting and len(active) < n_workers:
            curve = waiting.pop(0)
            active.append([study.ask(), curve, sorted(curve), 0])
        for slot in list(active):
            trial, curve, steps, i = slot
            step = steps[i]
            trial.report(curve[step], step)
            if check_writes:
                before = {
                    t.number: _fingerprint(t, own=t.number == trial.number)
                    for t in study.get_trials(deepcopy=True)
                }
            pruned = _decide(study, trial)
            if check_writes:
                after = study.get_trials(deepcopy=True)
                assert len(after) == len(before), "a decision created or removed trials"
                for t in after:
                    assert _same(before[t.number], _fingerprint(t, own=t.number == trial.number)), (
                        f"deciding on trial #{trial.number} changed trial #{t.number}"
                    )
            yield trial.number, step, pruned
            if pruned:
                study.tell(trial, state=TrialState.PRUNED)
                active.remove(slot)
            elif i + 1 == len(steps):
                study.tell(trial, _final_value(curve))
                active.remove(slot)
            else:
                slot[3] = i + 1


def _negated(curves: Sequence[Mapping[int, Any]], which: Sequence[bool]) -> list[dict[int, Any]]:
    """The curves with the objectives flagged in ``which`` negated."""

    def neg(v: Any) -> Any:
        if isinstance(v, tuple):
            return tuple(-x if w else x for x, w in zip(v, which))
        return -v if which[0] else v

    return [{s: neg(v) for s, v in c.items()} for c in curves]


def _two_objective(curves: Sequence[Mapping[int, float]]) -> list[dict[int, tuple[float, float]]]:
    """Pairs that mostly agree (so dominance can prune), with a trial-dependent twist."""
    return [{s: (v, 2.0 * v + 0.1 * (i % 3)) for s, v in c.items()} for i, c in enumerate(curves)]


class PrunerContract:
    """The guarantees every pruner gives, one test per guarantee (see the module docstring)."""

    expects_pruning: ClassVar[bool] = True
    direction_aware: ClassVar[bool] = True
    supports_multi_objective: ClassVar[bool] = True
    supports_pickle: ClassVar[bool] = True

    @pytest.fixture
    def pruner(self) -> BasePruner:
        raise NotImplementedError(
            f"{type(self).__name__} must provide a `pruner` fixture returning a fresh pruner."
        )

    def create_study(self, pruner: BasePruner, directions: Sequence[StudyDirection]) -> Study:
        """A fresh study using ``pruner``; override to test on another storage."""
        import tunesmith

        return tunesmith.create_study(
            pruner=pruner,
            directions=list(directions),
            sampler=tunesmith.samplers.RandomSampler(seed=0),
        )

    def _decisions(
        self,
        pruner: BasePruner,
        directions: Sequence[StudyDirection],
        curves: Sequence[Mapping[int, Any]],
    ) -> list[Decision]:
        return list(run_scenario(self.create_study(pruner, directions), curves))

    # -- every pruner -------------------------------------------------------------------------
    def test_is_a_base_pruner_with_a_repr(self, pruner: BasePruner) -> None:
        assert isinstance(pruner, BasePruner)
        assert isinstance(repr(pruner), str) and repr(pruner)

    def test_no_report_is_never_pruned(self, pruner: BasePruner) -> None:
        study = self.create_study(pruner, [StudyDirection.MINIMIZE])
        assert _decide(study, study.ask()) is False  # empty study
        for _ in run_scenario(study, scenario_curves()):
            pass
        assert _decide(study, study.ask()) is False  # populated study

    def test_scenario_answers_are_bools(self, pruner: BasePruner) -> None:
        decisions = self._decisions(pruner, [StudyDirection.MINIMIZE], scenario_curves())
        n_trials = len({number for number, _, _ in decisions})
        assert n_trials == len(scenario_curves())
        pruned = [d for d in decisions if d[2]]
        if self.expects_pruning:
            assert pruned, f"{pruner!r} pruned no trial of the scenario"
        else:
            assert pruned == []

    def test_only_running_trials(self, pruner: BasePruner) -> None:
        study = self.create_study(pruner, [StudyDirection.MINIMIZE])
        trials = [study.ask() for _ in range(3)]
        for step in range(6):
            for k, trial in enumerate(trials):
                value = math.nan if (k, step) == (1, 2) else 0.5 * k + 1.0 / (step + 1)
                trial.report(value, step)
                _decide(study, trial)
        assert [t.state for t in study.get_trials()] == [TrialState.RUNNING] * 3

    def test_nan_values(self, pruner: BasePruner) -> None:
        study = self.create_study(pruner, [StudyDirection.MINIMIZE])
        first = study.ask()
        first.report(math.nan, 0)
        _decide(study, first)  # NaN and nothing else in the study
        for _ in run_scenario(study, scenario_curves()):  # peers with NaN in their curves
            pass
        trial = study.ask()
        for step in range(4):
            trial.report(math.nan, step)
            _decide(study, trial)

    def test_does_not_write_trials(self, pruner: BasePruner) -> None:
        study = self.create_study(pruner, [StudyDirection.MINIMIZE])
        for _ in run_scenario(study, scenario_curves(), check_writes=True):
            pass

    def test_direction(self, pruner: BasePruner) -> None:
        curves = scenario_curves()
        minimized = self._decisions(pruner, [StudyDirection.MINIMIZE], curves)
        # The same pruner object serves the second study (its per-study data must not mix).
        if self.direction_aware:
            maximized = self._decisions(pruner, [StudyDirection.MAXIMIZE], _negated(curves, [True]))
        else:
            maximized = self._decisions(pruner, [StudyDirection.MAXIMIZE], curves)
        assert maximized == minimized

    def test_one_pruner_two_studies_at_once(self, pruner: BasePruner) -> None:
        alone = self._decisions(pruner, [StudyDirection.MINIMIZE], scenario_curves())
        a = run_scenario(self.create_study(pruner, [StudyDirection.MINIMIZE]), scenario_curves())
        b = run_scenario(self.create_study(pruner, [StudyDirection.MINIMIZE]), scenario_curves())
        interleaved = list(zip(a, b))  # the two studies advance in lockstep
        assert [x for x, _ in interleaved] == alone
        assert [y for _, y in interleaved] == alone

    def test_pickled_copy_decides_the_same(self, pruner: BasePruner) -> None:
        if not self.supports_pickle:
            pytest.skip("the pruner declares supports_pickle = False")
        copy = pickle.loads(pickle.dumps(pruner))
        assert type(copy) is type(pruner)
        original = self._decisions(pruner, [StudyDirection.MINIMIZE], scenario_curves())
        assert self._decisions(copy, [StudyDirection.MINIMIZE], scenario_curves()) == original

    # -- several objectives -------------------------------------------------------------------
    def test_several_objectives(self, pruner: BasePruner) -> None:
        curves = _two_objective(scenario_curves())
        both_min = [StudyDirection.MINIMIZE, StudyDirection.MINIMIZE]
        if not self.supports_multi_objective:
            study = self.create_study(pruner, both_min)
            trial = study.ask()
            trial.report(curves[0][0], 0)
            with pytest.raises(ValueError, match=r"\w"):
                study.pruner.prune(study, study.get_trials(deepcopy=False)[0])
            return
        empty = self.create_study(pruner, both_min)
        assert _decide(empty, empty.ask()) is False
        decisions = self._decisions(pruner, both_min, curves)
        if self.expects_pruning:
            assert any(pruned for _, _, pruned in decisions)
        mixed = [StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE]
        if self.direction_aware:
            mirrored = self._decisions(pruner, mixed, _negated(curves, [False, True]))
        else:
            mirrored = self._decisions(pruner, mixed, curves)
        assert mirrored == decisions
