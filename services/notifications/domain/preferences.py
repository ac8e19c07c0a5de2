"""A user's notification preferences: channels per kind, e-mail address, zone, quiet hours, digest."""
from __future__ import annotations

from typing import Any

from services.notifications.domain.errors import DomainError
from services.notifications.domain.time_rules import hhmm
from shared.aggregate import Aggregate, applies
from shared.contracts.notifications import CHANNELS, KINDS

USER_KINDS = KINDS[:-1]  # what preferences choose channels for (a digest goes where its items would)
DEFAULT_CHANNELS: dict[str, list[str]] = {kind: ["in_app"] for kind in USER_KINDS}


class Preferences(Aggregate):
    """A user's notification preferences (one stream per user)."""

    stream_type = "preferences"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.email: str | None = None
        self.time_zone: str | None = None
        self.channels: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_CHANNELS.items()}
        self.quiet_hours: dict[str, str] | None = None
        self.digest = False

    @staticmethod
    def stream_for(user_id: str) -> str:
        return f"preferences:{user_id}"

    def change(self, user_id: str, *, email: str | None, time_zone: str | None, channels: dict[str, list[str]],
               quiet_hours: dict[str, str] | None, digest: bool) -> None:
        """Replace the preferences; kinds left out keep their channels. Nothing changes, no event."""
        merged = {**self.channels, **{k: sorted(set(v), key=CHANNELS.index) for k, v in channels.items()}}
        if quiet_hours is not None:
            if hhmm(quiet_hours["start"]) == hhmm(quiet_hours["end"]):
                raise DomainError("quiet_hours", "quiet hours need an end different from their start")
            quiet_hours = {"start": quiet_hours["start"], "end": quiet_hours["end"]}
        if "email" in {c for chosen in merged.values() for c in chosen} and not email:
            raise DomainError("email", "an e-mail address is needed to receive e-mail notifications")
        state = (email, time_zone, merged, quiet_hours, digest)
        if self.exists and state == (self.email, self.time_zone, self.channels, self.quiet_hours, self.digest):
            return
        self.record("NotificationPreferencesChanged", user_id=user_id, email=email, time_zone=time_zone,
                    channels=merged, quiet_hours=quiet_hours, digest=digest)

    def wants(self, kind: str, channel: str) -> bool:
        return channel in self.channels.get(kind, [])

    def view(self) -> dict[str, Any]:
        return {"email": self.email, "time_zone": self.time_zone, "channels": self.channels,
                "quiet_hours": self.quiet_hours, "digest": self.digest}

    @applies("NotificationPreferencesChanged")
    def _changed(self, data: dict[str, Any]) -> None:
        self.owner_id = data["user_id"]
        self.email, self.time_zone = data.get("email"), data.get("time_zone")
        self.channels = {**{k: list(v) for k, v in DEFAULT_CHANNELS.items()}, **data["channels"]}
        self.quiet_hours, self.digest = data.get("quiet_hours"), data["digest"]
