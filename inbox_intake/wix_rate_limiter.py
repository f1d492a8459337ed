"""A rate limiter shared by every worker process, so that together they stay under Wix's limit.

Wix allows 200 requests per minute per site. Calls are counted in short fixed windows in the
database (one conditional UPDATE per call, atomic on PostgreSQL and SQLite alike), so no extra
service is needed. A fixed window of `size` seconds holding `per_window` calls can meet a sliding
minute `60 / size + 1` times, which is what `per_window` is derived from: no minute, however it
is placed, ever exceeds the budget.
"""

import math
import time

from django.db import IntegrityError, transaction
from django.db.models import F

from . import metrics
from .models import WixRateWindow

WINDOW_SECONDS = 6


class WixRateLimiter:
    def __init__(
        self,
        requests_per_minute: int,
        *,
        window_seconds: int = WINDOW_SECONDS,
        clock=time.time,
        sleep=time.sleep,
    ):
        windows_touching_a_minute = 60 // window_seconds + 1
        self.per_window = max(requests_per_minute // windows_touching_a_minute, 1)
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep

    def __call__(self) -> None:
        """Wait until one more call fits in the budget, and count it."""
        waited = 0.0
        while True:
            now = self._clock()
            window = math.floor(now / self.window_seconds)
            if self._take(window):
                if waited:
                    metrics.rate_limiter_wait(waited)
                return
            pause = (window + 1) * self.window_seconds - now
            self._sleep(pause)
            waited += pause

    def _take(self, window: int) -> bool:
        if self._count(window):
            return True
        if not WixRateWindow.objects.filter(window=window).exists():
            try:
                with transaction.atomic():
                    WixRateWindow.objects.create(window=window, calls=1)
            except IntegrityError:
                pass
            else:
                WixRateWindow.objects.filter(window__lt=window - 10).delete()
                return True
        # The window is open, perhaps by another process since our UPDATE found no row: only a
        # second UPDATE tells a full window from a new one. Without it a process would sleep
        # until the next window whenever several open one at once.
        return self._count(window)

    def _count(self, window: int) -> bool:
        """Count one call in `window` if the window exists and has room."""
        return bool(
            WixRateWindow.objects.filter(window=window, calls__lt=self.per_window).update(
                calls=F("calls") + 1
            )
        )
