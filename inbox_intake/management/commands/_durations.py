import re
from datetime import timedelta

from django.core.management.base import CommandError

UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'90d', '12h', '30m', '2w' → timedelta."""
    match = re.fullmatch(r"(\d+)([mhdw])", text.strip())
    if not match:
        raise CommandError(f"'{text}' is not a duration like 30m, 12h, 90d or 2w.")
    return timedelta(**{UNITS[match[2]]: int(match[1])})
