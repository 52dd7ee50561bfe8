"""MLflow integration: :class:`MLflowCallback` logs each finished trial as one MLflow run."""

from __future__ import annotations

try:
    import mlflow  # noqa: F401
except ImportError:
    raise ImportError(
        "tunesmith.integrations.mlflow needs mlflow: pip install 'tunesmith[mlflow]'"
    ) from None

from tunesmith.integrations.mlflow._callback import MLflowCallback

__all__ = ["MLflowCallback"]
