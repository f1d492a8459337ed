"""Staff review of every submission and every delivery attempt. Nothing submitted is editable."""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from . import services
from .models import DeliveryAttempt, Submission, WixMemberLink


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "started_at",
        "duration",
        "outcome",
        "http_status",
        "wix_error_code",
        "request_id",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "name", "email", "status", "attempt_count", "sent_at")
    list_filter = ("status", "form_name")
    search_fields = ("email", "name", "=reference", "=wix_message_id")
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["retry_selected", "discard_selected"]
    fieldsets = (
        ("Submission", {"fields": ("reference", "form_name", "created_at", "submitted_data")}),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "attempt_count",
                    "next_attempt_at",
                    "last_error",
                    "sent_at",
                    "message_preview",
                )
            },
        ),
        (
            "Wix",
            {
                "fields": (
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

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Submission._meta.fields] + ["submitted_data", "message_preview"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Submitted data")
    def submitted_data(self, obj):
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", obj.data.items())
        return format_html("<table>{}</table>", rows)

    @admin.display(description="Message as Wix will show it")
    def message_preview(self, obj):
        message = services.form_message_for(obj)
        rows = format_html_join(
            "", "<tr><th>{}</th><td style='white-space:pre-wrap'>{}</td></tr>", message.fields
        )
        return format_html(
            "<p><strong>{}</strong><br>{}</p><table>{}</table><p>Preview: {}</p>",
            message.title,
            message.description,
            rows,
            message.preview_text,
        )

    @admin.action(description="Retry selected submissions", permissions=["retry"])
    def retry_selected(self, request, queryset):
        result = services.retry_submissions(queryset)
        self.message_user(request, result.describe("queued for delivery"), messages.SUCCESS)

    @admin.action(description="Discard selected submissions", permissions=["discard"])
    def discard_selected(self, request, queryset):
        result = services.discard_submissions(queryset)
        self.message_user(request, result.describe("discarded"), messages.SUCCESS)

    def has_retry_permission(self, request):
        return request.user.has_perm("inbox_intake.retry_submission")

    def has_discard_permission(self, request):
        return request.user.has_perm("inbox_intake.discard_submission")


@admin.register(WixMemberLink)
class WixMemberLinkAdmin(admin.ModelAdmin):
    list_display = ("user", "member_id")
    search_fields = ("user__username", "user__email", "member_id")
    autocomplete_fields = ("user",)
