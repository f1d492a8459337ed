"""Uploading a submission's files to Wix before its message is sent (services/wix_uploads.py),
with a fake of the Wix client's two upload calls: each file once, its id kept at once under the
worker's lease, and each failure classified and named after its file."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inbox_intake.models import Attachment, DeliveryAttempt, Submission
from inbox_intake.services import delivery, wix_uploads
from inbox_intake.uploads import WIX_MAX_FILES
from inbox_intake.wix import (
    WixAuthError,
    WixPermanentError,
    WixRateLimitError,
    WixTransientError,
    WixValidationError,
)
from tests.conftest import PDF_BYTES, png_bytes

Status = Submission.Status
Outcome = DeliveryAttempt.Outcome


class FakeMediaClient:
    """The Wix client's upload calls, answering as Wix does and recording what they were given.
    `fail[(call, file name)]` is raised by that call for that file: "upload_url" or "upload"."""

    def __init__(self):
        self.calls = []
        self.fail = {}
        self.on_upload = None
        self.answer = {}

    def generate_upload_url(self, file_name: str, mime_type: str) -> str:
        self.calls.append(("upload_url", file_name, mime_type))
        self._maybe_fail("upload_url", file_name)
        return f"https://upload.example/upload/token-{len(self.calls)}"

    def upload_file(self, upload_url, content, *, mime_type: str, file_name: str) -> dict:
        self.calls.append(("upload", upload_url, file_name, mime_type, content.read()))
        self._maybe_fail("upload", file_name)
        if self.on_upload:
            self.on_upload(file_name)
        file_id = f"media_{len(self.uploads)}"
        return {
            "id": file_id,
            "url": f"https://static.example/{file_id}",
            "displayName": file_name,
            "operationStatus": "READY",
        } | self.answer

    @property
    def uploads(self):
        return [call for call in self.calls if call[0] == "upload"]

    def _maybe_fail(self, call: str, file_name: str) -> None:
        if error := self.fail.get((call, file_name)):
            raise error


@pytest.fixture
def client():
    return FakeMediaClient()


@pytest.fixture
def leased(make_submission):
    """A submission being delivered, and the lease of the worker that holds it."""
    submission = make_submission()
    lease = delivery.Lease.from_now(submission.pk, timezone.now())
    Submission.objects.filter(pk=submission.pk).update(
        status=Status.SENDING, locked_until=lease.until
    )
    return submission, lease


@pytest.fixture
def two_files(leased, make_attachment):
    submission, _ = leased
    # Made out of order: the files go by position, not by when they were stored.
    photo = make_attachment(submission, "photo.png", png_bytes(8, 6), position=1)
    plan = make_attachment(submission, "plan.pdf", position=0)
    return plan, photo


def test_each_file_is_uploaded_once_in_order_and_its_wix_id_kept(client, leased, two_files):
    submission, lease = leased
    plan, photo = two_files

    uploaded = wix_uploads.upload_attachments(client, submission, lease)

    assert [attachment.pk for attachment in uploaded] == [plan.pk, photo.pk]
    assert [call[:3] for call in client.calls] == [
        ("upload_url", "plan.pdf", "application/pdf"),
        ("upload", "https://upload.example/upload/token-1", "plan.pdf"),
        ("upload_url", "photo.png", "image/png"),
        ("upload", "https://upload.example/upload/token-3", "photo.png"),
    ]
    assert [call[3:] for call in client.uploads] == [
        ("application/pdf", PDF_BYTES),
        ("image/png", png_bytes(8, 6)),
    ]
    plan.refresh_from_db()
    photo.refresh_from_db()
    assert (plan.wix_file_id, plan.wix_url) == ("media_1", "https://static.example/media_1")
    assert (photo.wix_file_id, photo.wix_url) == ("media_2", "https://static.example/media_2")
    assert plan.uploaded_at and photo.uploaded_at
    assert [attachment.as_wix_media() for attachment in uploaded] == [
        plan.as_wix_media(),
        {
            "image": {
                "id": "media_2",
                "url": "https://static.example/media_2",
                "filename": "photo.png",
                "width": 8,
                "height": 6,
            }
        },
    ]

    wix_uploads.upload_attachments(client, submission, lease)
    assert len(client.calls) == 4, "a second run uploads nothing"


def test_each_record_renews_the_lease(client, leased, two_files):
    submission, lease = leased
    taken_at = lease.until

    wix_uploads.upload_attachments(client, submission, lease)

    assert lease.until > taken_at
    assert Submission.objects.get(pk=submission.pk).locked_until == lease.until


def test_a_submission_without_files_costs_no_call(client, leased):
    submission, lease = leased

    assert wix_uploads.upload_attachments(client, submission, lease) == []
    assert client.calls == []


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("upload_url", WixValidationError("POST …/upload-url: unsupported", status=400)),
        ("upload", WixAuthError("PUT upload: forbidden", status=403)),
    ],
)
def test_a_4xx_on_a_file_is_permanent_and_names_the_file(client, leased, two_files, call, error):
    submission, lease = leased
    plan, photo = two_files
    client.fail[(call, "photo.png")] = error

    with pytest.raises(WixPermanentError) as raised:
        wix_uploads.upload_attachments(client, submission, lease)

    assert type(raised.value) is type(error)
    assert raised.value.status == error.status
    assert str(raised.value).startswith(f'Attachment "photo.png": {error.message} · HTTP ')
    plan.refresh_from_db()
    photo.refresh_from_db()
    assert plan.is_uploaded, "the file before it stays uploaded"
    assert not photo.is_uploaded


@pytest.mark.parametrize(
    "error",
    [
        WixTransientError("PUT upload: Wix did not answer in time"),
        WixTransientError("POST …/upload-url: unavailable", status=503),
        WixRateLimitError("POST …/upload-url: too many requests", status=429, retry_after=7),
    ],
)
def test_a_transient_failure_keeps_what_was_uploaded_and_the_next_run_uploads_the_rest(
    client, leased, two_files, error
):
    submission, lease = leased
    plan, photo = two_files
    client.fail[("upload", "photo.png")] = error

    with pytest.raises(WixTransientError) as raised:
        wix_uploads.upload_attachments(client, submission, lease)

    assert raised.value.message == f'Attachment "photo.png": {error.message}'
    assert getattr(raised.value, "retry_after", None) == getattr(error, "retry_after", None)
    del client.fail[("upload", "photo.png")]
    client.calls.clear()
    wix_uploads.upload_attachments(client, submission, lease)
    assert [call[2] for call in client.uploads] == ["photo.png"]
    photo.refresh_from_db()
    assert photo.wix_file_id == "media_1"


def test_an_upload_answer_without_an_id_is_transient(client, leased, two_files):
    submission, lease = leased
    client.answer = {"id": ""}

    with pytest.raises(WixTransientError) as raised:
        wix_uploads.upload_attachments(client, submission, lease)

    assert str(raised.value) == (
        'Attachment "plan.pdf": Wix\'s upload answer has no file id and URL · HTTP 200'
    )
    assert not Attachment.objects.filter(uploaded_at__isnull=False).exists()


def test_a_file_wix_could_not_process_is_uploaded_again_on_the_next_try(client, leased, two_files):
    submission, lease = leased
    client.answer = {"operationStatus": "FAILED"}

    with pytest.raises(WixTransientError, match='Attachment "plan.pdf": Wix could not process'):
        wix_uploads.upload_attachments(client, submission, lease)
    assert not Attachment.objects.filter(uploaded_at__isnull=False).exists()

    client.answer = {"operationStatus": "PENDING"}
    wix_uploads.upload_attachments(client, submission, lease)

    assert [call[2] for call in client.uploads] == ["plan.pdf", "plan.pdf", "photo.png"]
    assert Attachment.objects.filter(uploaded_at__isnull=False).count() == 2


def test_a_worker_whose_lease_passed_to_another_records_nothing(client, leased, two_files):
    submission, lease = leased
    plan, photo = two_files

    def another_worker_takes_over(file_name):
        Submission.objects.filter(pk=submission.pk).update(
            locked_until=timezone.now() + timedelta(minutes=5)
        )

    client.on_upload = another_worker_takes_over

    with pytest.raises(delivery.LeaseLost):
        wix_uploads.upload_attachments(client, submission, lease)

    plan.refresh_from_db()
    assert not plan.is_uploaded and plan.uploaded_at is None
    assert len(client.uploads) == 1, "it stopped at the first file"


def test_a_file_gone_from_the_storage_is_permanent_and_costs_no_call(client, leased, two_files):
    submission, lease = leased
    plan, _ = two_files
    plan.file.storage.delete(plan.file.name)

    with pytest.raises(WixPermanentError) as raised:
        wix_uploads.upload_attachments(client, submission, lease)

    assert str(raised.value) == (
        f'Attachment "plan.pdf": its file is no longer in the storage ({plan.file.name})'
    )
    assert client.calls == []


def test_more_files_than_a_message_carries_fail_before_any_upload(client, leased, make_attachment):
    submission, lease = leased
    for number in range(WIX_MAX_FILES + 1):
        make_attachment(submission, f"page-{number}.pdf")

    with pytest.raises(wix_uploads.MessageTooLarge, match="16 files; a Wix form message carries"):
        wix_uploads.upload_attachments(client, submission, lease)
    assert client.calls == []


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("plan.pdf", "application/pdf", "plan.pdf"),
        ("p" * 200 + ".pdf", "application/pdf", "p" * 195 + "….pdf"),
        ("p" * 250, "application/pdf", "p" * 199 + "…"),
        ("notes." + "x" * 250, "text/plain", "notes." + "x" * 193 + "…"),
        ("😀" * 101 + ".png", "image/png", "😀" * 97 + "….png"),
    ],
)
def test_a_long_name_is_shortened_to_what_wix_takes_keeping_its_extension(
    name, content_type, expected
):
    assert wix_uploads.upload_name(name, content_type) == expected
    assert wix_uploads.wix_length(expected) <= wix_uploads.MAX_FILE_NAME_LENGTH


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("plan.pdf", "image/png", "plan.pdf.png"),
        ("data.csv", "text/plain", "data.csv.txt"),
        ("photo.png", "image/webp", "photo.png.webp"),
        ("Photo.JPG", "image/jpeg", "Photo.JPG"),
        ("scan.jpeg", "image/jpeg", "scan.jpeg"),
        ("README", "text/plain", "README"),
        ("notes.v2", "text/plain", "notes.v2"),
        ("p" * 200 + ".pdf", "image/png", "p" * 195 + "….png"),
    ],
)
def test_a_name_that_says_another_type_gets_the_extension_of_its_content(
    name, content_type, expected
):
    assert wix_uploads.upload_name(name, content_type) == expected


# --- Through a delivery attempt -------------------------------------------------------------------


@pytest.fixture
def fake_wix(client, monkeypatch):
    monkeypatch.setattr(delivery, "get_wix_client", lambda: client)
    return client


def test_a_refused_file_fails_the_submission_with_a_reason_naming_it(
    fake_wix, make_submission, make_attachment
):
    submission = make_submission()
    make_attachment(submission, "plan.pdf")
    fake_wix.fail[("upload_url", "plan.pdf")] = WixValidationError(
        "POST /communication-channels-media/v1/upload-url: unsupported file format",
        status=400,
        code="UNSUPPORTED_FILE_FORMAT",
        request_id="req-1",
    )

    failed = delivery.deliver(submission.pk)

    assert failed.status == Status.FAILED
    assert failed.last_error == (
        'Attachment "plan.pdf": POST /communication-channels-media/v1/upload-url: unsupported '
        "file format · HTTP 400 · code UNSUPPORTED_FILE_FORMAT · request id req-1"
    )
    attempt = failed.attempts.get()
    assert (attempt.outcome, attempt.http_status, attempt.wix_error_code) == (
        Outcome.PERMANENT,
        400,
        "UNSUPPORTED_FILE_FORMAT",
    )


def test_a_failed_upload_is_retried_without_looking_for_a_message(
    fake_wix, make_submission, make_attachment
):
    submission = make_submission()
    make_attachment(submission, "plan.pdf")
    fake_wix.fail[("upload", "plan.pdf")] = WixTransientError("PUT upload: unavailable", status=503)

    retrying = delivery.deliver(submission.pk)

    assert retrying.status == Status.RETRYING
    assert retrying.needs_reconciliation is False, "an upload cannot have sent a message"
    assert retrying.last_error.startswith('Attachment "plan.pdf": PUT upload: unavailable')
    assert retrying.attempts.get().outcome == Outcome.TRANSIENT


def test_a_message_too_large_fails_before_any_upload(fake_wix, make_submission, make_attachment):
    submission = make_submission(data={"message": "x" * 200_000})
    make_attachment(submission, "plan.pdf")

    failed = delivery.deliver(submission.pk)

    assert failed.status == Status.FAILED
    assert "more than 14 fields" in failed.last_error
    assert fake_wix.calls == []


def test_lease_lost_during_an_upload_leaves_the_submission_to_the_other_worker(
    fake_wix, make_submission, make_attachment
):
    submission = make_submission()
    plan = make_attachment(submission, "plan.pdf")

    def another_worker_takes_over(file_name):
        Submission.objects.filter(pk=submission.pk).update(
            locked_until=timezone.now() + timedelta(minutes=5)
        )

    fake_wix.on_upload = another_worker_takes_over

    assert delivery.deliver(submission.pk) is None
    assert not DeliveryAttempt.objects.exists()
    plan.refresh_from_db()
    assert not plan.is_uploaded
    assert Submission.objects.get(pk=submission.pk).status == Status.SENDING
