"""Schemathesis against every service's own OpenAPI document, as a student and as an admin.

For each operation it generates valid and invalid requests from the document (path parameters are
random or the owner's real records, so the fuzzer reaches past "not found"), sends them through the
app's WSGI interface and checks each answer with schemathesis's own checks: no server error, the
status code, the content type and the body as documented. The number of examples is bounded and
derandomized, so a run is reproducible and takes about a minute on the embedded backends.
Figures per service (operations, requests, server errors, failures) are printed (`pytest -s`) and
written to `var/security/schemathesis.json`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.security.conftest import World
from tests.openapi_responses import ResponseChecker

EXAMPLES_PER_OPERATION = 12  # per role and operation: about a minute for all five services on 2 cores
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = ("owner", "admin")
SERVICES = ("contacts", "scheduling", "notes", "followups", "notifications", "privacy")


@pytest.mark.parametrize("service", SERVICES)
def test_fuzzed_requests_get_documented_answers_and_never_a_server_error(world: World, service: str) -> None:
    app = world.platforms[service].client.application
    # `min_version` naming a version nobody wrote: answer 503 at once instead of waiting for it
    app.extensions["careerloop"].settings.env["READ_YOUR_WRITES_WAIT_SECONDS"] = "0"
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    checker = ResponseChecker(app)
    figures: dict[str, Any] = {"operations": 0, "requests": 0, "server_errors": 0, "statuses": {}, "failures": []}
    for result in schema.get_all_operations():
        operation = result.ok()
        figures["operations"] += 1
        real = world.path_parameters(service, operation.path)
        strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
        if real:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real))
        for role in ROLES:
            headers = world.headers[role]

            @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
                                 suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
            @given(case=st.one_of(strategies))
            def fuzz(case: schemathesis.Case) -> None:
                # fuzz() is called below, within this iteration: the loop's current role is the one meant
                label, role_headers = f"{operation.label} as {role}", headers  # noqa: B023
                response = case.call(headers=role_headers)
                figures["requests"] += 1
                # a documented 503 with Retry-After (the read side is behind `min_version`) is an answer, not a crash
                answered = {name.lower(): values for name, values in response.headers.items()}
                unavailable = response.status_code == 503 and "retry-after" in answered
                status = str(response.status_code)
                figures["statuses"][status] = figures["statuses"].get(status, 0) + 1
                if response.status_code >= 500 and not unavailable:
                    figures["server_errors"] += 1
                try:
                    if unavailable:  # schemathesis counts every 5xx as a server error: check it as documented
                        problems = checker.problems(case.method, unquote(urlsplit(response.request.url).path),
                                                    503, answered["content-type"][0], response.content)
                        assert not problems, "; ".join(problems)
                    else:
                        case.validate_response(response, checks=CHECKS, headers=role_headers)
                except (AssertionError, schemathesis.errors.FailureGroup) as exc:  # keep going: list them all
                    figures["failures"].append(f"{label}: {response.status_code} "
                                               f"{' '.join(str(exc).split())[:300]} | {case.as_curl_command()}")

            fuzz()
    _report(service, figures)
    assert figures["server_errors"] == 0 and not figures["failures"], "\n".join(figures["failures"][:30])


def _report(service: str, figures: dict[str, Any]) -> None:
    statuses = dict(sorted(figures["statuses"].items()))
    print(f"\nschemathesis {service}: {figures['operations']} operations, {figures['requests']} requests, "
          f"{figures['server_errors']} server errors, {len(figures['failures'])} failures; statuses {statuses}")
    out = Path("var/security/schemathesis.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    everything = json.loads(out.read_text()) if out.exists() else {}
    everything[service] = {**figures, "failures": figures["failures"][:50]}
    out.write_text(json.dumps(everything, indent=2))
