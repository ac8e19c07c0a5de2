"""The analytics service's part of the data-subject export (`GET /me/export`, see `shared.subject_export`).

What it holds about a student by name: their roster history (each record the career office uploaded
for them: program, college, degree level, class year or expected graduation, and from which day it
holds), from the `cohort-<student>` stream of its own event store. Everything else it holds about
students is keyed by pseudonyms (keyed hashes it does not turn back into ids) and only ever answered
as counts of groups; the part says so in `pseudonymised` rather than leaving it out silently.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.subject_export import part as envelope

SERVICE = "analytics"
PSEUDONYMISED = (
    "The analytics read models also count your steps (contacts reached, replies, interviews, thank-yous, "
    "follow-ups) under a pseudonym: a keyed hash of your id, with no names or text, that this service does "
    "not turn back into your id. They are only ever answered as counts of groups of at least "
    "ANALYTICS_MIN_CELL students, so no row of them is yours to export.")


def part(student_id: str, now: datetime, roster: list[dict[str, Any]]) -> dict[str, Any]:
    """`roster`: the student's roster records, by the day each takes effect."""
    return envelope(SERVICE, student_id, now, {"roster": roster, "pseudonymised": PSEUDONYMISED})
