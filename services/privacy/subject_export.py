"""The privacy service's part of the data-subject export (see `shared.subject_export`).

What it holds about a student: their erasures (their own requests, and any an admin ordered), each as
its report shows it. The privacy API serves the whole archive at `GET /me/export` (`archive`), so this
part is made in-process and put beside the parts fetched from the other services.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.subject_export import part as envelope

SERVICE = "privacy"


def part(student_id: str, now: datetime, erasures: list[dict[str, Any]]) -> dict[str, Any]:
    """`erasures`: the student's erasure reports, oldest request first."""
    return envelope(SERVICE, student_id, now, {"erasures": erasures})
