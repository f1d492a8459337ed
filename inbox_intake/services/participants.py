"""Who a submitter is in Wix, and their conversation: a member id, an anonymous visitor id, or
the contact found by email (created if missing).

The ids are cached per participant (`WixParticipant`), so a repeat submitter costs one Wix call,
the send, instead of three.
"""

from ..forms import IntakeForm
from ..models import Submission, WixParticipant
from ..text import normalize_email
from ..wix import WixClient, WixConflictError


def participant_key(submission: Submission) -> str:
    """The participant cache's key: `member:…`, `visitor:…` or `email:…`."""
    if submission.wix_member_id:
        return f"member:{submission.wix_member_id}"
    if submission.wix_anonymous_visitor_id:
        return f"visitor:{submission.wix_anonymous_visitor_id}"
    return email_key(submission.email)


def email_key(email: str) -> str:
    """The key of a submitter known by email: one per mailbox, however the address was written."""
    return f"email:{normalize_email(email)}"


def resolve_conversation(client: WixClient, submission: Submission, *, fresh: bool) -> str:
    """The submitter's conversation id, from the cache unless `fresh`, else looked up at Wix
    (and cached). The contact and conversation ids are noted on `submission` (not saved: the
    attempt's record saves them)."""
    key = participant_key(submission)
    cached = None if fresh else WixParticipant.objects.filter(key=key).first()
    if cached and cached.conversation_id:
        contact_id, conversation_id = cached.contact_id, cached.conversation_id
    else:
        contact_id = ""
        if submission.wix_member_id:
            participant = {"memberId": submission.wix_member_id}
        elif submission.wix_anonymous_visitor_id:
            participant = {"anonymousVisitorId": submission.wix_anonymous_visitor_id}
        else:
            contact_id = _contact_id(client, submission)
            participant = {"contactId": contact_id}
        conversation_id = client.get_or_create_conversation(participant)
        WixParticipant.objects.update_or_create(
            key=key, defaults={"contact_id": contact_id, "conversation_id": conversation_id}
        )
    submission.wix_contact_id = contact_id
    submission.wix_conversation_id = conversation_id
    return conversation_id


def forget_participant(submission: Submission) -> None:
    """Drop the cached ids (Wix answered 404 for them: conversations can be merged)."""
    WixParticipant.objects.filter(key=participant_key(submission)).delete()


def _contact_id(client: WixClient, submission: Submission) -> str:
    """The submitter's Wix contact, created if missing.

    Create first: Wix refuses an email already in use with a 409 that names the existing contact,
    so a new and a known submitter each cost one call (querying first would cost a new one two).
    """
    try:
        return client.create_contact(_contact_info(submission))
    except WixConflictError:
        contact_id = client.find_contact_id(normalize_email(submission.email))
        if contact_id:
            return contact_id
        raise


def _contact_info(submission: Submission) -> dict:
    data = submission.data
    email = normalize_email(submission.email)
    info = {"emails": {"items": [{"tag": "MAIN", "email": email, "primary": True}]}}
    name = IntakeForm.submitter_name(data)
    if name:
        info = {"name": name, **info}
    if data.get("phone"):
        info["phones"] = {"items": [{"tag": "MOBILE", "phone": data["phone"]}]}
    return info
