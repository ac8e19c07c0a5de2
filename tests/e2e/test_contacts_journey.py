"""End to end: the platform's processes, driven over HTTP with a token, as a student would use it."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
import requests

from tests.platform import Platform
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_a_students_contacts_flow_through_to_the_directory_and_survive_a_restart(
        platform: Platform, token: Callable[..., str]) -> None:
    # given the whole platform running, with a small import limit
    platform.env["IMPORT_MAX_ROWS"] = "3"
    platform.start()
    api, auth = platform.url("contacts"), {"Authorization": token("student-42")}

    # when a student adds contacts and logs their outreach over HTTP
    ada = requests.post(f"{api}/contacts", headers=auth, timeout=10, json={
        "name": "Ada Lovelace", "emails": ["ada@example.org"], "industry": "Computing", "tags": ["alumni"]})
    assert ada.status_code == 201, ada.text
    grace = requests.post(f"{api}/contacts", headers=auth, timeout=10,
                          json={"name": "Grace Hopper", "industry": "Defence"}).json()
    touch = requests.post(f"{api}/contacts/{grace['id']}/touchpoints", headers=auth, timeout=10,
                          json={"kind": "outreach", "occurred_at": "2026-11-20T09:00:00Z", "channel": "email"})
    assert touch.status_code == 201

    # then the directory, built by the worker from the relayed events, shows them
    def directory(query: str = "") -> list[dict]:
        response = requests.get(f"{api}/contacts{query}", headers=auth, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    wait_until(lambda: [(c["name"], c["stage"]) for c in directory()] == [
        ("Ada Lovelace", "target"), ("Grace Hopper", "contacted")], what="the directory lists both contacts",
        seen=directory)
    # read-your-writes: a query naming the command's version waits for it
    renamed = requests.patch(f"{api}/contacts/{ada.json()['id']}", headers=auth, timeout=10,
                             json={"title": "Countess"}).json()
    fresh = directory(f"?min_version={renamed['id']}:{renamed['version']}&tag=alumni")
    assert fresh[0]["title"] == "Countess"
    # another student sees none of it
    assert (
        requests.get(f"{api}/contacts", headers={"Authorization": token("student-7")}, timeout=10).json()["items"] == []
    )

    # when the platform stops (as Ctrl-C does) and starts again
    codes = platform.stop()
    assert all(code == 0 for code in codes.values()), (codes, platform.dump_logs())  # a clean stop
    platform.start()

    # then nothing was lost and everything still works
    assert [c["name"] for c in directory()] == ["Ada Lovelace", "Grace Hopper"]
    assert requests.post(f"{api}/contacts", headers=auth, timeout=10,
                         json={"name": "Ada again", "emails": ["ADA@example.org"]}).status_code == 409
    third = requests.post(f"{api}/contacts", headers=auth, timeout=10, json={"name": "Alan Turing"}).json()
    wait_until(lambda: len(directory(f"?min_version={third['id']}:1")) == 3, what="the directory lists a third contact")

    # when the student imports their Google contacts: labels become tags, every row is reported
    google = (b"First Name,Last Name,Labels,E-mail 1 - Value,Organization Name\r\n"
              b"Katherine,Johnson,* myContacts ::: Mentors,kj@nasa.example,NASA\r\n"
              b"\r\n"
              b"Ada,Lovelace,* starred,ADA@example.org,\r\n")
    report = requests.post(f"{api}/imports", headers={**auth, "Content-Type": "text/csv"}, data=google, timeout=30)
    assert report.status_code == 201, report.text
    assert report.json()["counts"] == {"created": 1, "duplicate": 1, "invalid": 0, "skipped": 1}
    wait_until(lambda: [c["name"] for c in directory("?tag=Mentors")] == ["Katherine Johnson"],
               what="the imported Google label is a tag")
    # a file over IMPORT_MAX_ROWS is refused whole, naming the limit
    too_big = google + b"Alan,Turing,,alan@example.org,\r\n"
    refused = requests.post(f"{api}/imports", headers={**auth, "Content-Type": "text/csv"}, data=too_big, timeout=30)
    assert refused.status_code == 413 and "IMPORT_MAX_ROWS" in refused.json()["message"], refused.text
    # and the CSV export of the directory opens in a spreadsheet without running anything
    requests.patch(f"{api}/contacts/{third['id']}", headers=auth, timeout=10, json={"title": "=cmd|'/c calc'!A1"})
    def exported() -> list[dict[str, str]]:
        response = requests.get(f"{api}/exports/contacts.csv", headers=auth, timeout=10)
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    wait_until(lambda: {r["name"]: r["title"] for r in exported()}.get("Alan Turing") == "'=cmd|'/c calc'!A1",
               what="the export shows the neutralised formula")
