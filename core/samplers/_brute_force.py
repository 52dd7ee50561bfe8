from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunesmith.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from tunesmith.samplers._base import BaseSampler
from tunesmith.samplers._rng import fresh_seed, trial_rng
from tunesmith.trial._state import TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study
    from tunesmith.trial._frozen import FrozenTrial


def _enumerate(name: str, dist: BaseDistribution) -> list[float]:
    """Every internal value of a discrete distribution."""
    if isinstance(dist, CategoricalDistribution):
        return [float(i) for i in range(len(dist.choices))]
    if isinstance(dist, IntDistribution):
        return [float(v) for v in range(dist.low, dist.high + 1, dist.step)]
    if isinstance(dist, FloatDistribution):
        if dist.single():
            return [dist.low]
        if dist.step is None:
            raise ValueError(
                f"BruteForceSampler: parameter {name!r} is a continuous {dist!r}; brute force "
                "needs a finite space: give it a `step`, or use suggest_int/suggest_categorical."
            )
        n = round((dist.high - dist.low) / dist.step)
        return [dist.low + k * dist.step for k in range(n + 1)]
    raise TypeError(f"BruteForceSampler: unknown distribution {dist!r}.")


class _Node:
    """A node of the tree of define-by-run paths: which parameter comes next, and its values."""

    __slots__ = ("children", "done", "name")

    def __init__(self) -> None:
        self.name: str | None = None
        self.children: dict[float, _Node] | None = None
        self.done = False  # a finished trial ended at this node

    def expand(self, name: str, values: list[float]) -> None:
        if self.children is None:
            self.name = name
            self.children = {v: _Node() for v in values}
        elif self.name != name:
            raise ValueError(
                f"BruteForceSampler: after the same parameters, one trial suggested {self.name!r} "
                f"and another {name!r}; brute force needs the next parameter to depend only on "
                "the previous values."
            )

    def exhausted(self) -> bool:
        if self.done:
            return True
        if self.children is None:
            return False
        return all(c.exhausted() for c in self.children.values())


class BruteForceSampler(BaseSampler):
    """Tries every combination of a finite define-by-run space once, then stops the study.

    Unlike :class:`GridSampler` the space need not be known in advance: conditional parameters
    are enumerated within the branch that suggests them. Every parameter must be discrete
    (categorical, integer, or float with ``step``).

    Args:
        seed: Seed of the order in which combinations are tried.

    Example:
        >>> import tunesmith
        >>> study = tunesmith.create_study(sampler=tunesmith.samplers.BruteForceSampler(seed=0))
        >>> def objective(t):
        ...     if t.suggest_categorical("kind", ["a", "b"]) == "a":
        ...         return t.suggest_int("n", 1, 3)
        ...     return 0.0
        >>> study.optimize(objective)
        >>> len(study.trials)
        4
    """

    def __init__(self, seed: int | None = None) -> None:
        self._seed = fresh_seed() if seed is None else seed

    def reseed_rng(self) -> None:
        self._seed = fresh_seed()

    @staticmethod
    def _path(trial: FrozenTrial) -> list[tuple[str, BaseDistribution, float]]:
        return [
            (name, trial.distributions[name], trial.distributions[name].to_internal_repr(v))
            for name, v in trial.params.items()
        ]

    def _tree(self, study: Study, exclude: int | None) -> tuple[_Node, set[int]]:
        root = _Node()
        running: set[int] = set()
        for t in study._storage.get_all_trials(study._study_id, deepcopy=False):
            if t._trial_id == exclude or t.state is TrialState.WAITING:
                continue
            node = root
            for name, dist, v in self._path(t):
                node.expand(name, _enumerate(name, dist))
                assert node.children is not None
                node = node.children.setdefault(v, _Node())
            if t.state.is_finished():
                node.done = True
            else:
                running.add(id(node))
        return root, running

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        values = _enumerate(param_name, param_distribution)
        root, _ = self._tree(study, exclude=trial._trial_id)
        node = root
        for name, dist, v in self._path(trial):
            node.expand(name, _enumerate(name, dist))
            assert node.children is not None
            node = node.children.setdefault(v, _Node())
        node.expand(param_name, values)
        assert node.children is not None
        rng = trial_rng(self._seed, trial.number, "brute", param_name)
        open_ = [v for v, c in node.children.items() if not c.exhausted()]
        untouched = [
            v for v in open_ if node.children[v].children is None and not node.children[v].done
        ]
        pool = untouched or open_ or list(node.children)
        internal = pool[int(rng.integers(len(pool)))]
        return param_distribution.to_external_repr(internal)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        root, _ = self._tree(study, exclude=trial._trial_id)
        node = root
        for name, dist, v in self._path(trial):
            node.expand(name, _enumerate(name, dist))
            assert node.children is not None
            node = node.children.setdefault(v, _Node())
        node.done = True
        if root.exhausted():
            study.stop(_quiet=True)
