"""The node log, ``<home>/logs/node.log``: where it is written, in which format, and who each entry
names as the operator.

The file is reopened when logrotate moves it away (:class:`logging.handlers.WatchedFileHandler`), so
``deploy/logrotate/credgap`` can rotate it without ``copytruncate`` and without a signal. Each entry
carries its time with its UTC offset and the operator of the command that wrote it
(:func:`nodekit.operator.resolve_operator`). ``--log-format json`` (``CREDGAP_LOG_FORMAT=json``)
writes one JSON object a line for a log shipper instead of text.
"""

from __future__ import annotations

import logging
import logging.handlers
from datetime import datetime
from pathlib import Path
from typing import Literal

import orjson

from nodekit.operator import OperatorError, resolve_operator

LOG_NAME = "node.log"
LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LOG_FORMAT_ENV = "CREDGAP_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [operator=%(operator)s]: %(message)s"


class OperatorFilter(logging.Filter):
    """Stamps every record with the operator of this command (resolved when the record is written)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "operator"):
            try:
                record.operator = resolve_operator()
            except OperatorError:
                record.operator = "(invalid operator name)"
        return True


def _iso(record: logging.LogRecord) -> str:
    """The record's local time with its UTC offset, to the millisecond: ``2026-12-02T17:20:01.123+08:00``."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _iso(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, operator, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _iso(record),
            "level": record.levelname,
            "logger": record.name,
            "operator": getattr(record, "operator", None),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class NodeLogFile(logging.handlers.WatchedFileHandler):
    """The node log. A record it cannot write (the disk is full) is dropped: the operator's one line
    on stderr still says what happened, and logging's own traceback must not follow it there."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        # WatchedFileHandler reopens the file outside logging's error handling (CPython 3.11): a log
        # folder removed or unreadable would raise out of every log call. Here it drops the record.
        try:
            self.reopenIfNeeded()
            if self.stream is None:
                self.stream = self._open()
        except OSError:
            self.handleError(record)
            return
        logging.StreamHandler.emit(self, record)


def attach_node_log(logdir: Path, log_format: LogFormat = "text") -> logging.Handler | None:
    """Write the ``credgap`` loggers' records to ``logdir/node.log`` (once per process and file); None
    when there is no log folder, or this process's user may not write the node's log."""
    if not logdir.is_dir():
        return None
    root = logging.getLogger("credgap")
    target = str(logdir / LOG_NAME)
    for h in root.handlers:
        if getattr(h, "baseFilename", None) == target:
            return h
    try:
        handler = NodeLogFile(target, encoding="utf-8")
    except PermissionError:
        # a process of another user that reads the home, as the platform does under its own user
        # (docs/OPERATIONS.md, "File modes"): it logs to stderr, the journal, not to the node's log
        return None
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(OperatorFilter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler
