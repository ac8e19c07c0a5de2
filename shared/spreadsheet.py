"""CSV cells a spreadsheet opens as text, never as a formula (OWASP "CSV injection").

Exports carry other people's text (a contact's title, an organisation as a student typed it): a cell
starting with one of `FORMULA_START` would be run by Excel, LibreOffice or Sheets (`=HYPERLINK(...)`,
and `+1-555-0100` becomes the sum -654), so it gets a leading apostrophe and shows as typed.
"""
from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: Any) -> Any:
    """The cell as a spreadsheet should show it: text that would run gets a leading `'`; numbers and
    other values are left as they are, None becomes an empty cell."""
    if cell is None:
        return ""
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_START) else cell
