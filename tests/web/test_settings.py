"""The settings pages (notification preferences, the time zone, quiet hours, the digest, webhooks, the
inbox, the notes' access log) and the contact page's additions (check-in cadence, a detailed
touchpoint, editing, archiving, merging, the exports) through Flask's test client, against the
platform's running APIs (see conftest). What the pages did is read back from the APIs themselves
with a token of the student's, and times are checked against zoneinfo's own."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import vobject
from flask.testing import FlaskClient

from services.web.app import create_app
from shared.auth import mint_token
from tests.platform import Platform
from tests.support import wait_until
from tests.web.conftest import assign_advisor, csrf_token, sign_in

STUDENT = "student-4"  # this module's own student (student-3 only looks: every attempt of theirs is refused)


@pytest.fixture
def client(web_platform: Platform) -> FlaskClient:
    return create_app(env=dict(web_platform.env)).test_client()


def api(platform: Platform, service: str, method: str, path: str, user: str = STUDENT, role: str = "student",
        **kwargs: Any) -> requests.Response:
    """The service API itself, with a token of `user`'s: what the page did, read back independently."""
    token = mint_token(platform.env["CAREERLOOP_JWT_SECRET"], user, [role])
    return requests.request(method, f"{platform.url(service)}{path}", timeout=10,
                            headers={"Authorization": f"Bearer {token}"}, **kwargs)


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)[-3000:]
    return answer.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict[str, Any], form_page: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(page(client, form_page)), **data})


def imported(client: FlaskClient, vcard: str) -> str:
    token = csrf_token(page(client, "/imports/new"))
    answer = client.post("/imports", data={"csrf_token": token, "format": "vcard",
                                           "file": (io.BytesIO(vcard.encode()), "card.vcf")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    match = re.search(r'href="/contacts/([^"]+)"', page(client, answer.headers["Location"]))
    assert match
    return match.group(1)


def card(name: str, email: str, org: str = "Analytical Engines") -> str:
    return f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:{name}\r\nORG:{org}\r\nEMAIL:{email}\r\nEND:VCARD\r\n"


PREFERENCES = {"email": "four@example.com", "time_zone": "Asia/Kolkata", "quiet-start": "22:00", "quiet-end": "07:00",
               "digest": "on", "channel-thank_you_due": ["email", "in_app"], "channel-check_in_due": ["in_app"],
               "channel-interview_reminder_24h": ["in_app"], "channel-interview_reminder_1h": ["in_app"],
               "channel-follow_up_due": ["in_app"]}


def test_preferences_are_saved_whole_with_their_errors_next_to_each_field(web_platform: Platform,
                                                                          client: FlaskClient) -> None:
    sign_in(client, STUDENT)
    html = page(client, "/settings")
    assert 'name="version" value="0"' in html  # the defaults: nothing saved yet
    assert '<th scope="row">A thank-you is due</th>' in html and 'id="channel-thank_you_due-in_app"' in html

    # e-mail chosen without an address: the notifications API's rule, named next to the address
    answer = post(client, "/settings/preferences", {**PREFERENCES, "email": ""}, "/settings")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and re.search(r'id="email-error">.*e-mail address is needed', html, re.S)
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in html
    assert '<a href="#email">E-mail address:' in html
    assert 'id="channel-thank_you_due-email" name="channel-thank_you_due" value="email" checked' in html  # kept
    bad = post(client, "/settings/preferences", {**PREFERENCES, "email": "not-an-address"}, "/settings")
    assert bad.status_code == 422 and 'id="email-error"' in bad.get_data(as_text=True)
    half = post(client, "/settings/preferences", {**PREFERENCES, "quiet-end": ""}, "/settings")
    assert half.status_code == 422 and 'id="quiet-end-error"' in half.get_data(as_text=True)
    same = post(client, "/settings/preferences", {**PREFERENCES, "quiet-end": "22:00"}, "/settings")
    assert same.status_code == 422 and 'id="quiet-start-error"' in same.get_data(as_text=True)
    zone = post(client, "/settings/preferences", {**PREFERENCES, "time_zone": "Mars/Olympus"}, "/settings")
    assert zone.status_code == 422 and 'id="time_zone-error"' in zone.get_data(as_text=True)

    form_page = page(client, "/settings")
    answer = client.post("/settings/preferences", data={"csrf_token": csrf_token(form_page), "version": "0",
                                                        **PREFERENCES})
    assert answer.status_code == 303
    saved = api(web_platform, "notifications", "GET", "/preferences").json()
    assert saved["email"] == "four@example.com" and saved["time_zone"] == "Asia/Kolkata" and saved["digest"] is True
    assert saved["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert saved["channels"]["thank_you_due"] == ["email", "in_app"] and saved["channels"]["check_in_due"] == ["in_app"]
    html = page(client, "/settings")
    assert "Times now show in Asia/Kolkata" in html and '<option value="Asia/Kolkata" selected>' in html
    assert 'value="22:00"' in html and 'id="digest" name="digest" checked' in html
    assert "Times are in Asia/Kolkata" in page(client, "/inbox")  # every page now shows the student's zone

    # the form of before (version 0) cannot overwrite what was saved since: If-Match, a 412 page
    stale = client.post("/settings/preferences", data={"csrf_token": csrf_token(form_page), "version": "0",
                                                       **PREFERENCES, "digest": ""})
    assert stale.status_code == 412 and "Changed meanwhile" in stale.get_data(as_text=True)
    assert api(web_platform, "notifications", "GET", "/preferences").json()["digest"] is True


def test_a_webhook_is_registered_its_secret_shown_once_listed_and_removed(web_platform: Platform,
                                                                          client: FlaskClient) -> None:
    sign_in(client, STUDENT)
    answer = post(client, "/settings/webhooks", {"url": "ftp://hooks.example.com/x"}, "/settings")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and re.search(r'id="url-error">.*http', html, re.S)
    assert 'aria-describedby="url-hint url-error" aria-invalid="true"' in html
    loopback = "http://127.0.0.1:9/careerloop-hook"  # allowed here by WEBHOOK_ALLOWED_NETWORKS (conftest)
    answer = post(client, "/settings/webhooks", {"url": loopback, "description": "My phone"}, "/settings")
    assert answer.status_code == 201
    html = answer.get_data(as_text=True)
    secret = re.search(r'id="secret" class="feed-url" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    back = re.search(r'href="(/settings\?seen=[^"]+)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    listed = page(client, back)  # the list waits for the registration (min_version): no reload needed
    assert loopback in listed and "My phone" in listed and secret not in listed  # the secret is shown once
    endpoints = api(web_platform, "notifications", "GET", "/webhooks").json()["items"]
    assert [(e["url"], e["status"]) for e in endpoints] == [(loopback, "enabled")]
    endpoint = endpoints[0]

    # another student cannot remove it (the API's 404), and sees nothing of it
    other = client.application.test_client()
    sign_in(other, "student-3")
    assert loopback not in page(other, "/settings")
    refused = post(other, f"/settings/webhooks/{endpoint['id']}/remove", {}, "/settings")
    assert refused.status_code == 404
    # enabling an enabled endpoint changes nothing; a stale version is refused (If-Match)
    stale = post(client, f"/settings/webhooks/{endpoint['id']}/enable", {"version": "99"}, "/settings")
    assert stale.status_code == 412

    answer = post(client, f"/settings/webhooks/{endpoint['id']}/remove", {"version": str(endpoint["version"])},
                  "/settings")
    assert answer.status_code == 303
    html = page(client, answer.headers["Location"])
    assert "The webhook is removed" in html and loopback not in html
    assert api(web_platform, "notifications", "GET", "/webhooks").json()["items"] == []


def test_the_inbox_and_what_another_student_reaches_of_it(client: FlaskClient) -> None:
    sign_in(client, STUDENT)
    html = page(client, "/inbox")
    assert "0 unread" in html and "No notification yet" in html
    assert "No unread notification" in page(client, "/inbox?show=unread")
    assert post(client, "/inbox/ntf_not-yours/read", {}, "/inbox").status_code == 404
    assert 'href="/inbox"' in page(client, "/")  # the home page leads to it


def test_the_access_log_shows_which_advisor_read_which_shared_note(web_platform: Platform,
                                                                   client: FlaskClient) -> None:
    sign_in(client, "student-5")
    # a contact of this test's own: student-5's book is shared with the browser test of these pages
    contact = imported(client, card("Mary Somerville", "mary.somerville@example.com"))
    answer = post(client, "/notes", {"contact_id": contact, "text": "Engines and poetry.", "visibility": "shared"},
                  "/notes/new")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    note_id = answer.headers["Location"].rsplit("/", 1)[-1]
    assert f"/notes/{note_id}" not in page(client, "/notes/access-log")  # not read yet
    assign_advisor(web_platform, "advisor-1", "student-5")
    assert api(web_platform, "notes", "GET", f"/notes/{note_id}", "advisor-1", "advisor").status_code == 200

    def logged() -> str | None:
        html = page(client, "/notes/access-log")
        return html if f'href="/notes/{note_id}"' in html else None

    html = wait_until(logged, what="the access log shows the read")
    assert html
    log = api(web_platform, "notes", "GET", "/notes/access-log", "student-5").json()["items"]
    read_at = next(entry["at"] for entry in log if entry["note_id"] == note_id and entry["advisor_id"] == "advisor-1")
    zone = api(web_platform, "notifications", "GET", "/preferences", "student-5").json()["time_zone"] or "UTC"
    local = datetime.fromisoformat(read_at.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    assert f"{local:%H:%M} {local.tzname()} ({zone})" in html  # in the student's zone (UTC until set), named
    assert f'href="/notes/{note_id}">Your note about Mary Somerville (Analytical Engines)</a>' in html
    assert "Who read your shared notes" in page(client, "/notes")
    other = client.application.test_client()
    sign_in(other, "student-3")
    assert note_id not in page(other, "/notes/access-log")


def test_the_contact_page_sets_the_cadence_records_a_detailed_touchpoint_and_edits(web_platform: Platform,
                                                                                   client: FlaskClient) -> None:
    sign_in(client, STUDENT)
    contact = imported(client, card("Charles Babbage", "charles@example.com"))
    path = f"/contacts/{contact}"
    assert post(client, f"{path}/cadence", {"every_weeks": "4", "action": "set"}, path).status_code == 303
    assert "Now every 4 weeks." in page(client, path)
    assert api(web_platform, "contacts", "GET", f"/contacts/{contact}").json()["check_in_every_weeks"] == 4
    too_long = post(client, f"{path}/cadence", {"every_weeks": "60", "action": "set"}, path)  # the API's range
    html = too_long.get_data(as_text=True)
    assert too_long.status_code == 422 and 'id="every_weeks-error"' in html
    assert 'aria-describedby="every_weeks-hint every_weeks-error" aria-invalid="true"' in html
    assert post(client, f"{path}/cadence", {"every_weeks": "four"}, path).status_code == 422
    assert post(client, f"{path}/cadence", {"action": "default"}, path).status_code == 303
    assert api(web_platform, "contacts", "GET", f"/contacts/{contact}").json()["check_in_every_weeks"] is None

    # a touchpoint of another kind at a time in the student's zone (Asia/Kolkata once the other test set it;
    # whatever it is, the page says it and the API holds that moment)
    zone = api(web_platform, "notifications", "GET", "/preferences").json()["time_zone"] or "UTC"
    missing = post(client, f"{path}/touchpoints/detailed", {"tp-kind": "article", "tp-when": ""}, path)
    assert missing.status_code == 422 and 'id="tp-when-error"' in missing.get_data(as_text=True)
    bad_url = post(client, f"{path}/touchpoints/detailed", {"tp-kind": "article", "tp-when": "2026-03-02T09:30",
                                                            "tp-url": "not a link"}, path)
    assert bad_url.status_code == 422 and 'id="tp-url-error"' in bad_url.get_data(as_text=True)
    answer = post(client, f"{path}/touchpoints/detailed", {"tp-kind": "article", "tp-when": "2026-03-02T09:30",
                                                           "tp-channel": "email", "tp-url": "https://example.com/a",
                                                           "tp-text": "The engine paper"}, path)
    assert answer.status_code == 303
    touchpoints = api(web_platform, "contacts", "GET", f"/contacts/{contact}/touchpoints").json()["items"]
    article = next(t for t in touchpoints if t["kind"] == "article")
    expected = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo(zone))
    assert datetime.fromisoformat(article["occurred_at"].replace("Z", "+00:00")) == expected
    assert article["channel"] == "email" and article["url"] == "https://example.com/a"

    # the details: a changed role, a cleared e-mail list refused by nothing, a bad profile named on its field
    edit = page(client, f"{path}/edit")
    version = re.search(r'name="version" value="(\d+)"', edit).group(1)  # type: ignore[union-attr]
    bad = post(client, f"{path}/edit", {"version": version, "name": "Charles Babbage",
                                        "emails": "charles@example.com", "linkedin_url": "https://example.com/cb"},
               f"{path}/edit")
    assert bad.status_code == 422 and 'id="linkedin_url-error"' in bad.get_data(as_text=True)
    answer = post(client, f"{path}/edit", {"version": version, "name": "Charles Babbage", "title": "Inventor",
                                           "organisation": "Analytical Engines",
                                           "emails": "charles@example.com\ncb@example.org"}, f"{path}/edit")
    assert answer.status_code == 303
    details = api(web_platform, "contacts", "GET", f"/contacts/{contact}").json()
    assert details["title"] == "Inventor" and details["emails"] == ["charles@example.com", "cb@example.org"]
    stale = post(client, f"{path}/edit", {"version": version, "name": "Old tab", "emails": "charles@example.com"},
                 f"{path}/edit")
    assert stale.status_code == 412  # If-Match: the old tab's form does not overwrite

    # another student reaches none of it
    other = client.application.test_client()
    sign_in(other, "student-3")
    page(other, f"{path}/edit", 404)
    assert post(other, f"{path}/cadence", {"every_weeks": "2", "action": "set"}, "/contacts").status_code == 404
    assert post(other, f"{path}/touchpoints/detailed", {"tp-kind": "reply", "tp-when": "2026-03-02T09:30"},
                "/contacts").status_code == 404


def test_merging_a_duplicate_archiving_and_the_exports(web_platform: Platform, client: FlaskClient) -> None:
    sign_in(client, STUDENT)
    keep = imported(client, card("Grace Brewster", "grace@navy.example", "Navy"))
    duplicate = imported(client, card("Grace Brewster", "gbh@harvard.example", "Harvard"))
    path = f"/contacts/{keep}"
    wait_until(lambda: duplicate in page(client, f"{path}/merge"), what="the directory lists the duplicate")
    assert "Choose another contact" in page(client, f"{path}/merge?duplicate_id={keep}", 422)
    review = page(client, f"{path}/merge?duplicate_id={duplicate}")
    assert "Stays: Grace Brewster" in review and "gbh@harvard.example" in review and "cannot be undone" in review
    other = client.application.test_client()
    sign_in(other, "student-3")
    page(other, f"{path}/merge?duplicate_id={duplicate}", 404)
    assert post(other, f"{path}/merge", {"duplicate_id": duplicate}, "/contacts").status_code == 404

    answer = post(client, f"{path}/merge", {"duplicate_id": duplicate}, f"{path}/merge?duplicate_id={duplicate}")
    assert answer.status_code == 303
    merged = api(web_platform, "contacts", "GET", f"/contacts/{keep}").json()
    assert sorted(merged["emails"]) == ["gbh@harvard.example", "grace@navy.example"]
    assert "was merged into" in page(client, f"/contacts/{duplicate}")
    # merging again is safe (the API skips what it has); into the merged one is the API's 409, said on a page
    assert post(client, f"{path}/merge", {"duplicate_id": duplicate}, path).status_code == 303
    backwards = post(client, f"/contacts/{duplicate}/merge", {"duplicate_id": keep}, path)
    assert backwards.status_code == 409 and "was merged into" in backwards.get_data(as_text=True)

    assert post(client, f"{path}/archive", {"reason": "Moved on"}, path).status_code == 303
    assert "This contact is archived" in page(client, path)
    assert api(web_platform, "contacts", "GET", f"/contacts/{keep}").json()["status"] == "archived"

    def exported(kind: str, status: str) -> bytes | None:
        answer = client.get(f"/contacts.{kind}?status={status}")
        assert answer.status_code == 200
        return answer.data if b"Grace Brewster" in answer.data else None

    rows = list(csv.DictReader(io.StringIO(wait_until(lambda: exported("csv", "archived"),
                                                      what="the archived export has her").decode())))
    assert [row for row in rows if "Grace" in str(row.values())]
    cards = list(vobject.readComponents(exported("vcf", "archived").decode()))  # type: ignore[union-attr]
    assert any(c.fn.value == "Grace Brewster" for c in cards)
    assert client.get("/contacts.exe").status_code == 404
    assert post(client, f"{path}/restore", {}, path).status_code == 303
    assert api(web_platform, "contacts", "GET", f"/contacts/{keep}").json()["status"] == "active"


@pytest.mark.parametrize("path", ["/settings/preferences", "/settings/webhooks", "/settings/webhooks/x/enable",
                                  "/settings/webhooks/x/remove", "/inbox/x/read", "/contacts/x/cadence",
                                  "/contacts/x/touchpoints/detailed", "/contacts/x/edit", "/contacts/x/merge",
                                  "/contacts/x/archive", "/contacts/x/restore"])
def test_every_new_form_refuses_a_post_without_the_csrf_token(tmp_path: Any, path: str) -> None:
    client = create_app(env={"CAREERLOOP_DATA_DIR": str(tmp_path)}).test_client()
    sign_in(client, STUDENT)
    answer = client.post(path, data={"every_weeks": "2", "url": "https://example.com"})
    assert answer.status_code == 400 and "security token" in answer.get_data(as_text=True)
    assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
