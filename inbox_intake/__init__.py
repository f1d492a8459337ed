"""Inbox Intake: website form submissions delivered as form messages to a Wix site's Inbox."""

__version__ = "0.2.0"
