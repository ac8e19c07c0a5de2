"""Contact file formats: read what students upload, write out what they own.

Students bring their network from LinkedIn's ``Connections.csv``, a Google Contacts CSV export and
vCard files; they take it away as CSV or vCard 4.0. Each format is one module implementing the
small protocols of `records` (`Importer`: recognises + parse; `Exporter`: export); this registry
picks the format, so the service never names one.
"""
from __future__ import annotations

from services.contacts.formats.careerloop_csv import CSV, CSV_COLUMNS
from services.contacts.formats.google import GOOGLE
from services.contacts.formats.linkedin import LINKEDIN
from services.contacts.formats.records import (
    CONTACT_FIELDS,
    LINE_BREAK,
    Exporter,
    FormatError,
    Importer,
    ParsedRow,
    Problem,
    TooLarge,
    decode,
)
from services.contacts.formats.vcard import VCARD

__all__ = [
    "CONTACT_FIELDS", "CSV", "CSV_COLUMNS", "EXPORTERS", "FORMATS", "IMPORTERS", "VCARD", "Exporter", "FormatError",
    "Importer", "ParsedRow", "Problem", "TooLarge", "detect_format", "parse",
]

# Detection asks in this order: a CSV header is unmistakable, while a vCard may follow other text.
IMPORTERS: dict[str, Importer] = {f.name: f for f in (LINKEDIN, GOOGLE, VCARD)}
FORMATS = tuple(IMPORTERS)
EXPORTERS: dict[str, Exporter] = {"csv": CSV, "vcf": VCARD}


def detect_format(data: bytes, filename: str | None = None, content_type: str | None = None) -> str:
    """Name the format of an uploaded file by looking at its content.

    Students rename files and browsers guess content types from extensions, so the bytes decide.
    ``filename`` and ``content_type`` only make the error message more helpful.
    """
    try:
        text = decode(data)
    except FormatError as exc:
        raise FormatError(f"{exc}{_hint(filename, content_type)}") from exc
    first_line = next((line.strip().upper() for line in LINE_BREAK.split(text) if line.strip()), "")
    if first_line == "BEGIN:VCARD":
        return VCARD.name
    for importer in IMPORTERS.values():
        if importer.recognises(text):
            return importer.name
    raise FormatError(
        "not a recognised contact export; expected a LinkedIn Connections.csv, "
        "a Google Contacts CSV or a vCard (.vcf) file" + _hint(filename, content_type)
    )


def parse(data: bytes, fmt: str, *, max_records: int | None = None) -> list[ParsedRow]:
    """Parse ``data`` as ``fmt``: one row per record of the file, empty ones included (as skipped).

    More than ``max_records`` records raise `TooLarge` as soon as the file is known to have them.
    """
    importer = IMPORTERS.get(fmt)
    if importer is None:
        raise FormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    rows: list[ParsedRow] = []
    for row in importer.parse(decode(data)):
        rows.append(row)
        if max_records is not None and len(rows) > max_records:
            raise TooLarge(f"the file has more than {max_records} records; an import takes at most "
                           f"{max_records} (IMPORT_MAX_ROWS): split the file")
    return rows


def _hint(filename: str | None, content_type: str | None) -> str:
    """Extra words for an error about an upload. Spreadsheets are the common mistake."""
    name = (filename or "").lower()
    kind = (content_type or "").lower()
    if name.endswith((".xlsx", ".xls", ".ods", ".numbers")) or any(
        marker in kind for marker in ("spreadsheet", "excel", "opendocument")
    ):
        return " (spreadsheets must be exported as CSV first)"
    if filename:
        return f" (file {filename!r})"
    return ""
