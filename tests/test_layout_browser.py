"""What staff and visitors see, in a real browser at a phone's width and two laptop widths: no page
is wider than the window, and the admin list's last column is on screen. Each page is also saved
as a screenshot under var/screenshots/ for people to look at."""

import pytest

from inbox_intake.models import DeliveryAttempt, Submission
from inbox_intake.services import delivery
from tests.conftest import ROOT, png_bytes

pytestmark = pytest.mark.e2e

WIDTHS = (390, 1280, 1440)
SCREENSHOTS = ROOT / "var" / "screenshots"
LONG_ERROR = (
    "POST /inbox/v2/messages: unauthorized · HTTP 401 · code UNAUTHENTICATED · request id "
    "3f2c9a1e-7d4b-4c1a-9e8f-0a1b2c3d4e5f · the API key is not valid for this site"
)


@pytest.fixture
def pages(live_server, sandbox_url, make_submission, make_attachment, admin_user, transactional_db):
    """Every page to look at, by name, with submissions in each state, one delivered with files
    (a picture, a PDF with a long name), and a failed one with a file not uploaded yet."""
    delivered = make_submission(
        data={"message": "A long message that goes on. " * 20, "phone": "+15555550100"}
    )
    make_attachment(delivered, "site-photo.png", png_bytes(640, 420))
    make_attachment(delivered, "floor-plan-ground-floor-and-first-floor-revision-7-final.pdf")
    delivery.deliver(delivered.pk)
    for index, status in enumerate(Submission.Status.values):
        make_submission(
            status=status,
            name=f"Maximiliana Featherstonehaugh-{index}",
            email=f"maximiliana.featherstonehaugh.{index}@a-rather-long-domain.example.com",
            attempt_count=7,
            last_error=LONG_ERROR if status in ("failed", "retrying") else "",
        )
    failed = Submission.objects.filter(status="failed").first()
    make_attachment(failed, "notes.pdf")
    for outcome, status, code in (("transient", 503, ""), ("permanent", 401, "UNAUTHENTICATED")):
        DeliveryAttempt.objects.create(
            submission=failed,
            started_at=failed.created_at,
            finished_at=failed.created_at,
            outcome=outcome,
            http_status=status,
            wix_error_code=code,
            request_id="3f2c9a1e-7d4b-4c1a-9e8f-0a1b2c3d4e5f",
            error="POST /inbox/v2/messages: the API key is not valid for this site",
        )
    return {
        "admin-list": f"{live_server.url}/admin/inbox_intake/submission/",
        "admin-detail": f"{live_server.url}/admin/inbox_intake/submission/{failed.pk}/change/",
        "admin-detail-files": (
            f"{live_server.url}/admin/inbox_intake/submission/{delivered.pk}/change/"
        ),
        "form": f"{live_server.url}/intake/contact/",
        "sandbox-inbox": f"{live_server.url}/wix-sandbox/",
    }


def log_in(page, live_server, admin_user):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "password")  # pytest-django's admin_user
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_window(page, pages, live_server, admin_user, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, admin_user)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    too_wide = {}
    for name, url in pages.items():
        page.goto(url)
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        if scroll_width > inner_width:
            too_wide[name] = scroll_width
        if name == "admin-list" and width >= 1280:
            last_column = page.locator("#result_list thead th").last.bounding_box()
            assert last_column["x"] + last_column["width"] <= inner_width

    assert too_wide == {}, f"wider than {width} px"
