"""The web front end through Flask's test client: sign-in, sessions, CSRF, headers, and the student
pages against the real platform's APIs (embedded profile, as processes: see conftest)."""
from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.web.app import CONTENT_SECURITY_POLICY, create_app
from shared.config import InsecureConfiguration
from tests.platform import Platform
from tests.support import wait_until
from tests.web.conftest import LINKEDIN, csrf_token, sign_in

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


def test_an_https_address_makes_the_cookie_secure_and_host_only(tmp_path: Any) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path), WEB_PUBLIC_URL="https://careers.university.example").test_client()
    answer = client.get("/sign-in", base_url="https://careers.university.example")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-careerloop=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/sign-in/demo", "/sign-out", "/imports", "/followups/x/snooze"])
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


def test_a_role_without_student_pages_is_told_so(tmp_path: Any) -> None:
    client = app_of(CAREERLOOP_DATA_DIR=str(tmp_path)).test_client()
    sign_in(client, "advisor-1", "advisor")
    assert "for the student role" in page(client, "/", 403)


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
