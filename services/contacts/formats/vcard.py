"""vCard (``.vcf``) from phones and mail clients: read 2.1, 3.0 and 4.0; write 4.0 (RFC 6350).

Parsing is our own, not a library's: it must keep reading after a truncated card, report each card
by its line, decode 2.1's quoted-printable, and never let one odd card sink the file. The tests
check what it writes with `vobject`, an independent vCard reader.
"""
from __future__ import annotations

import base64
import binascii
import quopri
import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from services.contacts.formats.records import (
    LINE_BREAK,
    FormatError,
    ParsedRow,
    Problem,
    as_list,
    as_text,
    join,
    linkedin_profile,
    record,
    skipped,
)
from shared.contentlines import escape, fold


class VCard:
    name = "vcard"
    label = "vCard"
    media_type = "text/vcard"
    filename = "contacts.vcf"

    def recognises(self, text: str) -> bool:
        return any(line.strip().upper() == "BEGIN:VCARD" for line in LINE_BREAK.split(text))

    def parse(self, text: str) -> Iterator[ParsedRow]:
        """One row per card (an unterminated card is invalid) and per run of text outside the cards."""
        parts = list(_split_cards(LINE_BREAK.split(text)))
        if not any(isinstance(part, _RawCard) for part in parts):
            raise FormatError("no BEGIN:VCARD found; not a vCard file")
        for part in parts:
            if isinstance(part, _Stray):
                yield skipped(part.line, "text outside BEGIN:VCARD … END:VCARD")
            elif not part.terminated:
                yield ParsedRow(part.line, None, (Problem("record", "unterminated vCard"),))
            else:
                yield _vcard_record(part)

    def export(self, contacts: Iterable[dict[str, Any]]) -> bytes:
        """vCard 4.0: CRLF line ends, 75-octet folding, escaped text (RFC 6350 §3.2, §3.4)."""
        lines: list[str] = []
        for contact in contacts:
            lines.extend(fold(line) for line in _vcard_lines(contact))
        return "".join(line + "\r\n" for line in lines).encode("utf-8")


VCARD = VCard()


# -- parsing ---------------------------------------------------------------------------------------

# Properties we read. Others (PHOTO, KEY, ...) are skipped undecoded.
_VCARD_PROPERTIES = frozenset(
    {"FN", "N", "EMAIL", "TEL", "ORG", "TITLE", "URL", "X-SOCIALPROFILE", "NOTE", "TZ", "ADR", "CATEGORIES"}
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


class _Stray(NamedTuple):
    line: int  # first of a run of non-blank lines outside any card


def _split_cards(lines: list[str]) -> Iterator[_RawCard | _Stray]:
    """Group physical lines into cards, and report text outside cards (one entry per run of lines).

    A BEGIN inside an open card closes that card as unterminated, so the cards after a truncated
    one are still read. A folded continuation line (one that starts with whitespace) is never read
    as BEGIN or END.
    """
    body: list[str] = []  # the lines of the card open since line `begin` (0: none is open)
    begin, stray = 0, False
    for number, raw in enumerate(lines, start=1):
        marker = raw.strip().upper() if raw[:1] not in (" ", "\t") else ""
        if marker == "BEGIN:VCARD":
            if begin:
                yield _RawCard(begin, body, terminated=False)
            begin, body, stray = number, [], False
        elif marker == "END:VCARD" and begin:
            yield _RawCard(begin, body, terminated=True)
            begin, body = 0, []
        elif begin:
            body.append(raw)
        elif raw.strip() and not stray:
            stray = True
            yield _Stray(number)
        elif not raw.strip():
            stray = False
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
    in_quotes, colon = False, -1
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            colon = index
            break
    if colon < 0:
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
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
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
    name = next(iter(texts("FN")), "") or join(prefix, given, additional, family, suffix)
    address = first_components("ADR", 7)  # pobox;ext;street;locality;region;code;country
    phone = next(iter(texts("TEL")), "")
    if phone[:4].lower() == "tel:":  # 4.0 TEL;VALUE=uri
        phone = phone[4:]
    return record(
        card.line,
        "vcard",
        name=name,
        emails=texts("EMAIL"),
        phone=phone,
        linkedin_url=linkedin_profile(texts("URL") + texts("X-SOCIALPROFILE")),
        organisation=first_components("ORG", 1)[0],  # "Acme;Dept": the department is dropped
        title=next(iter(texts("TITLE")), ""),
        location=", ".join(part for part in (address[3], address[4], address[6]) if part),
        time_zone=next(iter(texts("TZ")), ""),
        note="\n".join(texts("NOTE")),
        tags=[tag for prop in props.get("CATEGORIES", []) for tag in _components_list(prop)],
    )



def _components_list(prop: _Property) -> list[str]:
    """A comma-separated list value (CATEGORIES), each item unescaped."""
    return [text for item in _split_escaped(prop.value, ",") if (text := _unescape(item).strip())]


# -- writing vCard 4.0 -----------------------------------------------------------------------------

# RFC 6350 allows no control characters in values; the Unicode line and paragraph separators are
# line breaks to some readers, so they are written as the escaped newline they mean.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNICODE_BREAKS = re.compile(r"[\x85\u2028\u2029]")


def _text(value: str) -> str:
    """A TEXT value that cannot end its line: escaped, without control characters."""
    return escape(_UNICODE_BREAKS.sub("\n", _CONTROLS.sub("", value)))


def _vcard_lines(contact: dict[str, Any]) -> Iterator[str]:
    """Unfolded content lines for one contact. VERSION must come straight after BEGIN."""
    yield "BEGIN:VCARD"
    yield "VERSION:4.0"
    if contact.get("id") is not None:
        yield _uid_line(contact["id"])
    name = as_text(contact.get("name"))
    yield "FN:" + _text(name)
    family, given, additional, suffixes = _split_name(name)
    additional_names, honorific_suffixes = ",".join(map(_text, additional)), ",".join(map(_text, suffixes))
    yield f"N:{_text(family)};{_text(given)};{additional_names};;{honorific_suffixes}"
    for email in as_list(contact.get("emails")):
        yield "EMAIL:" + _text(email)
    for prop, key in (("TEL", "phone"), ("ORG", "organisation"), ("TITLE", "title")):
        if value := as_text(contact.get(key)):
            yield f"{prop}:{_text(value)}"
    if url := as_text(contact.get("linkedin_url")):
        yield "URL:" + _CONTROLS.sub("", LINE_BREAK.sub("", url))  # a URI: text escaping does not apply
    if tz := as_text(contact.get("time_zone")):
        yield "TZ:" + _text(tz)
    if note := as_text(contact.get("note")):
        yield "NOTE:" + _text(note)
    if tags := as_list(contact.get("tags")):
        yield "CATEGORIES:" + ",".join(map(_text, tags))
    yield "END:VCARD"


def _uid_line(identifier: Any) -> str:
    """Write a UUID id as ``urn:uuid:``. Any other id is written as a text UID, so the URN stays valid."""
    try:
        return f"UID:urn:uuid:{uuid.UUID(str(identifier))}"
    except ValueError:
        return "UID;VALUE=text:" + _text(str(identifier))


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

