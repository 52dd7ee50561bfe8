"""Every built-in pruner (and the testing package's deterministic one) passes the pruner
contract of :mod:`tunesmith.testing.pruner`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tunesmith.pruners import (
    BasePruner,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    PatientPruner,
    PercentilePruner,
    SuccessiveHalvingPruner,
    ThresholdPruner,
    WilcoxonPruner,
)
from tunesmith.testing.pruner import DeterministicPruner, PrunerContract


class TestNop(PrunerContract):
    expects_pruning = False

    @pytest.fixture
    def pruner(self) -> BasePruner:
        return NopPruner()


class TestMedian(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        return MedianPruner(n_startup_trials=2)


class TestPercentile(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        return PercentilePruner(25.0, n_startup_trials=1, n_warmup_steps=1, interval_steps=2)


class TestThreshold(PrunerContract):
    direction_aware = False  # fixed bounds, whatever the direction

    @pytest.fixture
    def pruner(self) -> BasePruner:
        return ThresholdPruner(lower=0.1, upper=1.5)


class TestPatientAlone(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        return PatientPruner(None, patience=2)


class TestPatientOverPercentile(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        # Trial 9 of the scenario stalls; its best is behind the best quarter of its peers.
        return PatientPruner(PercentilePruner(25.0, n_startup_trials=1), patience=1)


@pytest.mark.filterwarnings("ignore:WilcoxonPruner.*NaN or infinite:UserWarning")
class TestWilcoxon(PrunerContract):
    supports_multi_objective = False

    @pytest.fixture
    def pruner(self) -> BasePruner:
        return WilcoxonPruner(p_threshold=0.1)


class TestSuccessiveHalving(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        return SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)


class TestSuccessiveHalvingAuto(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        # "auto": a hundredth of the first COMPLETE trial's last step (11) -> rungs at 1, 3, 9
        return SuccessiveHalvingPruner(reduction_factor=3)


class TestHyperband(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        return HyperbandPruner(min_resource=1, max_resource=12, reduction_factor=2)


class TestHyperbandAuto(PrunerContract):
    @pytest.fixture
    def pruner(self) -> BasePruner:
        return HyperbandPruner(min_resource=1, reduction_factor=2)


class TestDeterministic(PrunerContract):
    direction_aware = False  # prunes by step alone

    @pytest.fixture
    def pruner(self) -> BasePruner:
        return DeterministicPruner(from_step=6)


class TestDeterministicNever(PrunerContract):
    expects_pruning = False

    @pytest.fixture
    def pruner(self) -> BasePruner:
        return DeterministicPruner(from_step=None)


class _OnPersistentStorage(PrunerContract):
    """The suite on a persistent storage, where the pruners' "nothing changed" check
    (``get_n_trials``) goes through the storage's cache refresh."""

    storage_kind: str

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Any) -> None:
        self._tmp = tmp_path
        self._n_studies = 0

    def create_study(self, pruner: BasePruner, directions: Any) -> Any:
        import tunesmith

        self._n_studies += 1
        storage: Any
        if self.storage_kind == "sqlite":
            storage = f"sqlite:///{self._tmp}/study{self._n_studies}.db"
        else:
            from tunesmith.storages.journal import JournalFileBackend, JournalStorage

            path = str(self._tmp / f"journal{self._n_studies}.log")
            storage = JournalStorage(JournalFileBackend(path))
        return tunesmith.create_study(
            pruner=pruner,
            directions=list(directions),
            storage=storage,
            sampler=tunesmith.samplers.RandomSampler(seed=0),
        )


class TestMedianOnSQLite(_OnPersistentStorage):
    storage_kind = "sqlite"

    @pytest.fixture
    def pruner(self) -> BasePruner:
        return MedianPruner(n_startup_trials=2)


class TestSuccessiveHalvingOnJournal(_OnPersistentStorage):
    storage_kind = "journal"

    @pytest.fixture
    def pruner(self) -> BasePruner:
        return SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_deterministic_pruner_rejects_a_bad_step(bad: object) -> None:
    with pytest.raises(
        ValueError, match=r"`from_step` must be an integer >= 0 or None, got from_step="
    ):
        DeterministicPruner(from_step=bad)  # type: ignore[arg-type]


def test_deterministic_pruner_counts_calls() -> None:
    import tunesmith

    pruner = DeterministicPruner(from_step=1)
    study = tunesmith.create_study(pruner=pruner)
    trial = study.ask()
    answers = []
    for step in range(3):
        trial.report(0.0, step)
        answers.append(trial.should_prune())
    assert answers == [False, True, True]
    assert pruner.n_calls == 3


# -- the suite catches broken pruners ---------------------------------------------------------


class _NumpyAnswer(BasePruner):
    def prune(self, study: Any, trial: Any) -> bool:
        return np.bool_(trial.last_step is not None and trial.last_step > 5)  # type: ignore[return-value]


class _PrunesWithoutReport(BasePruner):
    def prune(self, study: Any, trial: Any) -> bool:
        return True


class _DirectionBlind(BasePruner):
    """Claims to follow the direction but compares raw values."""

    def prune(self, study: Any, trial: Any) -> bool:
        last = trial.last_step
        return last is not None and trial.intermediate_values[last] > 0.9


class _WritesOthers(BasePruner):
    def prune(self, study: Any, trial: Any) -> bool:
        for t in study.get_trials(deepcopy=False):
            if t.number != trial.number and not t.state.is_finished():
                study._storage.set_trial_user_attr(t._trial_id, "seen", True)
        return False


class _CountsAcrossStudies(BasePruner):
    """Keeps one count for every study it serves."""

    def __init__(self) -> None:
        self.calls = 0

    def prune(self, study: Any, trial: Any) -> bool:
        self.calls += 1
        return trial.last_step is not None and self.calls > 40


@pytest.mark.parametrize(
    ("broken", "test"),
    [
        (_NumpyAnswer(), "test_scenario_answers_are_bools"),
        (_PrunesWithoutReport(), "test_no_report_is_never_pruned"),
        (_DirectionBlind(), "test_direction"),
        (_WritesOthers(), "test_does_not_write_trials"),
        (_CountsAcrossStudies(), "test_one_pruner_two_studies_at_once"),
    ],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_the_suite_catches(broken: BasePruner, test: str) -> None:
    with pytest.raises(AssertionError):
        getattr(PrunerContract(), test)(broken)
