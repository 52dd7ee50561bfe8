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
import time

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
_handler: logging.StreamHandler | None = None  # type: ignore[type-arg]
_formatter = logging.Formatter("[%(levelname)s %(asctime)s] %(message)s")


def _root() -> logging.Logger:
    return logging.getLogger(_ROOT)


def _configure() -> None:
    global _handler
    with _lock:
        if _handler is not None:
            return
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(_formatter)
        _handler.flush = sys.stderr.flush  # type: ignore[method-assign]
        root = _root()
        root.addHandler(_handler)
        root.setLevel(INFO)
        root.propagate = False


# (second, its local time as the formatter writes it) of the last line written directly.
_second: tuple[int, str] = (-1, "")


def _info(logger: logging.Logger, message: str) -> None:
    """``logger.info(message)``, for a message the caller knows INFO lets through.

    With the default set-up (the only handler is the default one, with its formatter, and
    nothing filters or changes records), the line the handler would print is written directly:
    the same text, without building a :class:`logging.LogRecord` and walking the logger tree.
    This is the one line per finished trial, so it is worth it. Any other set-up (a handler or a
    filter added, propagation on, a record factory or logger class of one's own) takes the
    ordinary ``logger.info`` path.
    """
    global _second
    h = _handler
    root = logger.parent
    if (
        h is None
        or type(logger) is not logging.Logger
        or logger.handlers
        or logger.filters
        or logger.disabled
        or not logger.propagate
        or root is None
        or root.name != _ROOT
        or root.propagate
        or root.handlers != [h]
        or h.filters
        or h.level > INFO
        or h.formatter is not _formatter
        or _formatter.datefmt is not None
        or logging.getLogRecordFactory() is not logging.LogRecord
    ):
        logger.info(message)
        return
    ct = time.time()
    sec = int(ct)
    cached = _second
    if cached[0] != sec:
        text = time.strftime(_formatter.default_time_format, _formatter.converter(ct))
        cached = _second = (sec, text)
    line = f"[INFO {cached[1]},{int((ct - sec) * 1000):03d}] {message}\n"
    lock = h.lock  # what Handler.handle holds around emit
    if lock is not None:
        lock.acquire()
    try:
        h.stream.write(line)
        h.flush()
    except Exception:
        ok = False
    else:
        ok = True
    finally:
        if lock is not None:
            lock.release()
    if not ok:
        logger.info(message)  # the handler reports the error its own way


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
