"""HTTP endpoints of the followups service: timelines, the follow-up queue, snooze and dismiss."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from flask import Response, current_app

from services.followups import schemas
from services.followups.domain import NEVER, FollowUp, view_state
from shared.auth import Principal, acting_for
from shared.errors import NotFound, RuleViolated
from shared.events import isoformat
from shared.readstore import Collection, Page
from shared.repository import Repository
from shared.web import Api, command_metadata, if_match_version, json_response, wait_for_version


api = Api("followups", __name__)
READERS = ("student", "admin")


@dataclass
class FollowUpsContext:
    followups: Repository[FollowUp]
    sources: Collection
    versions: Collection
    items: Collection
    timeline: Collection
    clock: Callable[[], datetime]


def _ctx() -> FollowUpsContext:
    return current_app.extensions["followups"]


def _catch_up(query: dict[str, Any]) -> None:
    """Read-your-writes: `min_version=<stream id>:<version>` of any command this read side follows
    (a contact, an interview, a note, a follow-up item): wait briefly, else 503 with Retry-After."""
    if "min_version" in query:
        wait_for_version(_ctx().versions, query["min_version"])


# -- timelines ------------------------------------------------------------------------------
def _timeline(filter: dict[str, Any], query: dict[str, Any]) -> Response:
    if "kind" in query:
        filter["kind"] = {"$in": sorted(set(query["kind"].split(",")))}
    at: dict[str, str] = {}
    if "from_" in query:
        at["$gte"] = isoformat(query["from_"])
    if "to" in query:
        at["$lt"] = isoformat(query["to"])
    if at:
        filter["at"] = at
    page = _ctx().timeline.find(filter, [("at", -1), ("_id", -1)], query["limit"], query.get("cursor"))
    entries = [{"id": d["_id"], **{k: v for k, v in d.items() if k != "_id"}} for d in page.items]
    return json_response({"items": entries, "next_cursor": page.next_cursor})


@api.route("/timeline", "GET", summary="Everything that happened, newest first: filter by kind and date range",
           roles=READERS, query=schemas.TimelineQuery, errors=(503,))
def student_timeline(principal: Principal, query: dict[str, Any]) -> Response:
    student_id = acting_for(principal, query.get("student_id"))
    _catch_up(query)
    return _timeline({"student_id": student_id}, query)


@api.route("/contacts/<contact_id>/timeline", "GET", summary="One contact's timeline, newest first",
           roles=READERS, query=schemas.TimelineQuery, errors=(404, 503))
def contact_timeline(principal: Principal, contact_id: str, query: dict[str, Any]) -> Response:
    student_id = acting_for(principal, query.get("student_id")) if not principal.has("admin") else None
    _catch_up(query)
    contact = _ctx().sources.get(contact_id)
    if contact is None or contact.get("type") != "contact" or (
            student_id is not None and contact.get("student_id") != student_id):
        raise NotFound(f"contact {contact_id} not found")
    ids = [contact_id, *(contact.get("merged_from") or [])]  # a merged duplicate's history belongs here too
    return _timeline({"student_id": contact["student_id"], "contact_id": {"$in": ids}}, query)


# -- the follow-up queue ----------------------------------------------------------------------
def item_view(doc: dict[str, Any], now: str) -> dict[str, Any]:
    state = view_state(doc, now)
    return {
        "id": doc["_id"], "rule": doc["rule"], "reason": doc["reason"], "state": state,
        "due_at": doc["due_at"], "overdue_at": None if doc["overdue_at"] == NEVER else doc["overdue_at"],
        "due": doc["due_at"] <= now, "overdue": state == "open" and doc["overdue_at"] < now,
        "contact_id": doc.get("contact_id"), "link": doc["link"], "source": doc["source"],
        "snoozed_until": doc.get("snoozed_until") or None, "closed_by": doc.get("closed_by"),
        "dismissed_reason": doc.get("dismissed_reason"), "rules_version": doc.get("rules_version"),
    }


def _queue(student_id: str, query: dict[str, Any], now: str) -> Page:
    filter: dict[str, Any] = {"student_id": student_id}
    for name in ("rule", "contact_id"):
        if name in query:
            filter[name] = query[name]
    state = query["state"]
    if state == "open":  # overdue first: the earliest overdue_at leads (a passed snooze is open again)
        filter.update({"status": "active", "snoozed_until": {"$lte": now}})
        sort = [("overdue_at", 1), ("due_at", 1)]
    elif state == "snoozed":
        filter.update({"status": "active", "snoozed_until": {"$gt": now}})
        sort = [("snoozed_until", 1)]
    else:
        filter["status"] = state
        sort = [("due_at", -1)]
    return _ctx().items.find(filter, sort, query["limit"], query.get("cursor"))


@api.route("/followups", "GET", summary="The follow-up queue: open items overdue first, or snoozed, dismissed, done",
           roles=READERS, query=schemas.FollowUpsQuery, errors=(503,))
def list_followups(principal: Principal, query: dict[str, Any]) -> Response:
    student_id = acting_for(principal, query.get("student_id"))
    _catch_up(query)
    now = isoformat(_ctx().clock())
    page = _queue(student_id, query, now)
    return json_response({"items": [item_view(d, now) for d in page.items], "next_cursor": page.next_cursor,
                          "now": now})


def _owned_item(item_id: str, principal: Principal) -> dict[str, Any]:
    item = _ctx().items.get(item_id)
    if item is None or not (principal.has("admin") or item.get("student_id") == principal.subject):
        raise NotFound(f"follow-up {item_id} not found")
    return item


def _decide(item_id: str, principal: Principal, act: Callable[[FollowUp, dict[str, Any]], None]) -> Response:
    item = _owned_item(item_id, principal)
    if item["status"] == "done":
        raise RuleViolated("the item is already done", item_id=item_id)

    def load(stream_id: str) -> FollowUp:
        followup = _ctx().followups.load(stream_id)
        if followup.exists and followup.owner_id != item["student_id"]:
            raise NotFound(f"follow-up {item_id} not found")
        return followup

    _, accepted = _ctx().followups.update(item_id, command_metadata(principal), lambda f: act(f, item), load=load,
                                          expected_version=if_match_version())
    return json_response({"id": accepted.id, "version": accepted.version}, version=accepted.version)


@api.route("/followups/<item_id>/snooze", "POST", summary="Put an item aside until a time",
           roles=READERS, body=schemas.Snooze, errors=(404, 409, 412))
def snooze(principal: Principal, item_id: str, body: dict[str, Any]) -> Response:
    return _decide(item_id, principal, lambda f, item: f.snooze(item["student_id"], body["until"], _ctx().clock()))


@api.route("/followups/<item_id>/dismiss", "POST", summary="Dismiss an item: it needs no action",
           roles=READERS, body=schemas.Dismiss, errors=(404, 409, 412))
def dismiss(principal: Principal, item_id: str, body: dict[str, Any]) -> Response:
    return _decide(item_id, principal, lambda f, item: f.dismiss(item["student_id"], body.get("reason")))
