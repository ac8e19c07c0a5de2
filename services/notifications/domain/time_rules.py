"""The time rules (pure): reminder times, quiet hours, the digest hour, retry backoff. Every local
time is in the recipient's IANA zone; a wall-clock time the clocks skip or repeat is resolved here."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.notifications.domain.errors import DomainError
from shared.times import zone

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def wall_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant of a naive wall-clock time in `tz`. A time the clocks skip (spring forward)
    lands just after the jump; a time that happens twice means its first occurrence."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def hhmm(value: str) -> time:
    match = _HHMM.match(value)
    if not match:
        raise DomainError("quiet_hours", f"{value!r} is not a time of day as HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def reminder_times(start: datetime, time_zone: str | None) -> dict[str, datetime]:
    """When each interview reminder is due: the day before at the same wall-clock time in the
    recipient's zone (so a daylight-saving change in between does not move it by an hour), and
    exactly one hour before."""
    tz = zone(time_zone)
    local = start.astimezone(tz).replace(tzinfo=None)
    return {"interview_reminder_24h": wall_to_utc(local - timedelta(days=1), tz),
            "interview_reminder_1h": start - timedelta(hours=1)}


def quiet_until(moment: datetime, time_zone: str | None, quiet_hours: dict[str, str] | None) -> datetime | None:
    """The end of the quiet period `moment` falls in (in the recipient's zone), or None if it does
    not. A period whose end is before its start runs past midnight (22:00-07:00)."""
    if not quiet_hours:
        return None
    start, end = hhmm(quiet_hours["start"]), hhmm(quiet_hours["end"])
    if start == end:
        return None
    tz = zone(time_zone)
    local = moment.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= now < end, local.date()
    else:
        inside = now >= start or now < end
        end_day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    until = wall_to_utc(datetime.combine(end_day, end), tz)
    return until if until > moment else None


def next_digest_at(moment: datetime, time_zone: str | None, hour: int) -> datetime:
    """The first digest time (a fixed local hour) after `moment`, in the recipient's zone."""
    tz = zone(time_zone)
    day = moment.astimezone(tz).date()
    for offset in range(3):
        candidate = wall_to_utc(datetime.combine(day + timedelta(days=offset), time(hour)), tz)
        if candidate > moment:
            return candidate
    raise AssertionError("a day has a digest hour")


def local_day(moment: datetime, time_zone: str | None) -> date:
    return moment.astimezone(zone(time_zone)).date()


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float) -> timedelta:
    """Exponential backoff after the `attempt`-th failure: base, 2·base, 4·base, ... capped."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** (attempt - 1)))
