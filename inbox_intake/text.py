"""Text: as visitors send it (lone UTF-16 surrogates, email addresses written several ways), and
counted nouns in messages, in Django's plural forms ("1 submission", "2 submissions").

A lone surrogate (`"\\udfff"` in JSON) is a Python character that no UTF encoding can write: the
database, a page, a CSV file or a Wix request would fail on it. The intake refuses such text
(`protection.check_text`); a row that holds one anyway (written before, or by another program)
is read with U+FFFD in its place (`Submission.from_db`), so it can still be shown, exported and
delivered.
"""

import contextlib
import re
import unicodedata

from django.utils.encoding import punycode
from django.utils.translation import ngettext

#: Python joins a valid pair into one character, so any surrogate left in a str is a lone one.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"


def has_lone_surrogate(text: str) -> bool:
    return LONE_SURROGATE.search(text) is not None


def replace_lone_surrogates(value):
    """`value` (a string, or JSON-like lists and dicts of them) with U+FFFD for each lone
    surrogate; other values as they are."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub(REPLACEMENT_CHARACTER, value)
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {
            replace_lone_surrogates(key): replace_lone_surrogates(item)
            for key, item in value.items()
        }
    return value


def normalize_email(email: str) -> str:
    """One spelling per mailbox, for matching and for Wix: Unicode NFC, the domain lower-cased and
    IDNA-encoded. `ex\\u00e4mple.com`, `exa\\u0308mple.com` and `xn--exmple-cua.com` are one domain.

    The local part keeps its case (only the mailbox's server may fold it). A domain that IDNA
    cannot encode is kept as typed, lower-cased: the form's validator has let it through.
    """
    local, at, domain = unicodedata.normalize("NFC", email.strip()).rpartition("@")
    domain = domain.lower()
    with contextlib.suppress(UnicodeError):
        domain = punycode(domain)
    return f"{local}{at}{domain}"


def submissions(count: int) -> str:
    return ngettext("%(count)d submission", "%(count)d submissions", count) % {"count": count}


def attempts(count: int) -> str:
    return ngettext("%(count)d attempt", "%(count)d attempts", count) % {"count": count}
