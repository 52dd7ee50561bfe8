"""Studies: create, load, run and inspect optimisation problems."""

from tunesmith.study._callbacks import MaxTrialsCallback
from tunesmith.study._frozen import FrozenStudy
from tunesmith.study._study import (
    Study,
    copy_study,
    create_study,
    delete_study,
    get_all_study_names,
    get_all_study_summaries,
    load_study,
)
from tunesmith.study._study_direction import StudyDirection

StudySummary = FrozenStudy

__all__ = [
    "FrozenStudy",
    "MaxTrialsCallback",
    "Study",
    "StudyDirection",
    "StudySummary",
    "copy_study",
    "create_study",
    "delete_study",
    "get_all_study_names",
    "get_all_study_summaries",
    "load_study",
]
