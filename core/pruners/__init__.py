"""Pruners: stop unpromising trials early from the values they report."""

from tunesmith.pruners._base import BasePruner
from tunesmith.pruners._nop import NopPruner

__all__ = ["BasePruner", "NopPruner"]
