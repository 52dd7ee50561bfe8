from __future__ import annotations

from collections.abc import Iterator
import io
import logging
import re

import pytest

import tunesmith
from tunesmith import logging as tlog


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    """Leave the tunesmith logger as each test found it."""
    root = logging.getLogger("tunesmith")
    level, propagate = tlog.get_verbosity(), root.propagate
    handlers = list(root.handlers)
    yield
    tlog.set_verbosity(level)
    root.propagate = propagate
    root.handlers[:] = handlers


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Point the default handler at a buffer (it writes to the stderr of import time)."""
    tlog.get_logger("tunesmith")
    handler = tlog._handler
    assert isinstance(handler, logging.StreamHandler)
    buf = io.StringIO()
    old = handler.setStream(buf)
    old_flush = handler.flush
    handler.flush = buf.flush  # type: ignore[method-assign]
    try:
        yield buf
    finally:
        handler.setStream(old)
        handler.flush = old_flush  # type: ignore[method-assign]


def _run_one_trial() -> None:
    study = tunesmith.create_study(sampler=tunesmith.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_int("x", 4, 4) * 1.0, n_trials=1)


def test_levels_are_the_standard_ones() -> None:
    assert (
        tlog.DEBUG,
        tlog.INFO,
        tlog.WARNING,
        tlog.WARN,
        tlog.ERROR,
        tlog.CRITICAL,
        tlog.FATAL,
    ) == (
        logging.DEBUG,
        logging.INFO,
        logging.WARNING,
        logging.WARN,
        logging.ERROR,
        logging.CRITICAL,
        logging.FATAL,
    )


def test_set_and_get_verbosity() -> None:
    tlog.set_verbosity(tlog.WARNING)
    assert tlog.get_verbosity() == tlog.WARNING
    assert logging.getLogger("tunesmith").level == logging.WARNING
    tlog.set_verbosity(tlog.DEBUG)
    assert tlog.get_verbosity() == tlog.DEBUG


def test_get_logger_lives_under_tunesmith() -> None:
    assert tlog.get_logger("mymod").name == "tunesmith.mymod"
    assert tlog.get_logger("tunesmith.study").name == "tunesmith.study"


def test_default_handler_prints_each_trial_at_info(stream: io.StringIO) -> None:
    tlog.set_verbosity(tlog.INFO)
    _run_one_trial()
    text = stream.getvalue()
    assert "A new study created in InMemoryStorage" in text
    assert "Trial 0 finished with value: 4.0 and parameters: {'x': 4}" in text
    assert text.startswith("[INFO ")


def test_warning_verbosity_silences_info(stream: io.StringIO) -> None:
    tlog.set_verbosity(tlog.WARNING)
    _run_one_trial()
    assert stream.getvalue() == ""
    tunesmith.create_study().optimize(lambda t: float("nan"), n_trials=1)
    assert "[WARNING " in stream.getvalue() and "returned NaN" in stream.getvalue()


def test_disable_and_enable_default_handler(stream: io.StringIO) -> None:
    tlog.set_verbosity(tlog.INFO)
    tlog.disable_default_handler()
    _run_one_trial()
    assert stream.getvalue() == ""
    tlog.enable_default_handler()
    _run_one_trial()
    assert "Trial 0 finished" in stream.getvalue()


def test_propagation_is_off_by_default_and_can_be_enabled(
    stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    tlog.set_verbosity(tlog.INFO)
    root_handler_records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            root_handler_records.append(record)

    collector = Collect()
    logging.getLogger().addHandler(collector)
    try:
        tlog.disable_propagation()
        assert logging.getLogger("tunesmith").propagate is False
        _run_one_trial()
        assert root_handler_records == []
        assert "Trial 0 finished" in stream.getvalue()
        stream.seek(0)
        stream.truncate()
        tlog.enable_propagation()
        tlog.disable_default_handler()  # the usual pairing: let the application print
        _run_one_trial()
        messages = [r.getMessage() for r in root_handler_records]
        assert any("Trial 0 finished" in m for m in messages)
        assert "Trial 0 finished" not in stream.getvalue()
    finally:
        logging.getLogger().removeHandler(collector)


def _standard_text(message: str) -> str:
    """What the stdlib writes for ``message`` through the default handler's formatter."""
    record = logging.LogRecord("tunesmith.study", logging.INFO, __file__, 1, message, None, None)
    assert tlog._handler is not None and tlog._handler.formatter is not None
    return tlog._handler.formatter.format(record)


def test_trial_line_written_directly_has_the_formatter_layout(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    tlog.set_verbosity(tlog.INFO)
    logging.getLogger("tunesmith").handlers[:] = [tlog._handler]  # pytest adds its own here

    def no_record(*args: object, **kwargs: object) -> None:
        raise AssertionError("the default set-up writes the line without a LogRecord")

    monkeypatch.setattr(logging.getLogger("tunesmith.study"), "info", no_record)
    _run_one_trial()
    line = stream.getvalue().splitlines()[-1]
    head, _, message = line.partition("] ")
    expected = _standard_text(message)  # "[INFO YYYY-MM-DD HH:MM:SS,mmm] message"
    assert len(line) == len(expected)
    assert line[:6] == expected[:6] == "[INFO "
    assert re.fullmatch(r"\[INFO \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", head)
    assert message == (
        "Trial 0 finished with value: 4.0 and parameters: {'x': 4}. "
        "Best is trial 0 with value: 4.0."
    )


def test_added_handler_or_filter_gets_every_trial_record(stream: io.StringIO) -> None:
    tlog.set_verbosity(tlog.INFO)
    logging.getLogger("tunesmith").handlers[:] = [tlog._handler]  # pytest adds its own here
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collector = Collect()
    root = logging.getLogger("tunesmith")
    root.addHandler(collector)
    try:
        _run_one_trial()
    finally:
        root.removeHandler(collector)
    assert any(r.getMessage().startswith("Trial 0 finished") for r in records)
    assert "Trial 0 finished" in stream.getvalue()  # the default handler still prints

    study_logger = logging.getLogger("tunesmith.study")
    drop_trials = logging.Filter("nothing-matches")
    study_logger.addFilter(drop_trials)
    stream.seek(0)
    stream.truncate()
    try:
        _run_one_trial()
    finally:
        study_logger.removeFilter(drop_trials)
    assert "Trial 0 finished" not in stream.getvalue()


def test_best_trial_text_follows_the_best_trial(stream: io.StringIO) -> None:
    tlog.set_verbosity(tlog.INFO)
    study = tunesmith.create_study()
    values = iter([3.0, 5.0, 1.0])
    study.optimize(lambda t: next(values), n_trials=3)
    lines = [ln for ln in stream.getvalue().splitlines() if "finished" in ln]
    assert [ln.split("] ", 1)[1].split(". ", 1)[1] for ln in lines] == [
        "Best is trial 0 with value: 3.0.",
        "Best is trial 0 with value: 3.0.",
        "Best is trial 2 with value: 1.0.",
    ]
