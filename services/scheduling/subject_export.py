"""The scheduling service's part of the data-subject export (`GET /me/export`, see `shared.subject_export`).

What it holds about a student: their interviews as `GET /interviews` lists them (requests, proposed
slots, agreed and earlier times, outcomes) and how often they rotated their calendar feed (the feed's
secret URL is a credential, so it stays out of a file meant to be kept); and every interview that has
a time as one iCalendar file, written by `shared.ics` like the subscribable feed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared import ics
from shared.subject_export import ExportFile
from shared.subject_export import part as envelope

SERVICE = "scheduling"


def part(student_id: str, now: datetime, interviews: list[dict[str, Any]], feed_generation: int, *,
         organizer: str) -> dict[str, Any]:
    """`interviews`: the student's entries as `GET /interviews` shows them, earliest first."""
    calendar = ExportFile("interviews.ics", "text/calendar", ics.feed(interviews, now, organizer=organizer))
    data = {"interviews": interviews, "calendar_feed": {"generation": feed_generation}}
    return envelope(SERVICE, student_id, now, data, [calendar])
