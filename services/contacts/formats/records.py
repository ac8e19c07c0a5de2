"""What every contact file format shares: the two small protocols, decoding, and building records.

A format checks *shape* only (is there a name, do the e-mails look like e-mails); business rules
belong to the contacts service. Parsing works one record at a time, so one bad record never sinks a
whole upload: it comes back as a `ParsedRow` naming the fields at fault, and an empty record comes
back skipped, so every record of a file is accounted for. Only a problem with the file as a whole
(undecodable, empty, no header) raises `FormatError`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, Protocol

from shared.identities import normalise_linkedin

#: Keys a parsed contact may carry, in the order they are emitted.
CONTACT_FIELDS = (
    "name", "emails", "phone", "linkedin_url", "organisation", "title", "industry", "location", "time_zone",
    "source", "note", "tags",
)
_TEXT_FIELDS = tuple(key for key in CONTACT_FIELDS if key not in ("name", "emails", "tags"))


class FormatError(ValueError):
    """The file as a whole cannot be read. This is different from one bad record."""


class TooLarge(FormatError):
    """The file is bigger than an import may be (bytes or records)."""


class Problem(NamedTuple):
    field: str  # the contact field at fault, or "record" when the record itself is malformed
    reason: str


class ParsedRow(NamedTuple):
    """One record of an uploaded file: a contact, the problems that make it invalid, or why it was skipped."""

    line: int
    contact: dict[str, Any] | None
    problems: tuple[Problem, ...] = ()
    skipped: str | None = None

    @property
    def error(self) -> str | None:
        return "; ".join(p.reason for p in self.problems) or None


class Importer(Protocol):
    """A file students bring: recognised by its content, read record by record."""

    name: str  # the `format` value of `POST /imports`
    label: str  # how students know the file, for messages

    def recognises(self, text: str) -> bool: ...

    def parse(self, text: str) -> Iterator[ParsedRow]: ...


class Exporter(Protocol):
    """A file students take away."""

    media_type: str
    filename: str

    def export(self, contacts: Iterable[dict[str, Any]]) -> bytes: ...


def skipped(line: int, reason: str) -> ParsedRow:
    return ParsedRow(line, None, skipped=reason)


# -- decoding: bytes -> text, the way real exports need it -----------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# C0 controls other than tab, LF, VT, FF and CR do not occur in text exports.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def decode(data: bytes) -> str:
    """Decode as UTF-8 (with or without BOM), then Windows-1252, or refuse.

    Excel on Windows still writes cp1252. A UTF-16 BOM is honoured too, because "Unicode text"
    exports use it. A NUL byte or many control characters means an image, a PDF or a zipped
    spreadsheet, not an export.
    """
    if not data.strip():
        raise FormatError("the file is empty")
    if data.startswith(_UTF16_BOMS):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise FormatError("the file is not valid UTF-16 text") from exc
    elif b"\x00" in data:
        raise FormatError("the file is binary, not a text export")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.removeprefix(_UTF8_BOM).decode("cp1252")
            except UnicodeDecodeError as exc:
                raise FormatError("the file is neither UTF-8 nor Windows-1252 text") from exc
    text = text.lstrip("\ufeff")
    if len(_CONTROL.findall(text)) > len(text) // 100:
        raise FormatError("the file is binary, not a text export")
    if not text.strip():
        raise FormatError("the file is empty")
    return text


# -- building contacts: one place decides what a valid record looks like ---------------------------

_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


def record(line: int, source: str, name: str, emails: Iterable[str] = (), tags: Iterable[str] = (),
           **fields: str) -> ParsedRow:
    """Make a ParsedRow. A record needs a name, and every e-mail must be well formed.

    All the problems are reported together, so a student can fix a row in one go. Empty fields are
    left out. Line endings inside values become ``\\n``.
    """
    name = " ".join(name.split())
    clean_emails, problems = _clean_emails(emails)
    if len(problems) > _MOST_PROBLEMS:
        problems[_MOST_PROBLEMS:] = [Problem("emails", f"and {len(problems) - _MOST_PROBLEMS} more bad emails")]
    if not name:
        problems.insert(0, Problem("name", "missing name"))
    if problems:
        return ParsedRow(line, None, tuple(problems))
    contact: dict[str, Any] = {"name": name}
    if clean_emails:
        contact["emails"] = clean_emails
    fields["source"] = source
    for key in _TEXT_FIELDS:
        value = LINE_BREAK.sub("\n", fields.get(key) or "").strip()
        if value:
            contact[key] = value
    if tag_list := _unique(" ".join(tag.split()) for tag in tags):
        contact["tags"] = tag_list
    return ParsedRow(line, contact)


def _clean_emails(raw_values: Iterable[str]) -> tuple[list[str], list[Problem]]:
    """Trim, check shape, drop case-insensitive duplicates (first spelling wins)."""
    emails: list[str] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for raw in raw_values:
        email = raw.strip()
        if email[:7].lower() == "mailto:":
            email = email[7:].strip()
        if not email:
            continue
        if not _EMAIL_SHAPE.fullmatch(email):
            problems.append(Problem("emails", f"bad email {_quote(email)}"))
            continue
        key = email.casefold()
        if key not in seen:
            seen.add(key)
            emails.append(email)
    return emails, problems


# The import report is one event, which must stay well under a Kafka message (1 MB by default) even
# when every row of a file at IMPORT_MAX_ROWS is bad: problems quote little, and only a few per row.
_MOST_PROBLEMS = 2
_MOST_QUOTED = 40


def _quote(value: str) -> str:
    return repr(value if len(value) <= _MOST_QUOTED else value[:_MOST_QUOTED] + "…")


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)


def linkedin_profile(urls: Iterable[str]) -> str:
    """The first URL that is a person's LinkedIn profile, as written (company pages are not the contact)."""
    return next((url for url in urls if normalise_linkedin(url) is not None), "")


def join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def as_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def as_list(value: Any) -> list[str]:
    """Read a list field (emails, tags) leniently. A bare string counts as a single item."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [text for item in items if (text := as_text(item))]
