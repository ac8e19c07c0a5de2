"""End to end (issue 15): the data-subject export. A student with distinctive data in every service
(a contact with an e-mail and a phone, a touchpoint, a scheduled interview, a note with action items
shared with their advisor and read by them) downloads `GET /me/export` from the privacy API; the zip
is opened with `zipfile` and each file read by an independent parser (`vobject` for the vCard,
`icalendar` for the invites, `markdown-it-py` for the notes), its manifest's checksums are checked,
and another student's data appears nowhere in it (nor theirs in the other's). On each profile, as
processes, with one platform start for every assertion."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import requests
import vobject
from markdown_it import MarkdownIt

from shared.auth import mint_token
from tests.backends import TEST_SECRET
from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e

STUDENT, OTHER, ADVISOR = "student-exporter", "student-bystander", "advisor-export"
NAME, EMAIL, PHONE = "Ottoline Brackenridge", "ottoline.b@brackenridge.example", "+44 7700 900123"
TOUCH = "asked about the lighthouse apprenticeship"
NOTE = "Ottoline said lighthouse keepers still log every ship by hand"
ACTIONS = ("Send Ottoline the tide tables", "Read the keeper's handbook")
OTHER_NAME, OTHER_NOTE = "Bartholomew Quince", "Bartholomew grows prize-winning marrows"
SERVICES = ("analytics", "contacts", "followups", "notes", "notifications", "privacy", "scheduling")


def session(subject: str, *roles: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + mint_token(TEST_SECRET, subject, roles or ("student",))
    return s


def _created(response: requests.Response) -> str | None:
    return response.json()["id"] if response.status_code == 201 else None


def journey(platform: Platform) -> dict[str, str]:
    """The student's records in every service, the advisor's read included, and another student's contact and note."""
    student, other, admin, advisor = session(STUDENT), session(OTHER), session("admin-1", "admin"), session(
        ADVISOR, "advisor")
    contacts, scheduling, notes = platform.url("contacts"), platform.url("scheduling"), platform.url("notes")
    contact = _created(student.post(f"{contacts}/contacts", timeout=10, json={
        "name": NAME, "emails": [EMAIL], "phone": PHONE, "organisation": "Brackenridge Lights"}))
    assert contact
    assert student.post(f"{contacts}/contacts/{contact}/touchpoints", timeout=10, json={
        "kind": "outreach", "occurred_at": "2026-11-30T10:00:00Z", "text": TOUCH}).status_code == 201
    other_contact = _created(other.post(f"{contacts}/contacts", timeout=10, json={"name": OTHER_NAME}))
    interview = wait_until(lambda: _created(student.post(f"{scheduling}/interviews", timeout=10, json={
        "contact_id": contact, "objectives": ["How does one become a keeper?"], "format": "video",
        "time_zone": "Europe/London"})), what="the scheduling service knows the contact")
    start = (datetime.now(UTC) + timedelta(days=9)).strftime("%Y-%m-%dT10:00:00")
    assert student.post(f"{scheduling}/interviews/{interview}/schedule", timeout=10,
                        json={"start": start, "time_zone": "Europe/London"}).status_code == 200
    assert admin.post(f"{notes}/advisors/{ADVISOR}/students/{STUDENT}", timeout=10).status_code == 200
    note = wait_until(lambda: _created(student.post(f"{notes}/notes", timeout=10, json={
        "interview_id": interview, "contact_id": contact, "text": NOTE, "visibility": "shared",
        "action_items": [{"text": text, "due_on": None} for text in ACTIONS]})),
        what="the notes service knows the interview")
    wait_until(lambda: other_contact and _created(other.post(f"{notes}/notes", timeout=10, json={
        "contact_id": other_contact, "text": OTHER_NOTE})), what="the notes service knows the other contact")
    assert advisor.get(f"{notes}/notes/{note}", timeout=10).status_code == 200  # the read is logged
    wait_until(lambda: student.get(f"{notes}/notes/access-log", timeout=10).json()["items"],
               what="the advisor's read in the access log")
    wait_until(lambda: [i for i in student.get(f"{scheduling}/interviews", timeout=10).json()["items"]
                        if i["state"] == "scheduled"], what="the scheduled interview in the list")
    wait_until(lambda: student.get(f"{platform.url('followups')}/timeline", timeout=10).json()["items"],
               what="the student's timeline")
    return {"contact": contact, "interview": interview, "note": note}


def export(platform: Platform, subject: str) -> tuple[requests.Response, dict[str, bytes]]:
    response = session(subject).get(f"{platform.url('privacy')}/me/export", timeout=60)
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        return response, {name: archive.read(name) for name in archive.namelist()}


def test_a_student_downloads_everything_held_about_them_and_nothing_of_anyone_else(platform: Platform) -> None:
    platform.start()
    ids = journey(platform)
    response, files = export(platform, STUDENT)

    today = datetime.now(UTC).date().isoformat()
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="careerloop-export-{STUDENT}-{today}.zip"')
    manifest = json.loads(files["manifest.json"])
    assert manifest["student_id"] == STUDENT
    assert [s["name"] for s in manifest["services"]] == list(SERVICES)
    listed = {f["path"]: f for s in manifest["services"] for f in s["files"]}
    assert set(listed) == set(files) - {"manifest.json", "README.txt"}
    for path, entry in listed.items():
        assert entry["size"] == len(files[path]) and entry["sha256"] == hashlib.sha256(files[path]).hexdigest(), path
    readme = files["README.txt"].decode()
    assert all(f"{name}/" in readme for name in SERVICES)

    # contacts: JSON with the touchpoint, and the vCard read by vobject
    contacts = json.loads(files["contacts/contacts.json"])["contacts"]
    assert [c["id"] for c in contacts] == [ids["contact"]]
    assert [t.get("text") for t in contacts[0]["touchpoints"]] == [TOUCH]
    cards = list(vobject.readComponents(files["contacts/contacts.vcf"].decode()))
    assert [card.fn.value for card in cards] == [NAME]
    assert cards[0].email.value == EMAIL and cards[0].tel.value == PHONE

    # scheduling: the interview, and the calendar read by icalendar
    interviews = json.loads(files["scheduling/scheduling.json"])["interviews"]
    assert [(i["id"], i["state"]) for i in interviews] == [(ids["interview"], "scheduled")]
    calendar = icalendar.Calendar.from_ical(files["scheduling/interviews.ics"])
    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [f"{ids['interview']}@careerloop"]
    assert events[0].decoded("DTSTART") == datetime.fromisoformat(interviews[0]["start"].replace("Z", "+00:00"))
    assert NAME in str(events[0]["SUMMARY"])

    # notes: the note with its action items, the Markdown read by markdown-it-py, the advisor's read logged
    notes = json.loads(files["notes/notes.json"])
    assert [n["id"] for n in notes["notes"]] == [ids["note"]]
    assert [item["text"] for item in notes["notes"][0]["action_items"]] == list(ACTIONS)
    assert [r["revision"] for r in notes["notes"][0]["revisions"]] == [1]
    assert [(e["note_id"], e["advisor_id"]) for e in notes["access_log"]] == [(ids["note"], ADVISOR)]
    assert notes["advisors"] == [ADVISOR]
    tokens = MarkdownIt().parse(files[f"notes/notes/{ids['note']}.md"].decode())
    texts = [child.content for t in tokens if t.type == "inline" for child in t.children or [] if child.type == "text"]
    assert NOTE in texts
    assert any(ACTIONS[0] in text for text in texts) and any(ACTIONS[1] in text for text in texts)
    assert any(t.type == "heading_open" for t in tokens)

    # followups, notifications, analytics and privacy: the student's own records, honestly described
    timeline = json.loads(files["followups/followups.json"])["timeline"]
    assert {e["kind"] for e in timeline} >= {"contact_added"}
    notifications = json.loads(files["notifications/notifications.json"])
    assert notifications["preferences"]["student_id"] == STUDENT
    analytics = json.loads(files["analytics/analytics.json"])
    assert analytics["roster"] == [] and "pseudonym" in analytics["pseudonymised"]
    assert json.loads(files["privacy/privacy.json"]) == {"erasures": []}

    everything = b"\n".join(files.values()).decode()
    assert OTHER not in everything and OTHER_NAME not in everything and "marrows" not in everything

    # the other student gets only their own
    _, theirs = export(platform, OTHER)
    their_text = b"\n".join(theirs.values()).decode()
    assert OTHER_NAME in their_text and OTHER_NOTE in their_text
    for mine in (NAME, EMAIL, PHONE, TOUCH, NOTE, ACTIONS[0], STUDENT, ids["contact"], ids["interview"]):
        assert mine not in their_text, mine
    assert json.loads(theirs["manifest.json"])["student_id"] == OTHER

