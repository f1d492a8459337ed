"""Wix's request limits as data, and the check that turns a payload into fieldViolations.

The limits are the validation annotations of the official SDK's typings (sdk-contract.md §4). Every
broken limit gives one violation, in document order, so a client sees all its problems at once.
Lengths count characters. Read-only and unknown fields are ignored, as Wix ignores them.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import validation_error

FORMATS = {
    "GUID": (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "must be a valid GUID",
    ),
    "EMAIL": (re.compile(r"[^@\s]+@[^@\s]+"), "must be a valid email address"),
}


@dataclass(frozen=True)
class Text:
    min_length: int = 0
    max_length: int | None = None
    required: bool = False
    format: str | None = None


@dataclass(frozen=True)
class Integer:
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False


@dataclass(frozen=True)
class Boolean:
    required: bool = False


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True)
class ListOf:
    item: "Rule"
    min_size: int = 0
    max_size: int | None = None
    required: bool = False


@dataclass(frozen=True)
class Record:
    fields: Mapping[str, "Rule"] = field(default_factory=dict)
    required: bool = False
    # A protobuf one-of: at most one of these keys, exactly one if `one_of_required`.
    one_of: tuple[str, ...] = ()
    one_of_required: bool = False
    # Internal fields that apps may not send.
    not_allowed: tuple[str, ...] = ()


Rule = Text | Integer | Boolean | Choice | ListOf | Record


def field_violations(rule: Rule, value, path: str = "") -> list[dict]:
    """Every limit of `rule` that `value` (found at `path`) breaks."""
    if value is None:
        return [violation(path, "is required", "REQUIRED_FIELD")] if rule.required else []
    return _CHECKS[type(rule)](rule, value, path)


def require_valid(rule: Rule, payload) -> None:
    if violations := field_violations(rule, payload):
        raise validation_error(violations)


def violation(path: str, description: str, rule_name: str, threshold: int | None = None) -> dict:
    return {
        "field": path,
        "description": description,
        "violatedRule": rule_name,
        "ruleName": rule_name,
        "data": {} if threshold is None else {"threshold": threshold},
    }


def as_integer(value) -> int | None:
    """Integers arrive as JSON numbers, or as strings in query parameters and int64 JSON."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value):
        return int(value)
    return None


def wix_length(text: str) -> int:
    """Wix (like the JS SDK) measures strings in UTF-16 code units: an emoji counts 2."""
    return len(text.encode("utf-16-le")) // 2


def _check_text(rule: Text, value, path: str) -> list[dict]:
    if not isinstance(value, str):
        return [violation(path, "must be a string", "FORMAT")]
    found = []
    length = wix_length(value)
    if length < rule.min_length:
        found.append(
            violation(
                path, f"must not be shorter than {rule.min_length}", "MIN_LENGTH", rule.min_length
            )
        )
    if rule.max_length is not None and length > rule.max_length:
        found.append(
            violation(
                path, f"must not be longer than {rule.max_length}", "MAX_LENGTH", rule.max_length
            )
        )
    if rule.format and length >= rule.min_length:  # a too-short value is reported once
        pattern, description = FORMATS[rule.format]
        if not pattern.fullmatch(value):
            found.append(violation(path, description, "FORMAT"))
    return found


def _check_integer(rule: Integer, value, path: str) -> list[dict]:
    number = as_integer(value)
    if number is None:
        return [violation(path, "must be an integer", "FORMAT")]
    if rule.minimum is not None and number < rule.minimum:
        return [violation(path, f"must not be less than {rule.minimum}", "MIN", rule.minimum)]
    if rule.maximum is not None and number > rule.maximum:
        return [violation(path, f"must not be greater than {rule.maximum}", "MAX", rule.maximum)]
    return []


def _check_boolean(rule: Boolean, value, path: str) -> list[dict]:
    if isinstance(value, bool) or value in ("true", "false"):
        return []
    return [violation(path, "must be a boolean", "FORMAT")]


def _check_choice(rule: Choice, value, path: str) -> list[dict]:
    if value in rule.values:
        return []
    return [violation(path, f"must be one of {', '.join(rule.values)}", "INVALID_ENUM_VALUE")]


def _check_list(rule: ListOf, value, path: str) -> list[dict]:
    if not isinstance(value, list):
        return [violation(path, "must be a list", "FORMAT")]
    found = []
    if len(value) < rule.min_size:
        found.append(
            violation(
                path, f"must contain at least {rule.min_size} items", "MIN_SIZE", rule.min_size
            )
        )
    if rule.max_size is not None and len(value) > rule.max_size:
        found.append(
            violation(
                path, f"must contain at most {rule.max_size} items", "MAX_SIZE", rule.max_size
            )
        )
    for index, item in enumerate(value):
        found += field_violations(rule.item, item, f"{path}[{index}]")
    return found


def _check_record(rule: Record, value, path: str) -> list[dict]:
    if not isinstance(value, dict):
        return [violation(path, "must be an object", "FORMAT")]
    found = []
    present = [key for key in rule.one_of if value.get(key) is not None]
    if len(present) > 1 or (rule.one_of_required and not present):
        found.append(
            violation(path, f"must set exactly one of {', '.join(rule.one_of)}", "ONE_OF_ALIGNMENT")
        )
    for key in rule.not_allowed:
        if value.get(key) is not None:
            found.append(violation(_join(path, key), "is not allowed", "FIELD_NOT_ALLOWED"))
    for key, sub_rule in rule.fields.items():
        found += field_violations(sub_rule, value.get(key), _join(path, key))
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_CHECKS = {
    Text: _check_text,
    Integer: _check_integer,
    Boolean: _check_boolean,
    Choice: _check_choice,
    ListOf: _check_list,
    Record: _check_record,
}

# --- Enums (sdk-contract.md §4.1). UNKNOWN_* values mean "not set" and are not accepted. ---------

DIRECTIONS = ("BUSINESS_TO_PARTICIPANT", "PARTICIPANT_TO_BUSINESS")
VISIBILITIES = ("BUSINESS_AND_PARTICIPANT", "BUSINESS")
CHANNEL_TYPES = ("CHAT", "EMAIL", "SMS", "FACEBOOK", "INSTAGRAM", "WHATSAPP")
SEND_AS = ("CALLER", "PARTICIPANT")  # BUSINESS_USER is internal to Wix
SORT_ORDERS = ("ASC", "DESC")
PAYLOAD_KINDS = ("basic", "form", "minimal", "template", "system")
PARTICIPANT_KINDS = ("contactId", "memberId", "anonymousVisitorId")

# --- Inbox --------------------------------------------------------------------------------------

GUID = Text(format="GUID")
REQUIRED_GUID = Text(format="GUID", required=True)

IMAGE = Record(
    {
        "id": Text(max_length=2000),
        "url": Text(max_length=2000),
        "filename": Text(max_length=255),
        "width": Integer(minimum=0),
        "height": Integer(minimum=0),
    }
)
FILE = Record(
    {
        "id": Text(max_length=2000),
        "url": Text(max_length=2000),
        "filename": Text(max_length=255),
        "mimeType": Text(max_length=100),
    }
)
MEDIA_ITEM = Record({"image": IMAGE, "file": FILE}, one_of=("image", "file"), one_of_required=True)

FORM = Record(
    {
        "title": Text(min_length=1, max_length=256, required=True),
        "description": Text(min_length=1, max_length=16384),
        "fields": ListOf(
            Record({"name": Text(max_length=8192), "value": Text(max_length=8192)}),
            min_size=1,
            max_size=15,
            required=True,
        ),
        "media": ListOf(MEDIA_ITEM, max_size=15),
    }
)
BASIC = Record(
    {
        "items": ListOf(
            Record(
                {"text": Text(min_length=1, max_length=16384), "image": IMAGE, "file": FILE},
                one_of=("text", "image", "file"),
                one_of_required=True,
            ),
            min_size=1,
            required=True,
        )
    }
)
MINIMAL = Record(
    {
        "text": Text(min_length=1, max_length=16384, required=True),
        "iconUrl": Text(max_length=2000),
        "url": Text(max_length=2000),
    }
)
TEMPLATE_BUTTON = Record(
    {
        "label": Text(min_length=1, max_length=16384, required=True),
        "launchUrl": Text(max_length=16384),
        "postbackProperties": Record(
            {"interactionId": Text(min_length=1, max_length=256, required=True)}
        ),
    },
    one_of=("launchUrl", "postbackProperties"),
)
TEMPLATE = Record(
    {
        "title": Text(),
        "imageUrl": Text(max_length=2000),
        "orientation": Choice(("PORTRAIT", "LANDSCAPE")),
        "textLines": ListOf(Text(max_length=512), max_size=10),
        "buttons": ListOf(TEMPLATE_BUTTON, max_size=10),
    }
)
CONTENT = Record(
    {
        "previewText": Text(max_length=256),
        "title": Text(),
        "basic": BASIC,
        "form": FORM,
        "minimal": MINIMAL,
        "template": TEMPLATE,
    },
    required=True,
    one_of=PAYLOAD_KINDS,
    one_of_required=True,
    not_allowed=("system",),
)
BADGE = Record(
    {
        "text": Text(),
        "iconUrl": Text(max_length=2000),
        "badgeVisibility": Choice(("BUSINESS_AND_PARTICIPANT", "BUSINESS")),
    }
)
MESSAGE = Record(
    {
        "content": CONTENT,
        "direction": Choice(DIRECTIONS, required=True),
        "visibility": Choice(VISIBILITIES, required=True),
        "badges": ListOf(BADGE, max_size=1),
        "targetChannels": ListOf(Choice(CHANNEL_TYPES), max_size=1),
        "sourceChannel": Choice(CHANNEL_TYPES),
        "targetChannelIds": ListOf(Text(max_length=100), max_size=100),
        "sourceChannelId": Text(max_length=100),
        "silent": Boolean(),
    },
    required=True,
)

SEND_MESSAGE_REQUEST = Record(
    {
        "conversationId": REQUIRED_GUID,
        "message": MESSAGE,
        "sendNotifications": Boolean(),
        "silent": Boolean(),
        "sendAs": Choice(SEND_AS),
    }
)
LIST_MESSAGES_REQUEST = Record(
    {
        "conversationId": REQUIRED_GUID,
        "visibility": Choice(VISIBILITIES, required=True),
        "paging": Record(
            {"limit": Integer(minimum=0, maximum=100), "cursor": Text(max_length=16000)}
        ),
        "sorting": Record(
            {"fieldName": Choice(("sequence", "createdDate")), "order": Choice(SORT_ORDERS)}
        ),
    }
)
GET_CONVERSATION_REQUEST = Record({"conversationId": REQUIRED_GUID})
GET_OR_CREATE_CONVERSATION_REQUEST = Record(
    {
        "participantId": Record(
            dict.fromkeys(PARTICIPANT_KINDS, GUID),
            required=True,
            one_of=PARTICIPANT_KINDS,
            one_of_required=True,
        )
    }
)

# --- Contacts -----------------------------------------------------------------------------------

CONTACT_INFO = Record(
    {
        "name": Record(
            {
                "first": Text(max_length=1000),
                "middle": Text(max_length=1000),
                "last": Text(max_length=1000),
            }
        ),
        "emails": Record(
            {
                "items": ListOf(
                    Record(
                        {
                            "email": Text(
                                min_length=1, max_length=320, required=True, format="EMAIL"
                            ),
                            "tag": Choice(("UNTAGGED", "MAIN", "HOME", "WORK")),
                            "primary": Boolean(),
                        }
                    ),
                    max_size=50,
                )
            }
        ),
        "phones": Record(
            {
                "items": ListOf(
                    Record(
                        {
                            "phone": Text(min_length=1, max_length=50, required=True),
                            "countryCode": Text(max_length=2),
                            "tag": Choice(("UNTAGGED", "MAIN", "HOME", "MOBILE", "WORK", "FAX")),
                            "primary": Boolean(),
                        }
                    ),
                    max_size=50,
                )
            }
        ),
        "addresses": Record(
            {
                "items": ListOf(
                    Record({"tag": Choice(("UNTAGGED", "HOME", "WORK", "BILLING", "SHIPPING"))}),
                    max_size=50,
                )
            }
        ),
        "company": Text(max_length=1000),
        "jobTitle": Text(max_length=1000),
        "labelKeys": Record({"items": ListOf(Text(), max_size=2000)}),
    },
    required=True,
)
CREATE_CONTACT_REQUEST = Record({"info": CONTACT_INFO, "allowDuplicates": Boolean()})
GET_CONTACT_REQUEST = Record({"id": REQUIRED_GUID})
QUERY_CONTACTS_REQUEST = Record(
    {
        "query": Record(
            {
                "filter": Record(),
                "paging": Record({"limit": Integer(minimum=0), "offset": Integer(minimum=0)}),
                "sort": ListOf(
                    Record({"fieldName": Text(max_length=100), "order": Choice(SORT_ORDERS)}),
                    max_size=1,
                ),
                "fields": ListOf(Text(max_length=100), max_size=100),
                "fieldsets": ListOf(
                    Choice(("BASIC", "COMMUNICATION_DETAILS", "EXTENDED", "FULL")), max_size=10
                ),
            }
        )
    }
)

# --- Communication Channels Media (media-upload.md §3) -------------------------------------------

UPLOAD_URL_REQUEST = Record(
    {"fileName": Text(max_length=200), "mimeType": Text(max_length=100, required=True)}
)
DOWNLOAD_URL_REQUEST = Record(
    {"fileId": Text(max_length=400, required=True), "downloadFileName": Text(max_length=100)}
)
