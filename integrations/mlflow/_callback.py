"""Log trials to MLflow with ``MlflowClient`` (explicit run ids, no global active run)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
import functools
import json
import re
import threading
import time
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tunesmith.distributions import distribution_to_json
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study
    from tunesmith.trial import FrozenTrial, Trial

STUDY_TAG = "tunesmith.study_name"
NUMBER_TAG = "tunesmith.trial_number"
PARENT_TAG = "tunesmith.study_run"
LOGGED_TAG = "tunesmith.logged"
STATE_TAG = "tunesmith.trial_state"
RUN_ID_ATTR = "mlflow_run_id"

_SUPPORTED_KWARGS = ("experiment_id", "run_name", "tags", "description", "nested", "parent_run_id")
_STATUS = {
    TrialState.COMPLETE: RunStatus.to_string(RunStatus.FINISHED),
    TrialState.PRUNED: RunStatus.to_string(RunStatus.KILLED),
    TrialState.FAIL: RunStatus.to_string(RunStatus.FAILED),
}
_BAD_KEY_CHARS = re.compile(r"[^\w\-./ ]")
_MAX_TAG = 5000  # MLflow caps tag values (8000 chars on most stores); stay well below


def _ms(dt: Any) -> int | None:
    return None if dt is None else int(dt.timestamp() * 1000)


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _MAX_TAG else text[: _MAX_TAG - 3] + "..."


def _key(name: Any) -> str:
    """A valid MLflow key: letters, digits, ``_ - . / `` and spaces; anything else becomes ``_``."""
    return _BAD_KEY_CHARS.sub("_", str(name))[:250] or "_"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


class MLflowCallback:
    """A study callback that records every finished trial as one MLflow run.

    Pass it to ``study.optimize(..., callbacks=[MLflowCallback(...)])``. Each trial (complete,
    pruned or failed) becomes a run in an experiment named after the study, holding its
    parameters, its objective value(s) as metrics, its intermediate values as step metrics
    (``intermediate_<metric>``), and tags: ``tunesmith.study_name``, ``tunesmith.trial_number``,
    ``tunesmith.trial_state``, ``tunesmith.distribution.<param>`` (JSON) and, if asked, user
    attributes. The run status is FINISHED for a complete trial, KILLED for a pruned one and
    FAILED for a failed one.

    All logging goes through :class:`mlflow.tracking.MlflowClient` with explicit run ids, so it
    is safe with ``n_jobs > 1`` and with several processes sharing a study: a run is looked up by
    its study-name and trial-number tags before one is created, so each trial is logged once.

    Args:
        tracking_uri: The tracking server or store (``"sqlite:///mlflow.db"``,
            ``"http://host:5000"``); MLflow's default (``MLFLOW_TRACKING_URI``) when ``None``.
        metric_name: Name of the objective metric, or one name per objective. Names set with
            ``study.set_metric_names`` win.
        create_experiment: Create the study's experiment when it does not exist (else raise).
        mlflow_kwargs: ``experiment_id`` (log there instead of the study-named experiment),
            ``run_name`` (prefix of each run's name, default the trial number), ``tags``
            (added to every run), ``description``, ``nested`` (same as ``nested_runs``),
            ``parent_run_id`` (an existing run to nest the trial runs under).
        tag_study_user_attrs: Tag each run with the study's user attributes.
        tag_trial_user_attrs: Tag each run with the trial's user attributes.
        nested_runs: Log a parent run for the study and nest every trial run under it
            (``mlflow.parentRunId``).

    Raises:
        ValueError: an unknown key in ``mlflow_kwargs``, or a ``metric_name`` whose length
            does not match the number of objectives (when the first trial is logged).

    Example:
        A complete run (kept out of doctests because it creates an MLflow store)::

            import tunesmith
            from tunesmith.integrations.mlflow import MLflowCallback

            cb = MLflowCallback(tracking_uri="sqlite:///mlflow.db", metric_name="loss")
            study = tunesmith.create_study(study_name="quadratic")
            study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=10,
                           callbacks=[cb])
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        metric_name: str | list[str] = "value",
        create_experiment: bool = True,
        mlflow_kwargs: Mapping[str, Any] | None = None,
        tag_study_user_attrs: bool = False,
        tag_trial_user_attrs: bool = True,
        *,
        nested_runs: bool = False,
    ) -> None:
        if not isinstance(metric_name, (str, list, tuple)) or (
            not isinstance(metric_name, str) and not all(isinstance(m, str) for m in metric_name)
        ):
            raise TypeError(
                "MLflowCallback: `metric_name` must be a string or a list of strings, got "
                f"metric_name={metric_name!r}."
            )
        kwargs = dict(mlflow_kwargs or {})
        unknown = sorted(set(kwargs) - set(_SUPPORTED_KWARGS))
        if unknown:
            raise ValueError(
                f"MLflowCallback: `mlflow_kwargs` has unsupported key(s) {unknown}; supported: "
                f"{', '.join(_SUPPORTED_KWARGS)}."
            )
        if "tags" in kwargs and not isinstance(kwargs["tags"], Mapping):
            raise TypeError(
                f"MLflowCallback: `mlflow_kwargs['tags']` must be a dict, got {kwargs['tags']!r}."
            )
        self._tracking_uri = tracking_uri
        self._metric_name = metric_name
        self._create_experiment = create_experiment
        self._mlflow_kwargs = kwargs
        self._tag_study_user_attrs = tag_study_user_attrs
        self._tag_trial_user_attrs = tag_trial_user_attrs
        self._nested = bool(nested_runs or kwargs.get("nested", False))
        self._lock = threading.Lock()
        self._client: MlflowClient | None = None
        self._experiments: dict[str, str] = {}
        self._parents: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock"] = None
        state["_client"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- MLflow objects -----------------------------------------------------------------------
    @property
    def client(self) -> MlflowClient:
        """The ``MlflowClient`` used for all logging."""
        if self._client is None:
            self._client = MlflowClient(tracking_uri=self._tracking_uri)
        return self._client

    def _experiment_id(self, study: Study) -> str:
        given = self._mlflow_kwargs.get("experiment_id")
        if given is not None:
            return str(given)
        name = study.study_name
        with self._lock:
            if name in self._experiments:
                return self._experiments[name]
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                if not self._create_experiment:
                    raise ValueError(
                        f"MLflowCallback: no MLflow experiment named {name!r} and "
                        "create_experiment=False; create it or pass "
                        "mlflow_kwargs={'experiment_id': ...}."
                    )
                try:
                    exp_id = self.client.create_experiment(name)
                except MlflowException:
                    # Another process created it between our lookup and create.
                    exp = self.client.get_experiment_by_name(name)
                    if exp is None:
                        raise
                    exp_id = exp.experiment_id
            else:
                exp_id = exp.experiment_id
            self._experiments[name] = exp_id
            return exp_id

    def _find_runs(self, experiment_id: str, tags: Mapping[str, str]) -> list[Any]:
        flt = " and ".join(f"tags.`{k}` = '{_quote(v)}'" for k, v in tags.items())
        runs = self.client.search_runs([experiment_id], filter_string=flt, max_results=50)
        return sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))

    def _parent_run_id(self, study: Study, experiment_id: str) -> str | None:
        given = self._mlflow_kwargs.get("parent_run_id")
        if given is not None:
            return str(given)
        if not self._nested:
            return None
        key = f"{experiment_id}/{study.study_name}"
        with self._lock:
            if key in self._parents:
                return self._parents[key]
            tags = {STUDY_TAG: study.study_name, PARENT_TAG: "true"}
            runs = self._find_runs(experiment_id, tags)
            if not runs:
                mine = self.client.create_run(
                    experiment_id, tags={**tags, **self._common_tags()}, run_name=study.study_name
                )
                # Processes may race to create the parent: all keep the earliest one.
                runs = self._find_runs(experiment_id, tags)
                if runs and runs[0].info.run_id != mine.info.run_id:
                    self.client.delete_run(mine.info.run_id)
                elif not runs:
                    runs = [mine]
            self._parents[key] = runs[0].info.run_id
            return self._parents[key]

    def _common_tags(self) -> dict[str, str]:
        tags = {_key(k): _text(v) for k, v in self._mlflow_kwargs.get("tags", {}).items()}
        if "description" in self._mlflow_kwargs:
            tags["mlflow.note.content"] = _text(self._mlflow_kwargs["description"])
        return tags

    def _run_for(self, study: Study, number: int, start_ms: int | None) -> tuple[str, bool]:
        """The run id of trial ``number`` (created if needed) and whether it is logged already."""
        exp_id = self._experiment_id(study)
        parent = self._parent_run_id(study, exp_id)
        ident = {STUDY_TAG: study.study_name, NUMBER_TAG: str(number)}
        with self._lock:
            runs = self._find_runs(exp_id, ident)
            if runs:
                run = runs[0]
                return run.info.run_id, run.data.tags.get(LOGGED_TAG) == "true"
            tags = {**ident, **self._common_tags()}
            if parent is not None:
                tags["mlflow.parentRunId"] = parent
            prefix = self._mlflow_kwargs.get("run_name")
            name = f"{prefix}-{number}" if prefix else str(number)
            run = self.client.create_run(exp_id, start_time=start_ms, tags=tags, run_name=name)
            return run.info.run_id, False

    # -- the callback -------------------------------------------------------------------------
    def _metric_names(self, study: Study) -> list[str]:
        n = len(study.directions)
        names = study.metric_names
        if names:
            return list(names)
        if isinstance(self._metric_name, str):
            return [self._metric_name] if n == 1 else [f"{self._metric_name}_{i}" for i in range(n)]
        if len(self._metric_name) != n:
            raise ValueError(
                f"MLflowCallback: the study has {n} objective(s), so `metric_name` needs {n} "
                f"name(s), got metric_name={list(self._metric_name)!r}."
            )
        return list(self._metric_name)

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        names = self._metric_names(study)
        run_id = trial.system_attrs.get(RUN_ID_ATTR)
        if run_id is None:
            run_id, done = self._run_for(study, trial.number, _ms(trial.datetime_start))
            if done:
                return
        else:
            run = self.client.get_run(run_id)
            if run.data.tags.get(LOGGED_TAG) == "true":
                return
        now = int(time.time() * 1000)
        end = _ms(trial.datetime_complete) or now
        metrics: list[Metric] = []
        if trial.values is not None:
            metrics += [Metric(_key(k), float(v), end, 0) for k, v in zip(names, trial.values)]
        for step, value in sorted(trial.intermediate_values.items()):
            vals = value if isinstance(value, tuple) else (value,)
            metrics += [
                Metric(_key(f"intermediate_{k}"), float(v), now, int(step))
                for k, v in zip(names, vals)
            ]
        existing = self.client.get_run(run_id).data.params
        params = [
            Param(_key(k), _text(v)[:6000])
            for k, v in trial.params.items()
            if _key(k) not in existing
        ]
        tags = {
            STATE_TAG: trial.state.name,
            "tunesmith.directions": ",".join(d.name for d in study.directions),
        }
        for k, dist in trial.distributions.items():
            tags[_key(f"tunesmith.distribution.{k}")] = _text(distribution_to_json(dist))
        if self._tag_trial_user_attrs:
            tags.update({_key(k): _text(v) for k, v in trial.user_attrs.items()})
        if self._tag_study_user_attrs:
            tags.update({_key(k): _text(v) for k, v in study.user_attrs.items()})
        tags[LOGGED_TAG] = "true"
        for i in range(0, len(metrics), 1000):  # log_batch takes at most 1000 metrics
            self.client.log_batch(run_id, metrics=metrics[i : i + 1000])
        self.client.log_batch(run_id, params=params, tags=[RunTag(k, v) for k, v in tags.items()])
        self.client.set_terminated(
            run_id, status=_STATUS.get(trial.state, "FINISHED"), end_time=end
        )

    def track_in_mlflow(self) -> Callable[[Callable[[Trial], Any]], Callable[[Trial], Any]]:
        """Decorate an objective so it can log to its trial's run with ``mlflow.log_*``.

        The trial's run is created when the trial starts and made the active run of the
        current thread (MLflow keeps active runs per thread) while the objective runs; the
        callback then fills in and closes that same run, so each trial still has one run. When
        the callback has a ``tracking_uri``, it becomes MLflow's tracking URI, so that
        ``mlflow.log_metric`` in the objective reaches the same store.

        Example::

            cb = MLflowCallback(tracking_uri="sqlite:///mlflow.db")

            @cb.track_in_mlflow()
            def objective(trial):
                x = trial.suggest_float("x", -1, 1)
                mlflow.log_metric("x_squared", x * x)
                return x * x

            study.optimize(objective, n_trials=10, callbacks=[cb])
        """
        if self._tracking_uri is not None:
            mlflow.set_tracking_uri(self._tracking_uri)

        def decorator(func: Callable[[Trial], Any]) -> Callable[[Trial], Any]:
            @functools.wraps(func)
            def wrapper(trial: Trial) -> Any:
                run_id, _ = self._run_for(trial.study, trial.number, _ms(trial.datetime_start))
                trial.set_system_attr(RUN_ID_ATTR, run_id)
                with mlflow.start_run(run_id=run_id, nested=True):
                    return func(trial)

            return wrapper

        return decorator
