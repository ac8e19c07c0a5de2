"""Importing LinkedIn, Google and vCard files, and exporting CSV and vCard, through HTTP."""
from __future__ import annotations

import csv
import io
from typing import Callable

from services.contacts import formats
from tests.integration.conftest import InProcessPlatform

LINKEDIN = (
    "Notes:\r\n"
    '"When exporting your connection data, you may notice that some of the email addresses are missing."\r\n'
    "\r\n"
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
    "Jane,Doe,https://www.linkedin.com/in/jane-doe,jane@example.com,\"Acme, Inc.\",Engineer,12 Mar 2024\r\n"
    "Sam,Lee,https://www.linkedin.com/in/sam-lee,,Globex,Analyst,01 Feb 2023\r\n"
    ",,https://www.linkedin.com/in/nobody,,Initech,,01 Jan 2020\r\n"
    "Bad,Mail,https://www.linkedin.com/in/bad-mail,not-an-email,Hooli,PM,01 Jan 2021\r\n"
).encode()

VCARDS = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\nEMAIL;TYPE=work:ada@example.org\r\n"
    "ORG:Analytical Engines;Research\r\nTITLE:Countess\r\nTZ:Europe/London\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Hopper;Grace;;;\r\nFN:Grace Hopper\r\nEMAIL;TYPE=INTERNET:grace@navy.example\r\n"
    "TZ:-05:00\r\nNOTE:Invented the com\r\n piler\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:noname@example.org\r\nEND:VCARD\r\n"
).encode()


def upload(platform: InProcessPlatform, auth: str, data: bytes, content_type: str, query: str = "") -> dict:
    response = platform.client.post(f"/imports{query}", data=data, content_type=content_type,
                                    headers={"Authorization": auth})
    assert response.status_code == 201, response.json
    return response.json


def test_a_linkedin_export_is_imported_with_a_report_per_row(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    report = upload(contacts, auth, LINKEDIN, "text/csv", "?filename=Connections.csv")
    assert report["format"] == "linkedin_csv"
    assert report["counts"] == {"created": 2, "duplicate": 0, "invalid": 2}
    outcomes = {row["line"]: (row["outcome"], row.get("reason") or "") for row in report["rows"]}
    assert outcomes[5][0] == outcomes[6][0] == "created"
    assert outcomes[7][0] == "invalid" and "name" in outcomes[7][1]
    assert outcomes[8][0] == "invalid" and "not-an-email" in outcomes[8][1]
    contacts.sync()
    items = contacts.client.get("/contacts", headers={"Authorization": auth}).json["items"]
    assert sorted((i["name"], i["organisation"], i["source"]) for i in items) == [
        ("Jane Doe", "Acme, Inc.", "linkedin"), ("Sam Lee", "Globex", "linkedin")]
    # the report stays readable
    again = contacts.client.get(f"/imports/{report['id']}", headers={"Authorization": auth})
    assert again.status_code == 200 and again.json["rows"] == report["rows"]
    assert contacts.client.get(f"/imports/{report['id']}", headers={"Authorization": token("student-2")}).status_code == 404


def test_importing_the_same_file_twice_creates_nothing_new(contacts: InProcessPlatform, token: Callable) -> None:
    auth = token("student-1")
    first = upload(contacts, auth, VCARDS, "text/vcard")
    second = upload(contacts, auth, VCARDS, "text/vcard")
    assert first["counts"] == {"created": 2, "duplicate": 0, "invalid": 1}
    assert second["counts"] == {"created": 0, "duplicate": 2, "invalid": 1}
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
    google = ("Name,Given Name,Family Name,E-mail 1 - Type,E-mail 1 - Value,Organization 1 - Name,Organization 1 - Title\n"
              "Marie Curie,Marie,Curie,* Work,marie@sorbonne.example ::: mc@home.example,Sorbonne,Professor\n").encode()
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
    parsed = [row.contact for row in formats.parse(vcf.data, "vcard")]
    assert sorted(c["name"] for c in parsed) == ["Ada Lovelace", "Grace Hopper"]
    exported = contacts.client.get("/exports/contacts.csv", headers={"Authorization": auth})
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert [(r["name"], r["emails"]) for r in rows] == [("Ada Lovelace", "ada@example.org"),
                                                        ("Grace Hopper", "grace@navy.example")]
    # and into another student's account, where they are new
    assert upload(contacts, token("student-2"), vcf.data, "text/vcard")["counts"]["created"] == 2
