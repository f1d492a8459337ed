"""Contacts v4, emulated: CreateContact, QueryContacts, GetContact (sdk-contract.md §1.4-1.5, §4.4).

Each function takes the request payload and returns the 200 body, or raises ApiError.
"""

import operator
import uuid
from functools import reduce

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .conf import sandbox_setting
from .errors import application_error, contact_not_found
from .models import SandboxContact, SandboxContactIdentifier
from .validation import (
    CREATE_CONTACT_REQUEST,
    GET_CONTACT_REQUEST,
    QUERY_CONTACTS_REQUEST,
    as_integer,
    require_valid,
)
from .wire import timestamp

Kind = SandboxContactIdentifier.Kind

DEFAULT_QUERY_LIMIT = 50
MAX_QUERY_LIMIT = 1000

# Filterable fields: the identifier kind they search, and whether only the primary one counts.
IDENTIFIER_FILTER_FIELDS = {
    "info.emails.email": (Kind.EMAIL, False),
    "primaryInfo.email": (Kind.EMAIL, True),
    "info.phones.phone": (Kind.PHONE, False),
    "primaryInfo.phone": (Kind.PHONE, True),
}
# No contact is ever updated here, so every date field orders like the creation time.
SORT_COLUMNS = {
    "createdDate": "created",
    "updatedDate": "created",
    "lastActivity.activityDate": "created",
    "primaryInfo.email": "primary_email",
}


def create_contact(payload: dict) -> dict:
    require_valid(CREATE_CONTACT_REQUEST, payload)
    info = payload["info"]
    emails, phones = _items(info, "emails"), _items(info, "phones")
    if not (_full_name(info) or emails or phones):
        raise application_error(
            400, "INSUFFICIENT_CONTACT_DATA", "A contact needs at least a name, an email or a phone"
        )
    for collection, items in (("emails", emails), ("phones", phones)):
        if sum(1 for item in items if item.get("primary") is True) > 1:
            raise application_error(
                400,
                "CANNOT_HAVE_MULTIPLE_PRIMARY_INFO",
                f"Only one item of info.{collection} can be primary",
            )
    # Wix checks the emails for duplicates, or the phones when there is no email.
    unique_keys = _identifier_keys(Kind.EMAIL, emails) or _identifier_keys(Kind.PHONE, phones)
    exclusive = payload.get("allowDuplicates") not in (True, "true")
    if exclusive:
        _reject_duplicates(unique_keys)
    try:
        contact = _save_contact(info, emails, phones, unique_keys if exclusive else [])
    except IntegrityError:
        _reject_duplicates(unique_keys)  # a concurrent creation won: answer as if it came first
        raise
    return {"contact": contact.data}


def query_contacts(payload: dict) -> dict:
    require_valid(QUERY_CONTACTS_REQUEST, payload)
    query = payload.get("query") or {}
    paging = query.get("paging") or {}
    limit = as_integer(paging.get("limit")) or DEFAULT_QUERY_LIMIT
    if limit > MAX_QUERY_LIMIT:
        raise application_error(
            400, "ILLEGAL_LIMIT", f"paging.limit must not be greater than {MAX_QUERY_LIMIT}"
        )
    offset = as_integer(paging.get("offset")) or 0
    contacts = SandboxContact.objects.filter(_filter(query.get("filter") or {})).order_by(
        *_ordering(query.get("sort") or [])
    )
    page = [contact.data for contact in contacts[offset : offset + limit]]
    return {
        "contacts": page,
        "pagingMetadata": {
            "count": len(page),
            "offset": offset,
            "total": contacts.count(),
            "tooManyToCount": False,
        },
    }


def get_contact(payload: dict) -> dict:
    require_valid(GET_CONTACT_REQUEST, payload)
    contact = SandboxContact.objects.filter(pk=payload["id"]).first()
    if contact is None:
        raise contact_not_found()
    return {"contact": contact.data, "responseType": "REGULAR"}


# --- Creation -----------------------------------------------------------------------------------


def _items(info: dict, collection: str) -> list[dict]:
    return (info.get(collection) or {}).get("items") or []


def _full_name(info: dict, *, last_first: bool = False) -> str:
    name = info.get("name") or {}
    parts = [name.get("first"), name.get("middle"), name.get("last")]
    if last_first:
        parts = [name.get("last"), name.get("first"), name.get("middle")]
    return " ".join(part.strip() for part in parts if part and part.strip())


def _normalise(kind: str, value: str) -> str:
    return value.strip().lower() if kind == Kind.EMAIL else value.strip()


def _identifier_keys(kind: str, items: list[dict]) -> list[tuple[str, str, str]]:
    """(kind, normalised value, value as sent) for each distinct email or phone."""
    field = "email" if kind == Kind.EMAIL else "phone"
    keys = {}
    for item in items:
        keys.setdefault(_normalise(kind, item[field]), item[field])
    return [(kind, normalised, sent) for normalised, sent in keys.items()]


def _reject_duplicates(keys: list[tuple[str, str, str]]) -> None:
    for kind, normalised, sent in keys:
        existing = (
            SandboxContactIdentifier.objects.filter(kind=kind, value=normalised)
            .order_by("contact__created")
            .values_list("contact_id", flat=True)
            .first()
        )
        if existing is not None:
            label = "email" if kind == Kind.EMAIL else "phone"
            raise application_error(
                409,
                "DUPLICATE_CONTACT_EXISTS",
                f"Contact with {label} {sent} already exists",
                message="Contact already exists",
                data={
                    "duplicateContactId": str(existing),
                    f"duplicate{label.capitalize()}": sent,
                },
            )


def _with_ids(items: list[dict], defaults: dict, *, has_primary: bool) -> list[dict]:
    """Items as Wix stores them: an id each, default tags, and one primary item if any."""
    stored = [{"id": str(uuid.uuid4()), **defaults, **item} for item in items]
    if has_primary:
        primary_index = next((i for i, item in enumerate(stored) if item.get("primary") is True), 0)
        for index, item in enumerate(stored):
            item["primary"] = index == primary_index
    return stored


def _save_contact(info, emails, phones, exclusive_keys) -> SandboxContact:
    now = timezone.now()
    email_items = _with_ids(emails, {"tag": "UNTAGGED"}, has_primary=True)
    phone_items = _with_ids(phones, {"tag": "UNTAGGED"}, has_primary=True)
    data = _contact_document(info, email_items, phone_items, now)
    identifiers = [
        (Kind.EMAIL, _normalise(Kind.EMAIL, item["email"]), item["primary"]) for item in email_items
    ] + [
        (Kind.PHONE, _normalise(Kind.PHONE, item["phone"]), item["primary"]) for item in phone_items
    ]
    unclaimed = {f"{kind}:{value}" for kind, value, _sent in exclusive_keys}
    with transaction.atomic():
        contact = SandboxContact.objects.create(
            id=data["id"],
            data=data,
            display_name=data["info"]["extendedFields"]["items"]["contacts.displayByFirstName"],
            primary_email=_normalise(Kind.EMAIL, data["primaryInfo"].get("email", "")),
            created=now,
        )
        for kind, value, is_primary in identifiers:
            key = f"{kind}:{value}"
            SandboxContactIdentifier.objects.create(
                contact=contact,
                kind=kind,
                value=value,
                is_primary=is_primary,
                exclusive_key=key if key in unclaimed else None,
            )
            unclaimed.discard(key)  # a contact listing an email twice claims it once
    return contact


def _contact_document(info: dict, email_items: list, phone_items: list, now) -> dict:
    """The contact as CreateContact answers it (sdk-contract.md §1.5)."""
    stamp = timestamp(now)
    primary_email = next((item["email"] for item in email_items if item["primary"]), "")
    primary_phone = next((item["phone"] for item in phone_items if item["primary"]), "")
    display_name = _full_name(info) or primary_email or primary_phone
    extended_fields = ((info.get("extendedFields") or {}).get("items")) or {}
    return {
        "id": str(uuid.uuid4()),
        "revision": 1,
        "source": {"sourceType": "WIX_APP", "appId": sandbox_setting("WIX_SANDBOX_APP_ID")},
        "createdDate": stamp,
        "updatedDate": stamp,
        "lastActivity": {"activityDate": stamp, "activityType": "CONTACT_CREATED"},
        "primaryInfo": {
            key: value
            for key, value in (("email", primary_email), ("phone", primary_phone))
            if value
        },
        "info": {
            **info,
            "emails": {"items": email_items},
            "phones": {"items": phone_items},
            "addresses": {"items": _with_ids(_items(info, "addresses"), {}, has_primary=False)},
            "labelKeys": {"items": _items(info, "labelKeys")},
            "extendedFields": {
                "items": {
                    **extended_fields,
                    "contacts.displayByFirstName": display_name,
                    "contacts.displayByLastName": _full_name(info, last_first=True) or display_name,
                }
            },
        },
        "primaryEmail": (
            {
                "email": primary_email,
                "subscriptionStatus": "NOT_SET",
                "deliverabilityStatus": "NOT_SET",
            }
            if primary_email
            else {"subscriptionStatus": "NO_SUBSCRIPTION_STATUS", "deliverabilityStatus": "NOT_SET"}
        ),
        "primaryPhone": (
            {"phone": primary_phone, "subscriptionStatus": "NOT_SET"}
            if primary_phone
            else {"subscriptionStatus": "NO_SUBSCRIPTION_STATUS"}
        ),
    }


# --- Queries ------------------------------------------------------------------------------------


def _filter(spec) -> Q:
    """A QueryContacts filter as a Q: field conditions, $and, $or and $not, nested freely."""
    if not isinstance(spec, dict):
        raise _filter_error("MALFORMED_FILTER", "A filter must be a JSON object")
    conditions = []
    for key, condition in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise _filter_error("MALFORMED_FILTER", f"{key} needs a non-empty list of filters")
            combine = operator.and_ if key == "$and" else operator.or_
            conditions.append(reduce(combine, (_filter(part) for part in condition)))
        elif key == "$not":
            conditions.append(~_filter(condition))
        elif key == "id":
            conditions.append(_field_condition(key, condition, _id_operator))
        elif key in IDENTIFIER_FILTER_FIELDS:
            conditions.append(_field_condition(key, condition, _identifier_operator))
        else:
            raise _filter_error(
                "UNSUPPORTED_FILTER_FIELD_UNKNOWN", f"Filtering by {key} is not supported"
            )
    return reduce(operator.and_, conditions, Q())


def _field_condition(field, condition, build) -> Q:
    operators = condition if isinstance(condition, dict) else {"$eq": condition}
    if not operators:
        raise _filter_error("MALFORMED_FILTER", f"The condition on {field} is empty")
    return reduce(operator.and_, (build(field, op, operand) for op, operand in operators.items()))


def _identifier_operator(field: str, op: str, operand) -> Q:
    kind, primary_only = IDENTIFIER_FILTER_FIELDS[field]
    identifiers = SandboxContactIdentifier.objects.filter(contact=OuterRef("pk"), kind=kind)
    if primary_only:
        identifiers = identifiers.filter(is_primary=True)
    if op == "$exists":
        _require_type(field, op, operand, bool)
        return Q(Exists(identifiers)) if operand else ~Q(Exists(identifiers))
    if op == "$in":
        values = _string_list(field, op, operand)
        return Q(Exists(identifiers.filter(value__in=[_normalise(kind, v) for v in values])))
    _require_type(field, op, operand, str)
    value = _normalise(kind, operand)
    if op == "$eq":
        return Q(Exists(identifiers.filter(value=value)))
    if op == "$ne":
        return ~Q(Exists(identifiers.filter(value=value)))
    if op == "$startsWith":
        return Q(Exists(identifiers.filter(value__startswith=value)))
    raise _unsupported_operator(field, op)


def _id_operator(field: str, op: str, operand) -> Q:
    if op == "$in":
        return Q(pk__in=[_uuid_or_none(v) for v in _string_list(field, op, operand)])
    _require_type(field, op, operand, str)
    if op == "$eq":
        return Q(pk=_uuid_or_none(operand))
    if op == "$ne":
        return ~Q(pk=_uuid_or_none(operand))
    raise _unsupported_operator(field, op)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    """An unparsable id matches no contact (pk=None and pk__in=[None] are both empty)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _require_type(field: str, op: str, operand, expected: type) -> None:
    if not isinstance(operand, expected):
        raise _filter_error(
            "UNSUPPORTED_FILTER_VALUE_TYPE",
            f"{op} on {field} needs a {'boolean' if expected is bool else 'string'}",
        )


def _string_list(field: str, op: str, operand) -> list[str]:
    if not isinstance(operand, list) or not all(isinstance(v, str) for v in operand):
        raise _filter_error(
            "UNSUPPORTED_FILTER_VALUE_TYPE", f"{op} on {field} needs a list of strings"
        )
    return operand


def _unsupported_operator(field: str, op: str):
    return _filter_error(
        "UNSUPPORTED_FILTER_OPERATOR", f"Operator {op} is not supported on {field}"
    )


def _filter_error(code: str, description: str):
    return application_error(400, code, description)


def _ordering(sort: list[dict]) -> list[str]:
    if not sort:
        return ["-created", "pk"]
    field_name, order = sort[0].get("fieldName"), sort[0].get("order") or "ASC"
    if field_name not in SORT_COLUMNS:
        raise application_error(
            400, "UNSUPPORTED_SORT_FIELD", f"Sorting by {field_name} is not supported"
        )
    column = SORT_COLUMNS[field_name]
    return [f"-{column}" if order == "DESC" else column, "pk"]
