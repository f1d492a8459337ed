import pytest

from inbox_intake.models import WixRateWindow
from inbox_intake.wix_rate_limiter import WixRateLimiter


class FakeTime:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start
        self.slept = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.mark.django_db
def test_no_sliding_minute_exceeds_the_budget(fake_time):
    limiter = WixRateLimiter(200, clock=fake_time.clock, sleep=fake_time.sleep)
    call_times = []

    for _ in range(600):
        limiter()
        call_times.append(fake_time.now)

    assert limiter.per_window == 18  # 11 windows of 6 s can touch one minute: 11 × 18 ≤ 200
    busiest = max(sum(1 for t in call_times if start <= t < start + 60) for start in call_times)
    assert busiest <= 200
    assert busiest >= 180, "the budget is used, not wasted"


@pytest.mark.django_db
def test_a_full_window_waits_for_the_next_one(fake_time):
    fake_time.now = 1_000_002.0 + 1.5  # 1.5 s into a 6 s window
    limiter = WixRateLimiter(22, clock=fake_time.clock, sleep=fake_time.sleep)  # 2 a window

    limiter(), limiter(), limiter()

    assert fake_time.slept == [4.5]
    assert WixRateWindow.objects.count() == 2


@pytest.mark.django_db
def test_a_window_opened_by_another_process_meanwhile_is_counted_in_not_waited_out(
    fake_time, monkeypatch
):
    """Two processes open a window at once: ours finds no row to count in, then the other's
    INSERT lands before we look again. The window has room, so nobody sleeps."""
    limiter = WixRateLimiter(200, clock=fake_time.clock, sleep=fake_time.sleep)
    window = int(fake_time.now // limiter.window_seconds)
    count = limiter._count

    def count_after_the_other_process_opened_the_window(window_number):
        monkeypatch.setattr(limiter, "_count", count)
        WixRateWindow.objects.create(window=window_number, calls=1)
        return False

    monkeypatch.setattr(limiter, "_count", count_after_the_other_process_opened_the_window)

    limiter()

    assert fake_time.slept == []
    assert WixRateWindow.objects.get(window=window).calls == 2


@pytest.mark.django_db
def test_old_windows_are_cleaned_up(fake_time):
    limiter = WixRateLimiter(200, clock=fake_time.clock, sleep=fake_time.sleep)
    limiter()
    fake_time.now += 600

    limiter()

    assert WixRateWindow.objects.count() == 1
