"""Timestamps and zones as every read side and policy handles them.

Events carry RFC 3339 UTC strings (`shared.events.isoformat`); rules that work in a person's local
time look their IANA zone up here, and a stored zone that is missing or unknown to this machine's
tz database falls back to UTC: a fact recorded long ago must never break a queue or a send.
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.events import isoformat


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone, or UTC for none or an unknown name."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse(moment: str) -> datetime:
    """An RFC 3339 string as an aware datetime (a naive one is taken as UTC)."""
    value = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normal(moment: str | datetime) -> str:
    """One spelling of every timestamp (RFC 3339 UTC, microseconds, Z), so strings sort as times."""
    return isoformat(parse(moment) if isinstance(moment, str) else moment)
