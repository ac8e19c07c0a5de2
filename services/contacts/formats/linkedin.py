"""LinkedIn's ``Connections.csv`` (Settings → Data privacy → Get a copy of your data → Connections)."""
from __future__ import annotations

from services.contacts.formats.records import ParsedRow, join, record
from services.contacts.formats.tabular import CsvImporter, Header


class LinkedInConnections(CsvImporter):
    name = "linkedin_csv"
    label = "LinkedIn Connections"
    source = "linkedin"

    def matches(self, columns: dict[str, int]) -> bool:
        names = columns.keys()
        return {"first name", "last name"} <= names and bool(names & {"email address", "connected on"})

    def row(self, line: int, cells: list[str], header: Header) -> ParsedRow:
        """"Connected On" has no field in the contact shape, so it is dropped."""
        value = lambda name: header.cell(cells, name)  # noqa: E731
        return record(
            line, self.source,
            name=join(value("first name"), value("last name")),
            emails=[value("email address")],
            linkedin_url=value("url"),
            organisation=value("company"),
            title=value("position"),
        )


LINKEDIN = LinkedInConnections()
