"""Log lines a log pipeline can parse: an event name and its fields, as key=value (logfmt) or as
one JSON object, by INBOX_INTAKE_LOG_FORMAT.

Callers pass only what is safe to keep: references, outcomes, codes, ids, durations; never a
credential and never what a visitor wrote.
"""

import json
import logging
import re

from .conf import intake_settings

#: A value that logfmt can carry without quotes.
BARE_VALUE = re.compile(r"[^\s\"=\\]+")


def log_event(logger: logging.Logger, level: int, event: str, **fields) -> None:
    if not logger.isEnabledFor(level):
        return
    logger.log(level, format_event(event, fields))


def format_event(event: str, fields: dict) -> str:
    """Fields that are None are left out."""
    entry = {"event": event} | {key: value for key, value in fields.items() if value is not None}
    if intake_settings.INBOX_INTAKE_LOG_FORMAT == "json":
        return json.dumps(entry, ensure_ascii=False, default=str)
    return " ".join(f"{key}={_logfmt_value(value)}" for key, value in entry.items())


def _logfmt_value(value) -> str:
    text = str(value)
    return text if BARE_VALUE.fullmatch(text) else json.dumps(text, ensure_ascii=False)
