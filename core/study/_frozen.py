from __future__ import annotations

from collections.abc import Sequence
import datetime
from typing import TYPE_CHECKING, Any

from tunesmith.study._study_direction import StudyDirection

if TYPE_CHECKING:
    from tunesmith.trial._frozen import FrozenTrial


class FrozenStudy:
    """A snapshot of a study's name, directions and attributes, as listed by
    :func:`get_all_studies`."""

    __slots__ = (
        "_directions",
        "_study_id",
        "best_trial",
        "datetime_start",
        "n_trials",
        "study_name",
        "system_attrs",
        "user_attrs",
    )

    def __init__(
        self,
        study_name: str,
        direction: StudyDirection | None,
        user_attrs: dict[str, Any],
        system_attrs: dict[str, Any],
        study_id: int,
        *,
        directions: Sequence[StudyDirection] | None = None,
        n_trials: int = 0,
        datetime_start: datetime.datetime | None = None,
        best_trial: FrozenTrial | None = None,
    ) -> None:
        if (direction is None) == (directions is None):
            raise ValueError("FrozenStudy: give exactly one of `direction` and `directions`.")
        self.study_name = study_name
        self._directions = [direction] if direction is not None else list(directions or ())
        self.user_attrs = user_attrs
        self.system_attrs = system_attrs
        self._study_id = study_id
        self.n_trials = n_trials
        self.datetime_start = datetime_start
        self.best_trial = best_trial

    @property
    def direction(self) -> StudyDirection:
        """The direction of a one-objective study."""
        if len(self._directions) > 1:
            raise RuntimeError(
                f"Study {self.study_name!r} has {len(self._directions)} objectives; "
                "use `directions`."
            )
        return self._directions[0]

    @property
    def directions(self) -> list[StudyDirection]:
        """The direction of each objective."""
        return list(self._directions)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrozenStudy):
            return NotImplemented
        return (self._study_id, self.study_name, self._directions) == (
            other._study_id,
            other.study_name,
            other._directions,
        )

    def __hash__(self) -> int:
        return hash((self._study_id, self.study_name))

    def __repr__(self) -> str:
        return (
            f"FrozenStudy(study_name={self.study_name!r}, directions={self._directions!r}, "
            f"n_trials={self.n_trials}, study_id={self._study_id})"
        )
