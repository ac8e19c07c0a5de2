"""The contacts service's part of the data-subject export (`GET /me/export`, see `shared.subject_export`).

What it holds about a student: their contacts (every status, merged duplicates too) as the contact
view shows them, each with its touchpoints oldest first; and as one vCard 4.0 file the contacts of
`GET /exports/contacts.vcf?status=all` (active and archived), written by the same exporter from the
same rows, so the two downloads never differ.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.contacts import formats
from shared import subject_export

SERVICE = "contacts"


def part(student_id: str, now: datetime, contacts: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]],
         cards: list[dict[str, Any]]) -> dict[str, Any]:
    """`contacts`: (contact view, touchpoints) pairs; `cards`: the rows of the directory's vCard export."""
    exporter = formats.EXPORTERS["vcf"]
    data = {"contacts": [{**view, "touchpoints": sorted(touchpoints, key=lambda t: t["occurred_at"])}
                         for view, touchpoints in contacts]}
    vcard = subject_export.ExportFile(exporter.filename, exporter.media_type, exporter.export(cards).decode("utf-8"))
    return subject_export.part(SERVICE, student_id, now, data, [vcard])
