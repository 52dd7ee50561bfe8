"""LightGBM integration: :class:`LightGBMPruningCallback`, :func:`suggest_lightgbm_params`, and
the stepwise tuners :class:`LightGBMTuner` / :class:`LightGBMTunerCV`."""

from __future__ import annotations

try:
    import lightgbm  # noqa: F401
except ImportError:
    raise ImportError(
        "tunesmith.integrations.lightgbm needs lightgbm: pip install 'tunesmith[lightgbm]'"
    ) from None

from tunesmith.integrations.lightgbm._callback import LightGBMPruningCallback
from tunesmith.integrations.lightgbm._params import suggest_lightgbm_params
from tunesmith.integrations.lightgbm._tuner import LightGBMTuner, LightGBMTunerCV

__all__ = ["LightGBMPruningCallback", "LightGBMTuner", "LightGBMTunerCV", "suggest_lightgbm_params"]
