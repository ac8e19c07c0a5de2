"""Our own CSV export: one row per contact, lists joined with ``;`` in one cell, safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from services.contacts.formats.records import as_list, as_text
from shared.spreadsheet import defuse

#: Columns of the export, in order.
CSV_COLUMNS = (
    "name", "emails", "phone", "linkedin_url", "organisation", "title", "industry", "location", "time_zone",
    "tags", "note",
)
_LISTS = ("emails", "tags")


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


CSV = CareerloopCsv()
