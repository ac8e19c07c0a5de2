"""HTTP endpoints of the followups service: timelines, the follow-up queue, snooze and dismiss (thin
views over `application`), and the advisor view.

Who reads what:
- a student reads their own queue and timelines and decides about their items; an admin names the
  student (`student_id`);
- an advisor reads, never decides: their own list of advisees (`GET /advisors/<id>/students`), and
  the queue and timelines of a student assigned to them (`?student_id=`). As in the notes service,
  another advisor's list and an unassigned student are 404 (whether a student exists or has
  advisors does not leak); commands are 403 for the role. Assignments come from the notes service's
  `advising` streams through this service's projection, so an unassignment takes effect as soon as
  the projection has it, not at the instant it was made (the notes service checks its own event
  store; this service never reads another service's).
- Privacy: an action item from a *private* note is the student's own words, which the notes service
  shows advisors only for shared notes. The advisor view still counts such items (open, overdue:
  an advisor should see a student falling behind) and lists them with their dates, but without their
  text, note link or note id (`private: true`). Leaving them out would not hide that a note exists
  (the timeline's "Recorded a note" entries carry no content and stay visible), only distort the
  counts; showing the text would leak exactly what the student kept private.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, current_app
from marshmallow import ValidationError

from services.followups import schemas, subject_export
from services.followups.application import FollowUpsService
from services.followups.domain import NEVER, view_state
from shared.auth import Principal, acting_for
from shared.errors import NotFound
from shared.events import isoformat
from shared.readstore import Collection, Page, iterate
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

api = Api("followups", __name__)
OWNERS = ("student", "admin")               # read and decide
READERS = ("student", "admin", "advisor")   # read (an advisor: an assigned student's, see `_reader`)
ADVISORS = ("advisor", "admin")
PRIVATE_REASON = "Action item from a private note"


@dataclass
class FollowUpsContext:
    service: FollowUpsService
    sources: Collection
    versions: Collection
    items: Collection
    timeline: Collection
    advisees: Collection
    clock: Callable[[], datetime]


def _ctx() -> FollowUpsContext:
    return current_app.extensions["followups"]


def _catch_up(query: dict[str, Any]) -> None:
    """Read-your-writes: `min_version=<stream id>:<version>` of any command this read side follows
    (a contact, an interview, a note, a follow-up item): wait briefly, else 503 with Retry-After."""
    if "min_version" in query:
        wait_for_version(_ctx().versions, query["min_version"])


def _advises(advisor_id: str, student_id: str) -> bool:
    # by the student named in the events, not by the notes service's stream id scheme
    return bool(_ctx().advisees.find({"student_id": student_id, "advisors": advisor_id}, limit=1).items)


@dataclass(frozen=True)
class Reader:
    student_id: str
    as_advisor: bool  # reading someone else's records as their advisor: private texts are hidden


def _reader(principal: Principal, query: dict[str, Any]) -> Reader:
    """Whose records a read is about, once the read side caught up with `min_version`. Students and
    admins as `acting_for` decides; an advisor names a student assigned to them (404 otherwise, as in
    the notes service). The checks that need no read model come before any wait."""
    student_id = query.get("student_id")
    if principal.has("advisor") and not principal.has("admin") and (
            student_id not in (None, principal.subject) or not principal.has("student")):
        if not student_id:
            raise ValidationError({"student_id": ["advisors must name the student"]})
        _catch_up(query)  # e.g. `min_version=advising-<student>:<version>` right after an assignment
        if not _advises(principal.subject, student_id):
            raise NotFound(f"no student {student_id} among your advisees")
        return Reader(student_id, True)
    reader = Reader(acting_for(principal, student_id), False)
    _catch_up(query)
    return reader


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
    return json_response({"items": [_entry(d) for d in page.items], "next_cursor": page.next_cursor})


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


@api.route("/timeline", "GET", summary="Everything that happened, newest first: filter by kind and date range",
           roles=READERS, query=schemas.TimelineQuery, response=schemas.TimelinePage, errors=(404, 503))
def student_timeline(principal: Principal, query: dict[str, Any]) -> Response:
    reader = _reader(principal, query)
    return _timeline({"student_id": reader.student_id}, query)


@api.route("/contacts/<contact_id>/timeline", "GET", summary="One contact's timeline, newest first",
           roles=READERS, query=schemas.TimelineQuery, response=schemas.TimelinePage, errors=(404, 503))
def contact_timeline(principal: Principal, contact_id: str, query: dict[str, Any]) -> Response:
    named = _reader(principal, query) if "student_id" in query else None  # a student naming another: 403
    if named is None:
        _catch_up(query)
    contact = _ctx().sources.get(contact_id)
    if contact is None or contact.get("type") != "contact":
        raise NotFound(f"contact {contact_id} not found")
    owner = contact.get("student_id")
    if named is not None:
        allowed = named.student_id == owner
    else:
        allowed = principal.has("admin") or (principal.has("student") and owner == principal.subject) or (
            principal.has("advisor") and _advises(principal.subject, owner or ""))
    if not allowed:
        raise NotFound(f"contact {contact_id} not found")
    ids = [contact_id, *(contact.get("merged_from") or [])]  # a merged duplicate's history belongs here too
    return _timeline({"student_id": contact["student_id"], "contact_id": {"$in": ids}}, query)


# -- the follow-up queue ----------------------------------------------------------------------
def item_view(doc: dict[str, Any], now: str, *, as_advisor: bool = False) -> dict[str, Any]:
    state = view_state(doc, now)
    private = bool(doc.get("private"))
    view = {
        "id": doc["_id"], "rule": doc["rule"], "reason": doc["reason"], "state": state,
        "due_at": doc["due_at"], "overdue_at": None if doc["overdue_at"] == NEVER else doc["overdue_at"],
        "due": doc["due_at"] <= now, "overdue": state == "open" and doc["overdue_at"] < now,
        "announced": bool(doc.get("due_announced")), "private": private,
        "contact_id": doc.get("contact_id"), "link": doc["link"], "source": doc["source"],
        "snoozed_until": doc.get("snoozed_until") or None, "closed_by": doc.get("closed_by"),
        "dismissed_reason": doc.get("dismissed_reason"), "rules_version": doc.get("rules_version"),
    }
    if as_advisor and private:  # the student's own words stay with the student (see the module docstring)
        view.update(reason=PRIVATE_REASON, link=None, source={"service": "notes", "type": "note"})
    return view


def _open(student_id: str, now: str) -> dict[str, Any]:
    """Open items: active and any snooze passed (a query on indexed fields)."""
    return {"student_id": student_id, "status": "active", "snoozed_until": {"$lte": now}}


OVERDUE_FIRST = [("overdue_at", 1), ("due_at", 1)]  # the earliest overdue_at leads


def _queue(student_id: str, query: dict[str, Any], now: str) -> Page:
    filter: dict[str, Any] = {"student_id": student_id}
    for name in ("rule", "contact_id"):
        if name in query:
            filter[name] = query[name]
    state = query["state"]
    if state == "open":  # overdue first (a passed snooze is open again)
        filter.update(_open(student_id, now))
        sort = OVERDUE_FIRST
    elif state == "snoozed":
        filter.update({"status": "active", "snoozed_until": {"$gt": now}})
        sort = [("snoozed_until", 1)]
    else:
        filter["status"] = state
        sort = [("due_at", -1)]
    return _ctx().items.find(filter, sort, query["limit"], query.get("cursor"))


@api.route("/followups", "GET", summary="The follow-up queue: open items overdue first, or snoozed, dismissed, done",
           roles=READERS, query=schemas.FollowUpsQuery, response=schemas.FollowUpsPage, errors=(404, 503))
def list_followups(principal: Principal, query: dict[str, Any]) -> Response:
    reader = _reader(principal, query)
    now = isoformat(_ctx().clock())
    page = _queue(reader.student_id, query, now)
    return json_response({"items": [item_view(d, now, as_advisor=reader.as_advisor) for d in page.items],
                          "next_cursor": page.next_cursor, "now": now})


@api.route("/followups/<item_id>/snooze", "POST", summary="Put an item aside until a time",
           roles=OWNERS, body=schemas.Snooze, response=AcceptedSchema, errors=(404, 409, 412))
def snooze(principal: Principal, item_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.snooze(item_id, body["until"], principal, command_metadata(principal),
                                 if_match_version())


@api.route("/followups/<item_id>/dismiss", "POST", summary="Dismiss an item: it needs no action",
           roles=OWNERS, body=schemas.Dismiss, response=AcceptedSchema, errors=(404, 409, 412))
def dismiss(principal: Principal, item_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.dismiss(item_id, body.get("reason"), principal,
                                  command_metadata(principal), if_match_version())


@api.route(EXPORT_PATH, "GET", summary=EXPORT_SUMMARY, roles=("student",), response=schemas.ExportPart)
def export_own_data(principal: Principal) -> Response:
    ctx = _ctx()
    moment = ctx.clock()
    now = isoformat(moment)
    mine = {"student_id": principal.subject}
    timeline = [_entry(d) for d in iterate(ctx.timeline, mine, [("at", 1), ("_id", 1)])]
    items = [item_view(d, now) for d in iterate(ctx.items, mine, [("due_at", 1)])]
    return json_response(subject_export.part(principal.subject, moment, timeline, items))


# -- the advisor view ---------------------------------------------------------------------------
def _advisee(student_id: str, query: dict[str, Any], now: str) -> dict[str, Any]:
    """One student as their advisor sees them: counts, the open items overdue first, what is due
    next, and their latest activity. Every query is index-backed."""
    ctx = _ctx()
    open_items = _open(student_id, now)
    shown = ctx.items.find(open_items, OVERDUE_FIRST, query["items"]).items if query["items"] else []
    upcoming = ctx.items.find({**open_items, "due_at": {"$gt": now}}, [("due_at", 1)], 1).items
    latest = ctx.timeline.find({"student_id": student_id}, [("at", -1), ("_id", -1)], 1).items
    return {
        "student_id": student_id,
        "open": ctx.items.count(open_items),
        "overdue": ctx.items.count({**open_items, "overdue_at": {"$lt": now}}),
        "items": [item_view(d, now, as_advisor=True) for d in shown],
        "next_due": item_view(upcoming[0], now, as_advisor=True) if upcoming else None,
        "last_activity": {"at": latest[0]["at"], "kind": latest[0]["kind"], "summary": latest[0]["summary"],
                          "link": latest[0]["link"]} if latest else None,
        "queue": f"/followups?student_id={student_id}",
    }


@api.route("/advisors/<advisor_id>/students", "GET",
           summary="An advisor's students: open and overdue counts, open items overdue first, next due, last activity",
           roles=ADVISORS, query=schemas.AdviseesQuery, response=schemas.AdviseesPage, errors=(404, 503))
def list_advisees(principal: Principal, advisor_id: str, query: dict[str, Any]) -> Response:
    if not principal.has("admin") and advisor_id != principal.subject:
        raise NotFound(
            f"advisor {advisor_id} not found"
        )  # as the notes service: another advisor's list does not exist for you
    _catch_up(query)
    now = isoformat(_ctx().clock())
    page = _ctx().advisees.find({"advisors": advisor_id}, [("student_id", 1)], query["limit"], query.get("cursor"))
    return json_response({"items": [_advisee(d["student_id"], query, now) for d in page.items],
                          "next_cursor": page.next_cursor, "now": now})
