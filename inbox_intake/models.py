import uuid
from collections import Counter
from datetime import datetime, timedelta

import pgtrigger
from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import connections, models, router, transaction
from django.db.models import Count, Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import ngettext

from .conf import intake_settings
from .text import replace_lone_surrogates
from .wix.errors import error_text


class SubmissionQuerySet(models.QuerySet):
    """The sets of submissions the app acts on, each named once."""

    def pending(self):
        """Still to be delivered: what the relay and the workers act on."""
        return self.filter(status__in=Submission.PENDING_STATUSES)

    def due(self, now: datetime, *, early: timedelta = timedelta(0)):
        """Pending and due now: QUEUED; RETRYING whose time has come (`early`: a worker may take
        one that much before, as a broker countdown can fire a moment early); SENDING whose
        worker vanished (its lease ran out), which may have been delivered.

        The `status__in` repeats what the rest implies, so that PostgreSQL sees it may use the
        partial index of pending rows: the relay stays one cheap query at any table size.
        """
        Status = Submission.Status
        return self.pending().filter(
            Q(status=Status.QUEUED)
            | Q(status=Status.RETRYING, next_attempt_at__lte=now + early)
            | Q(status=Status.SENDING, locked_until__lt=now)
        )

    def leased(self, submission_id: int, until: datetime):
        """The submission, if it is still SENDING under the lease that runs `until`: the guard of
        every write a worker makes, so that one whose lease passed to another writes nothing."""
        return self.filter(pk=submission_id, status=Submission.Status.SENDING, locked_until=until)

    def retryable(self):
        return self.filter(status__in=Submission.RETRYABLE_STATUSES)

    def discardable(self):
        return self.filter(status__in=Submission.DISCARDABLE_STATUSES)

    def purgeable(self, received_before: datetime):
        """Finished with (delivered, given up, discarded or spam) and received before then."""
        return self.filter(created_at__lt=received_before, status__in=Submission.PURGEABLE_STATUSES)

    def counts_by_status(self) -> dict[str, int]:
        """{status: how many}, in one grouped query. COUNT(*) rather than COUNT(id) lets
        PostgreSQL answer from the status index alone."""
        return dict(self.order_by().values_list("status").annotate(n=Count("*")))

    def search(self, term: str):
        """Submissions matching a reference, a Wix message id, an email or its beginning, or a
        name.

        Every kind of term but a name is answered from an index, so looking up what a customer
        or Wix quoted stays instant on millions of rows; a name is looked for only in a term
        that could be one (letters, no @), as it means reading the whole table. Emails are
        stored in lower case.
        """
        term = term.strip()
        if not term:
            return self
        matches = Q(wix_message_id=term)
        try:
            matches |= Q(reference=uuid.UUID(term))
        except ValueError:
            matches |= Q(email__startswith=term.lower())
            if "@" not in term and any(character.isalpha() for character in term):
                matches |= Q(name__icontains=term)
        return self.filter(matches)


def _tally_trigger(name, operation, *rows, condition=None) -> pgtrigger.Trigger:
    """A trigger on the submissions that appends one StatusTally row for each of `rows` (the
    OLD or NEW row's status, and +1 or -1), in the writer's own transaction."""
    values = ", ".join(f"({row}.status, {delta})" for row, delta in rows)
    # Only the constants written below go into this SQL, never input.
    insert = f"INSERT INTO inbox_intake_statustally (status, delta) VALUES {values};"  # noqa: S608
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.After,
        operation=operation,
        condition=condition,
        func=f"{insert} RETURN NULL;",
    )


# The status tally (StatusTally below) on PostgreSQL. pgtrigger adds them to the model's
# migrations, which install them there and skip them on other databases (StatusTally counts the
# table there). Registered rather than listed in Meta.triggers, which Django refuses unless the
# pgtrigger app is installed: so a site without it gets the system check inbox_intake.E030, not a
# TypeError.
@pgtrigger.register(
    _tally_trigger("tally_insert", pgtrigger.Insert, ("NEW", 1)),
    _tally_trigger(
        "tally_status_change",
        pgtrigger.UpdateOf("status"),
        ("OLD", -1),
        ("NEW", 1),
        condition=pgtrigger.AnyChange("status"),
    ),
    _tally_trigger("tally_delete", pgtrigger.Delete, ("OLD", -1)),
)
class Submission(models.Model):
    """One form submission: saved before any network call, then delivered to the Wix Inbox.

    The table is the outbox: `status`, `next_attempt_at` and `locked_until` say what the relay and
    the workers do next; the broker only makes it happen sooner.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        DISCARDED = "discarded", "Discarded"
        SPAM = "spam", "Spam"

    #: Still to be delivered; staff can send again; staff can stop; finished with.
    PENDING_STATUSES = (Status.QUEUED, Status.RETRYING, Status.SENDING)
    RETRYABLE_STATUSES = (Status.FAILED, Status.RETRYING)
    DISCARDABLE_STATUSES = (Status.QUEUED, Status.RETRYING, Status.FAILED)
    PURGEABLE_STATUSES = (Status.SENT, Status.FAILED, Status.DISCARDED, Status.SPAM)
    #: While any submission is in these states, something is failing.
    FAILING_STATUSES = (Status.RETRYING, Status.FAILED)
    NAME_MAX_LENGTH = 300

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    form_name = models.CharField(max_length=50, default="contact")
    data = models.JSONField(help_text="The form data exactly as submitted (after validation).")
    email = models.EmailField(max_length=320, db_index=True)
    name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempt_count = models.PositiveIntegerField(default=0, help_text="Every attempt ever made.")
    attempts_since_retry = models.PositiveIntegerField(
        default=0, help_text="Attempts since staff last retried: what the attempt limit counts."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    needs_reconciliation = models.BooleanField(
        default=False, help_text="A send may have reached Wix: look for it before sending again."
    )
    last_error = models.TextField(blank=True)

    wix_member_id = models.CharField(max_length=64, blank=True)
    wix_anonymous_visitor_id = models.CharField(max_length=64, blank=True)
    wix_contact_id = models.CharField(max_length=64, blank=True)
    wix_conversation_id = models.CharField(max_length=64, blank=True)
    wix_message_id = models.CharField(max_length=64, blank=True)

    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="submission_due_idx"),
            models.Index(fields=["status", "-created_at"], name="submission_status_idx"),
            models.Index(
                fields=["enqueued_at"],
                condition=models.Q(status__in=["queued", "retrying", "sending"]),
                name="submission_pending_idx",
            ),
            # The admin's search looks a Wix message id up as it is quoted.
            models.Index(fields=["wix_message_id"], name="submission_message_id_idx"),
        ]
        permissions = [
            ("retry_submission", "Can retry delivery of a submission"),
            ("discard_submission", "Can discard a submission"),
        ]

    def __str__(self) -> str:
        return f"{self.email} · {self.reference}"

    @classmethod
    def from_db(cls, db, field_names, values):
        """A row as read, with U+FFFD for any lone surrogate, so that every page, export and
        delivery of it can be written. The intake refuses them; SQLite (`make run`) or another
        program may still have stored one."""
        return super().from_db(db, field_names, [replace_lone_surrogates(v) for v in values])


class DeliveryAttemptQuerySet(models.QuerySet):
    def failures(self):
        """Attempts that did not deliver (sent and found-already-delivered ones did)."""
        return self.exclude(outcome__in=DeliveryAttempt.SUCCESSFUL_OUTCOMES)


class DeliveryAttempt(models.Model):
    """One try at delivering a submission, kept for staff to read."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        RECONCILED = "reconciled", "Found already delivered"
        TRANSIENT = "transient", "Temporary failure"
        AMBIGUOUS = "ambiguous", "Uncertain (may have been delivered)"
        PERMANENT = "permanent", "Permanent failure"

    SUCCESSFUL_OUTCOMES = (Outcome.SENT, Outcome.RECONCILED)

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    wix_error_code = models.CharField(max_length=100, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)

    objects = DeliveryAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # intake_status reads the latest failure without walking every success after it.
            models.Index(
                fields=["-started_at"],
                condition=~models.Q(outcome__in=["sent", "reconciled"]),
                name="attempt_failure_started_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}, {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def full_error(self) -> str:
        """The error with its HTTP status, Wix error code and request id, as in a last error."""
        return error_text(
            self.error,
            status=self.http_status,
            code=self.wix_error_code,
            request_id=self.request_id,
        )

    @property
    def duration(self):
        return self.finished_at - self.started_at


class AttachmentStorage(Storage):
    """STORAGES[INBOX_INTAKE_FILE_STORAGE], looked up at each use.

    A FileField calls its storage callable once, when the model is loaded: given the storage
    itself, every site without that STORAGES entry (one with no file fields needs none) would
    fail to start, before the system check could say what to set; and the storage would stay
    the one of the settings at start-up (tests point it at a temporary folder). So the field
    gets this stand-in, which hands each call of Django's storage API to the storage of now.
    """

    @property
    def target(self) -> Storage:
        return storages[intake_settings.INBOX_INTAKE_FILE_STORAGE]

    def open(self, name, mode="rb"):
        return self.target.open(name, mode)

    def save(self, name, content, max_length=None):
        return self.target.save(name, content, max_length=max_length)

    def get_valid_name(self, name):
        return self.target.get_valid_name(name)

    def get_alternative_name(self, file_root, file_ext):
        return self.target.get_alternative_name(file_root, file_ext)

    def get_available_name(self, name, max_length=None):
        return self.target.get_available_name(name, max_length=max_length)

    def generate_filename(self, filename):
        return self.target.generate_filename(filename)

    def path(self, name):
        return self.target.path(name)

    def delete(self, name):
        return self.target.delete(name)

    def exists(self, name):
        return self.target.exists(name)

    def listdir(self, path):
        return self.target.listdir(path)

    def size(self, name):
        return self.target.size(name)

    def url(self, name):
        return self.target.url(name)

    def get_accessed_time(self, name):
        return self.target.get_accessed_time(name)

    def get_created_time(self, name):
        return self.target.get_created_time(name)

    def get_modified_time(self, name):
        return self.target.get_modified_time(name)


def attachment_storage():
    """The storage of the attachments: STORAGES[INBOX_INTAKE_FILE_STORAGE]."""
    return AttachmentStorage()


def attachment_name(attachment: "Attachment", filename: str) -> str:
    """An unguessable name that says nothing of the file: its own name is kept in the row."""
    return f"inbox_intake/{uuid.uuid4().hex}"


@receiver(post_delete, sender="inbox_intake.Attachment")
def delete_attachment_file(sender, instance: "Attachment", using: str, **kwargs) -> None:
    """Remove the file from storage once its row's deletion is committed, however the row went
    (a purge, the admin's delete, the cascade of a submission's): before the commit, a rollback
    would leave a row without its file. A storage error is logged, not raised (robust): the
    visitor's or the staff member's request has already succeeded."""
    if instance.file.name:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: storage.delete(name), using=using, robust=True)


class Attachment(models.Model):
    """A file a visitor sent with a submission: kept in the site's storage (never served
    publicly), uploaded to the Wix Media Manager before the message is sent, and carried by the
    form message as one of its `media` items.

    `wix_file_id` and `wix_url` are written once the upload succeeded, so that a retry never
    uploads the same file twice.
    """

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="attachments")
    field_name = models.CharField(max_length=100, help_text="The form field it was sent in.")
    position = models.PositiveSmallIntegerField(help_text="Its place among the submission's files.")
    file = models.FileField(storage=attachment_storage, upload_to=attachment_name, max_length=200)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, help_text="Told by the file's content.")
    size = models.PositiveBigIntegerField(help_text="In bytes.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    wix_file_id = models.CharField(max_length=2000, blank=True)
    wix_url = models.CharField(max_length=2000, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submission", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "position"], name="attachment_position_unique"
            )
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_image(self) -> bool:
        """Sent to Wix as an `image` item (with its size in pixels), else as a `file`."""
        return self.content_type.startswith("image/") and bool(self.width and self.height)

    @property
    def is_uploaded(self) -> bool:
        return bool(self.wix_file_id)

    def as_wix_media(self) -> dict:
        """This file as an item of a Wix form message's `media`, once uploaded."""
        if self.is_image:
            return {
                "image": {
                    "id": self.wix_file_id,
                    "url": self.wix_url,
                    "filename": self.original_name,
                    "width": self.width,
                    "height": self.height,
                }
            }
        return {
            "file": {
                "id": self.wix_file_id,
                "url": self.wix_url,
                "filename": self.original_name,
                "mimeType": self.content_type,
            }
        }


class StatusTally(models.Model):
    """How many submissions are in each status, kept as rows of +1 and -1 on PostgreSQL.

    Triggers (registered on Submission) add a row whenever a submission is inserted, changes
    status or is deleted, in the same transaction, whatever wrote it: so the sum per status is
    exact at every moment, and writers append rows rather than queue on one counter. `fold()` sums
    the rows into one per status every minute, so reading the counts costs the same on a table of
    a thousand submissions or of ten million.
    """

    status = models.CharField(max_length=10, choices=Submission.Status.choices)
    delta = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.status} {self.delta:+d}"

    @staticmethod
    def _is_kept(alias: str) -> bool:
        """Whether triggers keep the tally on this database: on PostgreSQL only."""
        return connections[alias].vendor == "postgresql"

    @classmethod
    def counts(cls) -> dict[str, int]:
        """How many submissions are in each status, every status listed, exact, in one query."""
        alias = router.db_for_read(cls)
        if cls._is_kept(alias):
            tally = cls.objects.using(alias).order_by().values_list("status")
            counts = dict(tally.annotate(n=models.Sum("delta")))
        else:
            # pgtrigger serves PostgreSQL only. Elsewhere (SQLite for `make run`, a small site on
            # MariaDB…) the table is small enough to count, and no trigger has to survive the
            # migrations that rebuild it.
            counts = Submission.objects.using(alias).counts_by_status()
        return dict.fromkeys(Submission.Status.values, 0) | counts

    @classmethod
    def fold(cls, *, batch_size: int = 50_000) -> int:
        """Sum the tally's rows into one per status, so that reading it stays cheap; return how
        many rows were folded (0 where no tally is kept).

        Each batch is locked, deleted and replaced by its sums in one transaction. Rows another
        fold has locked are skipped (it folds them), rows of writers not yet committed are not
        seen (a later fold takes them): so folds beside each other and beside writers neither
        lose nor count a row twice, and never wait on each other.
        """
        alias = router.db_for_write(cls)
        if not cls._is_kept(alias):
            return 0
        tally = cls.objects.using(alias)
        folded = 0
        while True:
            with transaction.atomic(using=alias):
                batch = list(
                    tally.select_for_update(skip_locked=True)
                    .order_by("id")
                    .values_list("id", "status", "delta")[:batch_size]
                )
                sums: Counter[str] = Counter()
                for _, status, delta in batch:
                    sums[status] += delta
                tally.filter(id__in=[row_id for row_id, _, _ in batch]).delete()
                tally.bulk_create(
                    cls(status=status, delta=total) for status, total in sums.items() if total
                )
            folded += len(batch)
            if len(batch) < batch_size:
                return folded


class WixParticipant(models.Model):
    """Cache: who an email (or member / visitor id) is in Wix, and their conversation.

    A repeat submitter then costs one API call (the send) instead of three.
    """

    key = models.CharField(max_length=400, unique=True, help_text="e.g. email:jane@example.com")
    contact_id = models.CharField(max_length=64, blank=True)
    conversation_id = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class WixMemberLink(models.Model):
    """Links a site user to their Wix member id, so their submissions use `memberId`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wix_member_link"
    )
    member_id = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.user} → {self.member_id}"


class WixRateWindow(models.Model):
    """How many Wix API calls were made in one short time window, counted across every worker
    process, so that together they stay under Wix's rate limit."""

    window = models.BigIntegerField(unique=True, help_text="Window number: epoch seconds // size.")
    calls = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return ngettext(
            "window %(window)d: %(count)d call", "window %(window)d: %(count)d calls", self.calls
        ) % {"window": self.window, "count": self.calls}


class AlertState(models.Model):
    """Where each kind of alert stands: whether it is raised, when it last mailed, and up to when
    failures were already reported.

    Kept in the database rather than Django's cache: beat's workers and a cron-run intake_relay
    are separate processes (the cache may be per process, as locmem is) and a restart must not
    mail again what staff already know.
    """

    kind = models.CharField(max_length=20, unique=True)
    raised = models.BooleanField(default=False)
    mailed_at = models.DateTimeField(null=True, blank=True)
    reported_through = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind}: {'raised' if self.raised else 'clear'}"


class Heartbeat(models.Model):
    """When a periodic job (the relay) last ran, for the health check: one row per job, one
    UPDATE per run."""

    name = models.CharField(max_length=50, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
