"""Content lines of iCalendar (RFC 5545) and vCard (RFC 6350): the same escaping and folding."""
from __future__ import annotations

import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def escape(text: str) -> str:
    r"""Escape a TEXT value: ``\ , ;`` and line breaks (RFC 5545 §3.3.11, RFC 6350 §3.4)."""
    text = text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return _LINE_BREAK.sub(r"\\n", text)


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
