"""Our own CSV export: one row per contact, lists joined with ``;`` in one cell, safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from services.contacts.formats.records import as_list, as_text

#: Columns of the export, in order.
CSV_COLUMNS = (
    "name", "emails", "phone", "linkedin_url", "organisation", "title", "industry", "location", "time_zone",
    "tags", "note",
)
_LISTS = ("emails", "tags")
# OWASP CSV injection: a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CareerloopCsv:
    media_type = "text/csv"
    filename = "contacts.csv"

    def export(self, contacts: Iterable[dict[str, Any]]) -> bytes:
        """RFC 4180 quoting and CRLF rows, so Excel, Numbers and the csv module agree; the byte-order
        mark makes Excel read UTF-8 (accents intact), and CSV readers skip it."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for contact in contacts:
            writer.writerow(defuse(";".join(as_list(contact.get(column))) if column in _LISTS
                                   else as_text(contact.get(column))) for column in CSV_COLUMNS)
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def defuse(cell: str) -> str:
    """A contact's details are other people's text (a title of `=HYPERLINK(...)`): a cell that a
    spreadsheet would run gets a leading apostrophe, so it shows as text. Phone numbers too: Excel
    would otherwise turn `+1-555-0100` into the sum -654."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


CSV = CareerloopCsv()
