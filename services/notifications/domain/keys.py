"""Dedupe keys and the notification stream ids derived from them: the same key always names the
same stream, so scheduling the same thing twice appends to a stream that exists and does nothing."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

from shared.contracts.notifications import CHANNELS


def dedupe_key(source_event_id: str, kind: str, channel: str, recipient_id: str) -> str:
    return "|".join((source_event_id, kind, channel, recipient_id))


def digest_key(recipient_id: str, channel: str, day: date) -> str:
    return "|".join(("digest", day.isoformat(), "digest", channel, recipient_id))


def notification_id(key: str) -> str:
    """The notification's stream id: the same key always names the same stream."""
    return "ntf_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def notification_ids(source_event_id: str, kinds: Iterable[str], recipient_id: str) -> list[str]:
    """Every notification a source event may have scheduled (any kind of these, any channel)."""
    return [notification_id(dedupe_key(source_event_id, k, c, recipient_id)) for k in kinds for c in CHANNELS]
