"""The names the layers share: channels, a row's status, what a claim does with a row.

StrEnums, so they read and compare as the strings the database stores.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How a recipient is notified."""

    EMAIL = "email"
    SMS = "sms"
    SLACK = "slack"  # a Slack channel, `slack:#name` or `slack:C0123ABCD`
    TEAMS = "teams"  # a Microsoft Teams channel's Workflows webhook, `teams:NAME`


class Status(StrEnum):
    """A delivery row's status (`notifications.status`)."""

    PENDING = "PENDING"  # due at next_attempt_at, for whoever claims it
    SENDING = "SENDING"  # claimed under a lease by one process
    SENT = "SENT"
    FAILED = "FAILED"  # given up: permanent error, or MAX_ATTEMPTS
    SKIPPED = "SKIPPED"  # never sent: the invoice left review, or nobody to send to


class Disposition(StrEnum):
    """What to do with a row a claim returned."""

    SEND = "send"
    SKIPPED = "skipped"
    FAILED = "failed"
    IGNORE = "ignore"
