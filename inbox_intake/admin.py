"""Staff review of every submission and every delivery attempt. Nothing submitted is editable.

The admin only shows things and calls services: retrying, discarding, counting and exporting are
done by the same functions the management commands and the relay use.
"""

import json
from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import chain
from typing import NamedTuple
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min, prefetch_related_objects
from django.http import FileResponse, Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, capfirst
from django.views.decorators.http import require_POST

from .conf import intake_settings
from .form_message import MessageTooLarge, form_message_for
from .forms import registered_forms
from .models import Attachment, DeliveryAttempt, StatusTally, Submission, WixMemberLink
from .services import reporting, staff_actions
from .services.reporting import DayOutcome
from .text import attempts as attempts_text

Status = Submission.Status
#: The pictures staff see in the page rather than download, by their sniffed type: formats a
#: browser only draws (an SVG, which can carry a script, is not one of them).
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def thumbnail_size(width: int, height: int, box: tuple[int, int] = (240, 180)) -> tuple[int, int]:
    """A picture's size in the preview: within `box`, never enlarged, its proportions kept. Given
    as the <img>'s size, it holds the picture's place before the picture has loaded."""
    scale = min(1, box[0] / width, box[1] / height)
    return max(round(width * scale), 1), max(round(height * scale), 1)


def wix_inbox_url(submission: Submission) -> str:
    """Where staff can read the submission's conversation: the sandbox's page, or the Wix
    dashboard's Inbox. Empty while the conversation is unknown, or the site id is (OAuth apps)."""
    conversation_id = submission.wix_conversation_id
    if not conversation_id:
        return ""
    if intake_settings.uses_sandbox:
        return f"{reverse('wix_sandbox:inbox')}?{urlencode({'conversation': conversation_id})}"
    if not intake_settings.WIX_SITE_ID:
        return ""
    dashboard = intake_settings.WIX_DASHBOARD_URL.rstrip("/")
    return f"{dashboard}/{intake_settings.WIX_SITE_ID}/inbox/{conversation_id}"


def may_open_conversation(user) -> bool:
    """Whether following `wix_inbox_url` gets this user anywhere: the Wix dashboard is Wix's to
    guard, the sandbox's page needs its own permission (a link to a 403 helps nobody)."""
    return not intake_settings.uses_sandbox or user.has_perm("wix_sandbox.use_sandbox")


def _with_fields(fieldsets, section: str, *, add=(), drop=()):
    """`fieldsets` with fields added to, or dropped from, the section of that name."""
    changed = []
    for name, options in fieldsets:
        if name == section:
            fields = tuple(field for field in options["fields"] if field not in drop) + add
            options = {**options, "fields": fields}
        changed.append((name, options))
    return tuple(changed)


class EstimatedCountPaginator(Paginator):
    """Counting every row of a big table is a full scan on PostgreSQL; the unfiltered list uses
    the planner's row estimate instead. Filtered lists, and small tables, are counted exactly."""

    exact_below = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [connection.ops.quote_name(queryset.model._meta.db_table)],
                )
                estimate = cursor.fetchone()[0]
            if estimate >= self.exact_below:
                return estimate
        return super().count


class FormFilter(admin.SimpleListFilter):
    """The forms this site has, known without asking the database for its distinct values."""

    title = "form"
    parameter_name = "form"

    def lookups(self, request, model_admin):
        return [(slug, entry.title) for slug, entry in registered_forms().items()]

    def queryset(self, request, queryset):
        return queryset.filter(form_name=self.value()) if self.value() else queryset


class ReceivedFilter(admin.DateFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "received"


class SubmissionChangeList(ChangeList):
    @cached_property
    def date_hierarchy_links(self) -> dict:
        """The date drill-down, as Django's admin/date_hierarchy.html takes it.

        Django's own asks the database for the distinct years, months or days of the listed
        rows, a full scan of a big table. This offers every one between the first and the last
        submission (two index look-ups), so a quiet month may be offered and list nothing.
        """
        span = self.root_queryset.aggregate(first=Min("created_at"), last=Max("created_at"))
        if not span["first"]:
            return {"show": False}
        first, last = timezone.localdate(span["first"]), timezone.localdate(span["last"])
        year, month, day = self._level(first, last)
        if year and month and day:
            moment = date(year, month, day)
            back = self._choice(moment, "YEAR_MONTH_FORMAT", "year", "month")
            choices = [{"title": capfirst(formats.date_format(moment, "MONTH_DAY_FORMAT"))}]
        elif year and month:
            back = self._choice(date(year, month, 1), "Y", "year")
            days = (date(year, month, n) for n in range(1, monthrange(year, month)[1] + 1))
            choices = [
                self._choice(moment, "MONTH_DAY_FORMAT", "year", "month", "day")
                for moment in days
                if first <= moment <= last
            ]
        elif year:
            back = {"link": self.get_query_string({}, ["created_at__"]), "title": "All dates"}
            months = (date(year, n, 1) for n in range(1, 13))
            choices = [
                self._choice(moment, "YEAR_MONTH_FORMAT", "year", "month")
                for moment in months
                if first.replace(day=1) <= moment <= last
            ]
        else:
            back = None
            years = (date(n, 1, 1) for n in range(first.year, last.year + 1))
            choices = [self._choice(moment, "Y", "year") for moment in years]
        return {"show": True, "back": back, "choices": choices}

    def _level(self, first: date, last: date) -> tuple[int, int, int]:
        """The year, month and day to list from (0 where none): as chosen, or narrowed at once
        when every submission falls in one year, or one month."""
        year, month, day = self._chosen_date()
        if not year and first.year == last.year:
            year = first.year
            if first.month == last.month:
                month = first.month
        if year and month and day > monthrange(year, month)[1]:
            day = 0  # a day of the month, chosen when the month had not been (?created_at__day=31)
        return year, month, day

    def _choice(self, moment: date, title_format: str, *parts: str) -> dict:
        """One link of the drill-down: `moment` filtered by its `parts` (year, month, day)."""
        filters = {f"created_at__{part}": getattr(moment, part) for part in parts}
        return {
            "link": self.get_query_string(filters, ["created_at__"]),
            "title": capfirst(formats.date_format(moment, title_format)),
        }

    def _chosen_date(self) -> tuple[int, int, int]:
        """The year, month and day chosen in the drill-down (0 where none is), or none of them
        if together they make no date (`?created_at__day=40`): the links then start over."""
        try:
            year, month, day = (
                int(self.params.get(f"created_at__{part}") or 0)
                for part in ("year", "month", "day")
            )
            date(year or 2000, month or 1, day or 1)  # 2000 is a leap year: every day exists in it
        except ValueError:
            return 0, 0, 0
        return year, month, day


class StatusCount(NamedTuple):
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class BarSegment:
    kind: str  # "sent", "failed" or "other": its colour
    y: float
    height: float


@dataclass(frozen=True)
class ChartBar:
    outcome: DayOutcome
    x: float
    segments: list[BarSegment]


class OutcomeChart:
    """Where the summary's bars go: one a day, the day's received submissions stacked (sent at the
    bottom, then failed, then the others), all on one scale, with room below for the first and
    last dates. The template draws them as inline SVG."""

    bars_height = 80
    labels_height = 16
    pitch = 14
    bar_width = 10

    def __init__(self, days: list[DayOutcome]):
        self.width = len(days) * self.pitch
        self.height = self.bars_height + self.labels_height
        self.label_y = self.height - 3
        self.peak = max((day.received for day in days), default=0)
        self.total_received = sum(day.received for day in days)
        self.total_sent = sum(day.sent for day in days)
        self.total_failed = sum(day.failed for day in days)
        self.total_other = sum(day.other for day in days)
        self.first_day, self.last_day = days[0].day, days[-1].day
        scale = self.bars_height / (self.peak or 1)
        self.bars = []
        for index, day in enumerate(days):
            segments, top = [], float(self.bars_height)
            for kind in ("sent", "failed", "other"):
                if count := getattr(day, kind):
                    height = round(count * scale, 1)
                    top = round(top - height, 1)
                    segments.append(BarSegment(kind, top, height))
            x = index * self.pitch + (self.pitch - self.bar_width) / 2
            self.bars.append(ChartBar(day, x, segments))


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    verbose_name_plural = "delivery attempts (newest first)"
    fields = (
        "started_at",
        "took",
        "outcome",
        "http_status",
        "wix_error_code",
        "request_id",
        "error",
    )
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # Attempts are part of a submission's story: whoever may read it reads them too.
        return self.admin_site.get_model_admin(Submission).has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="duration")
    def took(self, attempt):
        return f"{attempt.duration.total_seconds():.2f} s"


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    # Four columns, so that the list fits a laptop screen beside the admin's sidebar and filters:
    # the form under the date, who in one cell, the delivery's state (attempts, when sent) under
    # its badge, and the last error cut to two lines (all of it on hover).
    list_display = ("received_with_form", "submitter", "delivery", "short_error")
    list_filter = ("status", FormFilter, ("created_at", ReceivedFilter))
    # The fields searched; get_search_results says how, so that each lookup can use an index.
    search_fields = ("reference", "wix_message_id", "email", "name")
    search_help_text = "A reference, a Wix message id, an email (or how it starts), or a name."
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    sortable_by = ("received_with_form", "submitter")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts would count the whole table once per filter; the summary has the counts.
    show_facets = admin.ShowFacets.NEVER
    inlines = [DeliveryAttemptInline]
    actions = ["retry_selected", "discard_selected", "export_selected"]
    fieldsets = (
        (
            "Submission",
            {"fields": ("reference", "intake_form", "received", "submitted_data")},
        ),
        (
            "Delivery",
            {
                "fields": (
                    "status_badge",
                    "attempt_count",
                    "attempts_since_retry",
                    "next_attempt_at",
                    "last_error",
                    "sent_at",
                )
            },
        ),
        ("The message as the Wix Inbox shows it", {"fields": ("message_preview",)}),
        (
            "Wix",
            {
                "fields": (
                    "wix_inbox_link",
                    "wix_contact_id",
                    "wix_conversation_id",
                    "wix_message_id",
                    "wix_member_id",
                    "wix_anonymous_visitor_id",
                )
            },
        ),
        ("Visitor", {"fields": ("client_ip", "user_agent")}),
    )

    class Media:
        css = {"all": ["inbox_intake/admin.css"]}
        js = ["inbox_intake/admin.js"]

    def get_fieldsets(self, request, obj=None):
        """The files under the submitted data, for a submission that has some (most forms take
        none); the link to the conversation only for staff who may open it."""
        fieldsets = self.fieldsets
        if obj is not None and obj.attachments.all():
            fieldsets = _with_fields(fieldsets, "Submission", add=("attachment_list",))
        if not may_open_conversation(request.user):
            fieldsets = _with_fields(fieldsets, "Wix", drop=("wix_inbox_link",))
        return fieldsets

    def get_object(self, request, object_id, from_field=None):
        submission = super().get_object(request, object_id, from_field)
        if submission is not None:
            # Read once for the page: the fieldsets, the list of files and the preview.
            prefetch_related_objects([submission], "attachments")
        return submission

    # --- Permissions: submissions are read, retried and discarded; never added, edited, deleted.

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Submission._meta.fields] + [
            "intake_form",
            "received",
            "submitted_data",
            "attachment_list",
            "status_badge",
            "message_preview",
            "wix_inbox_link",
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("inbox_intake.retry_submission")

    def has_discard_permission(self, request):
        return request.user.has_perm("inbox_intake.discard_submission")

    # --- The list

    def get_changelist(self, request, **kwargs):
        return SubmissionChangeList

    def get_search_results(self, request, queryset, search_term):
        return queryset.search(search_term), False

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            self._refuse_forbidden_actions(request)
            return super().changelist_view(request, extra_context)
        counts = StatusTally.counts()
        context = {
            "status_counts": [
                StatusCount(value, label, counts[value]) for value, label in Status.choices
            ],
            "failed_count": counts[Status.FAILED],
            "drain": reporting.drain_estimate(counts),
            "chart": OutcomeChart(reporting.daily_outcomes()),
            "has_retry_permission": self.has_retry_permission(request),
        }
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def _refuse_forbidden_actions(self, request):
        """Django quietly ignores a posted action the user may not run; refusing it says so."""
        known = {*self.actions, *dict(self.admin_site.actions)}
        permitted = self.get_actions(request)
        if any(name in known and name not in permitted for name in request.POST.getlist("action")):
            raise PermissionDenied

    @admin.display(description="received", ordering="created_at")
    def received(self, submission):
        # Formatted here: the detail page shows a method's value as it is given.
        return formats.localize(timezone.localtime(submission.created_at))

    @admin.display(description="form")
    def intake_form(self, submission):
        return submission.form_name

    @admin.display(description="received", ordering="created_at")
    def received_with_form(self, submission):
        return format_html(
            '{}<span class="intake-quiet">{} form</span>',
            self.received(submission),
            submission.form_name,
        )

    @admin.display(description="status")
    def status_badge(self, submission):
        return format_html(
            '<span class="intake-status intake-status--{}">{}</span>',
            submission.status,
            submission.get_status_display(),
        )

    @admin.display(description="submitter", ordering="email")
    def submitter(self, submission):
        return format_html(
            '{}<span class="intake-quiet intake-email" title="{}">{}</span>',
            submission.name,
            submission.email,
            submission.email,
        )

    @admin.display(description="status")
    def delivery(self, submission):
        details = [attempts_text(submission.attempt_count)]
        if submission.sent_at:
            sent_at = formats.localize(timezone.localtime(submission.sent_at))
            details.append(f"sent {sent_at}")
        return format_html(
            '{}<span class="intake-quiet">{}</span>',
            self.status_badge(submission),
            ", ".join(details),
        )

    @admin.display(description="last error")
    def short_error(self, submission):
        if not submission.last_error:
            return ""
        # Cut here as well as by CSS: a cell never carries kilobytes of error text.
        return format_html(
            '<span class="intake-clamp" title="{}">{}</span>',
            submission.last_error,
            Truncator(submission.last_error).chars(200),
        )

    # --- The detail page

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(
            can_retry=self.has_retry_permission(request)
            and obj.status in Submission.RETRYABLE_STATUSES,
            can_discard=self.has_discard_permission(request)
            and obj.status in Submission.DISCARDABLE_STATUSES,
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="submitted data")
    def submitted_data(self, submission):
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            (
                (key, value if isinstance(value, str) else json.dumps(value))
                for key, value in submission.data.items()
            ),
        )
        return format_html('<table class="intake-data">{}</table>', rows)

    @admin.display(description="files")
    def attachment_list(self, submission):
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a><span class="intake-quiet">{} · {}</span></td>'
            "<td>{}</td></tr>",
            (
                (
                    self._attachment_url(attachment),
                    attachment.original_name,
                    attachment.content_type,
                    filesizeformat(attachment.size),
                    self._in_wix(attachment),
                )
                for attachment in submission.attachments.all()
            ),
        )
        return format_html(
            '<table class="intake-files"><thead><tr><th>file (download)</th><th>in Wix</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    def _in_wix(self, attachment: Attachment):
        if not attachment.is_uploaded:
            return "Not uploaded yet"
        uploaded_at = formats.localize(timezone.localtime(attachment.uploaded_at))
        return format_html(
            'Uploaded {}<span class="intake-quiet">{}</span>', uploaded_at, attachment.wix_file_id
        )

    @admin.display(description="preview")
    def message_preview(self, submission):
        try:
            message = form_message_for(submission)
        except MessageTooLarge as error:
            return format_html('<p class="errornote">Wix cannot take this message: {}</p>', error)
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", message.fields)
        media = format_html_join(
            "", "{}", ((self._media_item(a),) for a in submission.attachments.all())
        )
        return format_html(
            '<div class="intake-preview">'
            '<p class="intake-preview-title">{}</p>'
            '<p class="intake-preview-description">{}</p>'
            '<table class="intake-data">{}</table>'
            '<ul class="intake-preview-media">{}</ul>'
            '<p class="intake-preview-text">Preview text: {}</p>'
            "</div>",
            message.title,
            message.description,
            rows,
            media,
            message.preview_text,
        )

    def _media_item(self, attachment: Attachment):
        """One of the message's media as the Inbox shows it: a picture, or a file's chip."""
        url = self._attachment_url(attachment)
        if attachment.is_image and attachment.content_type in INLINE_IMAGE_TYPES:
            width, height = thumbnail_size(attachment.width, attachment.height)
            return format_html(
                '<li class="intake-media-image"><a href="{}"><img src="{}?inline=1" alt="{}"'
                ' width="{}" height="{}"></a></li>',
                url,
                url,
                attachment.original_name,
                width,
                height,
            )
        return format_html(
            '<li class="intake-media-file"><a class="intake-file-chip" href="{}">'
            '<span class="intake-file-name">{}</span><span class="intake-quiet">{}</span></a></li>',
            url,
            attachment.original_name,
            filesizeformat(attachment.size),
        )

    def _attachment_url(self, attachment: Attachment) -> str:
        opts = self.opts
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_attachment",
            args=[attachment.submission_id, attachment.position],
        )

    @admin.display(description="conversation")
    def wix_inbox_link(self, submission):
        url = wix_inbox_url(submission)
        if not url:
            return "Not known yet: the submission has not reached a Wix conversation."
        where = "the Wix sandbox" if url.startswith("/") else "the Wix Inbox"
        return format_html('<a href="{}" target="_blank" rel="noopener">Open in {}</a>', url, where)

    # --- Retry, discard, export

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("retry-failed/", view(self.retry_failed_view), name=f"{name}_retry_failed"),
            path("export/", view(self.export_view), name=f"{name}_export"),
            path("<path:object_id>/retry/", view(self.retry_view), name=f"{name}_retry"),
            path("<path:object_id>/discard/", view(self.discard_view), name=f"{name}_discard"),
            path(
                "<path:object_id>/files/<int:position>/",
                view(self.attachment_view),
                name=f"{name}_attachment",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Retry selected submissions", permissions=["retry"])
    def retry_selected(self, request, queryset):
        self._report(request, staff_actions.retry_submissions(queryset), "queued for delivery")

    @admin.action(description="Discard selected submissions", permissions=["discard"])
    def discard_selected(self, request, queryset):
        self._report(request, staff_actions.discard_submissions(queryset), "discarded")

    @admin.action(description="Export selected submissions as CSV", permissions=["view"])
    def export_selected(self, request, queryset):
        return self._csv_response(queryset)

    @method_decorator(require_POST)
    def retry_failed_view(self, request):
        if not self.has_retry_permission(request):
            raise PermissionDenied
        # One UPDATE however many there are; the relay then sends them in batches.
        result = staff_actions.retry_submissions(Submission.objects.filter(status=Status.FAILED))
        self._report(request, result, "queued for delivery")
        return redirect("admin:inbox_intake_submission_changelist")

    @method_decorator(require_POST)
    def retry_view(self, request, object_id):
        if not self.has_retry_permission(request):
            raise PermissionDenied
        return self._act_on_one(
            request, object_id, staff_actions.retry_submissions, "queued for delivery"
        )

    @method_decorator(require_POST)
    def discard_view(self, request, object_id):
        if not self.has_discard_permission(request):
            raise PermissionDenied
        return self._act_on_one(request, object_id, staff_actions.discard_submissions, "discarded")

    def export_view(self, request):
        """The list as it is filtered and searched right now, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("These filters are not valid.")
        return self._csv_response(changelist.queryset)

    def attachment_view(self, request, object_id, position):
        """One of a submission's files, from its storage, to staff who may view submissions: a
        download, or with ?inline=1 a picture shown in the page (a type browsers only draw, as
        told by the file's content when it was stored). Never a public URL of the storage."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        submission = self.get_object(request, unquote(object_id))
        if submission is None:
            raise Http404("No such submission.")
        attachment = next((a for a in submission.attachments.all() if a.position == position), None)
        if attachment is None:
            raise Http404("The submission has no such file.")
        inline = (
            request.GET.get("inline") == "1"
            and attachment.is_image
            and attachment.content_type in INLINE_IMAGE_TYPES
        )
        try:
            content = attachment.file.storage.open(attachment.file.name, "rb")
        except FileNotFoundError:
            raise Http404("The file is no longer in the storage.") from None
        response = FileResponse(
            content,
            as_attachment=not inline,
            filename=attachment.original_name,
            content_type=attachment.content_type,
        )
        # The browser must take the type we sniffed, never guess one, and run nothing it opens.
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
        return response

    def _act_on_one(self, request, object_id, service, verb):
        submission = self.get_object(request, unquote(object_id))
        if submission is None:
            raise Http404("No such submission.")
        self._report(request, service(Submission.objects.filter(pk=submission.pk)), verb)
        return redirect("admin:inbox_intake_submission_change", submission.pk)

    def _report(self, request, result: staff_actions.BulkResult, verb: str):
        level = messages.SUCCESS if result.done else messages.WARNING
        self.message_user(request, result.describe(verb), level)

    def _csv_response(self, queryset):
        # The byte-order mark makes Excel read the file as UTF-8, so names keep their accents.
        lines = chain(["\ufeff"], reporting.submissions_csv(queryset))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        filename = f"submissions-{timezone.localdate():%Y-%m-%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(WixMemberLink)
class WixMemberLinkAdmin(admin.ModelAdmin):
    list_display = ("user", "member_id")
    search_fields = ("user__username", "user__email", "member_id")
    autocomplete_fields = ("user",)
