"""No personal data on the analytics topic: a full journey full of distinctive names, addresses, phone
numbers, LinkedIn URLs, note sentences, objectives, questions and reasons is driven through the
services' HTTP APIs; then every message of the integration topic from offset 0 (and every document the
translator keeps) is scanned for each of those strings, case-folded, whole and token by token. Every
message also parses with the CloudEvents SDK and validates against its JSON Schema. On the embedded
backends and on Kafka + FerretDB."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.analytics_stream import parse_and_validate, validators
from tests.integration.analytics.stream.conftest import PSEUDONYMS, Journey

STUDENT = "student-pii-7f3a"
ZEPHYRINA = {"name": "Zephyrina Quillfeather-Marchetti", "emails": ["zephyrina.quillfeather@obscuremail.example"],
             "phone": "+1 617 555 0199", "linkedin_url": "https://www.linkedin.com/in/zephyrina-quillfeather",
             "organisation": "Acme Corp", "industry": "Software", "title": "Chief Lanternwright",
             "location": "Thistledown Falls", "note": "Met her at the Glimmerwood alumni brunch"}
BARTHOLOMEW = {"name": "Bartholomew Ironquill", "emails": ["b.ironquill@vexholm-mail.example"],
               "phone": "+44 20 7946 0321", "linkedin_url": "https://www.linkedin.com/in/bartholomew-ironquill",
               "organisation": "Globex", "industry": "Investment Banking"}
OUTREACH_TEXT = "Hello Zephyrina, I admire your Lanternwright craftsmanship"
OUTREACH_URL = "https://mail.example/thread/quillfeather-7781"
REPLY_TEXT = "Happy to chat about Marzipan pipelines"
THANKS_TEXT = "Thank you for the marvellous Moonraker advice"
CHECK_IN_TEXT = "Checking in after the Periwinkle launch"
OBJECTIVE = "Understand the Marzipan pipeline at Acme"
QUESTION = "How did the Obsidian Reorg change hiring?"
MEETING_LINK = "https://meet.example/quillfeather-room-42"
CANCEL_REASON = "Bartholomew is travelling to Vexholm for the Gorgonzola summit"
NOTE_TEXT = "Zephyrina confided the Periwinkle Protocol launch slips to autumn"
INSIGHT = "Saffron budgets shrink every spring at Quillfeather's division"
ACTION = "Send the Kumquat deck to Zephyrina"
DISMISS_REASON = "Ironquill retired to Lake Wobegone"

SECRETS = [ZEPHYRINA["name"], *ZEPHYRINA["emails"], ZEPHYRINA["phone"], ZEPHYRINA["linkedin_url"], ZEPHYRINA["title"],
           ZEPHYRINA["location"], ZEPHYRINA["note"], BARTHOLOMEW["name"], *BARTHOLOMEW["emails"], BARTHOLOMEW["phone"],
           BARTHOLOMEW["linkedin_url"], OUTREACH_TEXT, OUTREACH_URL, REPLY_TEXT, THANKS_TEXT, CHECK_IN_TEXT,
           OBJECTIVE, QUESTION, MEETING_LINK, CANCEL_REASON, NOTE_TEXT, INSIGHT, ACTION, DISMISS_REASON, STUDENT]
# words of those strings that are ordinary enough to appear for other reasons (the schema's own words,
# the organisations we publish on purpose); every other token of five or more characters must not appear
ORDINARY = {"https", "linkedin", "example", "hello", "about", "thank", "checking", "launch", "advice", "change",
            "hiring", "understand", "pipeline", "pipelines", "every", "spring", "budgets", "shrink", "division",
            "autumn", "slips", "confided", "protocol", "admire", "happy", "after", "marvellous", "alumni",
            "brunch", "falls", "retired", "summit", "travelling", "thread", "craftsmanship", "chief",
            "student", "room", "deck", "send", "globex"}


def tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^0-9a-z]+", text.casefold()) if len(t) >= 5 and t not in ORDINARY}


def digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def drive_the_journey(journey: Journey, auth: str) -> dict[str, str]:
    """Contacts, touchpoints, three interviews (held, cancelled, missed), a note with an action item
    completed, a follow-up fallen due and one dismissed."""
    zephyrina = journey.add_contact(auth, **ZEPHYRINA)
    bartholomew = journey.add_contact(auth, **BARTHOLOMEW)
    journey.post("contacts", f"/contacts/{zephyrina}/touchpoints", auth, {
        "kind": "outreach", "occurred_at": "2026-02-20T10:00:00Z", "channel": "email", "text": OUTREACH_TEXT,
        "url": OUTREACH_URL})
    journey.touch(auth, bartholomew, "outreach", "2026-02-20T11:00:00Z")
    assert journey.post("contacts", f"/contacts/{zephyrina}/touchpoints", auth, {
        "kind": "reply", "occurred_at": "2026-02-21T10:00:00Z", "text": REPLY_TEXT}).status_code == 201
    journey.sync()

    requested = journey.post("scheduling", "/interviews", auth, {
        "contact_id": zephyrina, "objectives": [OBJECTIVE], "questions": [{"text": QUESTION, "category": "trends"}],
        "format": "video", "link": MEETING_LINK, "duration_minutes": 20, "time_zone": "America/New_York"})
    assert requested.status_code == 201, requested.json
    held = requested.json["id"]
    assert journey.post("scheduling", f"/interviews/{held}/schedule", auth,
                        {"start": "2026-03-02T10:00:00", "time_zone": "America/New_York"}).status_code == 200
    journey.clock.advance(days=2)
    assert journey.post("scheduling", f"/interviews/{held}/complete", auth).status_code == 200

    cancelled = journey.post("scheduling", "/interviews", auth, {
        "contact_id": bartholomew, "objectives": [OBJECTIVE], "format": "phone",
        "time_zone": "Europe/London"}).json["id"]
    assert journey.post("scheduling", f"/interviews/{cancelled}/cancel", auth,
                        {"by": "contact", "reason": CANCEL_REASON}).status_code == 200
    missed = journey.post("scheduling", "/interviews", auth, {
        "contact_id": bartholomew, "objectives": [OBJECTIVE], "format": "in_person", "place": "Thistledown Falls",
        "time_zone": "Europe/London"}).json["id"]
    assert journey.post("scheduling", f"/interviews/{missed}/schedule", auth,
                        {"start": "2026-03-04T09:00:00", "time_zone": "Europe/London"}).status_code == 200
    journey.clock.advance(days=2)
    assert journey.post("scheduling", f"/interviews/{missed}/missed", auth, {"who": "student"}).status_code == 200
    journey.sync()

    assert journey.post("contacts", f"/contacts/{zephyrina}/touchpoints", auth, {
        "kind": "thank_you", "occurred_at": "2026-03-03T09:30:00Z", "text": THANKS_TEXT}).status_code == 201
    note = journey.post("notes", "/notes", auth, {
        "interview_id": held, "text": NOTE_TEXT, "insights": [{"category": "industry_trends", "text": INSIGHT}],
        "action_items": [{"text": ACTION, "due_on": "2026-03-10"}], "objectives_covered": [OBJECTIVE]})
    assert note.status_code == 201, note.json
    journey.sync()
    item = journey.get("notes", f"/notes/{note.json['id']}", auth).json["action_items"][0]["item_id"]
    assert journey.post("notes", f"/notes/{note.json['id']}/action-items/{item}/complete", auth).status_code == 200
    assert journey.post("contacts", f"/contacts/{zephyrina}/touchpoints", auth, {
        "kind": "check_in", "occurred_at": "2026-03-05T09:30:00Z", "text": CHECK_IN_TEXT}).status_code == 201

    # Bartholomew never answered: the 3B7 follow-ups fall due, one is announced, the student dismisses one
    journey.clock.now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    queue = journey.queue(auth)
    assert journey.announcer().announce_due() >= 1
    follow_up = next(i for i in queue if i["rule"] == "outreach_follow_up" and i["contact_id"] == bartholomew)
    assert journey.post("followups", f"/followups/{follow_up['id']}/dismiss", auth,
                        {"reason": DISMISS_REASON}).status_code == 200
    journey.sync()
    return {"zephyrina": zephyrina, "bartholomew": bartholomew, "held": held, "cancelled": cancelled, "missed": missed}


def test_the_analytics_topic_carries_no_personal_data_and_every_event_is_a_valid_cloudevent(
        journey: Journey, token: Callable[..., str]) -> None:
    ids = drive_the_journey(journey, token(STUDENT))
    messages = journey.integration_messages()

    # what a data team gets: valid CloudEvents, keyed and subjected by the student's pseudonym
    schemas = validators()
    events = [parse_and_validate(m.value, key=m.key, schemas=schemas) for m in messages]
    student = PSEUDONYMS.student(STUDENT)
    assert {m.key for m in messages} == {student} and {e["subject"] for e in events} == {student}
    names = Counter(e["type"].split(".")[2] for e in events)
    assert names == Counter({"StudentActivated": 1, "ContactAdded": 2, "OutreachSent": 2, "ReplyReceived": 1,
                             "InterviewRequested": 3, "InterviewScheduled": 2, "InterviewHeld": 1,
                             "InterviewCancelled": 1, "InterviewMissed": 1, "ThankYouSent": 1, "NoteRecorded": 1,
                             "ActionItemCompleted": 1, "CheckInMade": 1,
                             "FollowUpBecameDue": names["FollowUpBecameDue"],
                             "FollowUpDone": 1})
    assert names["FollowUpBecameDue"] >= 1
    by_name = {e["type"].split(".")[2]: e["data"] for e in events}
    # held 10:00-10:20 New York (15:00-15:20 UTC) on 2 March, thanked at 09:30 UTC the next day
    assert by_name["ThankYouSent"]["hours_after_interview"] == 18.17
    assert by_name["InterviewCancelled"]["cancelled_by"] == "contact"
    assert by_name["InterviewMissed"]["missed_by"] == "student"
    note = by_name["NoteRecorded"]
    assert (note["insight_categories"], note["action_item_count"], note["interview"]) == (
        ["industry_trends"], 1, PSEUDONYMS.interview(ids["held"], STUDENT))
    added = [e["data"] for e in events if e["type"].endswith("ContactAdded.v1")]
    assert {d["organisation"] for d in added} == {"Acme Corp", "Globex"}
    assert {d["industry"] for d in added} == {"technology", "finance"}

    # and nothing personal, on the topic nor in what the translator keeps
    kept = [str(doc) for collection in (journey.translator.streams, journey.translator.pairs,
                                        journey.translator.students, journey.translator.published)
            for doc in collection.find({}, limit=10_000).items]
    assert kept
    for where, text in [("the analytics topic", "\n".join(m.value.decode() for m in messages)),
                        ("the translator's read store", "\n".join(kept))]:
        haystack = text.casefold()
        for secret in SECRETS:
            assert secret.casefold() not in haystack, f"{secret!r} appears in {where}"
            for token_ in tokens(secret):
                assert token_ not in haystack, f"{token_!r} (from {secret!r}) appears in {where}"
        for phone in (ZEPHYRINA["phone"], BARTHOLOMEW["phone"]):
            assert digits(phone) not in haystack
    # raw ids are not on the topic either, only their pseudonyms
    topic = "\n".join(m.value.decode() for m in messages)
    for raw in ids.values():
        assert raw not in topic


def test_a_students_events_keep_their_order_after_their_activation(journey: Journey, token: Callable[..., Any]) -> None:
    """Key = the student pseudonym: one partition per student, so their events arrive as they happened."""
    auth = token("student-order")
    contact = journey.add_contact(auth, name="Orla Ordering", organisation="Initech", industry="consulting")
    for day in range(1, 6):
        journey.touch(auth, contact, "outreach" if day % 2 else "reply", f"2026-02-0{day}T10:00:00Z")
    events = [parse_and_validate(m.value, key=m.key) for m in journey.integration_messages()]
    assert [e["type"].split(".")[2] for e in events] == ["StudentActivated", "ContactAdded", "OutreachSent",
                                                         "ReplyReceived", "OutreachSent", "ReplyReceived",
                                                         "OutreachSent"]
    assert [e["data"]["occurred_at"][:10] for e in events[2:]] == [f"2026-02-0{d}" for d in range(1, 6)]
