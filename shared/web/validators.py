"""Field validators more than one service uses."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError


def check_time_zone(value: str) -> None:
    """An IANA zone name such as Europe/London (offsets like +02:00 are not zones: DST moves them)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("not an IANA time zone name (e.g. Europe/London)") from exc
