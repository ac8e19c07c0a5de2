"""The follow-up rules (pure Python): a student's queue derived from facts, and the item aggregate.

`build_queue` is a pure function of the facts the projection keeps per source stream (contacts,
interviews, notes and the student's own snooze/dismiss decisions). It never looks at the clock or
at the order in which the facts arrived, so any interleaving of the streams, any redelivery and any
replay give the same queue. Whether an item is *overdue* depends on the clock, so it is decided at
query time from the stored `overdue_at`, never stored.

The rules are versioned data (`RULES`): a change of the numbers is a new `version`, which is part
of the projection's consumer group, so a changed rule rebuilds the queues from the start.

Each item also carries two flags derived from facts, never from the clock:
- `due_announced`: the item's stream holds a `FollowUpBecameDue` for the item's *current* `due_at`.
  It is indexed, so the announcer finds what is due with one query instead of loading every
  aggregate; a rule that moves `due_at` clears it, so the new due time is announced again.
- `completion_recorded`: the item's stream holds a `FollowUpCompleted` for its current `due_at`
  (indexed too: the announcer records the completion of announced items that are done).
- `private`: the item comes from a note that is not shared with the student's advisors; the advisor
  view counts it but hides its text (see `services.followups.api`).

`FollowUp` is the write side of one item: the student's snoozes and dismissal, and the announcer's
`FollowUpBecameDue`, which it accepts once per `due_at` and never for a dismissed or snoozed item.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.aggregate import Aggregate, applies
from shared.events import isoformat
from shared.times import normal, parse, zone

RULES: dict[str, Any] = {
    "version": 1,
    "thank_you": {"due_after_hours": 24, "overdue_after_hours": 48},
    "outreach": {
        # the 3B7 routine: no reply after 3 business days -> try another contact at the organisation;
        # after 7 business days -> one follow-up to the same contact
        "next_contact_after_business_days": 3,
        "follow_up_after_business_days": 7,
        "follow_ups": 1,
        "closed_by": ["reply", "conversation"],
    },
    "stay_in_touch": {
        "every_weeks": 8,
        # a relationship starts needing check-ins once a conversation happened
        "starts_with": ["conversation", "interview_completed"],
    },
    "action_item": {"overdue_after_days": 1},
}

RULE_NAMES = ("thank_you", "outreach_next_contact", "outreach_follow_up", "stay_in_touch", "action_item")
STATUSES = ("active", "done", "dismissed")
NEVER = "9999-12-31T00:00:00.000000Z"  # overdue_at of items without a date: sorted last, never overdue
CHECK_IN_TAG = re.compile(r"^check-?in[ _-]?(\d{1,2})w$", re.IGNORECASE)


# -- time -------------------------------------------------------------------------------------
def add_business_days(start: datetime, days: int, time_zone: str | None) -> datetime:
    """`days` weekdays after `start`, counted in the student's zone (Saturday and Sunday skipped),
    at the same wall-clock time."""
    tz = zone(time_zone)
    local = start.astimezone(tz).replace(tzinfo=None)
    counted = 0
    while counted < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            counted += 1
    return local.replace(tzinfo=tz).astimezone(UTC)


def add_weeks(start: datetime, weeks: int, time_zone: str | None) -> datetime:
    """`weeks` later at the same wall-clock time in the student's zone (across daylight saving)."""
    tz = zone(time_zone)
    local = start.astimezone(tz).replace(tzinfo=None) + timedelta(weeks=weeks)
    return local.replace(tzinfo=tz).astimezone(UTC)


def start_of_day(day: str, time_zone: str | None, plus_days: int = 0) -> datetime:
    """Local midnight of a YYYY-MM-DD day (plus some days) in the zone, as UTC."""
    local = datetime.fromisoformat(day) + timedelta(days=plus_days)
    return local.replace(tzinfo=zone(time_zone)).astimezone(UTC)


# -- the queue --------------------------------------------------------------------------------
def _key(moment: str, ident: str) -> tuple[str, str]:
    return (moment, ident)


def student_time_zone(facts: Iterable[dict[str, Any]]) -> str | None:
    """The zone of the student's newest interview event that named it (order-independent: the
    event times decide, not arrival)."""
    best: tuple[str, str] | None = None
    found = None
    for fact in facts:
        if fact.get("type") == "interview" and fact.get("student_time_zone") and fact.get("zone_at"):
            candidate = _key(fact["zone_at"], fact["_id"])
            if best is None or candidate > best:
                best, found = candidate, fact["student_time_zone"]
    return found


def _item(item_id: str, rule: str, student_id: str, *, reason: str, due_at: datetime | str,
          overdue_at: datetime | str, contact_id: str | None, source: dict[str, Any], link: str,
          closed_by: dict[str, Any] | None = None) -> dict[str, Any]:
    due = due_at if isinstance(due_at, str) else isoformat(due_at)
    overdue = overdue_at if isinstance(overdue_at, str) else isoformat(overdue_at)
    return {"_id": item_id, "rule": rule, "student_id": student_id, "contact_id": contact_id, "reason": reason,
            "due_at": due, "overdue_at": overdue, "source": source, "link": link,
            "status": "done" if closed_by else "active", "closed_by": closed_by, "private": False}


def _name(contact: dict[str, Any] | None, fallback: str = "your contact") -> str:
    return (contact or {}).get("name") or fallback


def _touches(contact: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(contact.get("touchpoints") or [], key=lambda t: _key(t["at"], t["id"]))


def _resolve(contacts: dict[str, dict[str, Any]], contact_id: str | None) -> list[dict[str, Any]]:
    """The contact and whatever it was merged into (touchpoints move along with a merge)."""
    chain, seen = [], set()
    while contact_id and contact_id in contacts and contact_id not in seen:
        seen.add(contact_id)
        chain.append(contacts[contact_id])
        contact_id = contacts[contact_id].get("merged_into")
    return chain


def build_queue(student_id: str, facts: list[dict[str, Any]], rules: dict[str, Any] = RULES) -> list[dict[str, Any]]:
    """Every follow-up item of one student, derived from the facts alone; sorted by id."""
    contacts = {f["_id"]: f for f in facts if f.get("type") == "contact" and f.get("name") is not None}
    interviews = [f for f in facts if f.get("type") == "interview" and f.get("contact_id")]
    notes = [f for f in facts if f.get("type") == "note"]
    decisions = {f["_id"]: f for f in facts if f.get("type") == "followup"}
    home_zone = student_time_zone(facts)
    items: list[dict[str, Any]] = []
    items += _thank_yous(student_id, interviews, contacts, rules["thank_you"])
    items += _outreach(student_id, contacts, home_zone, rules["outreach"])
    items += _stay_in_touch(student_id, contacts, interviews, home_zone, rules["stay_in_touch"])
    items += _action_items(student_id, notes, home_zone, rules["action_item"])
    for item in items:
        item["rules_version"] = rules["version"]
        decision = decisions.get(item["_id"]) or {}
        item["snoozed_until"] = decision.get("snoozed_until") or ""
        item["dismissed_reason"] = decision.get("dismissed_reason")
        item["due_announced"] = item["due_at"] in (decision.get("announced") or [])
        item["completion_recorded"] = item["due_at"] in (decision.get("completed") or [])
        if decision.get("dismissed") and item["status"] == "active":
            item["status"] = "dismissed"
    return sorted(items, key=lambda i: i["_id"])


def _thank_yous(student_id: str, interviews: list[dict[str, Any]], contacts: dict[str, dict[str, Any]],
                rule: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for interview in interviews:
        if interview.get("state") != "completed" or not interview.get("end"):
            continue
        end = parse(interview["end"])
        start = interview.get("start") or interview["end"]
        thanks = [t for c in _resolve(contacts, interview["contact_id"]) for t in _touches(c)
                  if t["kind"] == "thank_you" and t["at"] >= start]
        closed = min(thanks, key=lambda t: _key(t["at"], t["id"])) if thanks else None
        name = interview.get("contact_name") or _name(contacts.get(interview["contact_id"]))
        items.append(_item(
            f"thank_you:{interview['_id']}", "thank_you", student_id,
            reason=f"Send {name} a thank-you for the conversation",
            due_at=end + timedelta(hours=rule["due_after_hours"]),
            overdue_at=end + timedelta(hours=rule["overdue_after_hours"]),
            contact_id=interview["contact_id"], link=f"/interviews/{interview['_id']}",
            source={"service": "scheduling", "type": "interview", "id": interview["_id"]},
            closed_by=({"kind": "thank_you", "touchpoint_id": closed["id"], "at": closed["at"]} if closed else None)))
    return items


def _outreach(student_id: str, contacts: dict[str, dict[str, Any]], home_zone: str | None,
              rule: dict[str, Any]) -> list[dict[str, Any]]:
    """The 3B7 routine, for each active contact's newest outreach."""
    items = []
    closing = set(rule["closed_by"])
    outreach_by_organisation: dict[str, list[tuple[str, dict[str, Any]]]] = {}  # (contact id, touch)
    for contact in contacts.values():
        if contact.get("organisation_key"):
            outreach_by_organisation.setdefault(contact["organisation_key"], []).extend(
                (contact["_id"], t) for t in _touches(contact) if t["kind"] == "outreach")
    for contact in contacts.values():
        if contact.get("status") != "active":
            continue
        touches = _touches(contact)
        outreaches = [t for t in touches if t["kind"] == "outreach"]
        if not outreaches:
            continue
        latest = outreaches[-1]
        replies = [t for t in touches if t["kind"] in closing and t["at"] >= latest["at"]]
        last_reply = max((t["at"] for t in touches if t["kind"] in closing and t["at"] < latest["at"]), default="")
        unanswered = [t for t in outreaches if t["at"] > last_reply]  # outreaches since the last reply
        reply = ({"kind": replies[0]["kind"], "touchpoint_id": replies[0]["id"], "at": replies[0]["at"]}
                 if replies else None)
        sent = parse(latest["at"])
        time_zone = home_zone or contact.get("time_zone")
        source = {"service": "contacts", "type": "touchpoint", "id": latest["id"], "contact_id": contact["_id"]}
        link = f"/contacts/{contact['_id']}/touchpoints"
        organisation = contact.get("organisation_key")
        if organisation:
            others = [t for other_id, t in outreach_by_organisation[organisation]
                      if other_id != contact["_id"] and t["at"] >= latest["at"]]
            other = min(others, key=lambda t: _key(t["at"], t["id"])) if others else None
            due = add_business_days(sent, rule["next_contact_after_business_days"], time_zone)
            items.append(_item(
                f"outreach_next_contact:{latest['id']}", "outreach_next_contact", student_id,
                reason=f"No reply from {_name(contact)} yet: "
                       f"reach out to someone else at {contact.get('organisation')}",
                due_at=due, overdue_at=due, contact_id=contact["_id"], source=source, link=link,
                closed_by=reply or ({"kind": "outreach", "touchpoint_id": other["id"], "at": other["at"]}
                                    if other else None)))
        if len(unanswered) <= rule["follow_ups"]:
            due = add_business_days(sent, rule["follow_up_after_business_days"], time_zone)
            items.append(_item(
                f"outreach_follow_up:{latest['id']}", "outreach_follow_up", student_id,
                reason=f"No reply from {_name(contact)} yet: send one follow-up",
                due_at=due, overdue_at=due, contact_id=contact["_id"], source=source, link=link, closed_by=reply))
    return items


def _stay_in_touch(student_id: str, contacts: dict[str, dict[str, Any]], interviews: list[dict[str, Any]],
                   home_zone: str | None, rule: dict[str, Any]) -> list[dict[str, Any]]:
    """A check-in every N weeks after the last touch, once a conversation happened; any new touch
    starts a new cycle (a new item id, so a snooze or dismissal belongs to one cycle)."""
    items = []
    starts = set(rule["starts_with"])
    for contact in contacts.values():
        if contact.get("status") != "active":
            continue
        touches = [(t["at"], t["id"], t["kind"]) for t in _touches(contact)]
        touches += [(i["end"], i["_id"], "interview_completed") for i in interviews
                    if i.get("state") == "completed" and i.get("end") and i["contact_id"] == contact["_id"]]
        if not touches or not any(kind in starts for _, _, kind in touches):
            continue
        at, basis, _ = max(touches)
        weeks = rule["every_weeks"]
        for tag in contact.get("tags") or []:
            match = CHECK_IN_TAG.match(tag)
            if match and int(match.group(1)) > 0:
                weeks = int(match.group(1))
        if contact.get("check_in_every_weeks"):  # the contact's own cadence, set explicitly, beats a tag
            weeks = int(contact["check_in_every_weeks"])
        due = add_weeks(parse(at), weeks, home_zone or contact.get("time_zone"))
        items.append(_item(
            f"stay_in_touch:{contact['_id']}:{basis}", "stay_in_touch", student_id,
            reason=f"Check in with {_name(contact)}: {weeks} weeks since your last touch",
            due_at=due, overdue_at=due, contact_id=contact["_id"], link=f"/contacts/{contact['_id']}",
            source={"service": "contacts", "type": "contact", "id": contact["_id"], "last_touch_at": at}))
    return items


def _action_items(student_id: str, notes: list[dict[str, Any]], home_zone: str | None,
                  rule: dict[str, Any]) -> list[dict[str, Any]]:
    items = []
    for note in notes:
        if note.get("deleted"):
            continue
        # private unless the note says shared: the notes service's default, and the safe reading of
        # facts recorded before visibility was kept here
        private = note.get("visibility") != "shared"
        for action in note.get("action_items") or []:
            time_zone = action.get("time_zone") or home_zone
            if action.get("due_on"):
                due: datetime | str = start_of_day(action["due_on"], time_zone)
                overdue: datetime | str = start_of_day(action["due_on"], time_zone, rule["overdue_after_days"])
            else:
                due, overdue = action["added_at"], NEVER
            done = ({"kind": "action_item_completed", "at": action.get("completed_at")}
                    if action.get("completed") else None)
            item = _item(
                f"action_item:{action['item_id']}", "action_item", student_id,
                reason=f"Action item: {action.get('text') or ''}".strip(),
                due_at=due, overdue_at=overdue, contact_id=action.get("contact_id") or note.get("contact_id"),
                link=f"/notes/{note['_id']}", closed_by=done,
                source={"service": "notes", "type": "note", "id": note["_id"], "item_id": action["item_id"]})
            item["private"] = private
            items.append(item)
    return items


def view_state(item: dict[str, Any], now: str) -> str:
    """open | snoozed | dismissed | done, as of `now` (a snooze that has passed is open again)."""
    if item["status"] != "active":
        return item["status"]
    return "snoozed" if (item.get("snoozed_until") or "") > now else "open"


# -- falling due ------------------------------------------------------------------------------
def due_filter(now: str) -> dict[str, Any]:
    """The read-store query for items to announce as of `now`: index-backed (status, due_announced,
    due_at, snoozed_until are indexed). `announceable` is the same rule for one item."""
    return {"status": "active", "due_announced": False, "due_at": {"$lte": now}, "snoozed_until": {"$lte": now}}


def announceable(item: dict[str, Any], now: str) -> bool:
    """Open (not done, not dismissed, any snooze passed), due by `now`, and its due time not yet announced."""
    return (view_state(item, now) == "open" and item["due_at"] <= now and not item.get("due_announced"))


def announcement(item: dict[str, Any]) -> dict[str, Any]:
    """The data of a `FollowUpBecameDue` for a queue item (an item without a deadline has none)."""
    return {"student_id": item["student_id"], "rule": item["rule"], "reason": item["reason"],
            "due_at": normal(item["due_at"]),
            "overdue_at": None if item["overdue_at"] == NEVER else normal(item["overdue_at"]),
            "contact_id": item.get("contact_id"), "link": item["link"], "source": dict(item["source"])}


def completion_filter() -> dict[str, Any]:
    """The read-store query for announced items that are done and whose completion is not recorded
    yet: index-backed (status, due_announced, completion_recorded)."""
    return {"status": "done", "due_announced": True, "completion_recorded": False}


def completion(item: dict[str, Any]) -> dict[str, Any]:
    """The data of a `FollowUpCompleted` for a done queue item."""
    closed = item.get("closed_by") or {}
    return {"student_id": item["student_id"], "rule": item["rule"], "due_at": normal(item["due_at"]),
            "completed_at": normal(closed.get("at") or item["due_at"]), "closed_by": str(closed.get("kind") or "done"),
            "contact_id": item.get("contact_id")}


# -- the student's decisions about one item -------------------------------------------------
class FollowUp(Aggregate):
    """One queue item's snoozes, dismissal and announcements (stream id = the item id)."""

    stream_type = "followup"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.snoozed_until: str | None = None
        self.dismissed = False
        self.announced: set[str] = set()  # the due times already announced
        self.completed: set[str] = set()  # the announced due times whose completion is recorded

    def become_due(self, announced: dict[str, Any], now: datetime) -> None:
        """Announce that the item reached its due time (`announced`: see `announcement`).

        The stream is the authority on the student's decisions, so a dismissal or snooze the read
        model has not caught up with still prevents the announcement; the same due time is
        announced once, ever (a rule that moves the item to a new due time may announce again)."""
        due_at, at = normal(announced["due_at"]), isoformat(now)
        self.require(not self.dismissed, "a dismissed item is never announced")
        self.require(due_at <= at, "the item is not due yet", due_at=due_at)
        self.require(not self.snoozed_until or self.snoozed_until <= at, "the item is snoozed",
                     snoozed_until=self.snoozed_until)
        self.require(due_at not in self.announced, "the item was already announced as due at this time",
                     due_at=due_at)
        self.record("FollowUpBecameDue", **{**announced, "due_at": due_at})

    def complete(self, completed: dict[str, Any]) -> None:
        """Record that the item, announced as due at `due_at`, was done (`completed`: see `completion`);
        once per announced due time, never for a dismissed item."""
        due_at = normal(completed["due_at"])
        self.require(not self.dismissed, "a dismissed item is not completed")
        self.require(due_at in self.announced, "only an item announced as due is recorded as completed",
                     due_at=due_at)
        self.require(due_at not in self.completed, "the item's completion is already recorded", due_at=due_at)
        self.record("FollowUpCompleted", **{**completed, "due_at": due_at})

    def snooze(self, student_id: str, until: datetime, now: datetime) -> None:
        self.require(not self.dismissed, "a dismissed item cannot be snoozed")
        self.require(until > now, "snooze until a time in the future", field="until")
        self.record("FollowUpSnoozed", student_id=student_id, until=isoformat(until))

    def dismiss(self, student_id: str, reason: str | None) -> None:
        self.require(not self.dismissed, "the item is already dismissed")
        self.record("FollowUpDismissed", student_id=student_id, reason=reason)

    @applies("FollowUpSnoozed")
    def _snoozed(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.snoozed_until = data["until"]

    @applies("FollowUpDismissed")
    def _dismissed(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.dismissed = True

    @applies("FollowUpBecameDue")
    def _became_due(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.announced.add(normal(data["due_at"]))

    @applies("FollowUpCompleted")
    def _completed(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.completed.add(normal(data["due_at"]))
