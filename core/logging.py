"""tunesmith's logging, on the standard :mod:`logging` module.

Everything logs under the ``tunesmith`` logger. By default a handler prints INFO and above to
stderr (each finished trial is one line); quiet it with ``set_verbosity(WARNING)`` or remove it
with ``disable_default_handler()`` and configure ``logging`` as you like.

Example:
    >>> import tunesmith
    >>> tunesmith.logging.set_verbosity(tunesmith.logging.WARNING)
    >>> tunesmith.logging.get_verbosity() == tunesmith.logging.WARNING
    True
    >>> tunesmith.logging.set_verbosity(tunesmith.logging.INFO)
"""

from __future__ import annotations

import logging
from logging import CRITICAL, DEBUG, ERROR, FATAL, INFO, WARN, WARNING
import sys
import threading

__all__ = [
    "CRITICAL",
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "WARN",
    "WARNING",
    "disable_default_handler",
    "disable_propagation",
    "enable_default_handler",
    "enable_propagation",
    "get_logger",
    "get_verbosity",
    "set_verbosity",
]

_ROOT = "tunesmith"
_lock = threading.Lock()
_handler: logging.Handler | None = None


def _root() -> logging.Logger:
    return logging.getLogger(_ROOT)


def _configure() -> None:
    global _handler
    with _lock:
        if _handler is not None:
            return
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter("[%(levelname)s %(asctime)s] %(message)s"))
        _handler.flush = sys.stderr.flush  # type: ignore[method-assign]
        root = _root()
        root.addHandler(_handler)
        root.setLevel(INFO)
        root.propagate = False


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (under ``tunesmith``), with the default handler set up."""
    _configure()
    return logging.getLogger(name if name.startswith(_ROOT) else f"{_ROOT}.{name}")


def get_verbosity() -> int:
    """The level of the ``tunesmith`` logger (``tunesmith.logging.INFO`` by default)."""
    _configure()
    return _root().getEffectiveLevel()


def set_verbosity(verbosity: int) -> None:
    """Set the level of the ``tunesmith`` logger, e.g. ``tunesmith.logging.WARNING``."""
    _configure()
    _root().setLevel(verbosity)


def disable_default_handler() -> None:
    """Remove the handler that prints to stderr."""
    _configure()
    assert _handler is not None
    _root().removeHandler(_handler)


def enable_default_handler() -> None:
    """Put back the handler that prints to stderr."""
    _configure()
    assert _handler is not None
    _root().addHandler(_handler)


def disable_propagation() -> None:
    """Stop records from reaching the root logger's handlers (the default)."""
    _configure()
    _root().propagate = False


def enable_propagation() -> None:
    """Let records reach the root logger's handlers too."""
    _configure()
    _root().propagate = True
