"""A user's webhook endpoint: registered, failing, disabled, enabled again, removed."""
from __future__ import annotations

from typing import Any

from shared.aggregate import Aggregate, applies


class WebhookEndpoint(Aggregate):
    """One HTTPS endpoint of a user; it counts consecutive failed deliveries and disables itself."""

    stream_type = "webhook_endpoint"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.user_id = ""
        self.url = ""
        self.description: str | None = None
        self.secret_salt = ""
        self.state = "new"
        self.consecutive_failures = 0
        self.disabled_reason: str | None = None

    @classmethod
    def register(cls, endpoint_id: str, user_id: str, url: str, description: str | None, salt: str) -> WebhookEndpoint:
        endpoint = cls(endpoint_id)
        endpoint.record("WebhookEndpointRegistered", user_id=user_id, url=url, description=description,
                        secret_salt=salt)
        return endpoint

    @property
    def enabled(self) -> bool:
        return self.state == "enabled"

    def record_failure(self, notification_id: str, reason: str, *, disable_after: int, permanent: bool = False) -> None:
        """A delivery failed. After `disable_after` in a row, or at once when sending again cannot
        help (the receiver answered 410 Gone, or its address is one webhooks may not reach), the
        endpoint is disabled, in the same commit."""
        if self.state == "removed":
            return
        count = self.consecutive_failures + 1
        self.record("WebhookDeliveryFailed", user_id=self.user_id, notification_id=notification_id,
                    reason=reason[:1000], consecutive_failures=count)
        if self.enabled and (permanent or count >= disable_after):
            why = (f"a delivery failed for good: {reason}" if permanent
                   else f"{count} deliveries failed in a row; the last: {reason}")
            self.record("WebhookEndpointDisabled", user_id=self.user_id, reason=why[:1000], consecutive_failures=count)

    def record_success(self, notification_id: str) -> None:
        if self.consecutive_failures:
            self.record("WebhookEndpointRecovered", user_id=self.user_id, notification_id=notification_id)

    def enable(self) -> None:
        self.require(self.state != "removed", "a removed endpoint cannot be enabled")
        if self.state == "disabled":
            self.record("WebhookEndpointEnabled", user_id=self.user_id)

    def remove(self) -> None:
        self.require(self.state != "removed", "the endpoint is already removed")
        self.record("WebhookEndpointRemoved", user_id=self.user_id)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "description": self.description, "status": self.state,
                "consecutive_failures": self.consecutive_failures, "disabled_reason": self.disabled_reason}

    @applies("WebhookEndpointRegistered")
    def _registered(self, data: dict[str, Any]) -> None:
        self.owner_id = self.user_id = data["user_id"]
        self.url, self.description, self.secret_salt = data["url"], data.get("description"), data["secret_salt"]
        self.state = "enabled"

    @applies("WebhookDeliveryFailed")
    def _delivery_failed(self, data: dict[str, Any]) -> None:
        self.consecutive_failures = data["consecutive_failures"]

    @applies("WebhookEndpointRecovered")
    def _recovered(self, data: dict[str, Any]) -> None:
        self.consecutive_failures = 0

    @applies("WebhookEndpointDisabled")
    def _disabled(self, data: dict[str, Any]) -> None:
        self.state, self.disabled_reason = "disabled", data["reason"]

    @applies("WebhookEndpointEnabled")
    def _enabled(self, data: dict[str, Any]) -> None:
        self.state, self.disabled_reason, self.consecutive_failures = "enabled", None, 0

    @applies("WebhookEndpointRemoved")
    def _removed(self, data: dict[str, Any]) -> None:
        self.state = "removed"
