"""Follow-up queues and timelines through HTTP, on each backend profile, under an injectable clock:
thank-yous, the 3B7 routine in the student's zone, stay-in-touch, action items, snooze and dismiss,
read-your-writes and ownership."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.integration.followups.conftest import Services


def by_rule(items: list[dict], rule: str) -> list[dict]:
    return [i for i in items if i["rule"] == rule]


def test_a_thank_you_is_due_a_day_after_the_interview_overdue_after_two_and_closed_by_thanks(
        services: Services, token: Callable) -> None:
    auth = token("student-1")
    jane = services.add_contact(auth)
    # an interview on Monday 10:00 New York (15:00 UTC), 30 minutes, held
    interview = services.held_interview(auth, jane)
    services.clock.now = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    [item] = by_rule(services.queue(auth), "thank_you")
    assert item["id"] == f"thank_you:{interview}"
    assert (item["due_at"], item["overdue_at"]) == ("2026-03-03T15:30:00.000000Z", "2026-03-04T15:30:00.000000Z")
    assert (item["state"], item["due"], item["overdue"]) == ("open", False, False)
    assert item["contact_id"] == jane and item["link"] == f"/interviews/{interview}"
    # due after 24 hours, overdue after 48: decided at query time
    services.clock.now = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    [item] = by_rule(services.queue(auth), "thank_you")
    assert (item["due"], item["overdue"]) == (True, False)
    services.clock.now = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    [item] = by_rule(services.queue(auth), "thank_you")
    assert (item["due"], item["overdue"]) == (True, True)
    # a thank-you touchpoint closes it
    services.touch(auth, jane, "thank_you", "2026-03-04T17:00:00Z")
    assert by_rule(services.queue(auth), "thank_you") == []
    [done] = by_rule(services.queue(auth, "state=done"), "thank_you")
    assert done["state"] == "done" and done["closed_by"]["kind"] == "thank_you"


def test_unanswered_outreach_follows_3b7_in_business_days_of_the_students_zone(
        services: Services, token: Callable) -> None:
    auth = token("student-1")
    jane = services.add_contact(auth, time_zone="America/Los_Angeles")
    john = services.add_contact(auth, name="John Roe", time_zone="America/Los_Angeles")
    # Friday 23:30 in Los Angeles (already Saturday in UTC); clocks go forward on Sunday 8 March
    services.touch(auth, jane, "outreach", "2026-03-06T23:30:00-08:00")
    items = services.queue(auth)
    [next_contact] = by_rule(items, "outreach_next_contact")
    [follow_up] = by_rule(items, "outreach_follow_up")
    assert next_contact["due_at"] == "2026-03-12T06:30:00.000000Z"  # Wednesday 23:30 PDT: 3 weekdays
    assert follow_up["due_at"] == "2026-03-18T06:30:00.000000Z"     # Tuesday 17 March 23:30 PDT: 7 weekdays
    assert "Acme Corp" in next_contact["reason"] and next_contact["contact_id"] == jane
    # reaching out to someone else at the organisation closes the first suggestion
    services.touch(auth, john, "outreach", "2026-03-12T10:00:00-07:00")
    items = services.queue(auth)
    assert [i["contact_id"] for i in by_rule(items, "outreach_next_contact")] == [john]
    assert sorted(i["contact_id"] for i in by_rule(items, "outreach_follow_up")) == sorted([john, jane])
    # one follow-up to Jane; after it no further follow-up is suggested, and her reply closes the rest
    services.touch(auth, jane, "outreach", "2026-03-18T09:00:00-07:00")
    assert [i["contact_id"] for i in by_rule(services.queue(auth), "outreach_follow_up")] == [john]
    services.touch(auth, jane, "reply", "2026-03-19T09:00:00-07:00")
    items = services.queue(auth)
    assert by_rule(items, "outreach_next_contact") == []  # Jane's follow-up was also "someone else" for John
    assert [i["contact_id"] for i in by_rule(items, "outreach_follow_up")] == [john]
    done = services.queue(auth, "state=done")
    assert {(i["rule"], i["contact_id"], i["closed_by"]["kind"]) for i in done} == {
        ("outreach_next_contact", jane, "reply"),
        ("outreach_next_contact", john, "outreach")}


def test_stay_in_touch_every_n_weeks_after_the_last_touch_and_reset_by_a_new_one(
        services: Services, token: Callable) -> None:
    auth = token("student-1")
    jane = services.add_contact(auth)
    services.touch(auth, jane, "outreach", "2026-01-05T10:00:00Z")
    assert by_rule(services.queue(auth), "stay_in_touch") == []  # no conversation yet: no relationship
    services.touch(auth, jane, "conversation", "2026-01-12T10:00:00Z")
    [item] = by_rule(services.queue(auth), "stay_in_touch")
    assert item["due_at"] == "2026-03-09T10:00:00.000000Z"  # 8 weeks
    # a per-contact rhythm (a tag), and any new touch starts a new cycle
    assert services.post("contacts", f"/contacts/{jane}/tags", auth, {"tags": ["checkin-4w"]}).status_code == 200
    services.touch(auth, jane, "article", "2026-02-01T10:00:00Z")
    [renewed] = by_rule(services.queue(auth), "stay_in_touch")
    assert renewed["id"] != item["id"] and renewed["due_at"] == "2026-03-01T10:00:00.000000Z"
    assert renewed["overdue"] is True  # the clock says 12:00 on 1 March


def test_action_items_from_notes_are_due_on_their_day_in_the_students_zone(
        services: Services, token: Callable) -> None:
    auth = token("student-1")
    jane = services.add_contact(auth)
    interview = services.held_interview(auth, jane)
    recorded = services.post("notes", "/notes", auth, {
        "interview_id": interview, "text": "Learned a lot.", "insights": [], "tags": [],
        "action_items": [{"text": "Read Inspired", "due_on": "2026-03-10"}, {"text": "Update CV"}]})
    assert recorded.status_code == 201, recorded.json
    note = recorded.json["id"]
    items = by_rule(services.queue(auth), "action_item")
    dated = next(i for i in items if i["reason"].endswith("Read Inspired"))
    undated = next(i for i in items if i["reason"].endswith("Update CV"))
    assert (dated["due_at"], dated["overdue_at"]) == ("2026-03-10T04:00:00.000000Z", "2026-03-11T04:00:00.000000Z")
    assert undated["overdue_at"] is None and dated["link"] == f"/notes/{note}"
    assert [i["rule"] for i in services.queue(auth)][:1] == ["thank_you"]  # overdue first
    item_id = dated["source"]["item_id"]
    assert services.post("notes", f"/notes/{note}/action-items/{item_id}/complete", auth).status_code == 200
    assert [i["reason"] for i in by_rule(services.queue(auth), "action_item")] == ["Action item: Update CV"]
    assert [i["id"] for i in by_rule(services.queue(auth, "state=done"), "action_item")] == [dated["id"]]
    # a deleted note takes its action items (and their text) out of the queue
    assert services.notes.client.delete(f"/notes/{note}", headers={"Authorization": auth}).status_code in (200, 204)
    assert by_rule(services.queue(auth, "state=done"), "action_item") == []
    assert by_rule(services.queue(auth), "action_item") == []


def test_snooze_and_dismiss_are_events_the_queue_reflects(services: Services, token: Callable) -> None:
    auth, other, admin = token("student-1"), token("student-2"), token("admin-1", "admin")
    jane = services.add_contact(auth)
    interview = services.held_interview(auth, jane)
    item_id = f"thank_you:{interview}"
    # snooze: hidden from the open queue until then; read-your-writes with the answer's version
    snoozed = services.post("followups", f"/followups/{item_id}/snooze", auth, {"until": "2026-03-05T09:00:00+01:00"})
    assert snoozed.status_code == 200, snoozed.json
    assert snoozed.json == {"id": item_id, "version": 1}
    fresh = f"min_version={item_id}:{snoozed.json['version']}"
    services.sync()  # (waiting while a projection catches up is tested with the contacts directory)
    listed = services.followups.client.get(f"/followups?state=snoozed&{fresh}", headers={"Authorization": auth})
    assert listed.status_code == 200 and [i["id"] for i in listed.json["items"]] == [item_id]
    assert listed.json["items"][0]["snoozed_until"] == "2026-03-05T08:00:00.000000Z"
    assert by_rule(services.queue(auth), "thank_you") == []
    # once the snooze has passed it is open again (and overdue)
    services.clock.now = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    [item] = by_rule(services.queue(auth), "thank_you")
    assert (item["state"], item["overdue"]) == ("open", True)
    # in the past: refused; another student's item: not found; dismissed: gone for good
    assert (
        services.post("followups", f"/followups/{item_id}/snooze", auth, {"until": "2026-03-01T00:00:00Z"}).status_code
        == 409
    )
    assert services.post("followups", f"/followups/{item_id}/dismiss", other, {}).status_code == 404
    dismissed = services.post("followups", f"/followups/{item_id}/dismiss", auth, {"reason": "thanked in person"})
    assert dismissed.status_code == 200 and dismissed.json["version"] == 2
    services.sync()
    assert by_rule(services.queue(auth), "thank_you") == []
    [gone] = services.queue(auth, "state=dismissed")
    assert (gone["id"], gone["dismissed_reason"]) == (item_id, "thanked in person")
    assert services.post("followups", f"/followups/{item_id}/dismiss", auth, {}).status_code == 409
    assert (
        services.post("followups", f"/followups/{item_id}/snooze", auth, {"until": "2026-04-01T00:00:00Z"}).status_code
        == 409
    )
    assert services.post("followups", "/followups/thank_you:nope/dismiss", auth, {}).status_code == 404
    # an admin names the student; a student cannot name another
    assert [i["id"] for i in services.queue(admin, "state=dismissed&student_id=student-1")] == [item_id]
    assert services.get("followups", "/followups?student_id=student-1", other).status_code == 403
    assert services.get("followups", "/followups", admin).status_code == 422
    assert services.queue(other, "state=dismissed") == []


def test_timelines_newest_first_with_kinds_dates_cursor_and_a_link_to_each_source(
        services: Services, token: Callable) -> None:
    auth, other = token("student-1"), token("student-2")
    jane = services.add_contact(auth)
    john = services.add_contact(auth, name="John Roe")
    services.touch(auth, jane, "outreach", "2026-02-01T10:00:00Z")
    services.touch(auth, jane, "reply", "2026-02-02T10:00:00Z")
    services.touch(auth, john, "outreach", "2026-02-03T10:00:00Z")
    interview = services.held_interview(auth, jane)
    services.sync()
    everything = services.get("followups", "/timeline?limit=200", auth).json["items"]
    kinds = [e["kind"] for e in everything]
    assert kinds[:3] == ["interview_completed", "interview_scheduled", "interview_requested"]
    assert sorted(kinds[3:]) == ["contact_added", "contact_added", "outreach", "outreach", "reply"]
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)
    completed = everything[0]
    assert completed["link"] == f"/interviews/{interview}" and completed["summary"].startswith("Had the informational")
    # kinds and a date range
    outreach = services.get("followups", "/timeline?kind=outreach,reply&from=2026-02-02T00:00:00Z", auth).json["items"]
    assert [(e["kind"], e["contact_id"]) for e in outreach] == [("outreach", john), ("reply", jane)]
    assert services.get("followups", "/timeline?kind=nonsense", auth).status_code == 422
    # cursor pagination covers everything exactly once
    seen, cursor = [], None
    while True:
        page = services.get("followups", "/timeline?limit=2" + (f"&cursor={cursor}" if cursor else ""), auth).json
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in everything]
    # one contact's timeline; another student's contact does not exist for them
    janes = services.get("followups", f"/contacts/{jane}/timeline", auth).json["items"]
    assert {e["contact_id"] for e in janes} == {jane} and "reply" in [e["kind"] for e in janes]
    assert services.get("followups", f"/contacts/{jane}/timeline", other).status_code == 404
    assert services.get("followups", "/timeline", other).json["items"] == []


def test_a_read_that_cannot_catch_up_answers_503_with_retry_after(services: Services, token: Callable) -> None:
    auth = token("student-1")
    jane = services.add_contact(auth)
    response = services.get("followups", f"/timeline?min_version={jane}:99", auth)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert services.get("followups", f"/timeline?min_version={jane}:1", auth).status_code == 200
