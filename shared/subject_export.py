"""The data-subject export's part: what one service holds about the calling student, in one envelope.

Every service answers `GET /me/export` (students only, always the caller's own data, from the token's
subject) with `part()`: its name, the student, when the part was made, `data` (the service's read-model
documents about the student, in the shapes its own views answer) and `files` (the same data in a
format people's tools open: vCard, iCalendar, Markdown). The privacy service fetches every part with
the student's own token and zips them (`services.privacy.archive`); services still never call each
other or read another's store. `part_schema` documents a service's part with its own `data` schema,
and `PartEnvelope` is how the archive checks what it was sent.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates

from shared.events import isoformat

EXPORT_PATH = "/me/export"
EXPORT_SUMMARY = "Everything this service holds about you: your part of the data-subject export (GET /me/export " \
          "of the privacy service zips every part)"
# A file's path inside the service's folder of the archive: relative, plain names, no `..`.
FILE_PATH = re.compile(r"^(?!.*(?:^|/)\.\.?(?:/|$))[A-Za-z0-9._\-]+(?:/[A-Za-z0-9._\-]+)*$")


@dataclass(frozen=True)
class ExportFile:
    """One file of a part: its path in the service's folder, its media type and its text."""

    path: str
    media_type: str
    content: str

    def __post_init__(self) -> None:
        if not FILE_PATH.match(self.path):
            raise ValueError(f"not a relative file path: {self.path!r}")


def part(service: str, student_id: str, now: datetime, data: dict[str, Any],
         files: Iterable[ExportFile] = ()) -> dict[str, Any]:
    """The envelope every service's `GET /me/export` answers."""
    return {"service": service, "student_id": student_id, "generated_at": isoformat(now), "data": data,
            "files": [{"path": f.path, "media_type": f.media_type, "content": f.content} for f in files]}


class FileView(Schema):
    path = fields.String(required=True, validate=validate.Regexp(FILE_PATH), metadata={
        "description": "relative to the service's folder of the archive"})
    media_type = fields.String(required=True, metadata={"description": "e.g. text/vcard, text/calendar"})
    content = fields.String(required=True)


def part_schema(data: type[Schema], name: str) -> type[Schema]:
    """A service's part, documented with its own `data` schema (as `page_of` does for pages)."""
    return Schema.from_dict({
        "service": fields.String(required=True),
        "student_id": fields.String(required=True, metadata={"description": "you: your token's subject"}),
        "generated_at": fields.String(required=True, metadata={"description": "RFC 3339 UTC"}),
        "data": fields.Nested(data, required=True, metadata={"description": "what this service holds about you"}),
        "files": fields.List(fields.Nested(FileView), required=True)}, name=name)


class PartEnvelope(Schema):
    """A part as the archive receives it: the envelope checked, `data` taken as it comes."""

    class Meta:
        unknown = INCLUDE

    service = fields.String(required=True)
    student_id = fields.String(required=True)
    generated_at = fields.String(required=True)
    data = fields.Dict(required=True)
    files = fields.List(fields.Nested(FileView), required=True)

    @validates("files")
    def _distinct(self, files: list[dict[str, Any]], **_: Any) -> None:
        paths = [f["path"] for f in files]
        if len(paths) != len(set(paths)):
            raise ValidationError("two files with one path")
