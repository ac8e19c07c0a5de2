"""The followups service's part of the data-subject export (`GET /me/export`, see `shared.subject_export`).

What it holds about a student: their timeline (everything that happened, as the timeline shows it,
oldest first) and every item of their follow-up queue in any state (open, snoozed, dismissed, done),
as the queue shows it to them, with its state as of the export. Both are already in the JSON, so the
part has no files of its own.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.subject_export import part as envelope

SERVICE = "followups"


def part(student_id: str, now: datetime, timeline: list[dict[str, Any]], items: list[dict[str, Any]]) -> dict[str, Any]:
    return envelope(SERVICE, student_id, now, {"timeline": timeline, "followups": items})
