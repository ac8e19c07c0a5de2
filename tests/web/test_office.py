"""The career office's pages through Flask's test client against the platform's running APIs: who
reaches which page (each role x each page), the funnel and engagement with their filters (the chart
read back as SVG with an XML parser, the same numbers in a table), the roster's per-row report,
advisor assignments through the notes API, the notification templates with If-Match; every API error
shown next to its field, and a form without its CSRF token refused."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from html import unescape
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from services.web.app import create_app
from shared.auth import mint_token
from tests.platform import Platform
from tests.support import wait_until
from tests.web.conftest import csrf_token, sign_in

SVG = "{http://www.w3.org/2000/svg}"
PAGES = ("/office/funnel", "/office/engagement", "/office/charts/funnel.svg", "/office/charts/engagement.svg",
         "/office/roster", "/office/advisors", "/office/templates", "/office/templates/digest")
ADMIN_ONLY = {"/office/roster", "/office/advisors", "/office/templates", "/office/templates/digest"}
ROSTER = (b"student_id,program,college,degree_level,class_year\r\n"
          b"office-s1,Economics,Arts and Sciences,undergraduate,2027\r\n"
          b"office-s2,,Engineering,undergraduate,2028\r\n")


@pytest.fixture
def client(web_platform: Platform) -> FlaskClient:
    return create_app(env=web_platform.env).test_client()


def signed(client: FlaskClient, role: str) -> FlaskClient:
    sign_in(client, f"{role}-1", role)
    return client


def html(answer: Any, status: int) -> str:
    text = answer.get_data(as_text=True)
    assert answer.status_code == status, text[:3000]
    return str(text)


def field_error(page: str, field: str) -> str:
    """The message shown at `field`, which the control names with aria-describedby and aria-invalid."""
    control = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{field}"[^>]*>', page)
    assert control, f"no control {field}"
    assert f"{field}-error" in control.group(0) and 'aria-invalid="true"' in control.group(0), control.group(0)
    message = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert message, f"no message at {field}"
    return re.sub(r"<[^>]+>", "", message.group(1))


@pytest.mark.parametrize("role", ["student", "advisor", "analyst", "admin"])
def test_each_role_reaches_exactly_the_office_pages_its_apis_allow(client: FlaskClient, role: str) -> None:
    assert client.get("/office/funnel").status_code == 302  # nobody signed in: to the sign-in page
    signed(client, role)
    reached = {path: client.get(path).status_code for path in PAGES}
    expected = {path: 403 if role in ("student", "advisor") or (role == "analyst" and path in ADMIN_ONLY) else 200
                for path in PAGES}
    assert reached == expected
    home = client.get("/")
    if role in ("analyst", "admin"):  # the office's staff land on the office's pages
        assert home.status_code == 302 and home.headers["Location"].endswith("/office")
        nav = html(client.get("/office/funnel"), 200)
        assert ("Advisor assignments" in nav) is (role == "admin")  # an analyst is not offered admins' pages
    # a form posted with a valid CSRF token (the sign-out form's, on every page) does not get past the role
    token = csrf_token(client.get("/office/funnel").get_data(as_text=True))
    pair = {"csrf_token": token, "advisor_id": "matrix-advisor", "student_id": "matrix-student"}
    assert client.post("/office/advisors", data=pair).status_code == (303 if role == "admin" else 403)


def test_the_funnel_and_engagement_show_the_chart_its_numbers_and_filter_errors(client: FlaskClient,
                                                                                web_platform: Platform) -> None:
    signed(client, "analyst")
    page = html(client.get("/office/funnel?term=fall-2026&by=program"), 200)
    assert "<caption>Students who reached each step" in page
    for step in ("Contacted", "Replied", "Interview held", "Thank-you sent"):
        assert f'<th scope="col">{step}</th>' in page
    assert '<th scope="row">All students</th>' in page
    chart = re.search(r'<img src="([^"]+)" alt="([^"]+)"', page)
    assert chart and "term=fall-2026" in chart.group(1) and "by=program" in chart.group(1)
    assert "The table below gives every number" in chart.group(2)
    svg = client.get(chart.group(1).replace("&amp;", "&"))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "script-src" not in svg.headers["Content-Security-Policy"] and "sandbox" in svg.headers[
        "Content-Security-Policy"]
    root = ET.fromstring(svg.get_data())  # the analytics API's own SVG, passed through whole
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title = root.find(f"{SVG}title")
    assert title is not None and (title.text or "").startswith("Informational-interview funnel by program")
    analyst = mint_token(web_platform.env["CAREERLOOP_JWT_SECRET"], "analyst-1", ["analyst"])
    direct = requests.get(f"{web_platform.url('analytics')}/analytics/funnel.svg", timeout=10,
                          params={"term": "fall-2026", "by": "program"}, headers={"Authorization": f"Bearer {analyst}"})
    assert direct.content == svg.get_data()  # exactly the API's chart
    # the API's 422 at the control it names
    wrong = html(client.get("/office/funnel?term=autumn&by=program&by2=program"), 422)
    assert "term" in field_error(wrong, "term").lower() or "academic year" in field_error(wrong, "term")
    assert "different dimensions" in field_error(wrong, "by") and field_error(wrong, "by2")
    assert 'href="#term"' in wrong and "<img" not in wrong
    order = html(client.get("/office/engagement?from=2026-09-01&to=2026-08-01"), 422)
    assert "after" in field_error(order, "to")
    weekly = html(client.get("/office/engagement?from=2026-01-05&to=2026-03-02&by=college"), 200)
    assert "Weekly engagement" in weekly and 'src="/office/charts/engagement.svg?' in weekly
    assert html(client.get("/office/charts/nothing.svg"), 404)


def test_the_roster_upload_reports_each_row_and_names_the_field_at_fault(client: FlaskClient) -> None:
    signed(client, "admin")
    token = csrf_token(html(client.get("/office/roster"), 200))
    report = html(client.post("/office/roster", content_type="multipart/form-data", data={
        "csrf_token": token, "effective_from": "2026-09-01", "file": (io.BytesIO(ROSTER), "roster.csv")}),
        201)
    assert "<caption>What became of each row of the roster</caption>" in report
    rows = dict(re.findall(r'<tr><th scope="row">(\d+)</th><td>([^<]+)</td>', report))
    assert rows == {"2": "Recorded", "3": "Not recorded: invalid"}
    assert "program: missing" in report and "2026-09-01" in report
    not_csv = html(client.post("/office/roster", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(b"\xff\xfe\x00bad"), "roster.csv")}), 422)
    assert "UTF-8" in field_error(not_csv, "file")
    no_header = html(client.post("/office/roster", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(b"name,email\r\nA,a@x\r\n"), "roster.csv")}), 422)
    assert "lacks the columns" in field_error(no_header, "file")
    bad_day = html(client.post("/office/roster", content_type="multipart/form-data", data={
        "csrf_token": token, "effective_from": "2026-13-40", "file": (io.BytesIO(ROSTER), "roster.csv")}), 422)
    assert field_error(bad_day, "effective_from")
    missing = html(client.post("/office/roster", data={"csrf_token": token}), 422)
    assert "Choose the roster file" in field_error(missing, "file")
    forged = client.post("/office/roster", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(ROSTER), "roster.csv")})
    assert forged.status_code == 400 and "security token" in forged.get_data(as_text=True)


def test_advisor_assignments_through_the_notes_api(client: FlaskClient, web_platform: Platform) -> None:
    signed(client, "admin")
    token = csrf_token(html(client.get("/office/advisors"), 200))
    done = client.post("/office/advisors", data={"csrf_token": token, "advisor_id": "advisor-7",
                                                 "student_id": "office-student-7"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/office/advisors?student_id=office-student-7")
    page = html(client.get(done.headers["Location"]), 200)
    assert "Assigned advisor-7 to advise office-student-7." in page
    assert re.search(r"<li>advisor-7\s*<form", page)
    # the notes API says the same to an independent caller
    admin = mint_token(web_platform.env["CAREERLOOP_JWT_SECRET"], "admin-1", ["admin"])
    advisors = requests.get(f"{web_platform.url('notes')}/students/office-student-7/advisors", timeout=10,
                            headers={"Authorization": f"Bearer {admin}"}).json()["advisors"]
    assert advisors == ["advisor-7"]
    wait_until(lambda: "<th scope=\"row\">office-student-7</th>" in html(
        client.get("/office/advisors?advisor_id=advisor-7"), 200), timeout=20, what="advisor-7's students")
    gone = client.post("/office/advisors/remove", data={"csrf_token": token, "advisor_id": "advisor-7",
                                                        "student_id": "office-student-7"})
    assert gone.status_code == 303
    assert "No advisor is assigned to office-student-7." in html(client.get(gone.headers["Location"]), 200)
    # errors at their fields: ours for an empty one, the notes API's for one it refuses
    empty = html(client.post("/office/advisors", data={"csrf_token": token, "advisor_id": "", "student_id": "s"}), 422)
    assert "advisor" in field_error(empty, "advisor_id")
    refused = html(client.post("/office/advisors", data={"csrf_token": token, "advisor_id": "a" * 129,
                                                         "student_id": "office-student-7"}), 422)
    assert "128" in field_error(refused, "advisor_id")
    forged = client.post("/office/advisors", data={"advisor_id": "advisor-7", "student_id": "office-student-7"})
    assert forged.status_code == 400


def test_notification_templates_are_edited_with_if_match_and_placeholder_errors(client: FlaskClient) -> None:
    signed(client, "admin")
    listing = html(client.get("/office/templates"), 200)
    assert 'href="/office/templates/digest"' in listing and "<caption>Every kind of notification" in listing
    form = html(client.get("/office/templates/digest"), 200)
    token = csrf_token(form)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)  # type: ignore[union-attr]
    assert "<code>{count}</code>" in form
    text = re.search(r'<textarea id="text" name="text" rows="10">(.*?)</textarea>', form, re.S).group(1)  # type: ignore[union-attr]
    html_part = re.search(r'<textarea id="html" name="html" rows="10">(.*?)</textarea>', form, re.S).group(1)  # type: ignore[union-attr]
    body = {"csrf_token": token, "version": version, "text": unescape(text), "html": unescape(html_part)}
    wrong = html(client.post("/office/templates/digest", data={**body, "subject": "Today {nope}"}), 422)
    assert "unknown placeholder {nope}" in field_error(wrong, "subject")
    assert 'value="Today {nope}"' in wrong  # what the admin wrote stays
    saved = client.post("/office/templates/digest", data={**body, "subject": "Your {count} careerloop items"})
    assert saved.status_code == 303
    after = html(client.get("/office/templates/digest"), 200)
    assert 'value="Your {count} careerloop items"' in after and f'name="version" value="{int(version) + 1}"' in after
    stale = html(client.post("/office/templates/digest", data={**body, "subject": "An older edit {count}"}), 412)
    assert "saved while you edited" in stale and 'value="An older edit {count}"' in stale
    assert html(client.get("/office/templates/no-such-kind"), 404)
    assert client.post("/office/templates/digest", data={**body, "csrf_token": ""}).status_code == 400


def test_a_template_preview_shows_each_placeholder_as_what_it_stands_for_escaped_and_saves_nothing(
        client: FlaskClient, web_platform: Platform) -> None:
    signed(client, "admin")
    form = html(client.get("/office/templates/check_in_due"), 200)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)  # type: ignore[union-attr]
    shown = preview_of(form)
    assert shown["Subject"] == "[what is due, in one sentence]"  # the saved subject is "{reason}"

    typed = {"subject": "Hi {contact_name} {{braces}} {nope}", "text": "Due {due_local}\n<b>bold</b>",
             "html": "<script>alert(1)</script><p>{link}</p>"}
    answer = html(client.post("/office/templates/check_in_due", data={
        "csrf_token": csrf_token(form), "version": version, "action": "preview", **typed}), 200)
    shown = preview_of(answer)
    assert shown["Subject"] == "Hi [the contact's name] {braces} {nope}"  # unknown: as written, refused at save
    assert shown["Plain-text body"] == "Due [when it fell due]\n<b>bold</b>"
    link = "[path of the page in careerloop, e.g. /interviews/<id>]"
    assert shown["HTML body"] == f"<script>alert(1)</script><p>{link}</p>"
    assert "<script>" not in answer and "&lt;script&gt;" in answer  # shown as text, never as markup
    assert 'value="Hi {contact_name} {{braces}} {nope}"' in answer  # the form keeps what was typed
    unchanged = html(client.get("/office/templates/check_in_due"), 200)
    assert f'name="version" value="{version}"' in unchanged and preview_of(unchanged) == preview_of(form)

    broken = html(client.post("/office/templates/check_in_due", data={
        "csrf_token": csrf_token(form), "version": version, "action": "preview", **{**typed, "text": "Due {reason"}}),
        200)
    assert "is not paired" in preview_of(broken)["Plain-text body"]
    assert client.post("/office/templates/check_in_due", data={"action": "preview", **typed}).status_code == 400
    student = signed(create_app(env=web_platform.env).test_client(), "student")  # the API's admins only
    assert student.post("/office/templates/check_in_due", data={
        "csrf_token": csrf_token(html(student.get("/contacts/new"), 200)), "action": "preview", **typed}
    ).status_code == 403


def preview_of(page: str) -> dict[str, str]:
    """The preview's parts by their label, as text."""
    section = page[page.index('id="preview-title"'):]
    return {unescape(label): unescape(text)
            for label, text in re.findall(r"<dt>(.*?)</dt><dd><pre>(.*?)</pre></dd>", section, re.S)}
