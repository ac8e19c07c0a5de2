"""The announcer on each backend profile: an item that falls due gets exactly one FollowUpBecameDue,
however often the announcer runs and even when two announcers race; a snooze defers it, a dismissal
prevents it, and a new due time is announced again."""
from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.followups.announcer import Announcer
from shared.eventstore import EventStore
from tests.integration.followups.conftest import Services

BECAME_DUE = "careerloop.followups.FollowUpBecameDue.v1"


class Racing:
    """The event store as one of two racing announcers sees it: its first append waits until the
    other announcer is about to append too, so both append at the version they loaded."""

    def __init__(self, store: EventStore, barrier: threading.Barrier) -> None:
        self.store, self.barrier, self.waited = store, barrier, False

    def append(self, *args: Any, **kwargs: Any) -> Any:
        if not self.waited:
            self.waited = True
            self.barrier.wait(timeout=60)
        return self.store.append(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def announcements(services: Services, item_id: str) -> list[dict[str, Any]]:
    return [e for e in services.followups.store.load(item_id) if e["type"] == BECAME_DUE]


def test_an_item_falling_due_is_announced_exactly_once_deferred_by_a_snooze_and_never_when_dismissed(
        services: Services, token: Callable) -> None:
    auth = token("student-1")
    jane = services.add_contact(auth)
    interview = services.held_interview(auth, jane)  # ended Monday 15:30 UTC; the clock says Tuesday 12:00
    thanks = f"thank_you:{interview}"
    recorded = services.post(
        "notes",
        "/notes",
        auth,
        {
            "interview_id": interview,
            "text": "Good advice.",
            "action_items": [
                {"text": "Send my CV", "due_on": "2026-03-04"},
                {"text": "Read the book", "due_on": "2026-03-04"},
            ],
        },
    )
    assert recorded.status_code == 201, recorded.json
    note = recorded.json["id"]
    services.sync()
    actions = {i["reason"]: i["id"] for i in services.queue(auth, "rule=action_item")}
    cv, book = actions["Action item: Send my CV"], actions["Action item: Read the book"]
    announcer = services.announcer()
    assert announcer.round() == 0  # nothing is due yet
    assert (
        services.post("followups", f"/followups/{cv}/snooze", auth, {"until": "2026-03-06T00:00:00Z"}).status_code
        == 200
    )
    assert services.post("followups", f"/followups/{book}/dismiss", auth, {}).status_code == 200
    services.sync()

    # Thursday: the thank-you fell due (and is overdue); the operator's --dry-run lists it and records nothing
    services.clock.now = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
    shown = io.StringIO()
    assert announcer.status(shown, listing=True) == 0
    assert "1 open items due and not yet announced" in shown.getvalue()
    assert f"would announce {thanks} (thank_you)" in shown.getvalue()
    assert announcements(services, thanks) == []
    # two announcers race for it, one wins
    barrier = threading.Barrier(2)
    racers = [Announcer(Racing(services.followups.store, barrier), services.followups.read_store, clock=services.clock)
              for _ in range(2)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda a=a: counts.append(a.announce_due())) for a in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(counts) == [0, 1]
    # running again, before the read model knows, and after: still one announcement
    assert announcer.announce_due() == 0 and services.announcer().announce_due() == 0
    services.sync()
    assert announcer.due("2026-03-05T00:00:00.000000Z") == []
    [announced] = announcements(services, thanks)
    assert announced["data"] == {
        "student_id": "student-1", "rule": "thank_you", "reason": "Send Jane Doe a thank-you for the conversation",
        "due_at": "2026-03-03T15:30:00.000000Z", "overdue_at": "2026-03-04T15:30:00.000000Z", "contact_id": jane,
        "link": f"/interviews/{interview}", "source": {"service": "scheduling", "type": "interview", "id": interview}}
    assert (announced["ownerid"], announced["actor"]) == ("student-1", "system:followups-announcer")
    [item] = [i for i in services.queue(auth) if i["id"] == thanks]
    assert item["announced"] is True and item["state"] == "open"
    # only one announcer is active at a time: the lease
    assert services.announcer().round() is None

    # Friday noon: the snooze has passed, so the CV item is announced; the dismissed one never is
    services.clock.now = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    assert announcer.round() == 1
    services.sync()
    assert announcer.round() == 0
    [cv_due] = announcements(services, cv)
    assert (cv_due["data"]["due_at"], cv_due["data"]["link"]) == ("2026-03-04T05:00:00.000000Z", f"/notes/{note}")
    assert announcements(services, book) == []

    # a revision moves the CV item to a new day: a new due time, announced again (once)
    current = services.get("notes", f"/notes/{note}", auth).json
    items = [{**i, "due_on": "2026-03-05"} if i["text"] == "Send my CV" else i for i in current["action_items"]]
    revised = services.notes.client.put(f"/notes/{note}", headers={"Authorization": auth}, json={
        "text": current["text"], "action_items": [{k: i[k] for k in ("item_id", "text", "due_on")} for i in items]})
    assert revised.status_code == 200, revised.json
    services.sync()
    assert announcer.round() == 1
    services.sync()
    assert announcer.round() == 0
    assert [e["data"]["due_at"] for e in announcements(services, cv)] == [
        "2026-03-04T05:00:00.000000Z", "2026-03-05T05:00:00.000000Z"]
    assert len(announcements(services, thanks)) == 1 and announcements(services, book) == []


def test_an_announced_item_that_is_done_is_recorded_as_completed_once_and_a_never_announced_one_never(
        services: Services, token: Callable) -> None:
    auth = token("student-1")
    jane = services.add_contact(auth)
    interview = services.held_interview(auth, jane)  # ended Monday 15:30 UTC
    thanks = f"thank_you:{interview}"
    announcer = services.announcer()
    services.clock.now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert announcer.round() == 1  # the thank-you fell due (Tuesday 15:30)
    services.sync()
    # Wednesday: the thank-you goes out; the next round records the completion, once
    services.touch(auth, jane, "thank_you", "2026-03-04T08:15:00Z")
    services.sync()
    assert announcer.completed() and announcer.round() == 1
    services.sync()
    assert announcer.completed() == [] and announcer.round() == 0 and services.announcer().complete(
        {"_id": thanks, "student_id": "student-1", "rule": "thank_you", "due_at": "2026-03-03T15:30:00Z",
         "closed_by": {"kind": "thank_you", "at": "2026-03-04T08:15:00Z"}, "contact_id": jane}) == "refused"
    [completed] = [e for e in services.followups.store.load(thanks)
                   if e["type"] == "careerloop.followups.FollowUpCompleted.v1"]
    assert completed["data"] == {
        "student_id": "student-1", "rule": "thank_you", "due_at": "2026-03-03T15:30:00.000000Z",
        "completed_at": "2026-03-04T08:15:00.000000Z", "closed_by": "thank_you", "contact_id": jane}
    [item] = [i for i in services.queue(auth, "state=done") if i["id"] == thanks]
    assert item["state"] == "done"

    # a second interview's thank-you, sent before it fell due: done, never announced, never completed
    second = services.held_interview(auth, jane, start="2026-03-04T10:00:00")
    services.touch(auth, jane, "thank_you", "2026-03-04T16:00:00Z")
    services.sync()
    services.clock.now = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    announcer.round()
    services.sync()
    announcer.round()
    assert [e["type"] for e in services.followups.store.load(f"thank_you:{second}")] == []
