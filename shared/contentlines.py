"""Content lines of iCalendar (RFC 5545) and vCard (RFC 6350): the same escaping, quoting and folding.

User text (names, objectives, questions, reasons) ends up in these files, so every way it could
start a new line or a new property or parameter is closed here, in one place:

- TEXT values: ``\\ ; ,`` are escaped and every line break becomes the two characters ``\\n``;
  other control characters (which RFC 5545 does not allow in TEXT) are dropped. Unicode line
  separators count as line breaks, because some parsers split on them.
- parameter values (such as CN): always DQUOTE-quoted, which makes ``: ; ,`` harmless; DQUOTE and
  control characters cannot appear in a quoted value at all (RFC 5545 §3.1 QSAFE-CHAR), so DQUOTE
  becomes ``'`` and controls become spaces.
- URIs (links) have spaces, controls and quotes %-encoded; cal-addresses are ``mailto:`` URIs with everything but
  the plain address characters percent-encoded (RFC 6068), so an address can never carry a line break or a parameter.
- lines are folded at 75 octets without splitting a UTF-8 character.
"""
from __future__ import annotations

import re
from urllib.parse import quote

_LINE_BREAK = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
# RFC 6068 `qchar`s that may stay literal in a mailto address; the rest (`: ; , ?` included) is %-encoded.
_MAILTO_SAFE = "@!$'*+"
# RFC 3986 reserved characters and `%` stay (the URI's own structure); spaces, controls, quotes go.
_URI_SAFE = ":/?#[]@!$&'()*+,;=%~"


def escape(text: str) -> str:
    r"""Escape a TEXT value: ``\ , ;`` and line breaks (RFC 5545 §3.3.11, RFC 6350 §3.4)."""
    text = text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return _CONTROL.sub("", _LINE_BREAK.sub(r"\\n", text))


def param_value(text: str) -> str:
    """A parameter value, quoted: safe for any text (RFC 5545 §3.2, param-value = quoted-string)."""
    text = _CONTROL.sub(" ", _LINE_BREAK.sub(" ", text)).replace('"', "'")
    return f'"{text}"'


def mailto(address: str) -> str:
    """A CAL-ADDRESS value for an e-mail address (RFC 5545 §3.3.3, RFC 6068)."""
    return "mailto:" + quote(address.strip(), safe=_MAILTO_SAFE)


def uri(value: str) -> str:
    """A URI value (URL, a meeting link): anything a URI cannot hold literally is %-encoded."""
    return quote(value.strip(), safe=_URI_SAFE)


def fold(line: str) -> str:
    """Fold to at most 75 UTF-8 octets per physical line, never splitting a character.

    Each continuation starts with a single space, and that space counts toward its 75 octets.
    """
    if len(line.encode("utf-8")) <= 75:
        return line
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            pieces.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n".join(pieces)
