"""The sampler contract as a pytest test class.

A sampler's test module subclasses :class:`SamplerContract` and provides the ``make_sampler``
fixture: a function ``seed -> sampler`` returning a fresh sampler with that seed, configured so
that its model takes over within the suite's trial budget (``n_trials``, 24 by default)::

    import pytest
    from tunesmith.samplers import TPESampler
    from tunesmith.testing.sampler import SamplerContract

    class TestTPEContract(SamplerContract):
        @pytest.fixture
        def make_sampler(self):
            return lambda seed: TPESampler(seed=seed, n_startup_trials=5)

What every sampler must do, on the objectives of :mod:`tunesmith.testing.objectives`
(:func:`~tunesmith.testing.objectives.mixed_space`: every kind of parameter;
:func:`~tunesmith.testing.objectives.dynamic_space`: parameters that come and go):

* suggest only values that lie in their distributions (bounds, step, log scale, choices);
* give the same trials for the same seed, trial after trial;
* handle a define-by-run space whose parameters appear and disappear;
* work with ``n_jobs=2`` threads, with ask and tell, and with two worker processes sharing
  one journal-file storage: every trial completes, none is lost or numbered twice;
* with two objectives, either optimise them or refuse at once with a ``ValueError``.

Capability flags, set on the subclass:

* ``supports_multi_objective`` (default ``True``): ``False`` for a sampler of one objective
  only; the suite then checks that a study with two objectives fails with ``ValueError``
  instead of running.
* ``n_trials`` (default 24): the trial budget of each test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
import warnings

import pytest

from tunesmith.samplers._base import BaseSampler
from tunesmith.testing import objectives
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from pathlib import Path

    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial

__all__ = ["SamplerContract", "SamplerFactory"]

SamplerFactory = Callable[[int], BaseSampler]


def _run(
    sampler: BaseSampler,
    objective: Callable[..., Any],
    n_trials: int,
    *,
    directions: int = 1,
    **optimize: Any,
) -> Study:
    import tunesmith

    study = tunesmith.create_study(
        directions=["minimize"] * directions, sampler=sampler, storage=optimize.pop("storage", None)
    )
    with warnings.catch_warnings():
        # Fallback warnings (a parameter outside a relational sampler's space) are expected.
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n_trials, **optimize)
    return study


def _assert_valid(trials: Sequence[FrozenTrial], n_trials: int) -> None:
    assert sorted(t.number for t in trials) == list(range(n_trials))
    assert [t.state for t in trials] == [TrialState.COMPLETE] * n_trials
    for t in trials:
        for name, value in t.params.items():
            dist = t.distributions[name]
            assert dist.contains(value), f"trial {t.number}: {name}={value!r} not in {dist!r}"


class SamplerContract:
    """The guarantees every sampler gives, one test per guarantee (see the module docstring)."""

    supports_multi_objective: ClassVar[bool] = True
    n_trials: ClassVar[int] = 24

    @pytest.fixture
    def make_sampler(self) -> SamplerFactory:
        raise NotImplementedError(
            f"{type(self).__name__} must provide a `make_sampler` fixture: seed -> fresh sampler."
        )

    def test_is_a_base_sampler(self, make_sampler: SamplerFactory) -> None:
        sampler = make_sampler(0)
        assert isinstance(sampler, BaseSampler)
        assert isinstance(repr(sampler), str) and repr(sampler)

    def test_values_lie_in_their_distributions(self, make_sampler: SamplerFactory) -> None:
        study = _run(make_sampler(0), objectives.mixed_space, self.n_trials)
        _assert_valid(study.trials, self.n_trials)
        assert all(len(t.params) == 7 for t in study.trials)

    def test_same_seed_same_trials(self, make_sampler: SamplerFactory) -> None:
        first = _run(make_sampler(3), objectives.mixed_space, self.n_trials)
        second = _run(make_sampler(3), objectives.mixed_space, self.n_trials)
        assert [t.params for t in first.trials] == [t.params for t in second.trials]

    def test_dynamic_space(self, make_sampler: SamplerFactory) -> None:
        study = _run(make_sampler(1), objectives.dynamic_space, self.n_trials)
        _assert_valid(study.trials, self.n_trials)
        for t in study.trials:
            if t.params["family"] == "linear":
                assert set(t.params) == {"family", "c"}
            else:
                units = {f"units_{i}" for i in range(t.params["layers"])}
                assert set(t.params) == {"family", "layers", *units}

    def test_two_threads(self, make_sampler: SamplerFactory) -> None:
        study = _run(make_sampler(0), objectives.mixed_space, self.n_trials, n_jobs=2)
        _assert_valid(study.trials, self.n_trials)

    def test_ask_and_tell(self, make_sampler: SamplerFactory) -> None:
        import tunesmith

        study = tunesmith.create_study(sampler=make_sampler(0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(self.n_trials):
                trial = study.ask()
                study.tell(trial, objectives.mixed_space(trial))
        _assert_valid(study.trials, self.n_trials)

    def test_two_processes_on_one_storage(
        self, make_sampler: SamplerFactory, tmp_path: Path
    ) -> None:
        from tunesmith.storages import JournalFileBackend, JournalStorage

        storage = JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
        study = _run(
            make_sampler(0),
            objectives.mixed_space,
            self.n_trials,
            storage=storage,
            n_jobs=2,
            executor="process",
        )
        _assert_valid(study.trials, self.n_trials)

    def test_two_objectives(self, make_sampler: SamplerFactory) -> None:
        if not self.supports_multi_objective:
            with pytest.raises(ValueError):
                _run(make_sampler(0), objectives.mixed_space_two_objectives, 3, directions=2)
            return
        study = _run(
            make_sampler(0), objectives.mixed_space_two_objectives, self.n_trials, directions=2
        )
        _assert_valid(study.trials, self.n_trials)
        assert all(t.values is not None and len(t.values) == 2 for t in study.trials)
