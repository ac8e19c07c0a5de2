"""Google Contacts CSV exports (contacts.google.com → Export → Google CSV), current and legacy columns."""
from __future__ import annotations

import re

from services.contacts.formats.records import ParsedRow, join, linkedin_profile, record
from services.contacts.formats.tabular import CsvImporter, Header

# "E-mail 1 - Value", "Organization 2 - Title", "Address 1 - City", ...
_NUMBERED_COLUMN = re.compile(r"(?P<kind>[a-z][a-z -]*?) (?P<n>\d+) - (?P<field>[a-z][a-z ]*)")
_NAME_COLUMNS = frozenset(
    {"name", "file as", "first name", "middle name", "last name",
     "given name", "additional name", "family name", "nickname"}
)
_MARKERS = frozenset(
    {"file as", "given name", "additional name", "family name",
     "group membership", "phonetic first name", "organization name"}
)
# Google's own labels ("* myContacts", "* starred") say nothing the student chose.
_SYSTEM_LABEL = "* "


class GoogleContacts(CsvImporter):
    name = "google_csv"
    label = "Google Contacts"
    source = "google"

    def matches(self, columns: dict[str, int]) -> bool:
        names = columns.keys()
        return bool(names & _NAME_COLUMNS) and bool(
            names & _MARKERS or any(_NUMBERED_COLUMN.fullmatch(name) for name in names))

    def prepare(self, header: Header) -> None:
        """Group the "Kind N - Field" columns by kind, in N order."""
        groups: dict[str, dict[int, dict[str, int]]] = {}
        for name, index in header.columns.items():
            match = _NUMBERED_COLUMN.fullmatch(name)
            if match:
                kind = "e-mail" if match["kind"] == "email" else match["kind"]
                groups.setdefault(kind, {}).setdefault(int(match["n"]), {})[match["field"]] = index
        header.extra["numbered"] = {kind: [by_n[n] for n in sorted(by_n)] for kind, by_n in groups.items()}

    def row(self, line: int, cells: list[str], header: Header) -> ParsedRow:
        """One contact; several values in one cell are separated by ``:::``."""
        value = lambda *names: header.first(cells, *names)  # noqa: E731
        numbered = header.extra["numbered"]

        def groups(kind: str, field: str) -> list[str]:
            return [_at(cells, group[field]) if field in group else "" for group in numbered.get(kind, [])]

        name = (
            value("name")
            or join(value("first name"), value("middle name"), value("last name"))
            or join(value("given name"), value("additional name"), value("family name"))
            or value("file as", "nickname")
        )
        emails = [email for cell in groups("e-mail", "value") for email in _split(cell)]
        phones = [phone for cell in groups("phone", "value") for phone in _split(cell)]
        websites = [url for cell in groups("website", "value") for url in _split(cell)]
        # Current format: one unnumbered organisation. Legacy: "Organization N - Name/Title".
        organisations = [(value("organization name"), value("organization title"))]
        organisations += zip(groups("organization", "name"), groups("organization", "title"), strict=True)
        organisation, title = next(((o, t) for o, t in organisations if o or t), ("", ""))
        places = zip(groups("address", "city"), groups("address", "region"), groups("address", "country"), strict=True)
        location = next(
            (", ".join(p for p in (_first(c), _first(r), _first(k)) if p) for c, r, k in places if c or r or k),
            value("location"),
        )
        labels = _split(value("labels", "group membership"))
        return record(
            line, self.source,
            name=name,
            emails=emails,
            phone=phones[0] if phones else "",
            linkedin_url=linkedin_profile(websites),
            organisation=_first(organisation),
            title=_first(title),
            location=location,
            note=value("notes"),
            tags=[label for label in labels if not label.startswith(_SYSTEM_LABEL)],
        )


def _at(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(":::") if part.strip()]


def _first(cell: str) -> str:
    parts = _split(cell)
    return parts[0] if parts else ""


GOOGLE = GoogleContacts()
