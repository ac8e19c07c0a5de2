"""Who may ask what, and bad input: analysts and admins read, only admins upload the roster,
students and advisors get 403, no token 401; a bad roster or query is a 4xx naming its problem,
never a 500; every endpoint is in the OpenAPI document with its errors."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.analytics.conftest import Journey
from tests.integration.conftest import InProcessPlatform

READS = ["/analytics/funnel", "/analytics/funnel.csv", "/analytics/funnel.svg", "/analytics/engagement",
         "/analytics/engagement.csv", "/analytics/engagement.svg", "/analytics/definitions"]
ROSTER = "student_id,program,college,degree_level,class_year\r\ns1,Economics,Arts,undergraduate,2027\r\n"


@pytest.fixture
def platform(analytics: Callable[..., InProcessPlatform]) -> InProcessPlatform:
    return analytics(max_rows=3)


def upload(platform: InProcessPlatform, auth: str | None, data: Any = ROSTER, query: str = "",
           content_type: str = "text/csv") -> Any:
    headers = {"Authorization": auth} if auth else {}
    return platform.client.post(f"/analytics/roster{query}", data=data, content_type=content_type, headers=headers)


@pytest.mark.parametrize("path", READS)
def test_analysts_and_admins_read_students_and_advisors_may_not(platform: InProcessPlatform, token: Callable,
                                                                 path: str) -> None:
    for role, status in (("analyst", 200), ("admin", 200), ("student", 403), ("advisor", 403)):
        response = platform.client.get(path, headers={"Authorization": token(f"{role}-1", role)})
        assert response.status_code == status, (role, response.get_data(as_text=True)[:300])
    anonymous = platform.client.get(path)
    assert anonymous.status_code == 401 and anonymous.json["error"] == "unauthorized"


def test_only_admins_upload_the_roster(platform: InProcessPlatform, token: Callable) -> None:
    for role in ("analyst", "student", "advisor"):
        assert upload(platform, token(f"{role}-1", role)).status_code == 403, role
    assert upload(platform, None).status_code == 401
    answer = upload(platform, token("admin-1", "admin"), query="?effective_from=2026-08-20")
    assert answer.status_code == 201 and answer.headers["ETag"] == f'"{answer.json["version"]}"'
    assert answer.json["effective_from"] == "2026-08-20"


def test_a_roster_report_has_a_row_per_data_row_and_its_counts_add_up(platform: InProcessPlatform,
                                                                      token: Callable) -> None:
    admin = token("admin-1", "admin")
    data = ("student_id,major,school,degree,expected_graduation,nickname\r\n"
            "s1,Economics,Arts,Undergraduate,Spring 2027,Al\r\n"
            "s2,,Arts,Undergraduate,Spring 2027,Bo\r\n"
            "s1,History,Arts,Undergraduate,Spring 2027,Al\r\n")
    first = upload(platform, admin, data, "?effective_from=2026-08-20")
    assert first.status_code == 201, first.json
    assert first.json["rows_read"] == 3 == sum(first.json["counts"].values())
    assert first.json["counts"] == {"recorded": 1, "unchanged": 0, "invalid": 2}
    assert [(r["line"], r["outcome"], r["reason"]) for r in first.json["rows"]] == [
        (2, "recorded", None), (3, "invalid", "program: missing"), (4, "invalid", "student_id: also on line 2")]
    assert first.json["warnings"] == ["ignored columns: nickname"]
    again = upload(platform, admin, data, "?effective_from=2026-09-01")
    assert again.json["counts"] == {"recorded": 0, "unchanged": 1, "invalid": 2}
    multipart = platform.client.post("/analytics/roster?effective_from=2026-08-20", headers={"Authorization": admin},
                                     data={"file": (io.BytesIO(ROSTER.encode()), "roster.csv")},
                                     content_type="multipart/form-data")
    assert multipart.status_code == 201 and multipart.json["filename"] == "roster.csv"


@pytest.mark.parametrize("data, query, content_type, status, named", [
    (ROSTER + "s2,E,A,u,2027\r\ns3,E,A,u,2027\r\ns4,E,A,u,2027\r\n", "", "text/csv", 422,
     "more than 3 rows (ANALYTICS_ROSTER_MAX_ROWS)"),
    ("name,email\r\nAda,ada@example.org\r\n", "", "text/csv", 422, "the header lacks the columns"),
    (b"\xff\xfe\x00", "", "text/csv", 422, "not UTF-8"),
    ("", "", "text/csv", 422, "empty"),
    (ROSTER, "?effective_from=yesterday", "text/csv", 422, "effective_from"),
    (ROSTER, "", "application/json", 415, "text/csv"),
])
def test_a_bad_roster_is_refused_naming_the_problem(platform: InProcessPlatform, token: Callable, data: Any,
                                                    query: str, content_type: str, status: int, named: str) -> None:
    response = upload(platform, token("admin-1", "admin"), data, query, content_type)
    assert response.status_code == status, response.json
    assert named in json.dumps(response.json)


def test_a_roster_larger_than_the_body_limit_is_413_naming_the_limit(platform: InProcessPlatform,
                                                                     token: Callable) -> None:
    limit = platform.client.application.extensions["careerloop"].settings.int("MAX_BODY_BYTES")
    response = upload(platform, token("admin-1", "admin"), ROSTER + "x" * limit)
    assert response.status_code == 413
    assert "MAX_BODY_BYTES" in response.json["message"]


@pytest.mark.parametrize("query, field", [
    ("by=shoe_size", "by"), ("by=program,program", "by"), ("by=program,college,term", "by"),
    ("term=autumn", "term"), ("from=2026-10-01&to=2026-09-01", "to"), ("from=yesterday", "from"),
])
def test_a_bad_query_is_422_naming_the_field(platform: InProcessPlatform, token: Callable, query: str,
                                             field: str) -> None:
    response = platform.client.get(f"/analytics/funnel?{query}", headers={"Authorization": token("a-1", "analyst")})
    assert response.status_code == 422 and field in response.json["fields"], response.json
    engagement = platform.client.get("/analytics/engagement?by=industry",
                                     headers={"Authorization": token("a-1", "analyst")})
    assert engagement.status_code == 422 and "by" in engagement.json["fields"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.dictionaries(st.sampled_from(["by", "term", "from", "to"]), st.text(max_size=30), max_size=4),
       path=st.sampled_from(READS))
def test_any_query_string_is_answered_without_a_server_error(platform: InProcessPlatform, token: Callable,
                                                             query: dict[str, str], path: str) -> None:
    response = platform.client.get(path, query_string=query, headers={"Authorization": token("a-1", "analyst")})
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:300]


def test_every_endpoint_is_documented_with_its_errors(platform: InProcessPlatform) -> None:
    document = platform.client.get("/openapi.json").json
    for path in [*READS, "/analytics/roster"]:
        operation = next(iter(document["paths"][path].values()))
        assert {"401", "403"} <= set(operation["responses"]), path
    roster = document["paths"]["/analytics/roster"]["post"]["responses"]
    assert {"201", "413", "415", "422"} <= set(roster)
    assert "503" in document["paths"]["/asyncapi.json"]["get"]["responses"]
    assert document["paths"]["/analytics/funnel"]["get"]["responses"]["200"]["content"]["application/json"]


def test_the_asyncapi_document_of_this_deployment_is_served_to_anyone(platform: InProcessPlatform) -> None:
    from services.analytics import catalog

    response = platform.client.get("/asyncapi.json")  # no token: it describes topics, not people
    settings = platform.client.application.extensions["careerloop"].settings
    assert response.status_code == 200 and response.json == catalog.asyncapi_document(settings)
    assert response.json["asyncapi"].startswith("3.")


def test_metrics_report_the_funnel_projection(platform: InProcessPlatform) -> None:
    response = platform.client.get("/metrics")
    assert response.status_code == 200
    assert 'projection="analytics-funnel"' in response.get_data(as_text=True)


def test_an_organisation_a_spreadsheet_would_run_is_text_in_the_csv(platform: InProcessPlatform, token: Callable,
                                                                    pseudonyms: Any) -> None:
    journey = Journey(platform, pseudonyms)
    at = datetime(2026, 9, 1, tzinfo=UTC)
    for n in range(5):
        journey.event("ContactAdded", f"s{n}", at, contact=f"c{n}", industry="other",
                      organisation='=HYPERLINK("http://x.example","Acme")', source="manual")
        journey.event("OutreachSent", f"s{n}", at, contact=f"c{n}")
    journey.publish()
    platform.sync()
    response = platform.client.get("/analytics/funnel.csv?by=organisation",
                                   headers={"Authorization": token("a-1", "analyst")})
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["organisation"] == '\'=HYPERLINK("http://x.example","Acme")' and rows[0]["students"] == "5"


def test_a_student_exports_their_own_roster_records_and_nobody_elses(platform: InProcessPlatform,
                                                                      token: Callable) -> None:
    roster = ROSTER + "s2,Physics,Sciences,masters,2028\r\n"
    admin = token("admin-1", "admin")
    assert upload(platform, admin, data=roster, query="?effective_from=2026-08-20").status_code == 201
    part = platform.client.get("/me/export", headers={"Authorization": token("s1", "student")}).json
    assert (part["service"], part["student_id"], part["files"]) == ("analytics", "s1", [])
    assert part["data"]["roster"] == [{"effective_from": "2026-08-20", "program": "Economics", "college": "Arts",
                                       "degree_level": "undergraduate", "class_year": "2027",
                                       "expected_graduation": None}]
    assert "pseudonym" in part["data"]["pseudonymised"] and "Physics" not in json.dumps(part)
    for role in ("analyst", "admin", "advisor"):
        assert platform.client.get("/me/export", headers={"Authorization": token(f"{role}-1", role)}).status_code == 403
