"""Issue 18's remaining student pages through Flask's test client against the platform's running APIs:
deleting a note (a confirmation page, then the notes API's DELETE with If-Match), adding a contact by
hand (`POST /contacts`, its 422 at the field it names), and contacts named from the directory on the
pages whose rows carry only an id (one directory call per page, whatever the number of rows). What
each form did is read back from the APIs with the student's own token."""
from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from services.web.app import create_app
from shared.auth import mint_token
from tests.platform import Platform
from tests.support import wait_until
from tests.web.conftest import csrf_token


@pytest.fixture
def client(web_platform: Platform) -> FlaskClient:
    return create_app(env=web_platform.env).test_client()


def new_student(client: FlaskClient, platform: Platform) -> str:
    """A student of this test alone, signed in: the session the sign-in page starts (tested on its own
    in test_front_end), holding a token the APIs accept."""
    subject = f"student-rest-{uuid.uuid4().hex[:8]}"
    token = mint_token(platform.env["CAREERLOOP_JWT_SECRET"], subject, ["student"], extra_claims={"name": "Rest"})
    with client.session_transaction() as session:
        session["user"] = {"sub": subject, "roles": ["student"], "name": "Rest", "token": token,
                           "expires": int(time.time()) + 600}
    return token


def api(platform: Platform, token: str, method: str, service: str, path: str, **kwargs: Any) -> Any:
    answer = requests.request(method, f"{platform.url(service)}{path}", timeout=10,
                              headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json()


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)[:3000]
    return str(answer.get_data(as_text=True))


def post(client: FlaskClient, path: str, data: dict[str, Any], form_page: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(page(client, form_page)), **data})


def shown_version(html: str) -> str:
    """The version a form carries in its hidden `version` field (sent back as If-Match)."""
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found is not None, "the form carries no version"
    return found[1]


def field_error(html: str, field: str) -> str:
    control = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{field}"[^>]*>', html)
    assert control and f"{field}-error" in control.group(0) and 'aria-invalid="true"' in control.group(0), html[-3000:]
    message = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
    assert message, f"no message at {field}"
    return re.sub(r"<[^>]+>", "", message.group(1))


# -- adding a contact by hand -----------------------------------------------------------------------
def test_a_student_adds_a_contact_by_hand_and_the_api_holds_what_they_wrote(
        client: FlaskClient, web_platform: Platform) -> None:
    token = new_student(client, web_platform)
    form = page(client, "/contacts/new")
    for control in ("name", "emails", "organisation", "industry", "title", "linkedin_url", "note", "tags"):
        assert f'id="{control}" name="{control}"' in form
    assert 'href="/contacts/new"' in page(client, "/contacts")  # the directory leads to it

    answer = post(client, "/contacts", {"name": "Margaret Hamilton", "emails": "margaret@example.com\n",
                                        "organisation": "MIT Instrumentation Lab", "industry": "Aerospace",
                                        "title": "Director of software engineering",
                                        "linkedin_url": "https://www.linkedin.com/in/margaret-hamilton",
                                        "note": "Met at the alumni evening.", "tags": "apollo, mentor",
                                        "time_zone": "America/New_York"}, "/contacts/new")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    contact_id = answer.headers["Location"].rsplit("/", 1)[-1]
    assert "Added Margaret Hamilton." in page(client, answer.headers["Location"])
    held = api(web_platform, token, "GET", "contacts", f"/contacts/{contact_id}")
    assert held["name"] == "Margaret Hamilton" and held["emails"] == ["margaret@example.com"]
    assert held["organisation"] == "MIT Instrumentation Lab" and held["industry"] == "Aerospace"
    assert held["title"] == "Director of software engineering" and held["note"] == "Met at the alumni evening."
    assert held["time_zone"] == "America/New_York" and sorted(held["tags"]) == ["apollo", "mentor"]
    assert held.get("phone") is None and held.get("location") is None  # what was left empty is not sent


def submission_of(html: str) -> str:
    found = re.search(r'name="submission" value="([0-9a-f]{32})"', html)
    assert found is not None, "the form carries no submission id"
    return found[1]


def test_a_form_sent_twice_as_it_was_adds_its_contact_once(client: FlaskClient, web_platform: Platform) -> None:
    token = new_student(client, web_platform)
    form = page(client, "/contacts/new")
    tokens = {"csrf_token": csrf_token(form), "submission": submission_of(form)}
    written = {"name": "Katherine Johnson", "organisation": "NASA Langley"}

    # when the form is sent twice as it was (a double click, the browser sending it again)
    first = client.post("/contacts", data={**tokens, **written})
    again = client.post("/contacts", data={**tokens, **written})
    # then both lead to the one contact it added
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]

    # and the same form sent back with other content (back, edit, send) is another contact
    edited = client.post("/contacts", data={**tokens, **written, "organisation": "NASA"})
    assert edited.status_code == 303 and edited.headers["Location"] != first.headers["Location"]
    added = {answer.headers["Location"].rsplit("/", 1)[-1] for answer in (first, edited)}
    listed = wait_until(lambda: (ids := {c["id"] for c in api(web_platform, token, "GET", "contacts", "/contacts")[
        "items"]}) >= added and ids, what="the directory lists both contacts")
    assert listed == added  # nothing added twice
    # and each rendering of a form has its own submission id
    assert submission_of(page(client, "/contacts/new")) != tokens["submission"]


def test_adding_a_contact_shows_each_problem_at_its_field_and_keeps_what_was_written(
        client: FlaskClient, web_platform: Platform) -> None:
    new_student(client, web_platform)
    nameless = post(client, "/contacts", {"organisation": "Acme"}, "/contacts/new")
    assert nameless.status_code == 422
    html = nameless.get_data(as_text=True)
    assert "Write the contact&#39;s name." in field_error(html, "name") and 'value="Acme"' in html
    assert '<a href="#name">Name:' in html  # the error summary links to the field

    bad = post(client, "/contacts", {"name": "Ada", "linkedin_url": "https://example.com/ada",
                                     "emails": "not-an-address", "tags": "no/slashes"}, "/contacts/new")
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "not a LinkedIn profile URL" in field_error(html, "linkedin_url")  # the contacts API's own words
    assert field_error(html, "emails") and field_error(html, "tags")
    assert 'value="https://example.com/ada"' in html and ">not-an-address</textarea>" in html
    assert client.post("/contacts", data={"name": "Forged"}).status_code == 400  # no CSRF token


# -- deleting a note ------------------------------------------------------------------------------
def test_a_note_is_deleted_after_a_confirmation_page_and_leaves_every_list(
        client: FlaskClient, web_platform: Platform) -> None:
    token = new_student(client, web_platform)
    contact = api(web_platform, token, "POST", "contacts", "/contacts", json={"name": "Katherine Johnson"})["id"]
    written = api(web_platform, token, "POST", "notes", "/notes", json={
        "contact_id": contact, "text": "Orbital mechanics by hand.", "visibility": "private",
        "action_items": [{"text": "Read her 1960 paper", "due_on": None}]})
    path = f"/notes/{written['id']}"
    assert f'href="{path}/delete"' in page(client, path)

    confirm = page(client, f"{path}/delete")  # asking deletes nothing
    assert "Delete your note about Katherine Johnson?" in confirm and "cannot be undone" in confirm
    assert "its 1 action item leaves your follow-ups" in confirm and "Orbital mechanics by hand." in confirm
    assert f'<form method="post" action="{path}/delete">' in confirm
    assert api(web_platform, token, "GET", "notes", f"/notes/{written['id']}")["text"] == "Orbital mechanics by hand."

    assert client.post(f"{path}/delete", data={"version": "1"}).status_code == 400  # a forged form: no token
    api(web_platform, token, "POST", "notes", f"{path}/visibility", json={"visibility": "shared"})  # meanwhile
    stale = client.post(f"{path}/delete", data={"csrf_token": csrf_token(confirm),
                                               "version": shown_version(confirm)})
    assert stale.status_code == 412 and "Changed meanwhile" in stale.get_data(as_text=True)  # If-Match

    again = page(client, f"{path}/delete")
    deleted = client.post(f"{path}/delete", data={
        "csrf_token": csrf_token(again), "version": shown_version(again)})
    assert deleted.status_code == 303 and deleted.headers["Location"].startswith("/notes?seen=")
    listing = page(client, deleted.headers["Location"])  # the list waits for the deletion (min_version)
    assert "Note deleted" in listing and written["id"] not in listing
    answer = requests.get(f"{web_platform.url('notes')}{path}", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 404  # the notes API holds it no more
    assert "Page not found" in page(client, path, 404) and "Page not found" in page(client, f"{path}/delete", 404)


def test_another_student_can_neither_see_nor_delete_a_note(client: FlaskClient, web_platform: Platform) -> None:
    owner = new_student(client, web_platform)
    contact = api(web_platform, owner, "POST", "contacts", "/contacts", json={"name": "Dorothy Vaughan"})["id"]
    note = api(web_platform, owner, "POST", "notes", "/notes", json={"contact_id": contact, "text": "FORTRAN."})
    other = client.application.test_client()
    new_student(other, web_platform)
    page(other, f"/notes/{note['id']}/delete", 404)
    attempt = post(other, f"/notes/{note['id']}/delete", {"version": "1"}, "/contacts/new")
    assert attempt.status_code == 404
    assert api(web_platform, owner, "GET", "notes", f"/notes/{note['id']}")["text"] == "FORTRAN."


# -- names instead of ids ---------------------------------------------------------------------------
class CountingSession(requests.Session):
    """The front end's HTTP session, counting its calls to each service's paths."""

    def __init__(self, urls: dict[str, str]) -> None:
        super().__init__()
        self.urls = urls
        self.calls: list[tuple[str, str]] = []  # (method, url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.calls.append((method, url))
        return super().request(method, url, *args, **kwargs)

    def count(self, service: str, path: str) -> int:
        return sum(1 for method, url in self.calls if method == "GET" and url == f"{self.urls[service]}{path}")


def test_pages_name_contacts_from_one_directory_call_and_fall_back_to_the_id(
        client: FlaskClient, web_platform: Platform) -> None:
    token = new_student(client, web_platform)
    ids = [api(web_platform, token, "POST", "contacts", "/contacts", json={"name": f"Rest Person {n}"})["id"]
           for n in range(3)]
    wait_until(lambda: len(api(web_platform, token, "GET", "contacts", "/contacts")["items"]) == 3,
               what="the directory lists the three contacts")
    for contact in ids:
        api(web_platform, token, "POST", "notes", "/notes", json={"contact_id": contact, "text": "Hello."})
    wait_until(lambda: len(api(web_platform, token, "GET", "notes", "/notes")["items"]) == 3,
               what="the notes are searchable")
    # renamed since: the directory's current name is the one shown
    api(web_platform, token, "PATCH", "contacts", f"/contacts/{ids[0]}", json={"name": "Renamed Person"})
    wait_until(lambda: any(c["name"] == "Renamed Person"
                           for c in api(web_platform, token, "GET", "contacts", "/contacts")["items"]),
               what="the directory has the new name")

    services = client.application.extensions["careerloop-web"].services
    counting = CountingSession(dict(services.urls))
    services.session = counting
    listing = page(client, "/notes")
    assert ">Renamed Person</a>" in listing and ">Rest Person 1</a>" in listing and ">Rest Person 2</a>" in listing
    assert counting.count("contacts", "/contacts") == 1  # one directory call for the three rows


def test_a_contact_no_list_knows_is_named_by_what_the_row_knew_else_its_id(tmp_path: Any) -> None:
    from flask import g

    from services.web.signin import User
    from services.web.views import contact_name

    with create_app(env={"CAREERLOOP_DATA_DIR": str(tmp_path)}).test_request_context("/"):
        g.user = User("student-x", ("student",), "X", "a-token-never-sent")
        g.contact_names = {"c-1": "Renamed Person"}  # the page's one directory call, made already
        assert contact_name("c-1", "Old name") == "Renamed Person"
        assert contact_name("c-2", "Known") == "Known" and contact_name("c-2", None) == "c-2"
        assert contact_name(None, None) == "your contact"
