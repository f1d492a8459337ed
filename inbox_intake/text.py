"""Counted nouns in messages, in Django's plural forms: "1 submission", "2 submissions"."""

from django.utils.translation import ngettext


def submissions(count: int) -> str:
    return ngettext("%(count)d submission", "%(count)d submissions", count) % {"count": count}


def attempts(count: int) -> str:
    return ngettext("%(count)d attempt", "%(count)d attempts", count) % {"count": count}
