"""HTTP endpoints of the notifications service: thin views over `application` and the read side.

Preferences, single notifications, endpoints and templates are read from their aggregates (always
current, with an ETag); the inbox, the history and the endpoint list from the read models, with
`min_version=<id>:<version>` for read-your-writes. Registering a webhook endpoint answers its
signing secret, once; an `Idempotency-Key` retry of that POST gets the same stored answer (kept for
IDEMPOTENCY_TTL_SECONDS), since a client that lost the first answer needs the secret again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, url_for

from services.notifications import schemas, subject_export
from services.notifications.application import NotificationsService
from services.notifications.domain import KINDS, Notification
from shared.auth import Principal, acting_for
from shared.events import utcnow
from shared.readstore import Collection, iterate
from shared.repository import Accepted
from shared.subject_export import EXPORT_PATH, EXPORT_SUMMARY
from shared.web import (
    AcceptedSchema,
    Api,
    command_metadata,
    if_match_version,
    json_response,
    wait_for_version,
)

api = Api("notifications", __name__)
ADMINS = ("admin",)


@dataclass
class NotificationsContext:
    service: NotificationsService
    notifications: Collection
    endpoints: Collection


def _ctx() -> NotificationsContext:
    return current_app.extensions["notifications"]



# -- preferences ----------------------------------------------------------------------------
@api.route("/preferences", "GET", summary="Your notification preferences (admins: anyone's, by student_id)",
           query=schemas.StudentQuery, response=schemas.PreferencesView)
def get_preferences(principal: Principal, query: dict[str, Any]) -> Response:
    user_id = acting_for(principal, query.get("student_id"))
    preferences = _ctx().service.get_preferences(user_id)
    return json_response(_preferences_view(user_id, preferences), version=preferences.version)


def _preferences_view(user_id: str, preferences: Any) -> dict[str, Any]:
    return {"student_id": user_id, **preferences.view(), "version": preferences.version}


@api.route("/preferences", "PUT", summary="Set your preferences: channels per kind, e-mail, zone, quiet hours, digest",
           body=schemas.PreferencesBody, response=AcceptedSchema, errors=(409, 412))
def put_preferences(principal: Principal, body: dict[str, Any]) -> Accepted:
    user_id = acting_for(principal, body.pop("student_id", None))
    return _ctx().service.change_preferences(user_id, body, command_metadata(principal), if_match_version())


# -- the inbox and the history ------------------------------------------------------------------
def item_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A notification as the history shows it (a read-model document or an aggregate's snapshot)."""
    targets = doc.get("targets") or {}
    return {
        "id": doc["_id"], "version": doc.get("_version"), "kind": doc["kind"], "channel": doc["channel"],
        "status": doc["status"], "send_at": doc["send_at"], "due_at": doc["due_at"], "sent_at": doc.get("sent_at"),
        "late": doc.get("late", False), "reason": doc.get("reason"), "subject": doc.get("subject"),
        "text": doc.get("text"), "link": (doc.get("context") or {}).get("link"), "read": doc.get("read_at") is not None,
        "read_at": doc.get("read_at"), "digest_id": doc.get("digest_id"),
        "attempts": sum(t.get("attempts", 0) for t in targets.values()),
        "deliveries": [{"target": name, **outcome} for name, outcome in sorted(targets.items())],
        "source": doc.get("source"), "scheduled_at": doc.get("scheduled_at"),
    }


def _catch_up(query: dict[str, Any], collection: Collection) -> None:
    if "min_version" in query:
        wait_for_version(collection, query["min_version"])


@api.route("/inbox", "GET", summary="Your in-app notifications, newest first; unread=true for the unread ones",
           query=schemas.InboxQuery, response=schemas.InboxPage, errors=(503,))
def inbox(principal: Principal, query: dict[str, Any]) -> Response:
    user_id = acting_for(principal, query.get("student_id"))
    ctx = _ctx()
    _catch_up(query, ctx.notifications)
    filter: dict[str, Any] = {"recipient_id": user_id, "channel": "in_app", "status": "sent"}
    if "unread" in query:
        filter["read"] = not query["unread"]
    page = ctx.notifications.find(filter, [("sent_key", -1)], query["limit"], query.get("cursor"))
    items = [{k: v for k, v in item_view(d).items() if k in schemas.INBOX_FIELDS} for d in page.items]
    unread = ctx.notifications.count({"recipient_id": user_id, "channel": "in_app", "status": "sent", "read": False})
    return json_response({"items": items, "next_cursor": page.next_cursor, "unread": unread})


@api.route("/inbox/<notification_id>/read", "POST", summary="Mark an in-app notification read",
           response=AcceptedSchema, errors=(404, 409))
def mark_read(principal: Principal, notification_id: str) -> Accepted:
    return _ctx().service.mark_read(notification_id, principal, command_metadata(principal))


@api.route("/notifications", "GET", summary="Your notifications: scheduled, bundled, sent (late?), failed, suppressed",
           query=schemas.HistoryQuery, response=schemas.NotificationsPage, errors=(503,))
def history(principal: Principal, query: dict[str, Any]) -> Response:
    user_id = acting_for(principal, query.get("student_id"))
    ctx = _ctx()
    _catch_up(query, ctx.notifications)
    filter: dict[str, Any] = {"recipient_id": user_id}
    for name in ("status", "kind", "channel"):
        if name in query:
            filter[name] = query[name]
    page = ctx.notifications.find(filter, [("send_at", -1)], query["limit"], query.get("cursor"))
    return json_response({"items": [item_view(d) for d in page.items], "next_cursor": page.next_cursor})


@api.route("/notifications/<notification_id>", "GET", summary="One notification as of its newest event",
           response=schemas.NotificationView, errors=(404,))
def get_notification(principal: Principal, notification_id: str) -> Response:
    notification: Notification = _ctx().service.get(notification_id, principal)
    view = item_view({"_id": notification.id, "_version": notification.version, **notification.snapshot()})
    return json_response(view, version=notification.version)


# -- webhook endpoints ----------------------------------------------------------------------
@api.route("/webhooks", "POST", summary="Register a webhook endpoint; the answer holds its signing secret, once",
           body=schemas.RegisterWebhook, status=201, response=schemas.WebhookRegistered, errors=(503,))
def register_webhook(principal: Principal, body: dict[str, Any]) -> Response:
    user_id = acting_for(principal, body.get("student_id"))
    accepted, secret = _ctx().service.register_endpoint(user_id, body["url"], body.get("description"),
                                                        command_metadata(principal))
    return json_response({"id": accepted.id, "version": accepted.version, "secret": secret}, 201,
                         version=accepted.version,
                         headers={"Location": url_for("notifications.get_webhook", endpoint_id=accepted.id)})


@api.route("/webhooks", "GET", summary="Your webhook endpoints: enabled or disabled (why), consecutive failures",
           query=schemas.WebhooksQuery, response=schemas.WebhooksList, errors=(503,))
def list_webhooks(principal: Principal, query: dict[str, Any]) -> Response:
    user_id = acting_for(principal, query.get("student_id"))
    ctx = _ctx()
    _catch_up(query, ctx.endpoints)
    page = ctx.endpoints.find({"user_id": user_id, "status": {"$in": ["enabled", "disabled"]}},
                              [("registered_at", 1)], 200)
    return json_response({"items": [_endpoint_entry(d) for d in page.items]})


def _endpoint_entry(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "version": doc["_version"], **{k: doc.get(k) for k in (
        "url", "description", "status", "consecutive_failures", "disabled_reason", "last_failure", "registered_at")}}


@api.route("/webhooks/<endpoint_id>", "GET", summary="One webhook endpoint as of its newest event",
           response=schemas.WebhookView, errors=(404,))
def get_webhook(principal: Principal, endpoint_id: str) -> Response:
    endpoint = _ctx().service.endpoint(endpoint_id, principal)
    return json_response({**endpoint.view(), "version": endpoint.version}, version=endpoint.version)


@api.route("/webhooks/<endpoint_id>/enable", "POST", summary="Enable a disabled endpoint again",
           response=AcceptedSchema, errors=(404, 409, 412))
def enable_webhook(principal: Principal, endpoint_id: str) -> Accepted:
    return _ctx().service.enable_endpoint(endpoint_id, principal, command_metadata(principal),
                                          if_match_version())


@api.route("/webhooks/<endpoint_id>", "DELETE", summary="Remove an endpoint for good", response=AcceptedSchema,
           errors=(404, 409, 412))
def remove_webhook(principal: Principal, endpoint_id: str) -> Accepted:
    return _ctx().service.remove_endpoint(endpoint_id, principal, command_metadata(principal),
                                          if_match_version())


@api.route(EXPORT_PATH, "GET", summary=EXPORT_SUMMARY, roles=("student",), response=schemas.ExportPart)
def export_own_data(principal: Principal) -> Response:
    ctx = _ctx()
    user_id = principal.subject
    history = [item_view(d) for d in iterate(ctx.notifications, {"recipient_id": user_id}, [("send_at", 1)])]
    webhooks = [_endpoint_entry(d) for d in iterate(ctx.endpoints, {"user_id": user_id}, [("registered_at", 1)])]
    return json_response(subject_export.part(
        user_id, utcnow(), _preferences_view(user_id, ctx.service.get_preferences(user_id)), history, webhooks))


# -- templates ------------------------------------------------------------------------------
@api.route("/templates", "GET", summary="Every kind's templates and placeholders", roles=ADMINS,
           response=schemas.TemplatesList)
def list_templates(principal: Principal) -> Response:
    return json_response({"items": [_ctx().service.template(kind)[1] for kind in KINDS]})


@api.route("/templates/<kind>", "GET", summary="One kind's subject, text and HTML templates and placeholders",
           roles=ADMINS, response=schemas.TemplateView, errors=(404,))
def get_template(principal: Principal, kind: str) -> Response:
    template, view = _ctx().service.template(kind)
    return json_response(view, version=template.version)


@api.route("/templates/<kind>", "PUT", summary="Change one kind's templates (an unknown placeholder is refused)",
           roles=ADMINS, body=schemas.TemplateBody, response=AcceptedSchema, errors=(404, 409, 412))
def put_template(principal: Principal, kind: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.change_template(kind, body, command_metadata(principal), if_match_version())
