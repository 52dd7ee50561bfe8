from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
import copy
import math
from numbers import Real
import threading
from typing import TYPE_CHECKING, Any
import warnings

from tunesmith import logging as _logging
from tunesmith._keys import CONSTRAINTS_KEY, FAIL_REASON_KEY, FIXED_PARAMS_KEY
from tunesmith.exceptions import UpdateFinishedTrialError
from tunesmith.samplers._base import BaseSampler
from tunesmith.storages._heartbeat import (
    fail_stale_trials_throttled,
    start_heartbeat,
    stop_heartbeat,
)
from tunesmith.study._study_direction import StudyDirection
from tunesmith.trial._frozen import FrozenTrial, create_trial
from tunesmith.trial._state import TrialState
from tunesmith.trial._trial import Trial

if TYPE_CHECKING:
    import pandas as pd

    from tunesmith.distributions import BaseDistribution
    from tunesmith.pruners import BasePruner
    from tunesmith.storages import BaseStorage

ObjectiveFuncType = Callable[[Trial], float | Sequence[float]]
CallbackType = Callable[["Study", FrozenTrial], None]

_logger = _logging.get_logger(__name__)
_METRIC_NAMES_KEY = "study:metric_names"


class Study:
    """A study: one optimisation problem, its trials, and the sampler and pruner that drive it.

    Create one with :func:`create_study` or :func:`load_study` rather than with this
    constructor. A study runs trials with :meth:`optimize`, or hands them out with :meth:`ask`
    and takes their results with :meth:`tell`.

    Args:
        study_name: The name of an existing study in ``storage``.
        storage: A storage object or URL.
        sampler: The sampler; TPE for one objective and NSGA-II for several when ``None``
            (random sampling until those samplers are installed).
        pruner: The pruner; the median pruner when ``None`` (no pruning until it is installed).
    """

    def __init__(
        self,
        study_name: str,
        storage: str | BaseStorage | None,
        sampler: BaseSampler | None = None,
        pruner: BasePruner | None = None,
    ) -> None:
        from tunesmith.storages import get_storage
        from tunesmith.storages._in_memory import is_live_storage

        self._storage = get_storage(storage)
        # Trials of an in-process storage write their stored records directly (Trial: ``_live``).
        self._live_storage = is_live_storage(self._storage)
        self._study_id = self._storage.get_study_id_from_name(study_name)
        self.study_name = study_name
        self._directions = self._storage.get_study_directions(self._study_id)
        self.sampler = sampler if sampler is not None else _default_sampler(self._directions)
        self.pruner = pruner if pruner is not None else _default_pruner()
        self._stop_flag = False
        self._optimize_lock = threading.Lock()
        self._in_optimize = 0

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_optimize_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._optimize_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Study(study_name={self.study_name!r}, directions={self._directions!r})"

    # -- directions ---------------------------------------------------------------------------
    @property
    def direction(self) -> StudyDirection:
        """The direction of a one-objective study.

        Raises:
            RuntimeError: the study has several objectives (use ``directions``).
        """
        if len(self._directions) > 1:
            raise RuntimeError(
                f"This study has {len(self._directions)} objectives; use `study.directions`."
            )
        return self._directions[0]

    @property
    def directions(self) -> list[StudyDirection]:
        """The direction of each objective."""
        return list(self._directions)

    def _is_multi_objective(self) -> bool:
        return len(self._directions) > 1

    # -- trials -------------------------------------------------------------------------------
    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial of the study, in number order (see :meth:`get_trials`)."""
        return self.get_trials(deepcopy=True, states=None)

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        """The study's trials in number order, optionally only those in ``states``.

        Finished trials are returned as shared, sealed snapshots: they never change, so no copy
        is made whatever ``deepcopy`` says (this is why ``study.trials`` stays fast on large
        studies). Unfinished trials are copied when ``deepcopy`` is true.
        """
        return self._storage.get_all_trials(self._study_id, deepcopy=deepcopy, states=states)

    def _get_finished_trials(self, states: Container[TrialState]) -> list[FrozenTrial]:
        return self._storage.get_all_trials(self._study_id, deepcopy=False, states=states)

    @property
    def best_trial(self) -> FrozenTrial:
        """The best COMPLETE trial of a one-objective study.

        If any trial has constraints, only feasible trials count.

        Raises:
            ValueError: no trial is COMPLETE (or feasible) yet.
            RuntimeError: the study has several objectives (use ``best_trials``).
        """
        if self._is_multi_objective():
            raise RuntimeError(
                "best_trial is for studies with one objective; this study has "
                f"{len(self._directions)}: use `study.best_trials` (the Pareto front)."
            )
        best = self._storage.get_best_trial(self._study_id)
        if best.feasible:
            return best
        feasible = [
            t for t in self.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.feasible
        ]
        if not feasible:
            raise ValueError("No feasible trial is COMPLETE yet, so there is no best trial.")
        pick = max if self._directions[0] is StudyDirection.MAXIMIZE else min
        return pick(feasible, key=lambda t: t.values[0])  # type: ignore[index]

    @property
    def best_value(self) -> float:
        """The value of :attr:`best_trial`."""
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of :attr:`best_trial` (a fresh dict)."""
        return dict(self.best_trial.params)

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front: COMPLETE trials no other COMPLETE trial dominates.

        With constraints, only feasible trials count. For one objective, the trials that share
        the best value.
        """
        from tunesmith.study._multi_objective import pareto_front_trials

        trials = self.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if any(CONSTRAINTS_KEY in t.system_attrs for t in trials):
            trials = [t for t in trials if t.feasible]
        return pareto_front_trials(trials, self._directions)

    # -- attributes ---------------------------------------------------------------------------
    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's user attributes."""
        return self._storage.get_study_user_attrs(self._study_id)

    @property
    def system_attrs(self) -> dict[str, Any]:
        """The study's internal attributes."""
        return self._storage.get_study_system_attrs(self._study_id)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Set a JSON-serialisable user attribute of the study."""
        self._storage.set_study_user_attr(self._study_id, key, value)

    def set_system_attr(self, key: str, value: Any) -> None:
        """Set an internal attribute of the study."""
        self._storage.set_study_system_attr(self._study_id, key, value)

    @property
    def metric_names(self) -> list[str] | None:
        """The names given to the objectives with :meth:`set_metric_names`, or ``None``."""
        return self._storage.get_study_system_attrs(self._study_id).get(_METRIC_NAMES_KEY)

    def set_metric_names(self, metric_names: list[str]) -> None:
        """Name the objectives (used by ``trials_dataframe``, plots and integrations).

        Raises:
            ValueError: the number of names is not the number of objectives.
        """
        if len(metric_names) != len(self._directions):
            raise ValueError(
                f"set_metric_names: the study has {len(self._directions)} objective(s), "
                f"got metric_names={metric_names!r}."
            )
        self._storage.set_study_system_attr(self._study_id, _METRIC_NAMES_KEY, list(metric_names))

    # -- running trials -----------------------------------------------------------------------
    def optimize(
        self,
        func: ObjectiveFuncType,
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        catch: Iterable[type[Exception]] | type[Exception] = (),
        callbacks: Iterable[CallbackType] | None = None,
        gc_after_trial: bool = False,
        show_progress_bar: bool = False,
        *,
        executor: str = "thread",
    ) -> None:
        """Run trials of ``func`` until ``n_trials`` ran, ``timeout`` passed, or ``stop()``.

        Args:
            func: The objective: takes a :class:`Trial`, returns a float (a sequence of floats
                for several objectives). Raise :class:`TrialPruned` to prune.
            n_trials: How many trials to run; ``None`` for no limit (a timeout, ``stop()``,
                an exhausted grid or Ctrl-C ends the run).
            timeout: Seconds after which no new trial starts.
            n_jobs: Trials run at once in threads; ``-1`` for the number of CPUs.
            catch: Exception types that fail the trial but let the study go on; any other
                exception fails the trial and propagates.
            callbacks: Called as ``callback(study, frozen_trial)`` after every trial.
            gc_after_trial: Run the garbage collector after every trial.
            show_progress_bar: Show a progress bar (needs ``n_trials`` or ``timeout``).
            executor: ``"thread"`` (default) runs the ``n_jobs`` trials in threads of this
                process; ``"process"`` runs them in worker processes, so CPU-bound objectives
                use every core. With processes the objective must be picklable (a module-level
                function); an in-memory study stays in this process and the workers reach it
                through pipes; callbacks run in this process.

        Raises:
            ValueError: invalid ``n_trials``, ``timeout`` or ``n_jobs``.
            RuntimeError: ``optimize`` is already running on this study object in this thread.

        Example:
            >>> import tunesmith
            >>> study = tunesmith.create_study()
            >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=20)
            >>> len(study.trials)
            20
        """
        from tunesmith.study._optimize import optimize

        optimize(
            self,
            func,
            n_trials=n_trials,
            timeout=timeout,
            n_jobs=n_jobs,
            catch=catch,
            callbacks=callbacks,
            gc_after_trial=gc_after_trial,
            show_progress_bar=show_progress_bar,
            executor=executor,
        )

    def ask(self, fixed_distributions: Mapping[str, BaseDistribution] | None = None) -> Trial:
        """Start a trial and return it (the ask-and-tell interface).

        Enqueued trials (:meth:`enqueue_trial`) are handed out first, each to exactly one caller.

        Args:
            fixed_distributions: Parameters to suggest at once, name -> distribution; the
                returned trial has them in ``trial.params``.

        Example:
            >>> import tunesmith
            >>> study = tunesmith.create_study()
            >>> trial = study.ask()
            >>> x = trial.suggest_float("x", 0, 1)
            >>> study.tell(trial, x ** 2).state
            TrialState.COMPLETE
        """
        storage = self._storage
        live = None
        if self._live_storage:  # in this process, without heartbeats
            live = storage._start_live_trial(self._study_id)  # type: ignore[attr-defined]
            trial_id = live[1]._trial_id
        else:
            fail_stale_trials_throttled(self)
            trial_id = storage.pop_waiting_trial_id(self._study_id)
            if trial_id is None:
                trial_id = storage.create_new_trial(self._study_id)
            start_heartbeat(storage, trial_id)
        try:
            sampler = self.sampler
            record = None
            if type(sampler).before_trial is not BaseSampler.before_trial:
                record = storage.get_trial(trial_id)
                sampler.before_trial(self, record)
                # The trial's own copy of what was just read: no second read from the storage.
                record = None if live is not None else copy.deepcopy(record)
            trial = Trial(self, trial_id, live, _record=record)
            if fixed_distributions:
                for name, dist in fixed_distributions.items():
                    trial._suggest(name, dist)
        except BaseException:
            # Nobody will tell this trial: let its heartbeat stop so another worker fails it.
            stop_heartbeat(storage, trial_id)
            raise
        return trial

    def tell(
        self,
        trial: Trial | int,
        values: float | Sequence[float] | None = None,
        state: TrialState | None = None,
        skip_if_finished: bool = False,
    ) -> FrozenTrial:
        """Finish a trial started with :meth:`ask`.

        Args:
            trial: The trial, or its number.
            values: The objective value(s); needed for COMPLETE.
            state: COMPLETE (default when ``values`` are given), PRUNED or FAIL. With neither
                ``values`` nor ``state`` the trial fails with a warning.
            skip_if_finished: Return the finished trial instead of raising when it is finished.

        Returns:
            The finished trial.

        Raises:
            UpdateFinishedTrialError: the trial is finished and ``skip_if_finished`` is false.
            ValueError: ``values`` with PRUNED or FAIL, COMPLETE without ``values``, or values
                that are not numbers (for an explicit COMPLETE).
        """
        frozen = self._frozen_for_tell(trial)
        if frozen.state.is_finished():
            if skip_if_finished:
                _logger.info(
                    f"Trial {frozen.number} is already {frozen.state.name}; tell() skipped."
                )
                return frozen
            raise UpdateFinishedTrialError(
                f"Cannot tell trial #{frozen.number}: it is already {frozen.state.name} (pass "
                "skip_if_finished=True to ignore finished trials)."
            )
        if frozen.state is not TrialState.RUNNING:
            raise ValueError(
                f"Cannot tell trial #{frozen.number}: it is {frozen.state.name}, not RUNNING."
            )
        state, vals, reason = self._check_tell(frozen, values, state, explicit=True)
        if reason is not None:
            warnings.warn(reason, UserWarning, stacklevel=2)
        live = trial._live if isinstance(trial, Trial) and frozen is trial._cache else None
        return self._finish(frozen, state, vals, reason, live)

    def _frozen_for_tell(self, trial: Trial | int) -> FrozenTrial:
        if isinstance(trial, Trial):
            if trial.study._study_id != self._study_id or trial.study._storage is not self._storage:
                raise ValueError(
                    f"Trial #{trial.number} belongs to another study; tell it to its own study."
                )
            cache = trial._cache
            if not cache._sealed and cache._state is TrialState.RUNNING:
                return cache
            return self._storage.get_trial(trial._trial_id)
        if isinstance(trial, bool) or not isinstance(trial, int):
            raise TypeError(
                f"tell: `trial` must be a Trial or a trial number, got trial={trial!r}."
            )
        trial_id = self._storage.get_trial_id_from_study_id_trial_number(self._study_id, trial)
        return self._storage.get_trial(trial_id)

    def _check_tell(
        self,
        frozen: FrozenTrial,
        values: Any,
        state: TrialState | None,
        *,
        explicit: bool,
    ) -> tuple[TrialState, list[float] | None, str | None]:
        """Validate a result; return (state, values, reason it failed or None)."""
        if state is not None and state not in (
            TrialState.COMPLETE,
            TrialState.PRUNED,
            TrialState.FAIL,
        ):
            raise ValueError(
                f"tell: `state` must be COMPLETE, PRUNED or FAIL, got state={state!r}."
            )
        if state in (TrialState.PRUNED, TrialState.FAIL):
            if values is not None:
                raise ValueError(
                    f"tell: `values` cannot be given with state={state!r}, got values={values!r}."
                )
            if state is TrialState.PRUNED:
                return state, _pruned_values(frozen, len(self._directions)), None
            return state, None, None
        if values is None:
            if state is TrialState.COMPLETE:
                raise ValueError("tell: state=COMPLETE needs `values`, got values=None.")
            return (
                TrialState.FAIL,
                None,
                f"Trial {frozen.number} failed: the objective returned None; it must return "
                "a number (one per objective).",
            )
        vals, reason = _check_values(values, len(self._directions), frozen.number)
        if reason is not None:
            if state is TrialState.COMPLETE:
                raise ValueError(reason)
            return TrialState.FAIL, None, reason
        return TrialState.COMPLETE, vals, None

    def _finish(
        self,
        frozen: FrozenTrial,
        state: TrialState,
        values: list[float] | None,
        fail_reason: str | None,
        live: Any = None,
    ) -> FrozenTrial:
        """Finish ``frozen``; ``live`` is the storage's handle when it is the stored record."""
        storage = self._storage
        trial_id = frozen._trial_id
        shared = False  # whether anyone but this method has seen the list ``values``
        try:
            if fail_reason is not None:
                storage.set_trial_system_attr(trial_id, FAIL_REASON_KEY, fail_reason)
                frozen._system_attrs[FAIL_REASON_KEY] = fail_reason
            if type(self.sampler).after_trial is not BaseSampler.after_trial:
                # The pruner may narrow what the sampler sees (Hyperband: the trial's bracket).
                view = self.pruner.study_for_sampler(self, frozen)
                shared = True
                self.sampler.after_trial(view, frozen, state, values)
        finally:
            if live is not None:
                # Seals the record: it is the finished trial every reader shares from now on.
                storage._finish_live(  # type: ignore[attr-defined]
                    live, frozen, state, list(values) if shared and values is not None else values
                )
            else:
                stop_heartbeat(storage, trial_id)
                storage.set_trial_state_values(trial_id, state, values)
                # The Trial's local copy must stop looking RUNNING, or a second tell() would
                # take the fast path and hit the storage's error instead of skip_if_finished.
                frozen._state = state
        return frozen if live is not None else storage.get_trial(trial_id)

    def enqueue_trial(
        self,
        params: dict[str, Any],
        user_attrs: dict[str, Any] | None = None,
        skip_if_exists: bool = False,
    ) -> None:
        """Queue a trial with the given parameters; the next :meth:`ask` (or ``optimize``) runs it.

        Parameters the objective suggests that ``params`` lacks are sampled as usual.

        Args:
            params: Parameter name -> value.
            user_attrs: User attributes for the trial.
            skip_if_exists: Do nothing if a trial with exactly these parameters is queued,
                running or finished already.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"enqueue_trial: `params` must be a dict, got params={params!r}.")
        if skip_if_exists and self._params_exist(params):
            _logger.info(f"Trial with params {params} exists already; enqueue_trial skipped.")
            return
        self.add_trial(
            create_trial(
                state=TrialState.WAITING,
                system_attrs={FIXED_PARAMS_KEY: dict(params)},
                user_attrs=user_attrs,
            )
        )

    def _params_exist(self, params: Mapping[str, Any]) -> bool:
        for t in self.get_trials(deepcopy=False):
            fixed = t.system_attrs.get(FIXED_PARAMS_KEY, {})
            existing = {**fixed, **t.params} if t.state is TrialState.WAITING else t.params
            if existing.keys() == params.keys() and all(
                _same_value(existing[k], v) for k, v in params.items()
            ):
                return True
        return False

    def add_trial(self, trial: FrozenTrial) -> None:
        """Add a finished (or WAITING) trial, e.g. from :func:`create_trial` or another study.

        Raises:
            ValueError: the trial is invalid (the message names the field) or RUNNING.
        """
        trial._validate()
        if trial.state is TrialState.RUNNING:
            raise ValueError(
                "add_trial: a RUNNING trial cannot be added; use create_trial with a finished "
                "state, or ask()/tell()."
            )
        if trial.values is not None and len(trial.values) != len(self._directions):
            raise ValueError(
                f"add_trial: the study has {len(self._directions)} objective(s) but the trial "
                f"has values={trial.values!r}."
            )
        self._storage.create_new_trial(self._study_id, template_trial=trial)

    def add_trials(self, trials: Iterable[FrozenTrial]) -> None:
        """Add several trials with :meth:`add_trial`."""
        for t in trials:
            self.add_trial(t)

    def stop(self, *, _quiet: bool = False) -> None:
        """Stop :meth:`optimize` after the running trials finish.

        Call it from an objective or a callback.

        Raises:
            RuntimeError: no ``optimize`` is running on this study object.
        """
        if self._in_optimize == 0 and not _quiet:
            raise RuntimeError(
                "Study.stop() is for use inside an objective or a callback while optimize() runs."
            )
        self._stop_flag = True

    # -- export -------------------------------------------------------------------------------
    def trials_dataframe(
        self,
        attrs: tuple[str, ...] = (
            "number",
            "value",
            "datetime_start",
            "datetime_complete",
            "duration",
            "params",
            "user_attrs",
            "system_attrs",
            "state",
        ),
        multi_index: bool = False,
    ) -> pd.DataFrame:
        """The trials as a pandas DataFrame, one row per trial (needs pandas).

        Args:
            attrs: Which trial attributes become columns; ``params``, ``user_attrs``,
                ``system_attrs`` and ``intermediate_values`` expand to one column per key.
            multi_index: Use a two-level column index (attribute, key) instead of
                ``params_x``-style names.
        """
        from tunesmith.study._dataframe import trials_dataframe

        return trials_dataframe(self, attrs, multi_index)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _pruned_values(frozen: FrozenTrial, n_objectives: int) -> list[float] | None:
    """A pruned trial keeps its last reported value as its value(s), when it is a number."""
    iv = frozen.intermediate_values
    if not iv:
        return None
    last = iv[max(iv)]
    vals = list(last) if isinstance(last, tuple) else [last]
    if len(vals) != n_objectives or any(math.isnan(v) for v in vals):
        return None
    return [float(v) for v in vals]


def _check_values(
    values: Any, n_objectives: int, number: int
) -> tuple[list[float] | None, str | None]:
    if n_objectives == 1 and type(values) is float and values == values:
        return [values], None
    if isinstance(values, Sequence) and not isinstance(values, str):
        raw = list(values)
    else:
        raw = [values]
    if len(raw) != n_objectives:
        return None, (
            f"Trial {number} failed: the study has {n_objectives} objective(s) but the objective "
            f"returned {len(raw)} value(s): {values!r}."
        )
    out = []
    for v in raw:
        if isinstance(v, Real) and not isinstance(v, bool):
            f = float(v)
        else:
            try:
                f = float(v)
            except (TypeError, ValueError):
                return None, (
                    f"Trial {number} failed: the objective returned {v!r}, which is not a number."
                )
        if math.isnan(f):
            return None, f"Trial {number} failed: the objective returned NaN."
        out.append(f)
    return out, None


def _default_sampler(directions: Sequence[StudyDirection]) -> BaseSampler:
    from tunesmith import samplers

    name = "NSGAIISampler" if len(directions) > 1 else "TPESampler"
    if name in samplers.__all__:
        return getattr(samplers, name)()
    return samplers.RandomSampler()


def _default_pruner() -> BasePruner:
    from tunesmith import pruners

    if "MedianPruner" in pruners.__all__:
        return pruners.MedianPruner()
    return pruners.NopPruner()


# Module-level API ----------------------------------------------------------------------------


def _parse_directions(
    direction: str | StudyDirection | None,
    directions: Sequence[str | StudyDirection] | None,
) -> list[StudyDirection]:
    if direction is not None and directions is not None:
        raise ValueError(
            "create_study: give `direction` (one objective) or `directions` (several), not both; "
            f"got direction={direction!r}, directions={directions!r}."
        )
    if directions is None:
        directions = ["minimize" if direction is None else direction]
    elif isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
        raise ValueError(
            "create_study: `directions` must be a non-empty list such as "
            f"['minimize', 'maximize'], got directions={directions!r}."
        )
    out: list[StudyDirection] = []
    for d in directions:
        if isinstance(d, StudyDirection) and d is not StudyDirection.NOT_SET:
            out.append(d)
        elif isinstance(d, str) and d.lower() in ("minimize", "maximize"):
            out.append(StudyDirection[d.upper()])
        else:
            raise ValueError(
                f"create_study: each direction must be 'minimize' or 'maximize', got {d!r}."
            )
    return out


def create_study(
    *,
    storage: str | BaseStorage | None = None,
    sampler: BaseSampler | None = None,
    pruner: BasePruner | None = None,
    study_name: str | None = None,
    direction: str | StudyDirection | None = None,
    load_if_exists: bool = False,
    directions: Sequence[str | StudyDirection] | None = None,
) -> Study:
    """Create a study (or load it, with ``load_if_exists=True``).

    Args:
        storage: Where trials live: ``None`` for this process's memory, a storage object, or a
            URL (``sqlite:///path.db``, ``postgresql+psycopg://...``, ``mysql+pymysql://...``).
        sampler: The sampler; TPE (one objective) or NSGA-II (several) when ``None``.
        pruner: The pruner; the median pruner when ``None``.
        study_name: The name; generated when ``None``.
        direction: ``"minimize"`` (default) or ``"maximize"``, for one objective.
        load_if_exists: Return the existing study of that name instead of raising.
        directions: One direction per objective, for several objectives.

    Raises:
        DuplicatedStudyError: the name is taken and ``load_if_exists`` is false.
        ValueError: invalid directions.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(direction="maximize", study_name="demo")
        >>> study.direction
        StudyDirection.MAXIMIZE
    """
    from tunesmith.exceptions import DuplicatedStudyError
    from tunesmith.storages import get_storage

    dirs = _parse_directions(direction, directions)
    st = get_storage(storage)
    try:
        study_id = st.create_new_study(dirs, study_name)
    except DuplicatedStudyError:
        if not load_if_exists:
            raise
        assert study_name is not None
        existing = st.get_study_directions(st.get_study_id_from_name(study_name))
        if existing != dirs and (direction is not None or directions is not None):
            raise ValueError(
                f"create_study: study {study_name!r} exists with directions {existing!r}, "
                f"not {dirs!r}."
            ) from None
        _logger.info(f"Using the existing study {study_name!r}.")
        return Study(study_name, st, sampler=sampler, pruner=pruner)
    name = st.get_study_name_from_id(study_id)
    _logger.info(f"A new study created in {type(st).__name__} with name: {name}")
    return Study(name, st, sampler=sampler, pruner=pruner)


def load_study(
    *,
    study_name: str | None,
    storage: str | BaseStorage,
    sampler: BaseSampler | None = None,
    pruner: BasePruner | None = None,
) -> Study:
    """Load an existing study from ``storage``.

    Args:
        study_name: Its name; may be ``None`` if the storage holds exactly one study.

    Raises:
        StudyNotFoundError: no study of that name.
        ValueError: ``study_name`` is None and the storage holds zero or several studies.
    """
    from tunesmith.storages import get_storage

    st = get_storage(storage)
    if study_name is None:
        names = [s.study_name for s in st.get_all_studies()]
        if len(names) != 1:
            raise ValueError(
                f"load_study: `study_name` is needed when the storage holds {len(names)} "
                f"studies (it holds {names!r})."
            )
        study_name = names[0]
    st.get_study_id_from_name(study_name)  # raises StudyNotFoundError with the name
    return Study(study_name, st, sampler=sampler, pruner=pruner)


def delete_study(*, study_name: str, storage: str | BaseStorage) -> None:
    """Delete a study and all its trials.

    Raises:
        StudyNotFoundError: no study of that name.
    """
    from tunesmith.storages import get_storage

    st = get_storage(storage)
    st.delete_study(st.get_study_id_from_name(study_name))


def copy_study(
    *,
    from_study_name: str,
    from_storage: str | BaseStorage,
    to_storage: str | BaseStorage,
    to_study_name: str | None = None,
) -> None:
    """Copy a study, with its attributes and every trial, to another storage (or name).

    Raises:
        DuplicatedStudyError: ``to_study_name`` exists in ``to_storage``.
    """
    from tunesmith.storages import get_storage

    src = load_study(study_name=from_study_name, storage=from_storage)
    dst_storage = get_storage(to_storage)
    dst = create_study(
        study_name=to_study_name or from_study_name,
        storage=dst_storage,
        directions=src.directions,
    )
    for k, v in src.system_attrs.items():
        dst.set_system_attr(k, v)
    for k, v in src.user_attrs.items():
        dst.set_user_attr(k, v)
    for t in src.get_trials(deepcopy=False):
        if t.state is TrialState.RUNNING:
            continue
        dst_storage.create_new_trial(dst._study_id, template_trial=copy.deepcopy(t))


def get_all_study_names(storage: str | BaseStorage) -> list[str]:
    """The names of every study in ``storage``."""
    from tunesmith.storages import get_storage

    return [s.study_name for s in get_storage(storage).get_all_studies()]


def get_all_study_summaries(
    storage: str | BaseStorage, include_best_trial: bool = True
) -> list[Any]:
    """A :class:`StudySummary` (a ``FrozenStudy``) for every study in ``storage``."""
    from tunesmith.storages import get_storage

    st = get_storage(storage)
    studies = st.get_all_studies()
    for s in studies:
        s.best_trial = None
        if include_best_trial and len(s.directions) == 1:
            try:
                s.best_trial = st.get_best_trial(s._study_id)
            except ValueError:
                pass
    return studies
