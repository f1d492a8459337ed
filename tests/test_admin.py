import pytest
from django.contrib.auth.models import Permission

from inbox_intake.models import DeliveryAttempt, Submission

Status = Submission.Status
CHANGELIST = "/admin/inbox_intake/submission/"


@pytest.fixture
def submission(db):
    return Submission.objects.create(
        data={
            "first_name": "<script>alert('x')</script>",
            "last_name": "Doe",
            "email": "jane@example.com",
            "message": "Hi",
        },
        email="jane@example.com",
        name="Jane Doe",
        status=Status.FAILED,
        attempt_count=1,
        last_error="POST /inbox/v2/messages: unauthorized · HTTP 401",
    )


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff member who may view submissions, and nothing more unless a test grants it."""
    user = django_user_model.objects.create_user("staff", password="pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_submission"))
    client.force_login(user)
    client.user = user
    return client


def test_admin_index_says_the_sandbox_is_in_use(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert 'id="wix-sandbox-notice"' in page
    assert "/wix-sandbox/" in page


def test_changelist_shows_status_email_and_attempts(admin_client, submission):
    page = admin_client.get(CHANGELIST).content.decode()

    assert "jane@example.com" in page
    assert "Failed" in page
    assert 'class="field-attempt_count">1<' in page


def test_detail_shows_data_escaped_attempts_and_the_message_preview(admin_client, submission):
    DeliveryAttempt.objects.create(
        submission=submission,
        started_at=submission.created_at,
        finished_at=submission.created_at,
        outcome=DeliveryAttempt.Outcome.PERMANENT,
        http_status=401,
        request_id="req-42",
        error="unauthorized",
    )

    page = admin_client.get(f"{CHANGELIST}{submission.pk}/change/").content.decode()

    assert "<script>alert('x')</script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "req-42" in page
    assert "Website contact form" in page
    assert str(submission.reference) in page


def test_submitted_data_cannot_be_edited(admin_client, submission):
    admin_client.post(f"{CHANGELIST}{submission.pk}/change/", {"email": "evil@example.com"})

    submission.refresh_from_db()
    assert submission.email == "jane@example.com"


def test_staff_without_retry_permission_see_no_retry_action(staff_client, submission):
    page = staff_client.get(CHANGELIST).content.decode()

    assert "retry_selected" not in page
    staff_client.post(CHANGELIST, {"action": "retry_selected", "_selected_action": [submission.pk]})
    submission.refresh_from_db()
    assert submission.status == Status.FAILED


def test_retry_action_requeues_and_reports(
    staff_client, submission, django_capture_on_commit_callbacks
):
    staff_client.user.user_permissions.add(Permission.objects.get(codename="retry_submission"))

    with django_capture_on_commit_callbacks() as callbacks:
        response = staff_client.post(
            CHANGELIST,
            {"action": "retry_selected", "_selected_action": [submission.pk]},
            follow=True,
        )

    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    assert len(callbacks) == 1
    assert "1 submission(s) queued for delivery." in response.content.decode()
