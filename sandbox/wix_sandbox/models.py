"""The sandbox's own state: what it has been sent, and how it has been told to misbehave.

Contacts, conversations and messages keep the JSON document the API returns (`data`), so a read
returns exactly what the write answered; the columns beside it exist for lookups and ordering.
"""

import uuid

from django.db import models
from django.utils import timezone


class SandboxContact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    data = models.JSONField(help_text="The contact exactly as the API returns it.")
    display_name = models.TextField(blank=True)
    primary_email = models.CharField(max_length=320, blank=True, help_text="Lowercased.")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.display_name or str(self.id)


class SandboxContactIdentifier(models.Model):
    """One email or phone of a contact, normalised, for filters and the duplicate check."""

    class Kind(models.TextChoices):
        EMAIL = "email"
        PHONE = "phone"

    contact = models.ForeignKey(
        SandboxContact, on_delete=models.CASCADE, related_name="identifiers"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    value = models.CharField(max_length=320, help_text="Emails are lowercased.")
    is_primary = models.BooleanField(default=False)
    # "kind:value", set when the contact was created with allowDuplicates false. Its unique
    # constraint lets only one of two concurrent creations with the same email win.
    exclusive_key = models.CharField(max_length=330, null=True, blank=True, unique=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"])]

    def __str__(self):
        return f"{self.kind}:{self.value}"


class SandboxConversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # "contactId:<uuid>", "memberId:<uuid>" or "anonymousVisitorId:<uuid>": one conversation each.
    participant_key = models.CharField(max_length=100, unique=True)
    participant = models.JSONField(help_text="The `participant` object the API returns.")
    contact = models.ForeignKey(
        SandboxContact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        help_text="Set when the participant is a sandbox contact.",
    )
    display_name = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.display_name or self.participant_key} ({self.id})"


class SandboxMessage(models.Model):
    conversation = models.ForeignKey(
        SandboxConversation, on_delete=models.CASCADE, related_name="messages"
    )
    # Microseconds since the epoch, bumped past the newest one when two messages collide. The
    # message id is the same number as a string, as on Wix.
    sequence = models.BigIntegerField(unique=True)
    visibility = models.CharField(max_length=32)
    data = models.JSONField(help_text="The message exactly as the API returns it.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["conversation", "sequence"])]

    def __str__(self):
        return str(self.sequence)


class ApiCall(models.Model):
    """One request received on the sandbox's API, rejected ones included."""

    request_id = models.CharField(max_length=64, help_text="The x-wix-request-id answered.")
    endpoint = models.CharField(
        max_length=40, blank=True, help_text='e.g. "messages.send"; empty for unknown paths.'
    )
    method = models.CharField(max_length=20)
    path = models.TextField(help_text='Relative to the mount: "/inbox/v2/messages".')
    query_string = models.TextField(blank=True)
    headers = models.JSONField(default=dict, help_text="The recorded request headers, lowercase.")
    body = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty when the connection was dropped without an answer."
    )
    fault = models.CharField(max_length=40, blank=True, help_text="The injected fault, if any.")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"{self.method} {self.path} → {self.status}"


class SandboxAccessToken(models.Model):
    """An OAuth access token issued by /oauth2/token. Only its SHA-256 digest is kept."""

    token_digest = models.CharField(max_length=64, unique=True)
    instance_id = models.CharField(max_length=100)
    expires_at = models.DateTimeField()
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"token for {self.instance_id}, expires {self.expires_at:%Y-%m-%d %H:%M:%S}"


class FaultConfig(models.Model):
    """The fault rules set at runtime: a single row, shared by every web process."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    rules = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        # The sandbox's one permission: its inbox page and fault injection. Django declares
        # permissions on a model, and this is the sandbox's control model.
        permissions = [("use_sandbox", "Can use the Wix sandbox")]

    def __str__(self):
        return f"fault rules, updated {self.updated:%Y-%m-%d %H:%M:%S}"


class AdmittedCall(models.Model):
    """One API request let through while WIX_SANDBOX_RATE_LIMIT_PER_MINUTE is on; rows older than
    a minute are deleted as new requests come."""

    admitted = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"admitted at {self.admitted:%Y-%m-%d %H:%M:%S.%f}"


class SandboxMediaFile(models.Model):
    """A file of the site's Media Manager, from its upload URL on: the id is assigned when the URL
    is generated (as Wix's upload token already names the file), the bytes arrive with the PUT.

    The bytes are kept here, in the database, like the rest of the sandbox's state (every web
    process sees them, tests roll them back); WIX_SANDBOX_MEDIA_MAX_FILE_SIZE and
    WIX_SANDBOX_MEDIA_STORAGE_QUOTA bound them.
    """

    id = models.CharField(primary_key=True, max_length=100, help_text="The Wix file id.")
    # The upload URL's token is a credential (it lets anyone upload): only its digest is kept.
    upload_token_digest = models.CharField(max_length=64, unique=True)
    upload_expires_at = models.DateTimeField()
    file_name = models.CharField(max_length=255, blank=True, help_text="The displayName.")
    mime_type = models.CharField(max_length=100, help_text="As declared for the upload URL.")
    media_type = models.CharField(max_length=20, blank=True)
    content = models.BinaryField(null=True, editable=False)
    size = models.BigIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    descriptor = models.JSONField(null=True, blank=True, help_text="As the upload answered it.")
    created = models.DateTimeField(default=timezone.now)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.file_name or self.id} ({self.mime_type})"

    @property
    def is_uploaded(self) -> bool:
        return self.uploaded_at is not None
