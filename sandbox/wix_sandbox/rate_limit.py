"""Wix's rate limit, emulated: at most WIX_SANDBOX_RATE_LIMIT_PER_MINUTE API requests in any
sliding minute (Wix documents 200 a minute per site); past it, 429 with Retry-After until the
oldest request of the minute leaves it. Off (0) unless set.

Every web process shares the count, kept in the database. Counting and admitting happen under
one lock (a PostgreSQL advisory lock; SQLite's IMMEDIATE transactions are serialised already), so
concurrent requests can never let one too many through. Refused requests are not counted.
"""

import math
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from .conf import sandbox_setting
from .models import AdmittedCall

WINDOW = timedelta(minutes=1)
#: Any fixed number, as long as nothing else on the server takes the same advisory lock.
ADVISORY_LOCK_KEY = 7_316_102_455


def admit() -> int | None:
    """Count this request and return None if it fits in the sliding minute; otherwise count
    nothing and return how many seconds to wait (at least 1)."""
    limit = sandbox_setting("WIX_SANDBOX_RATE_LIMIT_PER_MINUTE")
    if not limit:
        return None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        now = timezone.now()
        AdmittedCall.objects.filter(admitted__lte=now - WINDOW).delete()
        in_window = AdmittedCall.objects.order_by("admitted")
        if in_window.count() >= limit:
            frees_up = in_window.first().admitted + WINDOW
            return max(math.ceil((frees_up - now).total_seconds()), 1)
        AdmittedCall.objects.create(admitted=now)
    return None
