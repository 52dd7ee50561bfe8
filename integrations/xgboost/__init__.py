"""XGBoost integration: :class:`XGBoostPruningCallback` and :func:`suggest_xgboost_params`."""

from __future__ import annotations

try:
    import xgboost  # noqa: F401
except ImportError:
    raise ImportError(
        "tunesmith.integrations.xgboost needs xgboost: pip install 'tunesmith[xgboost]'"
    ) from None

from tunesmith.integrations.xgboost._callback import XGBoostPruningCallback
from tunesmith.integrations.xgboost._params import suggest_xgboost_params

__all__ = ["XGBoostPruningCallback", "suggest_xgboost_params"]
