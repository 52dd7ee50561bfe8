from __future__ import annotations

from collections.abc import Mapping, Sequence
import itertools
from typing import TYPE_CHECKING, Any, Union
import warnings

from tunesmith._keys import FIXED_PARAMS_KEY
from tunesmith.samplers._base import BaseSampler
from tunesmith.samplers._rng import fresh_seed, trial_rng

if TYPE_CHECKING:
    from tunesmith.distributions import BaseDistribution
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial
    from tunesmith.trial._state import TrialState

GridValueType = Union[str, float, int, bool, None]  # noqa: UP007 (runtime alias)

_GRID_ID_KEY = "grid_id"


class GridSampler(BaseSampler):
    """Runs every combination of the given values once, in random order, then stops the study.

    Each grid point is *claimed* in the storage before its trial runs, so several workers on one
    study never run the same point twice (Optuna can, optuna#2039). When every point has been
    claimed the study stops; trials asked after that repeat a random point, with a warning.

    Args:
        search_space: Parameter name -> the values to try. Every parameter the objective
            suggests must be here.
        seed: Seed of the random order; ``None`` for a fresh one.

    Raises:
        ValueError: an empty list of values, or a value that is not ``str``, ``int``, ``float``,
            ``bool`` or ``None``.

    Example:
        >>> import tunesmith
        >>> sampler = tunesmith.samplers.GridSampler({"x": [0, 1, 2], "y": ["a", "b"]})
        >>> study = tunesmith.create_study(sampler=sampler)
        >>> study.optimize(lambda t: t.suggest_int("x", 0, 2) + len(t.suggest_categorical("y", ["a", "b"])))
        >>> len(study.trials)
        6
    """

    def __init__(
        self, search_space: Mapping[str, Sequence[GridValueType]], seed: int | None = None
    ) -> None:
        if not isinstance(search_space, Mapping):
            raise TypeError(
                f"GridSampler: `search_space` must be a mapping of name -> values, "
                f"got search_space={search_space!r}."
            )
        for name, values in search_space.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(
                    f"GridSampler: the values of {name!r} in `search_space` must be a list, "
                    f"got {values!r}."
                )
            if len(values) == 0:
                raise ValueError(
                    f"GridSampler: the values of {name!r} in `search_space` must not be empty."
                )
            for v in values:
                if v is not None and not isinstance(v, (str, int, float, bool)):
                    raise ValueError(
                        f"GridSampler: values must be str, int, float, bool or None; got {v!r} "
                        f"for {name!r} in `search_space`."
                    )
        self._search_space = {k: list(v) for k, v in sorted(search_space.items())}
        self._names = list(self._search_space)
        self._grid = list(itertools.product(*self._search_space.values()))
        self._seed = fresh_seed() if seed is None else seed

    @property
    def n_grids(self) -> int:
        """The number of grid points."""
        return len(self._grid)

    def reseed_rng(self) -> None:
        self._seed = fresh_seed()

    def _claimed(self, study: Study) -> set[int]:
        attrs = study._storage.get_study_system_attrs(study._study_id)
        prefix = f"claim:{_GRID_ID_KEY}:"
        return {int(k[len(prefix) :]) for k in attrs if k.startswith(prefix)}

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        if FIXED_PARAMS_KEY in trial.system_attrs:  # an enqueued trial brings its own params
            return
        rng = trial_rng(self._seed, trial.number, "grid")
        storage = study._storage
        free = sorted(set(range(len(self._grid))) - self._claimed(study))
        rng.shuffle(free)
        for grid_id in free:
            if storage.claim(study._study_id, f"{_GRID_ID_KEY}:{grid_id}", trial._trial_id):
                break
        else:
            grid_id = int(rng.integers(len(self._grid)))
            warnings.warn(
                "GridSampler: every grid point has been claimed already; trial "
                f"#{trial.number} repeats grid point {grid_id}. Run fewer trials than the "
                f"{len(self._grid)} grid points, or let the sampler stop the study.",
                UserWarning,
                stacklevel=2,
            )
            study.stop(_quiet=True)
        storage.set_trial_system_attr(trial._trial_id, _GRID_ID_KEY, grid_id)
        storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if param_name not in self._search_space:
            raise ValueError(
                f"GridSampler: the objective suggested {param_name!r}, which is not in the "
                f"grid's `search_space` (it has {self._names}). Add it to the grid."
            )
        grid_id = trial.system_attrs.get(_GRID_ID_KEY)
        if grid_id is None:
            raise RuntimeError(
                f"GridSampler: trial #{trial.number} has no grid point; was before_trial called?"
            )
        value = self._grid[grid_id][self._names.index(param_name)]
        if not param_distribution.contains(value):
            warnings.warn(
                f"GridSampler: grid value {param_name}={value!r} is outside {param_distribution!r};"
                " it is used as it is.",
                UserWarning,
                stacklevel=2,
            )
        return value

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if len(self._claimed(study)) >= len(self._grid):
            study.stop(_quiet=True)

    def is_exhausted(self, study: Study) -> bool:
        """Whether every grid point has been claimed by a trial of ``study``."""
        return len(self._claimed(study)) >= len(self._grid)

    def __repr__(self) -> str:
        return f"GridSampler(n_grids={len(self._grid)})"
