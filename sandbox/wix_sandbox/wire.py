"""Wire formats: timestamps, request ids, GET payloads (plain or `.r`), opaque cursors."""

import base64
import binascii
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

from django.http import QueryDict

from .errors import validation_error
from .validation import violation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Wix writes dates: 2025-01-15T10:20:30.123Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def new_request_id() -> str:
    """Shaped like Wix's x-wix-request-id: epoch seconds, a dot, 19 random digits."""
    return f"{int(time.time())}.{secrets.randbelow(10**19):019d}"


def encode_json(data) -> str:
    """base64url of compact JSON without padding: the SDK's `.r` encoding, and our cursors."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_json(text: str):
    """The inverse of encode_json; ValueError when `text` is not that."""
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from error


def query_payload(query: QueryDict) -> dict:
    """The payload a GET carries (sdk-contract.md §1.2).

    Plain form: dotted keys are nested (`paging.limit=10` → {"paging": {"limit": "10"}}) and a
    repeated key becomes a list. Complex form: `.r` holds the whole payload as base64url JSON.
    """
    payload: dict = {}
    for key, values in query.lists():
        if key != ".r":
            _set_dotted(payload, key.split("."), values[0] if len(values) == 1 else values)
    if ".r" in query:
        try:
            complex_payload = decode_json(query[".r"])
        except ValueError:
            complex_payload = None
        if not isinstance(complex_payload, dict):
            raise validation_error(
                [violation(".r", "must be a base64url-encoded JSON object", "FORMAT")]
            )
        payload.update(complex_payload)
    return payload


def _set_dotted(target: dict, keys: list[str], value) -> None:
    for key in keys[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[keys[-1]] = value
