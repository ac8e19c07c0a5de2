"""The notifications service's part of the data-subject export (`GET /me/export`, see `shared.subject_export`).

What it holds about a student: their preferences, every notification addressed to them on any channel
(scheduled, bundled, sent, failed, suppressed: the history, which includes the in-app inbox with
what was read when), and the webhook endpoints they registered, removed ones too (never a signing
secret: none is stored, each is derived when needed). The JSON holds it all; there are no files.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.subject_export import part as envelope

SERVICE = "notifications"


def part(student_id: str, now: datetime, preferences: dict[str, Any], notifications: list[dict[str, Any]],
         webhooks: list[dict[str, Any]]) -> dict[str, Any]:
    return envelope(SERVICE, student_id, now,
                    {"preferences": preferences, "notifications": notifications, "webhooks": webhooks})
