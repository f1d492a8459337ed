"""Inbox v2, emulated: GetOrCreateConversation, GetConversation, SendMessage, ListMessages
(sdk-contract.md §1.4-1.5, §4.1-4.3), and the data behind the sandbox's inbox page.

Each API function takes the request payload and returns the 200 body, or raises ApiError.
"""

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from .conf import sandbox_setting
from .errors import contact_not_found, conversation_not_found, validation_error
from .media import attachments, form_media
from .models import SandboxContact, SandboxConversation, SandboxMessage
from .validation import (
    GET_CONVERSATION_REQUEST,
    GET_OR_CREATE_CONVERSATION_REQUEST,
    LIST_MESSAGES_REQUEST,
    PARTICIPANT_KINDS,
    PAYLOAD_KINDS,
    SEND_MESSAGE_REQUEST,
    as_integer,
    require_valid,
    violation,
)
from .wire import decode_json, encode_json, epoch_microseconds, timestamp

BUSINESS_IMAGE_URL = "https://static.wixstatic.com/media/sandbox-business-logo.png"
# Members and visitors are not sandbox contacts; their contactId is derived from their own id.
DERIVED_CONTACT_NAMESPACE = uuid.UUID("6f1b7a2e-94c3-4d58-8e0a-3b5c7d9f1e24")
PARTICIPANT_DISPLAY_NAMES = {"memberId": "Site member", "anonymousVisitorId": "Visitor"}
DEFAULT_PAGE_SIZE = 30
# Two processes may pick the same sequence at once; the loser takes the next one.
SEQUENCE_ATTEMPTS = 10


def get_or_create_conversation(payload: dict) -> dict:
    require_valid(GET_OR_CREATE_CONVERSATION_REQUEST, payload)
    participant_id = payload["participantId"]
    kind = next(kind for kind in PARTICIPANT_KINDS if participant_id.get(kind) is not None)
    identity = str(uuid.UUID(participant_id[kind]))
    key = f"{kind}:{identity}"
    conversation = SandboxConversation.objects.filter(participant_key=key).first()
    if conversation is not None:
        return {"conversation": conversation_document(conversation), "newConversation": False}
    contact = None
    if kind == "contactId":
        contact = SandboxContact.objects.filter(pk=identity).first()
        if contact is None:
            raise contact_not_found()
        participant = {"contactId": identity}
        display_name = contact.display_name
    else:
        derived_contact_id = uuid.uuid5(DERIVED_CONTACT_NAMESPACE, key)
        participant = {kind: identity, "contactId": str(derived_contact_id)}
        display_name = PARTICIPANT_DISPLAY_NAMES[kind]
    try:
        with transaction.atomic():
            conversation = SandboxConversation.objects.create(
                participant_key=key,
                participant=participant,
                contact=contact,
                display_name=display_name,
            )
    except IntegrityError:  # created by a concurrent request since the lookup above
        conversation = SandboxConversation.objects.get(participant_key=key)
        return {"conversation": conversation_document(conversation), "newConversation": False}
    return {"conversation": conversation_document(conversation), "newConversation": True}


def get_conversation(payload: dict) -> dict:
    require_valid(GET_CONVERSATION_REQUEST, payload)
    return {"conversation": conversation_document(_conversation(payload["conversationId"]))}


def send_message(payload: dict, request=None) -> dict:
    """`request`, when given, makes the URLs the Inbox gives uploaded files absolute."""
    require_valid(SEND_MESSAGE_REQUEST, payload)
    conversation = _conversation(payload["conversationId"])
    message = payload["message"]
    form = message["content"].get("form")
    media = form_media(form.get("media") or [], request) if form is not None else []
    app_id = sandbox_setting("WIX_SANDBOX_APP_ID")
    if payload.get("sendAs") == "PARTICIPANT":
        sender = dict(conversation.participant)
    else:
        sender = {"appId": app_id}
    document = {
        "content": _content_document(message["content"], media),
        "sender": sender,
        "badges": message.get("badges") or [],
        "targetChannels": message.get("targetChannels") or [],
        "sourceChannel": message.get("sourceChannel") or "UNKNOWN_CHANNEL_TYPE",
        "appId": app_id,
        "visibility": message["visibility"],
        "direction": message["direction"],
        "targetChannelIds": message.get("targetChannelIds") or [],
        "silent": _is_true(message.get("silent")) or _is_true(payload.get("silent")),
    }
    if message.get("sourceChannelId"):
        document["sourceChannelId"] = message["sourceChannelId"]
    return {"message": _store_message(conversation, document).data}


def list_messages(payload: dict) -> dict:
    require_valid(LIST_MESSAGES_REQUEST, payload)
    conversation = _conversation(payload["conversationId"])
    paging, sorting = payload.get("paging") or {}, payload.get("sorting") or {}
    limit = as_integer(paging.get("limit")) or DEFAULT_PAGE_SIZE
    if paging.get("cursor"):
        order, after = _decode_cursor(paging["cursor"])
    else:
        order, after = sorting.get("order") or "DESC", None
    messages = conversation.messages.all()
    if payload["visibility"] == "BUSINESS_AND_PARTICIPANT":
        messages = messages.filter(visibility="BUSINESS_AND_PARTICIPANT")
    if after is not None:
        messages = messages.filter(**{"sequence__lt" if order == "DESC" else "sequence__gt": after})
    rows = list(messages.order_by("-sequence" if order == "DESC" else "sequence")[: limit + 1])
    page = rows[:limit]
    has_more = len(rows) > limit
    return {
        "messages": [row.data for row in page],
        "pagingMetadata": {
            "count": len(page),
            "cursors": {
                "next": _encode_cursor(order, page[-1].sequence) if has_more else None,
                "prev": None,
            },
            "tooManyToCount": False,
        },
    }


def conversation_document(conversation: SandboxConversation) -> dict:
    return {
        "id": str(conversation.id),
        "participant": conversation.participant,
        "channels": ["CHAT"],
        "businessDisplayData": {
            "name": sandbox_setting("WIX_SANDBOX_BUSINESS_NAME"),
            "imageUrl": BUSINESS_IMAGE_URL,
        },
        "participantDisplayData": {"name": conversation.display_name},
    }


def _conversation(conversation_id: str) -> SandboxConversation:
    conversation = SandboxConversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise conversation_not_found()
    return conversation


def _is_true(value) -> bool:
    return value in (True, "true")


def _content_document(content: dict, media: list[dict]) -> dict:
    """The content as Wix answers it: its contentType, and a form with every field filled in and
    its `media` as the Inbox keeps them."""
    kind = next(kind for kind in PAYLOAD_KINDS if content.get(kind) is not None)
    document = {key: content[key] for key in ("previewText", "title") if key in content}
    document["contentType"] = kind.upper()
    payload = content[kind]
    if kind == "form":
        payload = {
            "title": payload["title"],
            **({"description": payload["description"]} if "description" in payload else {}),
            "fields": [
                {"name": field.get("name", ""), "value": field.get("value", "")}
                for field in payload["fields"]
            ],
            "media": media,
        }
    document[kind] = payload
    return document


def _store_message(conversation: SandboxConversation, document: dict) -> SandboxMessage:
    attempts_left = SEQUENCE_ATTEMPTS
    while True:
        now = timezone.now()
        newest = SandboxMessage.objects.aggregate(newest=Max("sequence"))["newest"] or 0
        sequence = max(epoch_microseconds(now), newest + 1)
        data = {
            "id": str(sequence),
            **document,
            "sequence": str(sequence),
            "createdDate": timestamp(now),
        }
        try:
            with transaction.atomic():
                return SandboxMessage.objects.create(
                    conversation=conversation,
                    sequence=sequence,
                    visibility=document["visibility"],
                    data=data,
                    created=now,
                )
        except IntegrityError:
            attempts_left -= 1
            if not attempts_left:
                raise


def _encode_cursor(order: str, sequence: int) -> str:
    return encode_json({"order": order, "after": str(sequence)})


def _decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        position = decode_json(cursor)
        order, after = position["order"], int(position["after"])
    except (ValueError, TypeError, KeyError):
        raise validation_error(
            [violation("paging.cursor", "is not a cursor this API returned", "FORMAT")]
        ) from None
    if order not in ("ASC", "DESC"):
        raise validation_error(
            [violation("paging.cursor", "is not a cursor this API returned", "FORMAT")]
        )
    return order, after


# --- The inbox page -----------------------------------------------------------------------------


@dataclass
class ConversationSummary:
    conversation: SandboxConversation
    message_count: int
    # Newest first, as the API returns them, each with the page's "attachments" (media.attachments).
    messages: list[dict]

    @property
    def email(self) -> str:
        contact = self.conversation.contact
        return contact.data.get("primaryInfo", {}).get("email", "") if contact else ""

    @property
    def hidden_count(self) -> int:
        return self.message_count - len(self.messages)


def inbox_overview(
    conversation_id: str | None, *, conversations_shown: int, messages_each: int
) -> list[ConversationSummary]:
    """Conversations with the latest activity first, each with its newest messages.

    With `conversation_id`, only that conversation (empty list if unknown).
    """
    conversations = (
        SandboxConversation.objects.select_related("contact")
        .annotate(message_count=Count("messages"), newest=Max("messages__sequence"))
        .order_by(F("newest").desc(nulls_last=True), "-created")
    )
    if conversation_id is not None:
        try:
            conversations = conversations.filter(pk=uuid.UUID(conversation_id))
        except ValueError:
            return []
    conversations = list(conversations[:conversations_shown])
    newest_messages = (
        SandboxMessage.objects.filter(conversation__in=conversations)
        .annotate(
            rank=Window(RowNumber(), partition_by=F("conversation"), order_by=F("sequence").desc())
        )
        .filter(rank__lte=messages_each)
        .order_by("conversation", "-sequence")
    )
    newest_messages = list(newest_messages)
    # The page's copy of each message also lists its attachments, as the page shows them.
    attachments_by_message = attachments([message.data for message in newest_messages])
    messages_by_conversation: dict = {}
    for message in newest_messages:
        shown = {**message.data, "attachments": attachments_by_message[message.data["id"]]}
        messages_by_conversation.setdefault(message.conversation_id, []).append(shown)
    return [
        ConversationSummary(
            conversation=conversation,
            message_count=conversation.message_count,
            messages=messages_by_conversation.get(conversation.id, []),
        )
        for conversation in conversations
    ]
