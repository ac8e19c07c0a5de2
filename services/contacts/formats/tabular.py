"""Reading CSV exports (LinkedIn, Google): find the header row, then map each data row by column name.

A CSV format says which header it recognises and how one row becomes a record; this base class does
the rest, and accounts for every row after the header (an empty one is skipped, with that reason).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from services.contacts.formats.records import FormatError, ParsedRow, skipped

#: LinkedIn puts a "Notes:" preamble of a few lines before its header; nothing puts more than this.
HEADER_SEARCH_ROWS = 50
_DELIMITERS = (",", ";", "\t")  # Excel re-saves CSV with ";" in many European locales


@dataclass
class Header:
    """A recognised header row, with the rows that follow it still to be read."""

    columns: dict[str, int]  # normalised column name -> first index
    rows: Iterator[tuple[int, list[str]]]
    extra: dict = field(default_factory=dict)  # what a format derives from its columns once

    def cell(self, cells: list[str], name: str) -> str:
        index = self.columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def first(self, cells: list[str], *names: str) -> str:
        """The first non-empty cell among the named columns."""
        return next((value for name in names if (value := self.cell(cells, name))), "")


class CsvImporter:
    """Base of the CSV formats: subclasses set `name`, `label`, `source` and the two methods below."""

    name: str
    label: str
    source: str

    def matches(self, columns: dict[str, int]) -> bool:
        raise NotImplementedError

    def row(self, line: int, cells: list[str], header: Header) -> ParsedRow:
        raise NotImplementedError

    def prepare(self, header: Header) -> None:
        """Derive what rows need from the columns, once (Google groups its numbered columns)."""

    def recognises(self, text: str) -> bool:
        return self._header(text) is not None

    def parse(self, text: str) -> Iterator[ParsedRow]:
        header = self._header(text)
        if header is None:
            raise FormatError(f"no {self.label} header row found")
        self.prepare(header)
        for line, cells in header.rows:
            if any(cell.strip() for cell in cells):
                yield self.row(line, cells, header)
            else:
                yield skipped(line, "empty row")

    def _header(self, text: str) -> Header | None:
        for delimiter in _DELIMITERS:
            rows = _csv_rows(text, delimiter)
            for count, (_line, cells) in enumerate(rows):
                if count >= HEADER_SEARCH_ROWS:
                    break
                columns: dict[str, int] = {}
                for index, cell in enumerate(cells):
                    key = " ".join(cell.replace("\ufeff", "").split()).casefold()
                    if key:
                        columns.setdefault(key, index)
                if self.matches(columns):
                    return Header(columns, rows)
        return None


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line where the row starts, cells)``. Quoted fields may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FormatError(f"line {start}: unreadable CSV ({exc})") from exc
