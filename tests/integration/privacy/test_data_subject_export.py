"""The data-subject export's assembly, in-process: every part is fetched with the student's own token,
the archive is all or nothing (a source that is down, broken or sends someone else's part makes the
export a 503 naming it, with Retry-After), and `EXPORT_SOURCES` is checked at start-up."""
from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from services.contacts.app import create_app as create_contacts_app
from services.contacts.projections import ContactDirectory
from services.privacy.app import create_app as create_privacy_app
from services.privacy.archive import parse_sources
from shared.config import Settings
from tests.integration.conftest import InProcessFetch, InProcessPlatform
from tests.platform import free_port


def _sources(privacy: InProcessPlatform, value: str, fetch: Callable[..., Any]) -> None:
    context = privacy.client.application.extensions["privacy"]
    context.export_sources, context.fetch = parse_sources(Settings.from_env({"EXPORT_SOURCES": value})), fetch


def test_the_parts_are_fetched_with_the_students_own_token_and_zipped(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    privacy = in_process(create_privacy_app, "privacy", [])
    fetch = InProcessFetch({"contacts": contacts.client})
    _sources(privacy, fetch.sources(), fetch)
    student = {"Authorization": token("student-9")}
    assert contacts.client.post("/contacts", headers=student, json={"name": "Ines Marchetti"}).status_code == 201
    contacts.sync()

    response = privacy.client.get("/me/export", headers=student)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert [headers["Authorization"] for _, headers in fetch.calls] == [student["Authorization"]]
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "contacts/contacts.json", "contacts/contacts.vcf",
                                              "manifest.json", "privacy/privacy.json"]
        assert [c["name"] for c in json.loads(archive.read("contacts/contacts.json"))["contacts"]] == ["Ines Marchetti"]
    for role in ("admin", "advisor", "analyst"):
        assert privacy.client.get("/me/export", headers={"Authorization": token(f"{role}-1", role)}).status_code == 403
    assert privacy.client.get("/me/export").status_code == 401


def test_a_source_that_is_down_makes_the_export_a_503_naming_it(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    privacy = in_process(create_privacy_app, "privacy", [])
    closed = free_port()  # nothing listens there
    _sources(privacy, f"contacts=http://127.0.0.1:{closed}", requests.get)

    response = privacy.client.get("/me/export", headers={"Authorization": token("student-9")})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["services"] == ["contacts"]
    assert "contacts could not be reached" in response.json["message"]


def test_every_failing_source_is_named_and_no_partial_archive_is_given(
        in_process: Callable[..., InProcessPlatform], token: Callable) -> None:
    contacts = in_process(create_contacts_app, "contacts", [ContactDirectory])
    privacy = in_process(create_privacy_app, "privacy", [])
    fetch = InProcessFetch({"contacts": contacts.client})

    def answers(url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        if "broken.test" in url:
            response = requests.Response()
            response.status_code, response._content = 500, b'{"error": "internal_error"}'
            return response
        if "slow.test" in url:
            raise requests.ReadTimeout("read timed out")
        if "impostor.test" in url:  # someone else's part
            part = fetch(url.replace("impostor.test", "contacts.test"), {"Authorization": token("student-other")})
            return part
        return fetch(url, headers, **kwargs)

    _sources(privacy, "contacts=http://contacts.test,notes=http://broken.test,followups=http://slow.test,"
                      "scheduling=http://impostor.test", answers)
    response = privacy.client.get("/me/export", headers={"Authorization": token("student-9")})
    assert response.status_code == 503 and response.mimetype == "application/json"
    assert response.json["services"] == ["followups", "notes", "scheduling"]
    message = response.json["message"]
    assert "notes answered 500" in message and "followups did not answer within" in message
    assert "scheduling sent the part" in message


@pytest.mark.parametrize(("value", "problem"), [
    ("contacts", "is not name=URL"),
    ("contacts=ftp://files.example", "is not an http(s) URL"),
    ("contacts=http://a.example,contacts=http://b.example", "listed twice"),
    ("privacy=http://127.0.0.1:8007", "makes its own part"),
    ("contacts=http://127.0.0.1:{NO_SUCH_PORT}", "{NO_SUCH_PORT} is not a configuration variable"),
    ("contacts=http://127.0.0.1:port", "invalid port"),
    ("", "no source is listed"),
])
def test_a_bad_export_sources_stops_the_start_naming_the_variable(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(ValueError, match="EXPORT_SOURCES") as raised:
        create_privacy_app(env={"CAREERLOOP_DATA_DIR": str(tmp_path), "EXPORT_SOURCES": value})
    assert problem in str(raised.value)


def test_the_default_sources_follow_each_services_port() -> None:
    sources = parse_sources(Settings.from_env({"CONTACTS_PORT": "9101", "ANALYTICS_PORT": "9106"}))
    urls = {s.name: s.url for s in sources}
    assert set(urls) == {"contacts", "scheduling", "notes", "followups", "notifications", "analytics"}
    assert urls["contacts"] == "http://127.0.0.1:9101" and urls["analytics"] == "http://127.0.0.1:9106"
