"""Staff review in the admin: the list and its summary, the detail page, retry, discard, export and
who may do what. Run as a superuser, as staff who may only view, and as staff who may retry."""

import csv
import io
import json
import re
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import JSONField
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone

from inbox_intake.admin import EstimatedCountPaginator, thumbnail_size
from inbox_intake.models import DeliveryAttempt, Submission
from tests.conftest import PDF_BYTES, png_bytes

Status = Submission.Status
CHANGELIST = "/admin/inbox_intake/submission/"
XSS = "<script>alert('x')</script>"
ESCAPED_XSS = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


@pytest.fixture
def make_submission(make_submission):
    """Submissions here are FAILED unless a test says otherwise."""
    return partial(make_submission, status=Status.FAILED)


@pytest.fixture
def submission(make_submission):
    return make_submission(
        attempt_count=1, last_error="POST /inbox/v2/messages: unauthorized · HTTP 401"
    )


def staff_login(client, django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw-123456", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, django_user_model):
    """Staff who may view submissions, and do nothing else."""
    return staff_login(client, django_user_model, "viewer", "view_submission")


@pytest.fixture
def retry_client(client, django_user_model):
    """Staff who may view and retry submissions, but not discard them."""
    return staff_login(client, django_user_model, "retrier", "view_submission", "retry_submission")


def detail_url(submission) -> str:
    return f"{CHANGELIST}{submission.pk}/change/"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


# --- The list -----------------------------------------------------------------------------------


def test_admin_index_says_the_sandbox_is_in_use(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert 'id="wix-sandbox-notice"' in page
    assert "/wix-sandbox/" in page


def test_staff_who_may_not_use_the_sandbox_get_no_links_to_it(staff_client, make_submission):
    submission = make_submission(wix_conversation_id="conv-1")

    index = staff_client.get("/admin/").content.decode()
    detail = staff_client.get(detail_url(submission)).content.decode()

    assert 'id="wix-sandbox-notice"' in index
    assert 'href="/wix-sandbox/' not in index
    assert "Open in the Wix sandbox" not in detail
    assert "conv-1" in detail


def test_staff_with_the_sandbox_permission_get_the_links(
    client, django_user_model, make_submission
):
    sandbox_user = staff_login(
        client, django_user_model, "developer", "view_submission", "use_sandbox"
    )
    submission = make_submission(wix_conversation_id="conv-1")

    index = sandbox_user.get("/admin/").content.decode()
    detail = sandbox_user.get(detail_url(submission)).content.decode()

    assert 'href="/wix-sandbox/"' in index
    assert "Open in the Wix sandbox" in detail
    assert "/wix-sandbox/?conversation=conv-1" in detail


def test_changelist_columns(admin_client, submission):
    page = admin_client.get(CHANGELIST).content.decode()

    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', page)
    assert headers == ["received_with_form", "submitter", "delivery", "short_error"]
    assert '<span class="intake-quiet">contact form</span>' in page
    assert '<span class="intake-status intake-status--failed">Failed</span>' in page
    assert '<span class="intake-quiet">1 attempt</span>' in page
    assert 'title="POST /inbox/v2/messages: unauthorized · HTTP 401"' in page


def test_the_list_shows_the_total_attempts_and_when_it_was_sent(admin_client, make_submission):
    sent_at = timezone.now()
    make_submission(status=Status.SENT, attempt_count=7, attempts_since_retry=1, sent_at=sent_at)

    page = admin_client.get(CHANGELIST).content.decode()

    sent = formats.localize(timezone.localtime(sent_at))
    assert f'<span class="intake-quiet">7 attempts, sent {sent}</span>' in page


def test_a_long_last_error_is_shortened_in_the_list(admin_client, make_submission):
    make_submission(last_error="x" * 300)

    page = admin_client.get(CHANGELIST).content.decode()

    assert f">{'x' * 199}…</span>" in page


@pytest.mark.parametrize("query", ["", "?status__exact=failed", "?q=jane", "?form=contact"])
def test_changelist_queries_do_not_grow_with_rows(admin_client, make_submission, query):
    def queries_for(rows: int) -> list[str]:
        Submission.objects.all().delete()
        for _ in range(rows):
            make_submission()
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST + query).status_code == 200
        return [entry["sql"] for entry in captured]

    five, fifty = queries_for(5), queries_for(50)

    assert len(five) == len(fifty) <= 12
    assert sum("GROUP BY" in sql for sql in fifty) == 2, "one count per status, one per day"


def test_unfiltered_list_uses_postgresql_estimate_and_filtered_lists_count(
    make_submission, monkeypatch
):
    for _ in range(3):
        make_submission()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inbox_intake_submission")
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)

    with CaptureQueriesContext(connection) as unfiltered:
        assert EstimatedCountPaginator(Submission.objects.all(), 100).count == 3
    with CaptureQueriesContext(connection) as filtered:
        assert EstimatedCountPaginator(Submission.objects.filter(status="sent"), 100).count == 0

    assert "pg_class" in unfiltered[0]["sql"]
    assert "COUNT(*)" in filtered[0]["sql"]


def test_filters_narrow_the_list(admin_client, make_submission):
    make_submission(email="failed@example.com")
    make_submission(status=Status.SENT, email="sent@example.com")
    make_submission(email="old@example.com", received=timezone.now() - timedelta(days=40))

    def emails(query):
        response = admin_client.get(CHANGELIST + query)
        return {row.email for row in response.context["cl"].result_list}

    make_submission(email="quote@example.com", form_name="quote")

    assert emails("?status__exact=sent") == {"sent@example.com"}
    assert emails("?form=contact") == {"failed@example.com", "sent@example.com", "old@example.com"}
    assert emails("?form=quote") == {"quote@example.com"}
    changelist = admin_client.get(CHANGELIST).context["cl"]
    form_filter = changelist.filter_specs[1]
    assert [choice["display"] for choice in form_filter.choices(changelist)][1:] == [
        "Contact us",
        "Request a quote",
    ], "every registered form, by its title"
    past_7_days = admin_client.get(CHANGELIST).context["cl"].filter_specs[-1].links[2]
    assert past_7_days[0] == "Past 7 days"
    assert emails(f"?{urlencode(past_7_days[1])}") == {
        "failed@example.com",
        "sent@example.com",
        "quote@example.com",
    }


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("ann@example.com", {"ann"}),
        ("ANN@", {"ann"}),
        ("bob", {"bob"}),
        ("van der", {"bob"}),
        ("1700000000000042", {"ann"}),
        ("", {"ann", "bob"}),
    ],
)
def test_search_by_email_name_and_wix_message_id(admin_client, make_submission, term, found):
    make_submission(email="ann@example.com", name="Ann Lee", wix_message_id="1700000000000042")
    make_submission(email="bob@example.com", name="Bob van der Berg")

    response = admin_client.get(CHANGELIST, {"q": term})

    assert {row.email.split("@")[0] for row in response.context["cl"].result_list} == found


def test_search_by_reference(admin_client, make_submission):
    wanted = make_submission()
    make_submission()

    response = admin_client.get(CHANGELIST, {"q": f" {wanted.reference} "})

    assert list(response.context["cl"].result_list) == [wanted]


def test_date_hierarchy_offers_the_years_and_months_there_are(admin_client, make_submission):
    make_submission(received=timezone.make_aware(datetime(2025, 11, 20, 12)))
    make_submission(received=timezone.make_aware(datetime(2026, 2, 3, 12)))

    top = admin_client.get(CHANGELIST).content.decode()
    year = admin_client.get(CHANGELIST, {"created_at__year": 2026}).content.decode()
    month = admin_client.get(
        CHANGELIST, {"created_at__year": 2026, "created_at__month": 2}
    ).content.decode()

    assert re.findall(r'created_at__year=(\d+)">\1<', top) == ["2025", "2026"]
    assert ">January 2026</a>" in year and ">February 2026</a>" in year
    assert ">March 2026<" not in year
    assert re.findall(r">February (\d+)</a>", month) == ["1", "2", "3"]


# --- The summary --------------------------------------------------------------------------------


def test_summary_counts_every_status_and_charts_the_last_30_days(admin_client, make_submission):
    today = timezone.localtime().replace(hour=12)
    for _ in range(3):
        make_submission(status=Status.SENT, received=today)
    make_submission(status=Status.FAILED, received=today)
    for _ in range(2):
        make_submission(status=Status.SENT, received=today - timedelta(days=3))
    make_submission(status=Status.FAILED, received=today - timedelta(days=40))
    make_submission(status=Status.RETRYING, received=today)

    page = admin_client.get(CHANGELIST).content.decode()

    counts = dict(re.findall(r'id="count-(\w+)">.*?<strong>(\d+)</strong>', page, re.S))
    assert counts == {
        "queued": "0",
        "sending": "0",
        "retrying": "1",
        "sent": "5",
        "failed": "2",
        "discarded": "0",
        "spam": "0",
    }
    days = re.findall(
        r"<title>[^<]*: (\d+) received: (\d+) sent, (\d+) failed, (\d+) other</title>", page
    )
    assert len(days) == 30
    assert days[-1] == ("5", "3", "1", "1")
    assert days[-4] == ("2", "2", "0", "0")
    assert sum(int(sent) for _, sent, _, _ in days) == 5
    assert sum(int(failed) for _, _, failed, _ in days) == 1, "40 days ago is off the chart"
    caption = re.search(r'<figcaption id="intake-chart-caption">(.*?)</figcaption>', page, re.S)[1]
    caption = re.sub(r"<[^>]+>|\s+", " ", caption).split()
    assert " ".join(caption) == (
        "Received in the last 30 days: 7, by day: 5 sent, 1 failed, "
        "1 other (waiting, discarded or spam). Busiest day: 5 received."
    )


def test_the_caption_counts_every_status_it_claims(admin_client, make_submission):
    """Each status received today is in the day's bar and the caption's total."""
    today = timezone.localtime().replace(hour=12)
    for status in Status.values:
        make_submission(status=status, received=today)

    page = admin_client.get(CHANGELIST).content.decode()

    day = re.findall(r"<title>[^<]*: (\d+) received: (\d+) sent, (\d+) failed, (\d+) other", page)
    assert day[-1] == (str(len(Status.values)), "1", "1", str(len(Status.values) - 2))
    assert f"Received in the last 30 days: {len(Status.values)}, by day:" in page
    assert f"Busiest day: {len(Status.values)} received." in page
    assert "<svg" in page and "<script" not in page.split("<svg")[1].split("</svg>")[0]


def test_chart_bars_share_one_scale(admin_client, make_submission):
    today = timezone.localtime().replace(hour=12)
    for _ in range(3):
        make_submission(status=Status.SENT, received=today)
    make_submission(status=Status.FAILED, received=today)

    page = admin_client.get(CHANGELIST).content.decode()

    sent = re.search(r'y="([\d.]+)" width="10" height="([\d.]+)" class="intake-chart-sent"', page)
    failed = re.search(
        r'y="([\d.]+)" width="10" height="([\d.]+)" class="intake-chart-failed"', page
    )
    assert (float(sent[1]), float(sent[2])) == (20.0, 60.0)
    assert (float(failed[1]), float(failed[2])) == (0.0, 20.0)


# --- The detail page ----------------------------------------------------------------------------


def test_detail_escapes_everything_submitted(admin_client, make_submission):
    hostile = make_submission(
        data={"first_name": XSS, "last_name": XSS, "message": XSS, XSS: XSS},
        email=f"{XSS}@example.com",
        name=XSS,
        last_error=XSS,
        user_agent=XSS,
        wix_conversation_id=XSS,
    )
    DeliveryAttempt.objects.create(
        submission=hostile,
        started_at=hostile.created_at,
        finished_at=hostile.created_at,
        outcome=DeliveryAttempt.Outcome.PERMANENT,
        error=XSS,
        request_id=XSS,
        wix_error_code=XSS,
    )

    page = admin_client.get(detail_url(hostile)).content.decode()

    assert "<script>alert" not in page
    assert page.count(ESCAPED_XSS) >= 10


def test_detail_previews_the_message_as_wix_shows_it(admin_client, make_submission):
    long = make_submission(data={"message": "a" * 9000}, name="Jane Doe")

    page = admin_client.get(detail_url(long)).content.decode()

    assert '<p class="intake-preview-title">Website contact form</p>' in page
    assert "A visitor sent this through the website contact form." in page
    assert "<th>Message (1/2)</th>" in page and "<th>Message (2/2)</th>" in page
    assert f"<th>Reference</th><td>{long.reference}</td>" in page
    assert "Preview text: Jane Doe: aaa" in page
    assert "<th>Subscribe to newsletter</th><td>No</td>" in page


def test_detail_shows_attempts_to_staff_who_may_view(staff_client, submission):
    started = timezone.now()
    DeliveryAttempt.objects.create(
        submission=submission,
        started_at=started,
        finished_at=started + timedelta(milliseconds=1500),
        outcome=DeliveryAttempt.Outcome.PERMANENT,
        http_status=401,
        wix_error_code="UNAUTHENTICATED",
        request_id="req-42",
        error="unauthorized",
    )

    page = staff_client.get(detail_url(submission)).content.decode()

    for shown in (
        "1.50 s",
        "Permanent failure",
        "401",
        "UNAUTHENTICATED",
        "req-42",
        "unauthorized",
    ):
        assert shown in page


def test_detail_links_to_the_sandbox_conversation(admin_client, make_submission):
    sent = make_submission(status=Status.SENT, wix_conversation_id="c0ffee")

    page = admin_client.get(detail_url(sent)).content.decode()

    assert 'href="/wix-sandbox/?conversation=c0ffee"' in page


def test_detail_links_to_the_real_wix_inbox(admin_client, make_submission, settings):
    settings.INBOX_INTAKE_WIX_SANDBOX = False
    settings.WIX_SITE_ID = "site-1"
    sent = make_submission(status=Status.SENT, wix_conversation_id="c0ffee")

    page = admin_client.get(detail_url(sent)).content.decode()

    assert 'href="https://manage.wix.com/dashboard/site-1/inbox/c0ffee"' in page


def test_detail_says_when_the_conversation_is_not_known(admin_client, submission):
    page = admin_client.get(detail_url(submission)).content.decode()

    assert "Not known yet" in page


# --- Files ---------------------------------------------------------------------------------------


@pytest.fixture
def with_files(submission, make_attachment):
    """The submission with a PDF uploaded to Wix and a picture not uploaded yet."""
    plan = make_attachment(
        submission,
        "plan.pdf",
        wix_file_id="0abec0_plan.pdf",
        wix_url="https://0abec0.filesusr.com/ugd/0abec0_plan.pdf",
        uploaded_at=timezone.now(),
    )
    photo = make_attachment(submission, "photo.png", png_bytes(40, 30))
    return plan, photo


def file_url(submission, position: int) -> str:
    return f"{CHANGELIST}{submission.pk}/files/{position}/"


def test_detail_lists_the_files_with_their_state_and_a_download_link(
    staff_client, submission, with_files
):
    plan, photo = with_files

    page = staff_client.get(detail_url(submission)).content.decode()

    table = page.split('<table class="intake-files">')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(<td.*?)</tr>", table)
    assert [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows] == [
        [
            f'<a href="{file_url(submission, 0)}">plan.pdf</a>'
            f'<span class="intake-quiet">application/pdf · {len(PDF_BYTES)}\xa0bytes</span>',
            f"Uploaded {formats.localize(timezone.localtime(plan.uploaded_at))}"
            '<span class="intake-quiet">0abec0_plan.pdf</span>',
        ],
        [
            f'<a href="{file_url(submission, 1)}">photo.png</a>'
            f'<span class="intake-quiet">image/png · {photo.size}\xa0bytes</span>',
            "Not uploaded yet",
        ],
    ]


def test_a_submission_without_files_has_no_files_section(staff_client, submission):
    page = staff_client.get(detail_url(submission)).content.decode()

    assert "intake-files" not in page
    assert '<ul class="intake-preview-media"></ul>' in page


def test_the_preview_shows_pictures_as_pictures_and_other_files_as_chips(
    staff_client, submission, with_files
):
    page = staff_client.get(detail_url(submission)).content.decode()

    media = page.split('<ul class="intake-preview-media">')[1].split("</ul>")[0]
    chip = f'<a class="intake-file-chip" href="{file_url(submission, 0)}">'
    assert media == (
        f'<li class="intake-media-file">{chip}'
        f'<span class="intake-file-name">plan.pdf</span>'
        f'<span class="intake-quiet">{len(PDF_BYTES)}\xa0bytes</span></a></li>'
        f'<li class="intake-media-image"><a href="{file_url(submission, 1)}">'
        f'<img src="{file_url(submission, 1)}?inline=1" alt="photo.png" width="40" height="30">'
        "</a></li>"
    )


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        ((40, 30), (40, 30)),
        ((800, 600), (240, 180)),
        ((300, 900), (60, 180)),
        ((4000, 1), (240, 1)),
    ],
)
def test_a_picture_is_shown_within_the_previews_box_with_its_proportions(size, shown):
    assert thumbnail_size(*size) == shown


def test_a_picture_of_a_type_that_can_carry_a_script_is_a_chip(
    staff_client, submission, make_attachment
):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    make_attachment(submission, "logo.svg", svg, "image/svg+xml", width=10, height=10)

    page = staff_client.get(detail_url(submission)).content.decode()
    response = staff_client.get(file_url(submission, 0) + "?inline=1")

    assert "<img" not in page.split('<ul class="intake-preview-media">')[1].split("</ul>")[0]
    assert response["Content-Disposition"] == 'attachment; filename="logo.svg"'


def test_file_names_are_escaped(staff_client, submission, make_attachment):
    make_attachment(submission, f"{XSS}.pdf")

    page = staff_client.get(detail_url(submission)).content.decode()

    assert "<script>alert" not in page
    assert page.count(f"{ESCAPED_XSS}.pdf") == 2  # the list and the preview


def test_staff_who_may_view_download_a_file_from_the_storage(staff_client, submission, with_files):
    response = staff_client.get(file_url(submission, 0))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="plan.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_picture_is_shown_inline_only_when_asked(staff_client, submission, with_files):
    inline = staff_client.get(file_url(submission, 1) + "?inline=1")
    download = staff_client.get(file_url(submission, 1))
    pdf_asked_inline = staff_client.get(file_url(submission, 0) + "?inline=1")

    assert inline["Content-Disposition"] == 'inline; filename="photo.png"'
    assert inline["Content-Type"] == "image/png"
    assert b"".join(inline.streaming_content) == png_bytes(40, 30)
    assert download["Content-Disposition"] == 'attachment; filename="photo.png"'
    assert pdf_asked_inline["Content-Disposition"] == 'attachment; filename="plan.pdf"'


def test_a_name_beyond_ascii_is_kept_in_the_download(staff_client, submission, make_attachment):
    make_attachment(submission, 'plan d\'étage "v2".pdf')

    response = staff_client.get(file_url(submission, 0))

    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''plan%20d%27%C3%A9tage%20%22v2%22.pdf"
    )


def test_downloads_need_the_view_permission(client, django_user_model, submission, with_files):
    url = file_url(submission, 0)

    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")

    staff_login(client, django_user_model, "nobody")
    assert client.get(url).status_code == 403

    visitor = django_user_model.objects.create_user("visitor", password="pw-123456")
    visitor.user_permissions.add(Permission.objects.get(codename="view_submission"))
    client.force_login(visitor)
    assert client.get(url).status_code == 302, "not staff: sent to the admin's login"


def test_a_file_that_is_not_there_is_404(admin_client, submission, with_files):
    plan, _ = with_files

    assert admin_client.get(file_url(submission, 7)).status_code == 404
    assert admin_client.get(f"{CHANGELIST}999999/files/0/").status_code == 404
    plan.file.storage.delete(plan.file.name)
    assert admin_client.get(file_url(submission, 0)).status_code == 404


def test_detail_offers_only_what_the_status_and_permissions_allow(
    admin_client, retry_client, make_submission
):
    failed = make_submission(status=Status.FAILED)
    sent = make_submission(status=Status.SENT)

    superuser_failed = admin_client.get(detail_url(failed)).content.decode()
    superuser_sent = admin_client.get(detail_url(sent)).content.decode()
    retrier_failed = retry_client.get(detail_url(failed)).content.decode()

    assert 'id="retry-now"' in superuser_failed and 'id="discard"' in superuser_failed
    assert 'id="retry-now"' not in superuser_sent and 'id="discard"' not in superuser_sent
    assert 'id="retry-now"' in retrier_failed and 'id="discard"' not in retrier_failed


def test_staff_who_may_only_view_see_no_buttons_or_actions(staff_client, submission):
    detail = staff_client.get(detail_url(submission)).content.decode()
    changelist = staff_client.get(CHANGELIST).content.decode()

    assert 'id="retry-now"' not in detail and 'id="discard"' not in detail
    assert "retry_selected" not in changelist and "discard_selected" not in changelist
    assert 'id="retry-all-failed"' not in changelist
    assert "export_selected" in changelist


def test_retry_now_requeues_and_says_so(
    retry_client, submission, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = retry_client.post(f"{CHANGELIST}{submission.pk}/retry/", follow=True)

    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    assert len(callbacks) == 1, "the relay enqueued it at once"
    assert response.redirect_chain[-1][0] == detail_url(submission)
    assert messages_of(response) == ["1 submission queued for delivery."]


def test_retry_now_on_a_sent_submission_says_why_nothing_happened(admin_client, make_submission):
    sent = make_submission(status=Status.SENT)

    response = admin_client.post(f"{CHANGELIST}{sent.pk}/retry/", follow=True)

    sent.refresh_from_db()
    assert sent.status == Status.SENT
    assert messages_of(response) == ["0 submissions queued for delivery. Skipped: 1 already sent."]


def test_discard_stops_delivery_and_says_so(admin_client, submission):
    response = admin_client.post(f"{CHANGELIST}{submission.pk}/discard/", follow=True)

    submission.refresh_from_db()
    assert submission.status == Status.DISCARDED
    assert messages_of(response) == ["1 submission discarded."]


def test_retry_and_discard_buttons_only_answer_post(admin_client, submission):
    assert admin_client.get(f"{CHANGELIST}{submission.pk}/retry/").status_code == 405
    assert admin_client.get(f"{CHANGELIST}{submission.pk}/discard/").status_code == 405
    assert admin_client.get(f"{CHANGELIST}retry-failed/").status_code == 405


def test_retry_of_an_unknown_submission_is_404(admin_client, db):
    assert admin_client.post(f"{CHANGELIST}999999/retry/").status_code == 404


# --- Permissions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["{pk}/retry/", "{pk}/discard/", "retry-failed/"], ids=["retry", "discard", "all"]
)
def test_staff_without_the_permission_get_403_from_the_views(staff_client, submission, path):
    response = staff_client.post(CHANGELIST + path.format(pk=submission.pk))

    assert response.status_code == 403
    submission.refresh_from_db()
    assert submission.status == Status.FAILED


@pytest.mark.parametrize("action", ["retry_selected", "discard_selected", "delete_selected"])
def test_staff_without_the_permission_get_403_from_the_actions(staff_client, submission, action):
    response = staff_client.post(
        CHANGELIST, {"action": action, "_selected_action": [submission.pk]}
    )

    assert response.status_code == 403
    submission.refresh_from_db()
    assert submission.status == Status.FAILED


def test_retry_permission_does_not_allow_discarding(retry_client, submission):
    assert retry_client.post(f"{CHANGELIST}{submission.pk}/discard/").status_code == 403
    response = retry_client.post(
        CHANGELIST, {"action": "discard_selected", "_selected_action": [submission.pk]}
    )
    assert response.status_code == 403


def test_nobody_adds_edits_or_deletes_submissions(admin_client, submission):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}{submission.pk}/delete/").status_code == 403
    response = admin_client.post(detail_url(submission), {"email": "evil@example.com"})

    assert response.status_code == 403
    submission.refresh_from_db()
    assert submission.email == "jane@example.com"
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()


# --- Actions and bulk retry ---------------------------------------------------------------------


def test_retry_action_requeues_and_says_why_others_were_skipped(
    retry_client, make_submission, django_capture_on_commit_callbacks
):
    failed = make_submission(status=Status.FAILED)
    sent = make_submission(status=Status.SENT)
    discarded = make_submission(status=Status.DISCARDED)
    sending = make_submission(status=Status.SENDING)

    with django_capture_on_commit_callbacks() as callbacks:
        response = retry_client.post(
            CHANGELIST,
            {
                "action": "retry_selected",
                "_selected_action": [s.pk for s in (failed, sent, discarded, sending)],
            },
            follow=True,
        )

    failed.refresh_from_db()
    assert failed.status == Status.QUEUED
    assert len(callbacks) == 1
    assert messages_of(response) == [
        "1 submission queued for delivery. "
        "Skipped: 1 already sent, 1 being sent right now, 1 discarded."
    ]


def test_discard_action(admin_client, make_submission):
    queued = make_submission(status=Status.QUEUED)
    sent = make_submission(status=Status.SENT)

    response = admin_client.post(
        CHANGELIST,
        {"action": "discard_selected", "_selected_action": [queued.pk, sent.pk]},
        follow=True,
    )

    queued.refresh_from_db()
    assert queued.status == Status.DISCARDED
    assert messages_of(response) == ["1 submission discarded. Skipped: 1 already sent."]


def test_retry_all_failed_takes_thousands_in_a_few_queries(
    retry_client, make_submission, django_assert_max_num_queries
):
    template = make_submission(status=Status.FAILED)
    Submission.objects.bulk_create(
        Submission(data=template.data, email=template.email, status=Status.FAILED)
        for _ in range(2_999)
    )
    sent = make_submission(status=Status.SENT)
    assert 'id="retry-all-failed"' in retry_client.get(CHANGELIST).content.decode()

    with django_assert_max_num_queries(12):
        response = retry_client.post(f"{CHANGELIST}retry-failed/")

    assert response.status_code == 302
    assert Submission.objects.filter(status=Status.QUEUED).count() == 3_000
    sent.refresh_from_db()
    assert sent.status == Status.SENT
    page = retry_client.get(response.url)
    assert messages_of(page) == ["3000 submissions queued for delivery."]


# --- CSV export ---------------------------------------------------------------------------------


def test_export_selected_as_csv(staff_client, make_submission):
    chosen = make_submission(
        status=Status.SENT,
        sent_at=timezone.now(),
        wix_message_id="m-1",
        data={"message": "Hi, 'quoted' and \"double\"\nsecond line"},
    )
    make_submission()

    response = staff_client.post(
        CHANGELIST, {"action": "export_selected", "_selected_action": [chosen.pk]}
    )

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="submissions-')
    header, row = csv_rows(response)
    assert header == [
        "reference",
        "received",
        "status",
        "name",
        "email",
        "form",
        "attempts",
        "sent at",
        "last error",
        "submitted data",
    ]
    assert row[:7] == [
        str(chosen.reference),
        timezone.localtime(chosen.created_at).isoformat(timespec="seconds"),
        "Sent",
        "Jane Doe",
        "jane@example.com",
        "contact",
        "0",
    ]
    assert row[7] == timezone.localtime(chosen.sent_at).isoformat(timespec="seconds")
    assert '"message": "Hi, \'quoted\' and \\"double\\"\\nsecond line"' in row[9]


def test_export_follows_the_lists_filters_and_search(staff_client, make_submission):
    make_submission(status=Status.FAILED, email="ann@example.com")
    make_submission(status=Status.FAILED, email="bob@example.com")
    make_submission(status=Status.SENT, email="ann@example.com")

    rows = csv_rows(staff_client.get(f"{CHANGELIST}export/?status__exact=failed&q=ann"))

    assert [row[4] for row in rows[1:]] == ["ann@example.com"]


def test_export_defuses_spreadsheet_formulas(admin_client, make_submission):
    make_submission(
        name='=HYPERLINK("http://evil")',
        email="+1@example.com",
        last_error="-2+3",
        form_name="@SUM(A1)",
        data={"message": "=1+1"},
    )
    make_submission(name="\tTabbed", email="\rcarriage@example.com")

    rows = csv_rows(admin_client.get(f"{CHANGELIST}export/"))

    cells = {cell for row in rows[1:] for cell in row}
    assert {
        '\'=HYPERLINK("http://evil")',
        "'+1@example.com",
        "'-2+3",
        "'@SUM(A1)",
        "'\tTabbed",
        "'\rcarriage@example.com",
    } <= cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)


def test_export_needs_the_view_permission(client, django_user_model, submission):
    staff_login(client, django_user_model, "nobody")

    assert client.get(f"{CHANGELIST}export/").status_code == 403


def test_export_streams_in_constant_queries(admin_client, make_submission):
    for _ in range(30):
        make_submission()

    response = admin_client.get(f"{CHANGELIST}export/")
    with CaptureQueriesContext(connection) as captured:
        rows = csv_rows(response)

    assert len(rows) == 31
    assert len(captured) <= 2


@pytest.mark.parametrize(
    "cell",
    [
        "\u200b=1+1",  # zero-width space
        "\ufeff=1+1",  # byte-order mark
        "\u2060@SUM(A1)",  # word joiner
        " =1+1",
        "\u00a0=1+1",  # no-break space
        "\x01=1+1",
    ],
)
def test_export_defuses_formulas_behind_invisible_characters(admin_client, make_submission, cell):
    make_submission(name=cell)

    rows = csv_rows(admin_client.get(f"{CHANGELIST}export/"))

    assert rows[1][3] == f"'{cell}"


# --- Rows that hold a lone surrogate --------------------------------------------------------------


@pytest.fixture
def rows_hold_a_lone_surrogate(monkeypatch):
    """Read every stored message back with a lone surrogate at its end, as SQLite (`make run`)
    can store one; PostgreSQL refuses to."""
    read = JSONField.from_db_value

    def with_surrogate(self, value, expression, connection):
        data = read(self, value, expression, connection)
        if isinstance(data, dict) and "message" in data:
            data["message"] += "\udfff"
        return data

    monkeypatch.setattr(JSONField, "from_db_value", with_surrogate)


@pytest.mark.usefixtures("rows_hold_a_lone_surrogate")
def test_a_row_with_a_lone_surrogate_is_shown_and_exported(admin_client, make_submission):
    first = make_submission(data={"message": "first"})
    make_submission(data={"message": "second"})

    page = admin_client.get(f"{CHANGELIST}{first.pk}/change/")
    rows = csv_rows(admin_client.get(f"{CHANGELIST}export/"))

    assert page.status_code == 200
    assert "first\ufffd" in page.content.decode()
    assert len(rows) == 3
    assert {json.loads(row[9])["message"] for row in rows[1:]} == {"first\ufffd", "second\ufffd"}


# --- The date drill-down --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"created_at__day": 40},
        {"created_at__day": 31, "created_at__month": 2},
        {"created_at__day": "x"},
        {"created_at__month": 13},
        {"created_at__year": 99999},
        {"created_at__day": 31},  # the only month there is may have fewer days
    ],
)
def test_a_date_that_does_not_exist_never_breaks_the_list(admin_client, make_submission, query):
    make_submission(received=timezone.make_aware(datetime(2026, 2, 10)))

    response = admin_client.get(CHANGELIST, query)

    assert response.status_code in (200, 302)
