"""Structured JSON logs for the service, with no personal data in them.

What a line may hold is decided here, not at each call site: a fixed set of fields
(session and case ids, route templates, status codes, error codes, durations). Anything
else passed in ``extra`` is dropped, exception messages are never written (they can quote
an MRZ or a file name), and raw paths and query strings are never logged: the route
template is, so a token or a name put into a URL cannot reach the log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER_NAME = "proofing.service"

#: The only fields a service log line may carry besides time, level and event.
ALLOWED_FIELDS = frozenset({
    "request_id", "method", "route", "status", "duration_ms", "session_id", "case_id",
    "evidence_id", "actor", "role", "error", "code", "decision", "count", "kind", "bytes",
    "exc_type", "where", "host", "port", "workers", "limit", "scope",
})


def log() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event; only :data:`ALLOWED_FIELDS` survive (see :class:`JsonFormatter`)."""
    log().log(level, name, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line. For our own logger, only whitelisted fields; for other
    loggers (uvicorn, libraries), the logger name and level but not the message text of
    records at WARNING and above that carry exception info."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == LOGGER_NAME or record.name.startswith(LOGGER_NAME + "."):
            out["event"] = str(record.msg)
            fields = getattr(record, "fields", {}) or {}
            for key, value in fields.items():
                if key in ALLOWED_FIELDS and isinstance(value, str | int | float | bool | None):
                    out[key] = value
        else:
            # Third-party lines: keep the text only when no exception is attached (a
            # traceback repeats the exception's message, which may hold personal data).
            out["event"] = "exception" if record.exc_info else record.getMessage()[:500]
            if record.exc_info and record.exc_info[0] is not None:
                out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def configure(level: str = "info") -> None:
    """Route the service's and uvicorn's loggers to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level.upper())
        lg.propagate = False
    # uvicorn's access log writes the raw path and query: we log requests ourselves.
    logging.getLogger("uvicorn.access").disabled = True


def uvicorn_log_config() -> dict[str, Any]:
    """A dictConfig for uvicorn that uses :class:`JsonFormatter` and no access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "service.logging.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            LOGGER_NAME: {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
