"""scikit-learn integration: :class:`TunedSearchCV` and :func:`default_search_space`.

``TunedSearchCV`` is a drop-in for ``GridSearchCV``/``RandomizedSearchCV`` whose candidates come
from a tunesmith study (TPE by default) instead of a grid, with optional pruning of estimators
that learn incrementally (``partial_fit``).
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError:
    raise ImportError(
        "tunesmith.integrations.sklearn needs scikit-learn: pip install 'tunesmith[sklearn]'"
    ) from None

from tunesmith.integrations.sklearn._search import TunedSearchCV
from tunesmith.integrations.sklearn._spaces import default_search_space

__all__ = ["TunedSearchCV", "default_search_space"]
