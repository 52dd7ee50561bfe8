"""The storage contract as a pytest test class, for every storage to reuse.

A backend's test module subclasses :class:`StorageContract` and provides the ``storage``
fixture (a fresh, empty storage per test)::

    import pytest
    from tunesmith.storages import InMemoryStorage
    from tunesmith.testing.storage import StorageContract

    class TestInMemory(StorageContract):
        @pytest.fixture
        def storage(self):
            return InMemoryStorage()

Optional guarantees are declared with capability flags on the subclass, which the suite reads:

* ``supports_processes`` (default ``False``): several processes may share one study. The
  storage must then be picklable into an object that reaches the same data from another process
  (RDB and journal storages pickle their URL/backend, not their connections).
* ``supports_heartbeat`` (default ``False``): the storage implements
  :class:`~tunesmith.storages.BaseHeartbeat`; the subclass then also provides a
  ``heartbeat_storage`` fixture whose grace period is ``heartbeat_grace_period`` seconds
  (default 1.0; keep it short, the heartbeat tests sleep past it).
"""

from __future__ import annotations

import copy
import datetime
import math
import multiprocessing
import pickle
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from tunesmith.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from tunesmith.exceptions import (
    DuplicatedStudyError,
    IncompatibleDistributionError,
    StudyNotFoundError,
    TrialNotFoundError,
    UpdateFinishedTrialError,
)
from tunesmith.storages._base import DEFAULT_STUDY_NAME_PREFIX
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._frozen import create_trial
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from collections.abc import Callable

    from tunesmith.storages import BaseStorage

__all__ = ["StorageContract", "hang_in_a_trial", "optimize_worker"]

MIN = StudyDirection.MINIMIZE
MAX = StudyDirection.MAXIMIZE
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
X = FloatDistribution(-10.0, 10.0)
N = IntDistribution(1, 100, log=True)
C = CategoricalDistribution(("adam", "sgd", None, 3))


def _run_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run ``target(i)`` in ``n`` threads started together; return results, re-raise errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _create_trials_in_process(payload: bytes, study_id: int, n: int) -> list[int]:
    """Child-process worker: re-open the pickled storage, create and finish ``n`` trials."""
    storage = pickle.loads(payload)
    numbers = []
    for i in range(n):
        tid = storage.create_new_trial(study_id)
        storage.set_trial_param(tid, "x", float(i), X)
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [float(i)])
        numbers.append(storage.get_trial_number_from_id(tid))
    storage.remove_session()
    return numbers


def _worker_objective(trial: Any) -> float:
    return float(trial.suggest_float("x", -5.0, 5.0) ** 2 + trial.suggest_int("n", 0, 9))


def optimize_worker(storage: Any, study_name: str, n_trials: int, seed: int) -> None:
    """Run ``n_trials`` trials of a cheap objective (parameters ``x``, a float, and ``n``, an
    int) with ``RandomSampler(seed=seed)`` on the study ``study_name`` of ``storage`` (a URL or
    a picklable storage).

    A target for ``multiprocessing`` in multi-process storage tests: it lives in an importable
    module, so spawned children can unpickle it whatever the test runner's import mode.
    """
    import tunesmith

    tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    study = tunesmith.load_study(
        study_name=study_name,
        storage=storage,
        sampler=tunesmith.samplers.RandomSampler(seed=seed),
    )
    study.optimize(_worker_objective, n_trials=n_trials)


def hang_in_a_trial(payload: bytes, study_name: str, marker: str) -> None:
    """Child-process worker for crash tests: open the pickled storage ``payload``, ask a trial
    of ``study_name``, suggest ``x`` in [0, 1], write the trial's number to the file ``marker``
    and sleep (for the parent to kill it). Importable for the same reason as
    :func:`optimize_worker`."""
    import tunesmith

    study = tunesmith.load_study(study_name=study_name, storage=pickle.loads(payload))
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    with open(marker, "w") as f:
        f.write(str(trial.number))
    time.sleep(120)


class StorageContract:
    """The guarantees of :class:`~tunesmith.storages.BaseStorage`, one test per guarantee."""

    supports_processes: ClassVar[bool] = False
    supports_heartbeat: ClassVar[bool] = False
    heartbeat_grace_period: ClassVar[float] = 1.0

    @pytest.fixture
    def storage(self) -> BaseStorage:
        raise NotImplementedError(
            f"{type(self).__name__} must provide a `storage` fixture returning a fresh storage."
        )

    @pytest.fixture
    def heartbeat_storage(self) -> BaseStorage | None:
        """Override when ``supports_heartbeat`` is True."""
        return None

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _study(storage: BaseStorage, directions: list[StudyDirection] | None = None) -> int:
        return storage.create_new_study(directions or [MIN])

    @staticmethod
    def _finished(
        storage: BaseStorage, sid: int, value: float, state: TrialState = TrialState.COMPLETE
    ) -> int:
        tid = storage.create_new_trial(sid)
        storage.set_trial_state_values(
            tid, state, [value] if state is TrialState.COMPLETE else None
        )
        return tid

    # == studies ==================================================================================
    def test_create_study_gives_distinct_ids_and_names(self, storage: BaseStorage) -> None:
        a = storage.create_new_study([MIN], "a")
        b = storage.create_new_study([MAX], "b")
        assert a != b
        assert storage.get_study_name_from_id(a) == "a"
        assert storage.get_study_name_from_id(b) == "b"
        assert storage.get_study_id_from_name("a") == a
        assert storage.get_study_id_from_name("b") == b

    def test_create_study_without_name_generates_one(self, storage: BaseStorage) -> None:
        a = storage.create_new_study([MIN])
        b = storage.create_new_study([MIN])
        name_a = storage.get_study_name_from_id(a)
        name_b = storage.get_study_name_from_id(b)
        assert name_a.startswith(DEFAULT_STUDY_NAME_PREFIX)
        assert name_a != name_b

    def test_duplicated_study_name_raises(self, storage: BaseStorage) -> None:
        sid = storage.create_new_study([MIN], "same")
        with pytest.raises(DuplicatedStudyError):
            storage.create_new_study([MAX], "same")
        assert storage.get_study_directions(sid) == [MIN]
        assert [s.study_name for s in storage.get_all_studies()] == ["same"]

    def test_missing_study_raises_study_not_found(self, storage: BaseStorage) -> None:
        sid = storage.create_new_study([MIN])
        missing = sid + 1000
        calls: list[Callable[[], Any]] = [
            lambda: storage.get_study_id_from_name("nope"),
            lambda: storage.get_study_name_from_id(missing),
            lambda: storage.get_study_directions(missing),
            lambda: storage.get_study_user_attrs(missing),
            lambda: storage.get_study_system_attrs(missing),
            lambda: storage.set_study_user_attr(missing, "k", 1),
            lambda: storage.set_study_system_attr(missing, "k", 1),
            lambda: storage.delete_study(missing),
            lambda: storage.create_new_trial(missing),
            lambda: storage.get_all_trials(missing),
        ]
        for call in calls:
            with pytest.raises(StudyNotFoundError) as info:
                call()
            assert isinstance(info.value, KeyError)

    @pytest.mark.parametrize("directions", [[MIN], [MAX], [MIN, MAX, MIN]])
    def test_directions_round_trip(
        self, storage: BaseStorage, directions: list[StudyDirection]
    ) -> None:
        sid = storage.create_new_study(directions)
        assert storage.get_study_directions(sid) == directions

    def test_study_attrs(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        other = self._study(storage)
        assert storage.get_study_user_attrs(sid) == {}
        assert storage.get_study_system_attrs(sid) == {}
        nested = {"a": [1, 2.5, "x", None, True], "b": {"c": []}}
        storage.set_study_user_attr(sid, "nested", nested)
        storage.set_study_user_attr(sid, "n", 1)
        storage.set_study_user_attr(sid, "n", 2)  # overwrite
        storage.set_study_system_attr(sid, "s", "v")
        assert storage.get_study_user_attrs(sid) == {"nested": nested, "n": 2}
        assert storage.get_study_system_attrs(sid) == {"s": "v"}
        assert storage.get_study_user_attrs(other) == {}
        # A returned dict is a snapshot: editing it changes nothing stored.
        attrs = storage.get_study_user_attrs(sid)
        attrs["nested"]["a"].append("changed")
        attrs["new"] = 1
        assert storage.get_study_user_attrs(sid) == {"nested": nested, "n": 2}

    def test_delete_study_removes_it_and_its_trials(self, storage: BaseStorage) -> None:
        sid = storage.create_new_study([MIN], "gone")
        keep = storage.create_new_study([MIN], "kept")
        tid = self._finished(storage, sid, 1.0)
        kept_tid = self._finished(storage, keep, 2.0)
        storage.delete_study(sid)
        with pytest.raises(StudyNotFoundError):
            storage.get_study_id_from_name("gone")
        with pytest.raises(TrialNotFoundError):
            storage.get_trial(tid)
        assert [s.study_name for s in storage.get_all_studies()] == ["kept"]
        assert storage.get_trial(kept_tid).value == 2.0
        # The name is free again, and the new study starts with no trials at number 0.
        new = storage.create_new_study([MAX], "gone")
        assert storage.get_all_trials(new) == []
        assert storage.get_trial(storage.create_new_trial(new)).number == 0

    def test_get_all_studies(self, storage: BaseStorage) -> None:
        assert storage.get_all_studies() == []
        a = storage.create_new_study([MIN], "a")
        b = storage.create_new_study([MAX, MIN], "b")
        storage.set_study_user_attr(a, "u", 1)
        storage.set_study_system_attr(b, "s", [1, 2])
        self._finished(storage, a, 3.0)
        self._finished(storage, a, 1.0)
        storage.create_new_trial(b)
        by_name = {s.study_name: s for s in storage.get_all_studies()}
        assert set(by_name) == {"a", "b"}
        assert by_name["a"]._study_id == a
        assert by_name["a"].directions == [MIN]
        assert by_name["a"].user_attrs == {"u": 1}
        assert by_name["a"].n_trials == 2
        assert by_name["b"].directions == [MAX, MIN]
        assert by_name["b"].system_attrs == {"s": [1, 2]}
        assert by_name["b"].n_trials == 1

    # == trials: creation =========================================================================
    def test_new_trial_is_running_and_empty(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        before = datetime.datetime.now()
        tid = storage.create_new_trial(sid)
        t = storage.get_trial(tid)
        assert t.number == 0
        assert t._trial_id == tid
        assert t.state is TrialState.RUNNING
        assert t.values is None
        assert t.params == {} and t.distributions == {}
        assert t.user_attrs == {} and t.system_attrs == {}
        assert t.intermediate_values == {}
        assert t.datetime_start is not None
        assert t.datetime_start >= before - datetime.timedelta(seconds=1)
        assert t.datetime_complete is None

    def test_numbers_are_contiguous_per_study(self, storage: BaseStorage) -> None:
        a = self._study(storage)
        b = self._study(storage)
        ids_a = [storage.create_new_trial(a) for _ in range(5)]
        ids_b = [storage.create_new_trial(b) for _ in range(3)]
        assert len(set(ids_a + ids_b)) == 8
        assert [storage.get_trial_number_from_id(t) for t in ids_a] == [0, 1, 2, 3, 4]
        assert [storage.get_trial_number_from_id(t) for t in ids_b] == [0, 1, 2]
        for number, tid in enumerate(ids_a):
            assert storage.get_trial_id_from_study_id_trial_number(a, number) == tid
        with pytest.raises(TrialNotFoundError):
            storage.get_trial_id_from_study_id_trial_number(a, 5)

    @pytest.mark.parametrize("state", list(TrialState))
    def test_create_trial_from_template(self, storage: BaseStorage, state: TrialState) -> None:
        sid = self._study(storage)
        storage.create_new_trial(sid)  # the template's number is not kept
        start = datetime.datetime(2024, 1, 2, 3, 4, 5, 600000)
        end = datetime.datetime(2024, 1, 2, 3, 5, 0)
        template = create_trial(
            state=state,
            value=1.5 if state is TrialState.COMPLETE else None,
            params={"x": 0.25, "n": 7, "c": None},
            distributions={"x": X, "n": N, "c": C},
            user_attrs={"u": {"deep": [1]}},
            system_attrs={"s": "v"},
            intermediate_values={0: 3.0, 4: 2.0} if state is not TrialState.WAITING else {},
        )
        if state is not TrialState.WAITING:
            template.datetime_start = start
        if state.is_finished():
            template.datetime_complete = end
        tid = storage.create_new_trial(sid, template_trial=template)
        t = storage.get_trial(tid)
        assert t.number == 1
        assert t.state is state
        assert t.values == ([1.5] if state is TrialState.COMPLETE else None)
        assert t.params == {"x": 0.25, "n": 7, "c": None}
        assert list(t.params) == ["x", "n", "c"]
        assert t.distributions == {"x": X, "n": N, "c": C}
        assert t.user_attrs == {"u": {"deep": [1]}}
        assert t.system_attrs == {"s": "v"}
        if state is not TrialState.WAITING:
            assert t.intermediate_values == {0: 3.0, 4: 2.0}
            assert t.datetime_start == start
        if state.is_finished():
            assert t.datetime_complete == end
            with pytest.raises(UpdateFinishedTrialError):
                storage.set_trial_user_attr(tid, "late", 1)
        assert storage.get_n_trials(sid, state) == (2 if state is TrialState.RUNNING else 1)

    def test_template_values_of_several_objectives(self, storage: BaseStorage) -> None:
        sid = self._study(storage, [MIN, MAX])
        template = create_trial(
            values=[1.0, -math.inf], intermediate_values={1: (0.5, 2.0)}, params={}
        )
        t = storage.get_trial(storage.create_new_trial(sid, template_trial=template))
        assert t.values == [1.0, -math.inf]
        assert t.intermediate_values == {1: (0.5, 2.0)}

    # == parameters ==============================================================================
    def test_params_round_trip_in_suggestion_order(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid)
        storage.set_trial_param(tid, "x", 0.5, X)
        storage.set_trial_param(tid, "c", C.to_internal_repr("sgd"), C)
        storage.set_trial_param(tid, "n", 10.0, N)
        storage.set_trial_param(tid, "none", C.to_internal_repr(None), C)
        t = storage.get_trial(tid)
        assert t.params == {"x": 0.5, "c": "sgd", "n": 10, "none": None}
        assert list(t.params) == ["x", "c", "n", "none"]
        assert isinstance(t.params["n"], int)
        assert t.distributions == {"x": X, "c": C, "n": N, "none": C}
        assert storage.get_trial_param(tid, "c") == 1.0
        assert storage.get_trial_param(tid, "x") == 0.5
        assert storage.get_trial_params(tid) == t.params

    def test_incompatible_distribution_raises(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        first = storage.create_new_trial(sid)
        storage.set_trial_param(first, "x", 0.5, X)
        storage.set_trial_param(first, "c", 0.0, C)
        second = storage.create_new_trial(sid)
        # Numeric bounds may move (define-by-run), the kind of distribution may not.
        storage.set_trial_param(second, "x", 20.0, FloatDistribution(0.0, 100.0))
        with pytest.raises(IncompatibleDistributionError):
            storage.set_trial_param(second, "c", 0.0, CategoricalDistribution(("adam", "rms")))
        with pytest.raises(IncompatibleDistributionError):
            storage.set_trial_param(second, "c", 1.0, IntDistribution(0, 3))
        assert storage.get_trial(second).params == {"x": 20.0}
        # Another study is unaffected by this one's distributions.
        other = storage.create_new_trial(self._study(storage))
        storage.set_trial_param(other, "x", 1.0, IntDistribution(0, 3))
        assert storage.get_trial(other).params == {"x": 1}

    # == state transitions =======================================================================
    @pytest.mark.parametrize("state", FINISHED)
    def test_finish_once_then_every_write_raises(
        self, storage: BaseStorage, state: TrialState
    ) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid)
        storage.set_trial_param(tid, "x", 1.0, X)
        values = [2.0] if state is TrialState.COMPLETE else None
        assert storage.set_trial_state_values(tid, state, values) is True
        t = storage.get_trial(tid)
        assert t.state is state
        assert t.values == values
        assert t.datetime_complete is not None
        writes: list[Callable[[], Any]] = [
            lambda: storage.set_trial_state_values(tid, TrialState.COMPLETE, [0.0]),
            lambda: storage.set_trial_state_values(tid, TrialState.FAIL),
            lambda: storage.set_trial_state_values(tid, TrialState.RUNNING),
            lambda: storage.set_trial_param(tid, "y", 1.0, X),
            lambda: storage.set_trial_intermediate_value(tid, 0, 1.0),
            lambda: storage.set_trial_user_attr(tid, "k", 1),
            lambda: storage.set_trial_system_attr(tid, "k", 1),
        ]
        for write in writes:
            with pytest.raises(UpdateFinishedTrialError):
                write()
        assert storage.get_trial(tid) == t

    def test_values_are_stored_as_floats_with_infinities(self, storage: BaseStorage) -> None:
        sid = self._study(storage, [MIN, MAX, MIN])
        tid = storage.create_new_trial(sid)
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [math.inf, -math.inf, 1e-300])
        assert storage.get_trial(tid).values == [math.inf, -math.inf, 1e-300]

    def test_finishing_race_has_one_winner(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid)

        def finish(i: int) -> bool:
            try:
                storage.set_trial_state_values(tid, TrialState.COMPLETE, [float(i)])
                return True
            except UpdateFinishedTrialError:
                return False

        wins = _run_threads(4, finish)
        assert wins.count(True) == 1
        assert storage.get_trial(tid).values == [float(wins.index(True))]

    def test_waiting_trial_is_claimed_once(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid, template_trial=create_trial(state=TrialState.WAITING))
        t = storage.get_trial(tid)
        assert t.state is TrialState.WAITING
        assert t.datetime_start is None
        assert storage.set_trial_state_values(tid, TrialState.RUNNING) is True
        assert storage.set_trial_state_values(tid, TrialState.RUNNING) is False
        running = storage.get_trial(tid)
        assert running.state is TrialState.RUNNING
        assert running.datetime_start is not None

    def test_waiting_trial_race_has_one_winner(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid, template_trial=create_trial(state=TrialState.WAITING))
        wins = _run_threads(4, lambda i: storage.set_trial_state_values(tid, TrialState.RUNNING))
        assert sorted(wins) == [False, False, False, True]

    def test_pop_waiting_trial_id(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        other = self._study(storage)
        assert storage.pop_waiting_trial_id(sid) is None
        storage.create_new_trial(sid)  # RUNNING: not handed out
        waiting = [
            storage.create_new_trial(
                sid, template_trial=create_trial(state=TrialState.WAITING, params={})
            )
            for _ in range(3)
        ]
        storage.create_new_trial(other, template_trial=create_trial(state=TrialState.WAITING))
        assert [storage.pop_waiting_trial_id(sid) for _ in range(4)] == [*waiting, None]
        for tid in waiting:
            assert storage.get_trial(tid).state is TrialState.RUNNING
        assert storage.get_n_trials(other, TrialState.WAITING) == 1

    def test_pop_waiting_trial_race_hands_each_out_once(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        waiting = {
            storage.create_new_trial(sid, template_trial=create_trial(state=TrialState.WAITING))
            for _ in range(10)
        }

        def pop_all(i: int) -> list[int]:
            got = []
            while (tid := storage.pop_waiting_trial_id(sid)) is not None:
                got.append(tid)
            return got

        got = [tid for part in _run_threads(4, pop_all) for tid in part]
        assert sorted(got) == sorted(waiting)

    # == intermediate values and attributes ======================================================
    def test_intermediate_values(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid)
        storage.set_trial_intermediate_value(tid, 0, 1.0)
        storage.set_trial_intermediate_value(tid, 5, math.inf)
        storage.set_trial_intermediate_value(tid, 2, -0.5)
        storage.set_trial_intermediate_value(tid, 0, 0.75)  # a step reported again overwrites
        iv = storage.get_trial(tid).intermediate_values
        assert iv == {0: 0.75, 2: -0.5, 5: math.inf}
        assert all(isinstance(v, float) for v in iv.values())
        assert storage.get_trial(tid).last_step == 5

    def test_intermediate_values_of_several_objectives(self, storage: BaseStorage) -> None:
        sid = self._study(storage, [MIN, MAX])
        tid = storage.create_new_trial(sid)
        storage.set_trial_intermediate_value(tid, 0, (1.0, 2.0))
        storage.set_trial_intermediate_value(tid, 1, [0.5, -math.inf])
        assert storage.get_trial(tid).intermediate_values == {0: (1.0, 2.0), 1: (0.5, -math.inf)}

    def test_trial_attrs(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid)
        storage.set_trial_user_attr(tid, "u", {"list": [1, "a", None]})
        storage.set_trial_user_attr(tid, "n", 1)
        storage.set_trial_user_attr(tid, "n", 2)
        storage.set_trial_system_attr(tid, "s", 0.5)
        t = storage.get_trial(tid)
        assert t.user_attrs == {"u": {"list": [1, "a", None]}, "n": 2}
        assert t.system_attrs == {"s": 0.5}
        assert storage.get_trial_user_attrs(tid) == t.user_attrs
        assert storage.get_trial_system_attrs(tid) == t.system_attrs

    def test_missing_trial_raises_trial_not_found(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        missing = storage.create_new_trial(sid) + 1000
        calls: list[Callable[[], Any]] = [
            lambda: storage.get_trial(missing),
            lambda: storage.set_trial_param(missing, "x", 0.0, X),
            lambda: storage.set_trial_state_values(missing, TrialState.COMPLETE, [0.0]),
            lambda: storage.set_trial_intermediate_value(missing, 0, 0.0),
            lambda: storage.set_trial_user_attr(missing, "k", 0),
            lambda: storage.set_trial_system_attr(missing, "k", 0),
            lambda: storage.get_trial_id_from_study_id_trial_number(sid, 1000),
        ]
        for call in calls:
            with pytest.raises(TrialNotFoundError) as info:
                call()
            assert isinstance(info.value, KeyError)

    # == reads ===================================================================================
    def test_get_all_trials_in_number_order_with_states(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        self._study(storage)  # another study's trials never show up
        states = [
            TrialState.COMPLETE,
            TrialState.RUNNING,
            TrialState.PRUNED,
            TrialState.FAIL,
            TrialState.COMPLETE,
        ]
        for i, s in enumerate(states):
            if s is TrialState.RUNNING:
                storage.create_new_trial(sid)
            else:
                self._finished(storage, sid, float(i), s)
        storage.create_new_trial(sid, template_trial=create_trial(state=TrialState.WAITING))
        for deepcopy in (True, False):
            every = storage.get_all_trials(sid, deepcopy=deepcopy)
            assert [t.number for t in every] == [0, 1, 2, 3, 4, 5]
            assert [t.state for t in every] == [*states, TrialState.WAITING]
            complete = storage.get_all_trials(sid, deepcopy=deepcopy, states=(TrialState.COMPLETE,))
            assert [t.number for t in complete] == [0, 4]
            assert [t.value for t in complete] == [0.0, 4.0]
            unfinished = storage.get_all_trials(
                sid, deepcopy=deepcopy, states={TrialState.RUNNING, TrialState.WAITING}
            )
            assert [t.number for t in unfinished] == [1, 5]
            assert storage.get_all_trials(sid, deepcopy=deepcopy, states=()) == []
        assert storage.get_n_trials(sid) == 6
        assert storage.get_n_trials(sid, TrialState.COMPLETE) == 2
        assert storage.get_n_trials(sid, (TrialState.PRUNED, TrialState.FAIL)) == 2

    def test_finished_trials_are_shared_sealed_snapshots(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = self._finished(storage, sid, 1.0)
        storage.create_new_trial(sid)
        for deepcopy in (True, False):
            first = storage.get_all_trials(sid, deepcopy=deepcopy)[0]
            second = storage.get_all_trials(sid, deepcopy=deepcopy)[0]
            assert first is second  # no copy of an immutable trial
            with pytest.raises(AttributeError):
                first.value = 5.0  # type: ignore[misc]
        assert storage.get_trial(tid) == first
        with pytest.raises(AttributeError):
            storage.get_trial(tid).user_attrs = {}  # type: ignore[misc]
        # A deep copy is an editable, unsealed trial.
        editable = copy.deepcopy(first)
        editable.value = 5.0
        assert storage.get_trial(tid).value == 1.0

    def test_unfinished_copies_do_not_change_later(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid)
        storage.set_trial_param(tid, "x", 1.0, X)
        storage.set_trial_user_attr(tid, "u", [1])
        before_all = storage.get_all_trials(sid, deepcopy=True)[0]
        before_one = storage.get_trial(tid)
        snapshot = copy.deepcopy(before_one)
        storage.set_trial_param(tid, "y", 2.0, X)
        storage.set_trial_user_attr(tid, "u", [1, 2])
        storage.set_trial_intermediate_value(tid, 0, 3.0)
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [4.0])
        for before in (before_all, before_one):
            assert before.state is TrialState.RUNNING
            assert before.params == {"x": 1.0}
            assert before.user_attrs == {"u": [1]}
            assert before.intermediate_values == {}
            assert before.values is None
            assert before == snapshot
        after = storage.get_trial(tid)
        assert after.params == {"x": 1.0, "y": 2.0}
        assert after.value == 4.0

    def test_editing_a_returned_trial_changes_nothing_stored(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        tid = storage.create_new_trial(sid)
        storage.set_trial_user_attr(tid, "u", [1])
        t = storage.get_trial(tid)
        t.user_attrs["u"].append(2)
        t.params["ghost"] = 1.0
        again = storage.get_trial(tid)
        assert again.user_attrs == {"u": [1]}
        assert again.params == {}

    @pytest.mark.parametrize(("direction", "best"), [(MIN, -3.0), (MAX, 7.0)])
    def test_get_best_trial(
        self, storage: BaseStorage, direction: StudyDirection, best: float
    ) -> None:
        sid = self._study(storage, [direction])
        with pytest.raises(ValueError):
            storage.get_best_trial(sid)
        self._finished(storage, sid, 0.0, TrialState.FAIL)
        self._finished(storage, sid, 0.0, TrialState.PRUNED)
        storage.create_new_trial(sid)
        with pytest.raises(ValueError):
            storage.get_best_trial(sid)
        ids = {v: self._finished(storage, sid, v) for v in (1.0, 7.0, -3.0, 2.0)}
        found = storage.get_best_trial(sid)
        assert found.value == best
        assert found._trial_id == ids[best]
        assert found.state is TrialState.COMPLETE
        # A trial added later that beats the best becomes the best.
        better = best - 10.0 if direction is MIN else best + 10.0
        self._finished(storage, sid, better)
        assert storage.get_best_trial(sid).value == better

    def test_get_best_trial_of_several_objectives_raises(self, storage: BaseStorage) -> None:
        sid = self._study(storage, [MIN, MAX])
        tid = storage.create_new_trial(sid)
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [1.0, 2.0])
        with pytest.raises(RuntimeError, match="best_trials"):
            storage.get_best_trial(sid)

    # == claims ==================================================================================
    def test_claim(self, storage: BaseStorage) -> None:
        a = self._study(storage)
        b = self._study(storage)
        assert storage.claim(a, "grid:0", 0) is True
        assert storage.claim(a, "grid:0", 1) is False
        assert storage.claim(a, "grid:1", 1) is True
        assert storage.claim(b, "grid:0", 5) is True  # claims are per study

    def test_claim_race_has_one_winner(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        for key in ("k0", "k1", "k2"):

            def race(i: int, key: str = key) -> bool:
                return storage.claim(sid, key, i)

            assert _run_threads(4, race).count(True) == 1

    # == concurrency =============================================================================
    def test_threads_get_unique_contiguous_numbers(self, storage: BaseStorage) -> None:
        sid = self._study(storage)
        n_threads, per_thread = 4, 25

        def work(i: int) -> list[int]:
            out = []
            for j in range(per_thread):
                tid = storage.create_new_trial(sid)
                storage.set_trial_param(tid, "x", float(j), X)
                storage.set_trial_state_values(tid, TrialState.COMPLETE, [float(i)])
                out.append(storage.get_trial_number_from_id(tid))
            return out

        numbers = [n for part in _run_threads(n_threads, work) for n in part]
        assert sorted(numbers) == list(range(n_threads * per_thread))
        trials = storage.get_all_trials(sid)
        assert [t.number for t in trials] == list(range(n_threads * per_thread))
        assert all(t.state is TrialState.COMPLETE for t in trials)

    def test_processes_get_unique_contiguous_numbers(self, storage: BaseStorage) -> None:
        if not self.supports_processes:
            pytest.skip(f"{type(self).__name__} declares supports_processes = False")
        sid = self._study(storage)
        payload = pickle.dumps(storage)
        n_procs, per_proc = 2, 15
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(n_procs) as pool:
            parts = pool.starmap(_create_trials_in_process, [(payload, sid, per_proc)] * n_procs)
        numbers = sorted(n for part in parts for n in part)
        assert numbers == list(range(n_procs * per_proc))
        trials = storage.get_all_trials(sid)
        assert [t.number for t in trials] == numbers
        assert storage.get_n_trials(sid, TrialState.COMPLETE) == n_procs * per_proc

    # == heartbeats ==============================================================================
    def test_heartbeat_marks_silent_running_trials_stale(
        self, heartbeat_storage: BaseStorage | None
    ) -> None:
        if not self.supports_heartbeat:
            pytest.skip(f"{type(self).__name__} declares supports_heartbeat = False")
        assert heartbeat_storage is not None, (
            f"{type(self).__name__} sets supports_heartbeat = True, so it must provide a "
            "`heartbeat_storage` fixture."
        )
        storage: Any = heartbeat_storage
        sid = self._study(storage)
        alive = storage.create_new_trial(sid)
        silent = storage.create_new_trial(sid)
        done = storage.create_new_trial(sid)
        never = storage.create_new_trial(sid)  # no heartbeat ever: not judged stale
        for tid in (alive, silent, done):
            storage.record_heartbeat(tid)
        assert storage.get_heartbeat_interval() is not None
        assert storage._get_stale_trial_ids(sid) == []
        storage.set_trial_state_values(done, TrialState.COMPLETE, [0.0])
        time.sleep(self.heartbeat_grace_period + 0.3)
        storage.record_heartbeat(alive)
        assert storage._get_stale_trial_ids(sid) == [silent]
        assert never not in storage._get_stale_trial_ids(sid)
