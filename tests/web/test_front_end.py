"""The web front end through Flask's test client: sign-in, sessions, CSRF, headers, and the student
pages against the real platform's APIs (embedded profile, as processes: see conftest)."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.web.app import CONTENT_SECURITY_POLICY, create_app
from shared.config import InsecureConfiguration
from tests.platform import Platform
from tests.support import wait_until
from tests.web.conftest import LINKEDIN, assign_advisor, csrf_token, sign_in, wall

DISTRIBUTED = {"EVENT_STORE_URL": "mongodb://db.invalid:27017/careerloop_{service}",
               "READ_STORE_URL": "mongodb://db.invalid:27017/read", "BUS_URL": "kafka://kafka.invalid:9092",
               "KEY_STORE_URL": "mongodb://db.invalid:27017/keys",
               "WEB_SESSION_SECRET": "a-web-session-secret-only-these-tests-know-0123456789"}


def app_of(**env: str) -> Flask:
    return create_app(env=env)


@pytest.fixture
def client(web_platform: Platform) -> FlaskClient:
    """A test client of an in-process front end that calls the platform's running APIs."""
    return app_of(**web_platform.env).test_client()


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


# -- sign-in, sessions, headers ----------------------------------------------------------------
def test_the_demo_sign_in_exists_only_in_the_embedded_profile(tmp_path: Any) -> None:
    distributed = app_of(CAREERLOOP_DATA_DIR=str(tmp_path), OIDC_ISSUER="https://idp.university.example/realms/x",
                         OIDC_CLIENT_ID="careerloop-web", **DISTRIBUTED)
    distributed.config["WTF_CSRF_ENABLED"] = False  # a perfect form still finds no page
    client = distributed.test_client()
    answer = client.post("/sign-in/demo", data={"user": "student-1", "role": "student"})
    assert answer.status_code == 404
    sign_in_page = page(client, "/sign-in")
    assert "Demo sign-in" not in sign_in_page and "Sign in with your university account" in sign_in_page
    # under make run the same form signs in
    embedded = app_of(CAREERLOOP_DATA_DIR=str(tmp_path))
    embedded.config["WTF_CSRF_ENABLED"] = False
    signed = embedded.test_client().post("/sign-in/demo", data={"user": "student-1", "role": "student"})
    assert signed.status_code == 302


def test_outside_make_run_the_front_end_refuses_to_start_without_an_identity_provider(tmp_path: Any) -> None:
    with pytest.raises(InsecureConfiguration, match="OIDC_ISSUER"):
        app_of(CAREERLOOP_DATA_DIR=str(tmp_path), **DISTRIBUTED)
    with pytest.raises(InsecureConfiguration, match="WEB_SESSION_SECRET is a published development value"):
        app_of(CAREERLOOP_DATA_DIR=str(tmp_path), OIDC_ISSUER="https://idp.example",
               **{**DISTRIBUTED, "WEB_SESSION_SECRET": "dev-only-web-session-secret-change-me"})


def test_pages_need_a_sign_in_and_come_back_to_where_the_user_was_going(tmp_path: Any) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path)).test_client()
    answer = client.get("/contacts?stage=target")
    assert answer.status_code == 302 and answer.headers["Location"] == "/sign-in?next=/contacts?stage%3Dtarget"
    token = csrf_token(page(client, "/sign-in?next=/contacts"))
    answer = client.post("/sign-in/demo", data={"user": "student-1", "role": "student", "csrf_token": token,
                                                "next": "//evil.example/steal"})
    assert answer.headers["Location"] == "/"  # never an open redirect


def test_every_answer_carries_a_strict_policy_and_the_session_cookie_is_httponly_and_samesite(tmp_path: Any) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path)).test_client()
    answer = client.get("/sign-in")
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert answer.headers["X-Content-Type-Options"] == "nosniff" and answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in answer.headers  # http under make run
    cookie = answer.headers["Set-Cookie"]  # the CSRF token's session
    assert cookie.startswith("careerloop=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert "style=" not in answer.get_data(as_text=True) and "<script" not in answer.get_data(as_text=True)


def test_metrics_count_the_pages_by_route_and_status_without_a_sign_in(tmp_path: Any) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path)).test_client()
    client.get("/contacts")  # not signed in: sent to the sign-in page
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain; version=0.0.4")
    counted = {(s.labels["route"], s.labels["status"]): s.value
               for family in text_string_to_metric_families(answer.get_data(as_text=True))
               for s in family.samples if s.name == "careerloop_http_requests_total"}
    assert counted == {("/contacts", "302"): 1}


def test_an_https_address_makes_the_cookie_secure_and_host_only(tmp_path: Any) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path), WEB_PUBLIC_URL="https://careers.university.example").test_client()
    answer = client.get("/sign-in", base_url="https://careers.university.example")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-careerloop=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/sign-in/demo", "/sign-out", "/imports", "/followups/x/snooze", "/interviews",
                                  "/interviews/x/proposals", "/interviews/x/schedule", "/interviews/x/cancel",
                                  "/notes", "/notes/x/visibility", "/contacts/x/touchpoints", "/contacts/x/tags",
                                  "/contacts", "/notes/x/delete"])
def test_a_forged_post_without_the_csrf_token_is_refused(tmp_path: Any, path: str) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path)).test_client()
    sign_in(client)
    answer = client.post(path, data={"user": "student-2", "role": "admin", "days": "1"})
    assert answer.status_code == 400
    assert "security token" in answer.get_data(as_text=True)
    forged = client.post(path, data={"user": "student-2", "role": "admin", "csrf_token": "forged"})
    assert forged.status_code == 400


def test_an_api_that_does_not_answer_is_a_503_page_with_retry_after(tmp_path: Any) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path), CONTACTS_PORT="9", FOLLOWUPS_PORT="9").test_client()
    sign_in(client)
    answer = client.get("/contacts")
    assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit()
    assert "contacts service does not answer" in answer.get_data(as_text=True)


def test_a_role_without_pages_is_told_so_and_an_advisor_is_sent_to_their_students(tmp_path: Any) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path)).test_client()
    sign_in(client, "analyst-1", "analyst")  # the career office's staff are sent to its pages
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/office"
    assert "for the student role" in page(client, "/contacts", 403)
    advisor = client.application.test_client()
    sign_in(advisor, "advisor-1", "advisor")
    answer = advisor.get("/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/advisor/students"
    assert "for the student role" in page(advisor, "/interviews", 403)


# -- the student pages against the platform ------------------------------------------------------
def import_file(client: FlaskClient, content: bytes, filename: str = "Connections.csv") -> Any:
    token = csrf_token(page(client, "/imports/new"))
    return client.post("/imports", data={"csrf_token": token, "format": "", "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def test_a_student_imports_linkedin_connections_and_finds_them_in_the_directory(client: FlaskClient) -> None:
    sign_in(client, "student-1")
    answer = import_file(client, LINKEDIN)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    report = page(client, answer.headers["Location"])
    assert "LinkedIn Connections.csv" in report
    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", report))
    assert counts["Added"] == "2" and counts["Not imported: invalid"] == "1"
    assert "emails" in report and "<th scope=\"col\">Line</th>" in report

    def found(path: str, text: str) -> str | None:
        html = page(client, path)
        return html if text in html else None

    directory = wait_until(lambda: found("/contacts?q=Jane", "Jane Doe"), what="the directory lists the contact")
    assert "Sam Lee" not in directory  # the search is the API's
    contact_path = re.search(r'href="(/contacts/[^"]+)">Jane Doe', directory).group(1)  # type: ignore[union-attr]
    contact = page(client, contact_path)
    assert "Engineer at Acme, Inc." in contact and "jane@example.com" in contact
    wait_until(lambda: found(contact_path, "Added Jane Doe"), what="the contact's timeline shows the import",
               seen=lambda: page(client, contact_path)[-1500:])

    # another student reaches none of it: the contacts API answers 404, and so does the page
    other = client.application.test_client()
    sign_in(other, "student-3")  # no other test imports anything for student-3
    assert "Page not found" in page(other, contact_path, 404)
    assert "Jane Doe" not in page(other, "/contacts")


def test_a_bad_file_and_a_bad_filter_are_shown_next_to_their_fields(client: FlaskClient) -> None:
    sign_in(client, "student-2")
    answer = import_file(client, b"this is not a contacts file\n", "notes.txt")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'aria-describedby="file-hint file-error" aria-invalid="true"' in html
    assert re.search(r'<p class="field-error" id="file-error">.*file', html, re.S)
    assert '<a href="#file">File:' in html  # the error summary links to the field

    empty = client.post("/imports", data={"csrf_token": csrf_token(page(client, "/imports/new"))},
                        content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choose a file to import." in empty.get_data(as_text=True)

    directory = client.get("/contacts?q=" + "x" * 101)  # longer than the API's search takes
    assert directory.status_code == 422
    html = directory.get_data(as_text=True)
    assert 'id="q" name="q"' in html and 'aria-describedby="q-error" aria-invalid="true"' in html


def test_the_home_page_shows_the_queue_interviews_and_notifications(client: FlaskClient) -> None:
    sign_in(client, "student-2")
    html = page(client, "/")
    assert "Your follow-ups" in html and "Upcoming interviews" in html and "(0 unread)" in html


# -- interviews, notes, the contact page's actions, advisors ----------------------------------------
VCARD = b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Grace Hopper\r\nORG:Navy\r\nEMAIL:grace@example.com\r\nEND:VCARD\r\n"


def imported_contact(client: FlaskClient, content: bytes = VCARD, filename: str = "grace.vcf") -> str:
    """The id of the (first) contact a file adds or finds again, from its import report."""
    answer = import_file(client, content, filename)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    match = re.search(r'href="/contacts/([^"]+)"', page(client, answer.headers["Location"]))
    assert match, "the report links no contact"
    return match.group(1)


def post(client: FlaskClient, path: str, data: dict[str, Any], form_page: str) -> Any:
    """A form as the browser sends it: with the CSRF token of the page that shows the form."""
    return client.post(path, data={"csrf_token": csrf_token(page(client, form_page)), **data})


def requested_interview(client: FlaskClient, contact: str, **fields: Any) -> str:
    form = {"contact_id": contact, "objectives": "How do teams decide what to build?\nWhat is a week like?",
            "questions": "How did you start?", "starter_questions": ["advice"], "format": "video",
            "duration_minutes": "30", "time_zone": "Europe/Paris", "contact_time_zone": "Asia/Tokyo", **fields}

    def accepted() -> str | None:  # the scheduling service learns of a new contact from its stream
        answer = post(client, "/interviews", form, f"/interviews/new?contact_id={contact}")
        return answer.headers["Location"] if answer.status_code == 303 else None

    return wait_until(accepted, what="the interview is requested", interval=0.3).rsplit("/", 1)[-1]


def test_a_student_requests_an_interview_proposes_times_across_zones_schedules_and_cancels(client: FlaskClient) -> None:
    sign_in(client, "student-1")
    contact = imported_contact(client)
    form = page(client, f"/interviews/new?contact_id={contact}")
    assert "What do you wish you had known when you were starting out?" in form  # the API's starter questions
    assert '<option value="America/New_York">America/New York</option>' in form

    missing = post(client, "/interviews", {"contact_id": contact, "objectives": " ", "duration_minutes": "30",
                                           "format": "video", "time_zone": "UTC"}, "/interviews/new")
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "Write at least one objective" in html
    assert 'id="objectives" name="objectives" rows="3" aria-describedby="objectives-hint objectives-error" ' \
           'aria-invalid="true"' in html

    interview = requested_interview(client, contact)
    path = f"/interviews/{interview}"
    html = page(client, path)
    assert "Times proposed" not in html and "Requested" in html and "Asia/Tokyo" in html
    assert "How would you prepare for a role like yours" in html and "How did you start?" in html

    # one slot in Tokyo's time; shown in the student's zone (Paris) with Tokyo's beside it
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    answer = post(client, f"{path}/proposals", {"start-0": f"{day}T09:00", "zone-0": "Asia/Tokyo",
                                                "start-1": "", "zone-1": "UTC"}, path)
    assert answer.status_code == 303
    html = page(client, path)
    tokyo = datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert wall(tokyo, "Europe/Paris") in html and wall(tokyo, "Asia/Tokyo") in html

    # a zone the API does not know is named next to the row's zone control; a past time is said at the top
    answer = post(client, f"{path}/proposals", {"start-0": "", "start-1": f"{day}T10:00", "zone-1": "Mars/Olympus"},
                  path)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and 'id="zone-1-error"' in html and '<a href="#zone-1">' in html
    answer = post(client, f"{path}/proposals", {"start-0": "2020-01-06T10:00", "zone-0": "UTC"}, path)
    assert answer.status_code == 303 and "Not done: a time slot cannot be in the past" in page(client, path)

    slot = re.search(r'name="slot_id" value="([^"]+)"', page(client, path)).group(1)  # type: ignore[union-attr]
    assert post(client, f"{path}/schedule", {"slot_id": slot}, path).status_code == 303
    html = page(client, path)
    assert "Scheduled" in html and f'href="{path}/invite.ics"' in html and "webcal://" in html
    invite = client.get(f"{path}/invite.ics")
    assert invite.status_code == 200 and invite.mimetype == "text/calendar"
    event = next(iter(icalendar.Calendar.from_ical(invite.data).walk("VEVENT")))  # read by an independent parser
    assert event.decoded("DTSTART") == tokyo.astimezone(UTC)

    answer = post(client, f"{path}/reschedule", {"new-start": f"{day}T18:30", "new-zone": "Europe/Paris"}, path)
    assert answer.status_code == 303
    html = page(client, path)
    moved = datetime(day.year, day.month, day.day, 18, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert wall(moved, "Europe/Paris") in html and "Earlier times" in html

    # another student reaches none of it: the scheduling API's 404, for reading and for changing
    other = client.application.test_client()
    sign_in(other, "student-3")
    assert "Page not found" in page(other, path, 404)
    assert other.get(f"{path}/invite.ics").status_code == 404
    token = csrf_token(page(other, "/interviews"))
    assert other.post(f"{path}/cancel", data={"csrf_token": token, "by": "student"}).status_code == 404

    answer = post(client, f"{path}/cancel", {"by": "contact", "reason": "Travelling"}, path)
    assert answer.status_code == 303
    html = page(client, path)
    assert "Cancelled" in html and "by your contact: Travelling" in html


def test_the_contact_page_records_touchpoints_tags_and_priority(client: FlaskClient) -> None:
    sign_in(client, "student-1")
    contact = imported_contact(client)
    path = f"/contacts/{contact}"
    assert post(client, f"{path}/touchpoints", {"kind": "reply"}, path).status_code == 303
    assert "Recorded: They replied" in page(client, path)
    wait_until(lambda: "replied" in page(client, path).split("timeline-title")[-1].lower(),
               what="the timeline shows the reply")
    empty = post(client, f"{path}/tags", {"tag": " "}, path)
    assert empty.status_code == 422 and 'aria-describedby="tag-hint tag-error" aria-invalid="true"' in \
        empty.get_data(as_text=True)
    bad = post(client, f"{path}/tags", {"tag": "no/slashes"}, path)  # the contacts API's rule, named on the field
    assert bad.status_code == 422 and 'id="tag-error"' in bad.get_data(as_text=True)
    assert post(client, f"{path}/tags", {"tag": "mentor"}, path).status_code == 303
    assert post(client, f"{path}/priority", {"advocacy": "3", "motivation": "2"}, path).status_code == 303
    html = page(client, path)
    assert "advocacy 3 of 3, motivation 2 of 3" in html
    assert 'Remove<span class="visually-hidden"> the tag mentor' in html
    assert post(client, f"{path}/tags/remove", {"tag": "mentor"}, path).status_code == 303
    assert "Removed the tag mentor." in (html := page(client, path)) and "> the tag mentor<" not in html


def test_notes_and_what_an_advisor_reaches_of_them(web_platform: Platform, client: FlaskClient) -> None:
    sign_in(client, "student-1")
    contact = imported_contact(client)
    empty = post(client, "/notes", {"contact_id": contact, "visibility": "private"}, "/notes/new")
    assert empty.status_code == 422 and 'id="text-error"' in empty.get_data(as_text=True)

    answer = post(client, "/notes", {"contact_id": contact, "text": "Talked about the navy.",
                                     "insight-career_paths": "Started in maths", "item-0-text": "Read her paper",
                                     "item-0-due": "2031-01-15", "visibility": "private"}, "/notes/new")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    path = answer.headers["Location"]
    note_id = path.rsplit("/", 1)[-1]
    html = page(client, path)
    assert "Started in maths" in html and "Read her paper (due 2031-01-15)" in html and "Private" in html

    # a revision keeps the action item (its id) and the earlier revision stays readable
    edit = page(client, f"{path}/edit")
    item_id = re.search(r'name="item-0-id" value="([^"]+)"', edit).group(1)  # type: ignore[union-attr]
    version = re.search(r'name="version" value="(\d+)"', edit).group(1)  # type: ignore[union-attr]
    assert "Started in maths</textarea>" in edit
    answer = post(client, path, {"version": version, "text": "Talked about the navy and compilers.",
                                 "insight-career_paths": "Started in maths", "item-0-id": item_id,
                                 "item-0-text": "Read her paper", "item-0-due": "2031-01-15"},
                  f"{path}/edit")
    assert answer.status_code == 303
    stale = post(client, path, {"version": version, "text": "An old tab"}, f"{path}/edit")  # If-Match: refused
    assert stale.status_code == 412
    revisions = page(client, f"{path}/revisions")
    assert "Revision 1" in revisions and "Revision 2" in revisions and "and compilers" in revisions

    # the advisor of student-1 sees no private note, not even by its address; another student's page is 404
    assign_advisor(web_platform, "advisor-1", "student-1")
    advisor = client.application.test_client()
    sign_in(advisor, "advisor-1", "advisor")
    wait_until(lambda: "student-1" in page(advisor, "/advisor/students"), what="the advisor's list has the student")
    assert "No shared note" in page(advisor, "/advisor/students/student-1")
    assert "Page not found" in page(advisor, f"/advisor/students/student-1/notes/{note_id}", 404)
    page(advisor, "/advisor/students/student-3", 404)
    page(advisor, f"/advisor/students/student-3/notes/{note_id}", 404)
    assert "for the student role" in page(advisor, path, 403)

    # shared: listed and readable (the notes API logs the read), under its own student's address only
    assert post(client, f"{path}/visibility", {"visibility": "shared"}, path).status_code == 303
    listed = wait_until(lambda: (html := page(advisor, "/advisor/students/student-1")) and note_id in html and html,
                        what="the shared note is listed for the advisor")
    assert "Career paths" in listed
    read = page(advisor, f"/advisor/students/student-1/notes/{note_id}")
    assert "Started in maths" in read and "and compilers" in read
    page(advisor, f"/advisor/students/student-2/notes/{note_id}", 404)
    other = client.application.test_client()
    sign_in(other, "student-3")
    assert "Page not found" in page(other, path, 404)
