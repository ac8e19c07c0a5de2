"""Contact file formats: read what students upload, write out what they own.

Students bring their professional network from three places: LinkedIn's
``Connections.csv``, a Google Contacts CSV export, and vCard (``.vcf``) files
from phones and mail clients. This module turns those files into plain contact
dicts, and writes contacts back out as CSV or vCard 4.0.

It checks *shape* only (is there a name, do the emails look like emails).
Business rules belong to the contacts service. Parsing works one record at a
time, so one bad row never sinks a whole upload. A bad row comes back as a
``ParsedRow`` with an error, so the UI can say "line 12: bad email 'x@'". Only
a problem with the file as a whole (undecodable, empty, no header) raises
``FormatError``.

The module uses the standard library only, so it runs wherever the service
runs.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import quopri
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shared.contentlines import escape, fold

__all__ = [
    "CONTACT_FIELDS",
    "CSV_COLUMNS",
    "FORMATS",
    "GOOGLE_CSV",
    "LINKEDIN_CSV",
    "VCARD",
    "FormatError",
    "ParsedRow",
    "detect_format",
    "export_csv",
    "export_vcard",
    "parse",
]

LINKEDIN_CSV = "linkedin_csv"
GOOGLE_CSV = "google_csv"
VCARD = "vcard"
FORMATS = (LINKEDIN_CSV, GOOGLE_CSV, VCARD)

#: Keys a parsed contact may carry, in the order they are emitted.
CONTACT_FIELDS = (
    "name",
    "emails",
    "phone",
    "linkedin_url",
    "organisation",
    "title",
    "industry",
    "location",
    "time_zone",
    "source",
    "note",
)

#: Columns of our own CSV export, in order.
CSV_COLUMNS = (
    "name",
    "emails",
    "phone",
    "linkedin_url",
    "organisation",
    "title",
    "industry",
    "location",
    "time_zone",
    "tags",
    "note",
)


class FormatError(ValueError):
    """The file as a whole cannot be read. This is different from one bad record."""


class ParsedRow(NamedTuple):
    """One record of an uploaded file: either a contact or the reason it is not one."""

    line: int
    contact: dict[str, Any] | None
    error: str | None


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def detect_format(
    data: bytes, filename: str | None = None, content_type: str | None = None
) -> str:
    """Name the format of an uploaded file by looking at its content.

    Students rename files and browsers guess content types from extensions,
    so the bytes decide. ``filename`` and ``content_type`` only make the error
    message more helpful (for example "export your spreadsheet as CSV").
    """
    try:
        text = _decode(data)
    except FormatError as exc:
        raise FormatError(f"{exc}{_hint(filename, content_type)}") from exc
    first_line = next((line.strip() for line in _LINE_BREAK.split(text) if line.strip()), "")
    if first_line.upper() == "BEGIN:VCARD":
        return VCARD
    header = _locate_header(text)
    if header is not None:
        return header.fmt
    if _has_vcard(text):  # vCards after some leading junk
        return VCARD
    raise FormatError(
        "not a recognised contact export; expected a LinkedIn Connections.csv, "
        "a Google Contacts CSV or a vCard (.vcf) file" + _hint(filename, content_type)
    )


def parse(data: bytes, fmt: str) -> list[ParsedRow]:
    """Parse ``data`` as ``fmt``, one ``ParsedRow`` per record (blank rows skipped)."""
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    text = _decode(data)
    if fmt == VCARD:
        return _parse_vcards(text)
    header = _locate_header(text, wanted=fmt)
    if header is None:
        label = "LinkedIn Connections" if fmt == LINKEDIN_CSV else "Google Contacts"
        raise FormatError(f"no {label} header row found")
    to_record = _linkedin_record if fmt == LINKEDIN_CSV else _google_record
    return [
        to_record(line, cells, header)
        for line, cells in header.rows
        if any(cell.strip() for cell in cells)
    ]


def export_csv(contacts: Iterable[dict[str, Any]]) -> str:
    """Write contacts as our own CSV. Lists go in one cell, joined with ``;``.

    Cells are quoted as RFC 4180 requires and rows end with CRLF, so Excel,
    Numbers and our parsers agree. Encoding (for example ``utf-8-sig`` for
    Excel) is left to the caller.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for contact in contacts:
        writer.writerow(
            _defuse(";".join(_as_list(contact.get(column))) if column in ("emails", "tags")
                    else _as_text(contact.get(column)), column)
            for column in CSV_COLUMNS
        )
    return buffer.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_LIKE = re.compile(r"^\+?[0-9 ()./\-]+$")


def _defuse(cell: str, column: str) -> str:
    """Spreadsheets run cells that start like a formula (a contact can set their job title to
    `=HYPERLINK(...)`): prefix such cells with an apostrophe, as OWASP advises for CSV injection.
    A phone number such as `+44 20 ...` is left as it is: digits cannot form a formula."""
    if cell.startswith(_FORMULA_START) and not (column == "phone" and _PHONE_LIKE.match(cell)):
        return "'" + cell
    return cell


def export_vcard(contacts: Iterable[dict[str, Any]]) -> str:
    """Write contacts as vCard 4.0 (RFC 6350): CRLF line ends, 75-octet folding, escaped text."""
    lines: list[str] = []
    for contact in contacts:
        lines.extend(fold(line) for line in _vcard_lines(contact))
    return "".join(line + "\r\n" for line in lines)


# --------------------------------------------------------------------------
# Decoding: bytes -> text, the way real exports need it
# --------------------------------------------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# C0 controls other than tab, LF, VT, FF and CR do not occur in text exports.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _decode(data: bytes) -> str:
    """Decode as UTF-8 (with or without BOM), then Windows-1252, or refuse.

    Excel on Windows still writes cp1252. A UTF-16 BOM is honoured too,
    because "Unicode text" exports use it. A NUL byte or many control
    characters means an image, a PDF or a zipped spreadsheet, not an export.
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


# --------------------------------------------------------------------------
# Building contacts: one place decides what a valid record looks like
# --------------------------------------------------------------------------

_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


def _record(line: int, source: str, name: str, emails: Iterable[str] = (), **fields: str) -> ParsedRow:
    """Make a ParsedRow. A record needs a name, and every email must be well formed.

    All the problems are reported together, so a student can fix a row in one go.
    Empty fields are left out. Line endings inside values become ``\\n``.
    """
    name = " ".join(name.split())
    clean_emails, problems = _clean_emails(emails)
    if not name:
        problems.insert(0, "missing name")
    if problems:
        return ParsedRow(line, None, "; ".join(problems))
    contact: dict[str, Any] = {"name": name}
    if clean_emails:
        contact["emails"] = clean_emails
    fields["source"] = source
    for key in CONTACT_FIELDS[2:]:
        value = _LINE_BREAK.sub("\n", fields.get(key) or "").strip()
        if value:
            contact[key] = value
    return ParsedRow(line, contact, None)


def _clean_emails(raw_values: Iterable[str]) -> tuple[list[str], list[str]]:
    """Trim, check shape, drop case-insensitive duplicates (first spelling wins)."""
    emails: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    for raw in raw_values:
        email = raw.strip()
        if email[:7].lower() == "mailto:":
            email = email[7:].strip()
        if not email:
            continue
        if not _EMAIL_SHAPE.fullmatch(email):
            problems.append(f"bad email {email!r}")
            continue
        key = email.casefold()
        if key not in seen:
            seen.add(key)
            emails.append(email)
    return emails, problems


def _is_linkedin_profile(url: str) -> bool:
    """Check for a person's LinkedIn profile (``/in/`` or ``/pub/``, any subdomain, scheme optional).

    Company and school pages are websites too, but they are not the contact,
    so they are not picked out of a list of websites.
    """
    candidate = url.strip()
    if "://" not in candidate:
        candidate = "//" + candidate
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    segments = [segment for segment in parts.path.split("/") if segment]
    return (
        (host == "linkedin.com" or host.endswith(".linkedin.com"))
        and len(segments) >= 2
        and segments[0].lower() in ("in", "pub")
    )


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


# --------------------------------------------------------------------------
# CSV exports (LinkedIn, Google): find the header, then map columns by name
# --------------------------------------------------------------------------

# "E-mail 1 - Value", "Organization 2 - Title", "Address 1 - City", ...
_NUMBERED_COLUMN = re.compile(r"(?P<kind>[a-z][a-z -]*?) (?P<n>\d+) - (?P<field>[a-z][a-z ]*)")
_NAME_COLUMNS = frozenset(
    {"name", "file as", "first name", "middle name", "last name",
     "given name", "additional name", "family name", "nickname"}
)
_GOOGLE_MARKERS = frozenset(
    {"file as", "given name", "additional name", "family name",
     "group membership", "phonetic first name", "organization name"}
)


@dataclass
class _Header:
    """A recognised header row, with the rows that follow it still to be read."""

    fmt: str
    columns: dict[str, int]  # normalised column name -> first index
    numbered: dict[str, list[dict[str, int]]]  # "e-mail" -> [{"value": 19, "label": 18}, ...] by N
    rows: Iterator[tuple[int, list[str]]]


def _locate_header(text: str, wanted: str | None = None) -> _Header | None:
    """Find the first row that looks like a LinkedIn or Google header.

    LinkedIn puts a "Notes:" preamble of varying length before its header, so
    every row is checked. Excel re-saves CSV with ``;`` in many European
    locales, so that delimiter (and tab) is tried when a comma finds nothing.
    """
    for delimiter in (",", ";", "\t"):
        rows = _csv_rows(text, delimiter)
        for _line, cells in rows:
            columns: dict[str, int] = {}
            for index, cell in enumerate(cells):
                key = " ".join(cell.replace("\ufeff", "").split()).casefold()
                if key:
                    columns.setdefault(key, index)
            fmt = _classify_header(columns)
            if fmt is not None and wanted in (None, fmt):
                return _Header(fmt, columns, _numbered_columns(columns), rows)
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


def _classify_header(columns: dict[str, int]) -> str | None:
    names = columns.keys()
    if {"first name", "last name"} <= names and names & {"email address", "connected on"}:
        return LINKEDIN_CSV
    if names & _NAME_COLUMNS and (
        names & _GOOGLE_MARKERS or any(_NUMBERED_COLUMN.fullmatch(name) for name in names)
    ):
        return GOOGLE_CSV
    return None


def _numbered_columns(columns: dict[str, int]) -> dict[str, list[dict[str, int]]]:
    """Group Google's "Kind N - Field" columns by kind, in N order."""
    groups: dict[str, dict[int, dict[str, int]]] = {}
    for name, index in columns.items():
        match = _NUMBERED_COLUMN.fullmatch(name)
        if match:
            kind = "e-mail" if match["kind"] == "email" else match["kind"]
            groups.setdefault(kind, {}).setdefault(int(match["n"]), {})[match["field"]] = index
    return {kind: [by_n[n] for n in sorted(by_n)] for kind, by_n in groups.items()}


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _first_value(cells: list[str], header: _Header, *names: str) -> str:
    """Return the first non-empty cell among the named columns."""
    return next(
        (value for name in names if (value := _cell(cells, header.columns.get(name)))), ""
    )


def _split_multi(value: str) -> list[str]:
    """Google packs several values into one cell, separated by ``:::``."""
    return [part.strip() for part in value.split(":::") if part.strip()]


def _linkedin_record(line: int, cells: list[str], header: _Header) -> ParsedRow:
    """Map one Connections.csv row. "Connected On" has no field in the contact shape, so it is dropped."""
    value = lambda name: _first_value(cells, header, name)  # noqa: E731
    return _record(
        line,
        "linkedin",
        name=_join(value("first name"), value("last name")),
        emails=[value("email address")],
        linkedin_url=value("url"),
        organisation=value("company"),
        title=value("position"),
    )


def _google_record(line: int, cells: list[str], header: _Header) -> ParsedRow:
    """Map one Google Contacts row. The current and legacy column sets are both handled here."""
    value = lambda *names: _first_value(cells, header, *names)  # noqa: E731
    groups = lambda kind, field: [  # noqa: E731
        _cell(cells, group.get(field)) for group in header.numbered.get(kind, [])
    ]
    name = (
        value("name")
        or _join(value("first name"), value("middle name"), value("last name"))
        or _join(value("given name"), value("additional name"), value("family name"))
        or value("file as", "nickname")
    )
    emails = [email for cell in groups("e-mail", "value") for email in _split_multi(cell)]
    phones = [phone for cell in groups("phone", "value") for phone in _split_multi(cell)]
    websites = [url for cell in groups("website", "value") for url in _split_multi(cell)]
    # Current format: one unnumbered organisation. Legacy: "Organization N - Name/Title".
    organisations = [(value("organization name"), value("organization title"))]
    organisations += zip(groups("organization", "name"), groups("organization", "title"))
    organisation, title = next(((o, t) for o, t in organisations if o or t), ("", ""))
    places = zip(groups("address", "city"), groups("address", "region"), groups("address", "country"))
    location = next(
        (", ".join(p for p in (_first(c), _first(r), _first(k)) if p) for c, r, k in places if c or r or k),
        value("location"),
    )
    return _record(
        line,
        "google",
        name=name,
        emails=emails,
        phone=phones[0] if phones else "",
        linkedin_url=next((url for url in websites if _is_linkedin_profile(url)), ""),
        organisation=_first(organisation),
        title=_first(title),
        location=location,
        note=value("notes"),
    )


def _first(cell: str) -> str:
    parts = _split_multi(cell)
    return parts[0] if parts else ""


# --------------------------------------------------------------------------
# vCard 2.1 / 3.0 / 4.0 parsing
# --------------------------------------------------------------------------

# Properties we read. Others (PHOTO, KEY, ...) are skipped undecoded.
_VCARD_PROPERTIES = frozenset(
    {"FN", "N", "EMAIL", "TEL", "ORG", "TITLE", "URL", "X-SOCIALPROFILE", "NOTE", "TZ", "ADR"}
)
_QP_LINE = re.compile(r"^[^:]*quoted-printable", re.IGNORECASE)
_VERSION_21 = re.compile(r"\s*VERSION\s*:\s*2\.1\s*", re.IGNORECASE)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_BARE_ENCODINGS = frozenset({"QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT"})


class _RawCard(NamedTuple):
    line: int  # the BEGIN:VCARD line
    lines: list[str]  # physical lines between BEGIN and END
    terminated: bool


class _Property(NamedTuple):
    params: dict[str, list[str]]  # upper-case name -> values
    value: str  # transfer encoding removed, escapes still in place


def _has_vcard(text: str) -> bool:
    return any(line.strip().upper() == "BEGIN:VCARD" for line in _LINE_BREAK.split(text))


def _parse_vcards(text: str) -> list[ParsedRow]:
    cards = list(_split_cards(_LINE_BREAK.split(text)))
    if not cards:
        raise FormatError("no BEGIN:VCARD found; not a vCard file")
    return [
        _vcard_record(card) if card.terminated else ParsedRow(card.line, None, "unterminated vCard")
        for card in cards
    ]


def _split_cards(lines: list[str]) -> Iterator[_RawCard]:
    """Group physical lines into cards.

    A BEGIN inside an open card closes that card as unterminated, so the cards
    after a truncated one are still read. Lines outside any card are ignored.
    A folded continuation line (one that starts with whitespace) is never read
    as BEGIN or END.
    """
    begin, body = 0, []
    for number, raw in enumerate(lines, start=1):
        marker = raw.strip().upper() if raw[:1] not in (" ", "\t") else ""
        if marker == "BEGIN:VCARD":
            if begin:
                yield _RawCard(begin, body, terminated=False)
            begin, body = number, []
        elif marker == "END:VCARD":
            if begin:
                yield _RawCard(begin, body, terminated=True)
            begin, body = 0, []
        elif begin:
            body.append(raw)
    if begin:
        yield _RawCard(begin, body, terminated=False)


def _unfold(lines: list[str]) -> list[str]:
    """Join folded lines back into logical content lines.

    3.0 and 4.0 drop the one leading space or tab. 2.1 keeps it, because its
    folding only inserted a line break. A quoted-printable value ending in
    ``=`` continues on the next line whatever that line starts with (a soft
    line break).
    """
    keep_whitespace = any(_VERSION_21.fullmatch(line) for line in lines)
    logical: list[str] = []
    for raw in lines:
        if logical and logical[-1].endswith("=") and _QP_LINE.match(logical[-1]):
            logical[-1] = logical[-1][:-1] + raw
        elif logical and raw[:1] in (" ", "\t"):
            logical[-1] += raw if keep_whitespace else raw[1:]
        else:
            logical.append(raw)
    return logical


def _content_line(line: str) -> tuple[str, _Property] | None:
    """Split ``[group.]NAME;param=a,b;param2="x:y":value``. Return None for anything else."""
    in_quotes = False
    for colon, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            break
    else:
        return None
    head, value = line[:colon], line[colon + 1 :]
    name, *raw_params = _split_outside_quotes(head, ";")
    name = name.strip().rpartition(".")[2].upper()  # drop the group: item1.EMAIL -> EMAIL
    if not name:
        return None
    params: dict[str, list[str]] = {}
    for raw in raw_params:
        key, has_value, raw_value = raw.partition("=")
        if not has_value:  # 2.1 bare parameter: EMAIL;INTERNET;PREF or ;QUOTED-PRINTABLE
            key, raw_value = ("ENCODING" if key.strip().upper() in _BARE_ENCODINGS else "TYPE"), key
        values = [v.strip() for v in raw_value.strip().strip('"').split(",") if v.strip()]
        params.setdefault(key.strip().upper(), []).extend(values)
    return name, _Property(params, _decode_transfer(value, params))


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts, current, in_quotes = [], [], False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
        if char == separator and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _decode_transfer(value: str, params: dict[str, list[str]]) -> str:
    """Undo the 2.1-style QUOTED-PRINTABLE or BASE64 encoding, using CHARSET."""
    encoding = (params.get("ENCODING") or [""])[0].upper()
    if encoding in ("QUOTED-PRINTABLE", "QP"):
        raw = quopri.decodestring(value.encode("utf-8"))
    elif encoding in ("B", "BASE64"):
        try:
            raw = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            return value
    else:
        return value
    for charset in ((params.get("CHARSET") or [""])[0], "utf-8", "cp1252"):
        if charset:
            try:
                return raw.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return raw.decode("latin-1")


def _unescape(text: str) -> str:
    r"""Undo RFC 6350 escapes (``\\ \, \; \n``, plus Apple's ``\:``). Leave unknown escapes as they are."""

    def replace(match: re.Match[str]) -> str:
        char = match.group(1)
        if char in "nN":
            return "\n"
        return char if char in "\\,;:" else match.group(0)

    return _ESCAPE.sub(replace, text)


def _split_escaped(text: str, separator: str) -> list[str]:
    """Split on separators that are not backslash-escaped, keeping escapes for ``_unescape``."""
    parts, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _components(prop: _Property) -> list[str]:
    """Components of a structured value (N, ORG, ADR). A comma list inside a component becomes words."""
    return [
        " ".join(_unescape(item).strip() for item in _split_escaped(component, ",") if item.strip())
        for component in _split_escaped(prop.value, ";")
    ]


def _preference(prop: _Property) -> int:
    """Return 1 for most preferred (4.0 ``PREF=1``, 3.0 ``TYPE=pref``) and 101 when nothing says so."""
    for raw in prop.params.get("PREF", []):
        if raw.isdigit():
            return int(raw)
    return 1 if any(t.upper() == "PREF" for t in prop.params.get("TYPE", [])) else 101


def _vcard_record(card: _RawCard) -> ParsedRow:
    """Map one complete card. Where a property repeats, the preferred one wins (then file order)."""
    props: dict[str, list[_Property]] = {}
    for line in _unfold(card.lines):
        parsed = _content_line(line)
        if parsed is not None and parsed[0] in _VCARD_PROPERTIES:
            props.setdefault(parsed[0], []).append(parsed[1])

    def texts(name: str) -> list[str]:
        ranked = sorted(props.get(name, []), key=_preference)
        return [text for prop in ranked if (text := _unescape(prop.value).strip())]

    def first_components(name: str, size: int) -> list[str]:
        for prop in sorted(props.get(name, []), key=_preference):
            parts = (_components(prop) + [""] * size)[:size]
            if any(parts):
                return parts
        return [""] * size

    family, given, additional, prefix, suffix = first_components("N", 5)
    name = next(iter(texts("FN")), "") or _join(prefix, given, additional, family, suffix)
    address = first_components("ADR", 7)  # pobox;ext;street;locality;region;code;country
    phone = next(iter(texts("TEL")), "")
    if phone[:4].lower() == "tel:":  # 4.0 TEL;VALUE=uri
        phone = phone[4:]
    return _record(
        card.line,
        "vcard",
        name=name,
        emails=texts("EMAIL"),
        phone=phone,
        linkedin_url=next((u for u in texts("URL") + texts("X-SOCIALPROFILE") if _is_linkedin_profile(u)), ""),
        organisation=first_components("ORG", 1)[0],  # "Acme;Dept": the department is dropped
        title=next(iter(texts("TITLE")), ""),
        location=", ".join(part for part in (address[3], address[4], address[6]) if part),
        time_zone=next(iter(texts("TZ")), ""),
        note="\n".join(texts("NOTE")),
    )


# --------------------------------------------------------------------------
# vCard 4.0 export
# --------------------------------------------------------------------------


def _vcard_lines(contact: dict[str, Any]) -> Iterator[str]:
    """Unfolded content lines for one contact. VERSION must come straight after BEGIN."""
    yield "BEGIN:VCARD"
    yield "VERSION:4.0"
    if contact.get("id") is not None:
        yield _uid_line(contact["id"])
    name = _as_text(contact.get("name"))
    yield "FN:" + escape(name)
    family, given, additional, suffixes = _split_name(name)
    additional_names, honorific_suffixes = ",".join(map(escape, additional)), ",".join(map(escape, suffixes))
    yield f"N:{escape(family)};{escape(given)};{additional_names};;{honorific_suffixes}"
    for email in _as_list(contact.get("emails")):
        yield "EMAIL:" + escape(email)
    for prop, key in (("TEL", "phone"), ("ORG", "organisation"), ("TITLE", "title")):
        if value := _as_text(contact.get(key)):
            yield f"{prop}:{escape(value)}"
    if url := _as_text(contact.get("linkedin_url")):
        yield "URL:" + _LINE_BREAK.sub("", url)  # a URI value: RFC 6350 text escaping does not apply
    if tz := _as_text(contact.get("time_zone")):
        yield "TZ:" + escape(tz)
    if note := _as_text(contact.get("note")):
        yield "NOTE:" + escape(note)
    if tags := _as_list(contact.get("tags")):
        yield "CATEGORIES:" + ",".join(map(escape, tags))
    yield "END:VCARD"


def _uid_line(identifier: Any) -> str:
    """Write a UUID id as ``urn:uuid:``. Any other id is written as a text UID, so the URN stays valid."""
    try:
        return f"UID:urn:uuid:{uuid.UUID(str(identifier))}"
    except ValueError:
        return "UID;VALUE=text:" + escape(str(identifier))


def _split_name(name: str) -> tuple[str, str, list[str], list[str]]:
    """Best-effort split for N: (family, given, additional names, suffixes).

    Whatever follows a comma is treated as suffixes ("Jane Doe, PhD"). LinkedIn
    names often look like that, and "Doe, Jane" does not occur in our data.
    The last word is the family name and the first word is the given name.
    """
    base, *suffixes = [part.strip() for part in name.split(",")]
    words = base.split()
    if not words:
        return "", "", [], [s for s in suffixes if s]
    if len(words) == 1:
        return "", words[0], [], [s for s in suffixes if s]
    return words[-1], words[0], words[1:-1], [s for s in suffixes if s]


def _as_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _as_list(value: Any) -> list[str]:
    """Read a list field (emails, tags) leniently. A bare string counts as a single item."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [text for item in items if (text := _as_text(item))]
