"""The notes service's part of the data-subject export (`GET /me/export`, see `shared.subject_export`).

What it holds about a student: their notes as their search shows them, each with every revision;
the access log of their shared notes (which advisor read which note, when); and who advises them.
Each note is also one Markdown file, `notes/<note id>.md`, for reading without tools: a heading, the
contact, the dates, the text, insights and action items. Everything the student wrote is escaped as
Markdown text, so their words read as they wrote them and never turn into markup or links.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shared.subject_export import ExportFile
from shared.subject_export import part as envelope

SERVICE = "notes"
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def part(student_id: str, now: datetime, notes: list[tuple[dict[str, Any], list[dict[str, Any]]]],
         access_log: list[dict[str, Any]], advisors: list[str]) -> dict[str, Any]:
    """`notes`: (note as the owner's search shows it, its revisions oldest first) pairs."""
    data = {"notes": [{**note, "revisions": revisions} for note, revisions in notes],
            "access_log": access_log, "advisors": advisors}
    files = [ExportFile(f"notes/{note['id']}.md", "text/markdown", markdown(note)) for note, _ in notes]
    return envelope(SERVICE, student_id, now, data, files)


def text(value: Any) -> str:
    """User text as literal Markdown: special characters escaped, line breaks kept as hard breaks."""
    return "  \n".join(_SPECIAL.sub(r"\\\1", line) for line in str(value).splitlines())


def markdown(note: dict[str, Any]) -> str:
    """One note as a Markdown document (CommonMark)."""
    about = note.get("contact_name") or "a contact"
    where = f" ({note['organisation']})" if note.get("organisation") else ""
    lines = [f"# Note about {text(about)}{text(where)}", "",
             f"- Recorded: {text(note.get('recorded_at') or '')}",
             f"- Last revised: {text(note.get('revised_at') or '')} (revision {note.get('revision')})",
             f"- Visibility: {text(note.get('visibility'))}"]
    for label, key in (("Contact", "contact_id"), ("Interview", "interview_id")):
        if note.get(key):
            lines.append(f"- {label}: {text(note[key])}")
    if note.get("tags"):
        lines.append(f"- Tags: {text(', '.join(note['tags']))}")
    lines += ["", "## Note", "", text(note.get("text") or "")]
    if note.get("insights"):
        lines += ["", "## Insights", ""] + [f"- {text(i['category'])}: {text(i['text'])}" for i in note["insights"]]
    if note.get("objectives_covered"):
        lines += ["", "## Objectives covered", ""] + [f"- {text(o)}" for o in note["objectives_covered"]]
    if note.get("action_items"):
        lines += ["", "## Action items", ""] + [
            f"- [{'x' if item.get('completed') else ' '}] {text(item['text'])}"
            + (f" (due {text(item['due_on'])})" if item.get("due_on") else "") for item in note["action_items"]]
    return "\n".join(lines) + "\n"
