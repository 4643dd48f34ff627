"""Process logging for the servers and the command line: readable text or one JSON object a line.

`WFE_LOG_FORMAT=json` is for log collectors: every record becomes `{"ts", "level", "logger",
"message", ...}` plus the structured fields a record carries in `record.wfe` (the engine's
operation lines, engine/oplog.py), so a collector filters on `outcome` or `run_id` without
parsing text. uvicorn is started with `log_config=None`, so its access lines arrive here too.
A dozen lines of formatter with msgspec did not justify a logging dependency.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import msgspec

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, "wfe", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line).decode()


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Replace the root handlers with one stderr handler in the chosen format (idempotent)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
