"""Trials: the live :class:`Trial` an objective receives, :class:`FixedTrial` for deployment,
and :class:`FrozenTrial` snapshots of stored trials."""

from tunesmith.trial._base import BaseTrial
from tunesmith.trial._fixed import FixedTrial
from tunesmith.trial._frozen import FrozenTrial, create_trial
from tunesmith.trial._state import TrialState
from tunesmith.trial._trial import Trial

__all__ = ["BaseTrial", "FixedTrial", "FrozenTrial", "Trial", "TrialState", "create_trial"]
