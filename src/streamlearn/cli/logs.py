"""Logging for the command line: JSON lines (one object per event, for log shippers) or
readable text on the terminal. Library code logs with ``extra`` fields
(``log.info("checkpoint", extra={"version": ...})``); both formats show them.

>>> import io, json, logging
>>> stream = io.StringIO()
>>> setup_logging("json", "info", stream=stream)
>>> logging.getLogger("streamlearn.runner").info("checkpoint", extra={"version": "v000003"})
>>> record = json.loads(stream.getvalue())
>>> record["message"], record["version"], record["level"]
('checkpoint', 'v000003', 'INFO')
"""

from __future__ import annotations

import logging
from typing import IO

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class _TextFormatter(logging.Formatter):
    """``time level name message key=value …``"""

    def format(self, record: logging.LogRecord) -> str:
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        fields = " ".join(f"{k}={_short(v)}" for k, v in extra.items() if k != "event")
        return f"{super().format(record)} {fields}".rstrip()


def _short(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def setup_logging(fmt: str = "text", level: str = "info", stream: IO[str] | None = None) -> None:
    """Send the ``streamlearn`` loggers' records to ``stream`` (stderr) in ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, got {fmt!r}")
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                datefmt="%Y-%m-%dT%H:%M:%S%z",
                rename_fields={"levelname": "level", "asctime": "timestamp"},
            )
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("streamlearn")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
