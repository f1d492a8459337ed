"""The admin in a real browser: staff find a failed submission, retry it, and a real Celery worker
delivers it to the Wix sandbox over HTTP; staff see a submission's files and download them."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from inbox_intake.models import Submission
from tests.conftest import PDF_BYTES, png_bytes, wait_until
from wix_sandbox.models import SandboxMessage

pytestmark = pytest.mark.e2e


@pytest.fixture
def staff_login(django_user_model):
    """Staff who may view and retry submissions, as the README tells site owners to set up."""
    user = django_user_model.objects.create_user("staff", password="pw-browser-123", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_submission", "retry_submission"])
    )
    return "staff", "pw-browser-123"


def in_sandbox(reference: str) -> bool:
    return any(
        {"name": "Reference", "value": reference} in message.data["content"]["form"]["fields"]
        for message in SandboxMessage.objects.all()
    )


def test_staff_retry_a_failed_submission_and_see_it_delivered(
    page, live_server, celery_worker, staff_login, transactional_db
):
    failed = Submission.objects.create(
        data={
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane.doe@example.com",
            "phone": "",
            "message": "Hello, I would like a quote.",
            "subscribe_newsletter": False,
        },
        email="jane.doe@example.com",
        name="Jane Doe",
        status=Submission.Status.FAILED,
        attempt_count=1,
        last_error="POST /inbox/v2/messages: unauthorized · HTTP 401",
    )
    Submission.objects.create(
        data={"email": "sent@example.com"}, email="sent@example.com", status="sent"
    )
    username, password = staff_login

    page.goto(f"{live_server.url}/admin/inbox_intake/submission/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.locator("#changelist-filter").get_by_role("link", name="Failed", exact=True).click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)  # waits for the filtered page; count() would not
    rows.first.locator("th a").click()
    page.click("#retry-now")

    assert "1 submission queued for delivery." in page.locator(".messagelist").inner_text()

    def sent():
        failed.refresh_from_db()
        return failed.status == Submission.Status.SENT

    wait_until(sent, timeout=60, what="the worker to deliver the retried submission")
    assert in_sandbox(str(failed.reference))
    page.reload()
    assert page.locator(".intake-status").first.inner_text() == "Sent"
    failed.refresh_from_db()
    assert page.get_by_text(failed.wix_conversation_id).is_visible()
    # They may not use the sandbox (use_sandbox): no link that would end in a 403.
    assert page.get_by_role("link", name="Open in the Wix sandbox").count() == 0


def test_staff_see_a_submissions_files_and_download_them(
    page, live_server, staff_login, make_submission, make_attachment, transactional_db
):
    submission = make_submission()
    make_attachment(submission, "plan.pdf")
    make_attachment(submission, "photo.png", png_bytes(40, 30))
    username, password = staff_login

    page.goto(f"{live_server.url}/admin/inbox_intake/submission/{submission.pk}/change/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")

    picture = page.locator(".intake-preview-media img")
    expect(picture).to_have_attribute("alt", "photo.png")
    # Loaded through the permission-checked view, with this browser's session.
    picture.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
    )
    assert picture.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
    expect(page.locator(".intake-file-chip")).to_contain_text("plan.pdf")
    with page.expect_download() as download:
        page.locator(".intake-files").get_by_role("link", name="plan.pdf").click()
    assert download.value.suggested_filename == "plan.pdf"
    assert Path(download.value.path()).read_bytes() == PDF_BYTES
