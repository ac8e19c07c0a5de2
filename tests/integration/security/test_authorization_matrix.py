"""Every operation of every service, called by every kind of principal, against one declared table.

The operations come from each service's own `/openapi.json`: an operation missing from `EXPECTED`
fails the test, so a new endpoint cannot ship without deciding who may call it. Denied calls use the
owner's existing records (so a 404 means "not yours", not "no such id") and must leave every event
store as it was; allowed commands get fresh records of their own. Every answer is also checked
against the operation's documented response schema (the `CheckedClient` of the integration fixtures).

The summary (operations x principals, leaks) is printed (`pytest -s`) and written to
`var/security/authorization-matrix.json`.
"""
from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.integration.security.conftest import ADVISOR, OWNER, SECRETS, World

BAD_TOKENS = ("no_token", "expired", "alg_none", "bad_signature", "wrong_audience", "wrong_issuer")
PRINCIPALS = ("owner", "other_student", "assigned_advisor", "unassigned_advisor", "admin", "analyst")
# Who may see the owner's records: any other 2xx, or a secret in any other answer, is a leak.
ENTITLED = {"owner", "admin", "assigned_advisor"}
# Operations about the caller themselves (`/me/...`): another student's 2xx is their own data, so there
# only a secret (also inside a zip archive) is a leak.
OWN = "/me/"

# The one table. Columns: any bad token (the six of BAD_TOKENS), then PRINCIPALS in order.
# "ok" is the operation's documented success status. Reading the columns: a bad token is 401, a
# missing role 403, another student's record 404 (existence does not leak), naming another student
# in `student_id` 403, an advisor outside their advisees 404.
EXPECTED: dict[str, str] = {
    # service/METHOD path                                    bad  own other adv  adv2 admin analyst
    "contacts/POST /contacts":                               "401 ok  403   403  403  ok    403",
    "contacts/GET /contacts":                                "401 ok  403   403  403  ok    403",
    "contacts/PATCH /contacts/{contact_id}":                 "401 ok  404   403  403  ok    403",
    "contacts/GET /contacts/{contact_id}":                   "401 ok  404   403  403  ok    403",
    "contacts/POST /contacts/{contact_id}/tags":             "401 ok  404   403  403  ok    403",
    "contacts/DELETE /contacts/{contact_id}/tags/{tag}":     "401 ok  404   403  403  ok    403",
    "contacts/PUT /contacts/{contact_id}/priority":          "401 ok  404   403  403  ok    403",
    "contacts/PUT /contacts/{contact_id}/check-in-cadence":  "401 ok  404   403  403  ok    403",
    "contacts/POST /contacts/{contact_id}/archive":          "401 ok  404   403  403  ok    403",
    "contacts/POST /contacts/{contact_id}/restore":          "401 ok  404   403  403  ok    403",
    "contacts/POST /contacts/{contact_id}/touchpoints":      "401 ok  404   403  403  ok    403",
    "contacts/GET /contacts/{contact_id}/touchpoints":       "401 ok  404   403  403  ok    403",
    "contacts/POST /contacts/{contact_id}/merge":            "401 ok  404   403  403  ok    403",
    "contacts/POST /imports":                                "401 ok  403   403  403  ok    403",
    "contacts/GET /imports/{import_id}":                     "401 ok  404   403  403  ok    403",
    "contacts/GET /exports/contacts.csv":                    "401 ok  403   403  403  ok    403",
    "contacts/GET /exports/contacts.vcf":                    "401 ok  403   403  403  ok    403",
    "scheduling/POST /interviews":                           "401 ok  403   403  403  ok    403",
    "scheduling/GET /interviews":                            "401 ok  403   403  403  ok    403",
    "scheduling/POST /interviews/{interview_id}/proposals":  "401 ok  404   403  403  ok    403",
    "scheduling/POST /interviews/{interview_id}/schedule":   "401 ok  404   403  403  ok    403",
    "scheduling/POST /interviews/{interview_id}/reschedule": "401 ok  404   403  403  ok    403",
    "scheduling/POST /interviews/{interview_id}/cancel":     "401 ok  404   403  403  ok    403",
    "scheduling/POST /interviews/{interview_id}/complete":   "401 ok  404   403  403  ok    403",
    "scheduling/POST /interviews/{interview_id}/missed":     "401 ok  404   403  403  ok    403",
    "scheduling/GET /interviews/{interview_id}":             "401 ok  404   403  403  ok    403",
    "scheduling/GET /interviews/{interview_id}/invite.ics":  "401 ok  404   403  403  ok    403",
    "scheduling/GET /calendar/feed":                         "401 ok  403   403  403  ok    403",
    "scheduling/POST /calendar/feed/rotate":                 "401 ok  403   403  403  ok    403",
    # the feed's secret token is the credential (calendar apps send no bearer token)
    "scheduling/GET /calendar/{student_id}/{token}.ics":     "ok  ok  ok    ok   ok   ok    ok",
    # the same fixed starter questions for everyone (a form offers them before any interview exists)
    "scheduling/GET /starter-questions":                     "ok  ok  ok    ok   ok   ok    ok",
    "notes/POST /notes":                                     "401 ok  403   403  403  ok    403",
    "notes/GET /notes":                                      "401 ok  403   403  403  ok    403",
    "notes/PUT /notes/{note_id}":                            "401 ok  404   403  403  ok    403",
    "notes/DELETE /notes/{note_id}":                         "401 ok  404   403  403  ok    403",
    "notes/GET /notes/{note_id}":                            "401 ok  404   ok   404  ok    403",
    "notes/POST /notes/{note_id}/visibility":                "401 ok  404   403  403  ok    403",
    "notes/POST /notes/{note_id}/action-items/{item_id}/complete": "401 ok 404 403 403 ok  403",
    "notes/POST /notes/{note_id}/action-items/{item_id}/reopen":   "401 ok 404 403 403 ok  403",
    "notes/GET /notes/{note_id}/revisions":                  "401 ok  404   403  403  ok    403",
    "notes/GET /notes/access-log":                           "401 ok  403   403  403  ok    403",
    "notes/POST /advisors/{advisor_id}/students/{student_id}":   "401 403 403 403 403 ok    403",
    "notes/DELETE /advisors/{advisor_id}/students/{student_id}": "401 403 403 403 403 ok    403",
    "notes/GET /advisors/{advisor_id}/students":             "401 403 403   ok   404  ok    403",
    "notes/GET /students/{student_id}/advisors":             "401 ok  403   403  403  ok    403",
    "notes/GET /students/{student_id}/notes":                "401 403 403   ok   404  ok    403",
    "followups/GET /timeline":                               "401 ok  403   ok   404  ok    403",
    "followups/GET /contacts/{contact_id}/timeline":         "401 ok  403   ok   404  ok    403",
    "followups/GET /followups":                              "401 ok  403   ok   404  ok    403",
    "followups/POST /followups/{item_id}/snooze":            "401 ok  404   403  403  ok    403",
    "followups/POST /followups/{item_id}/dismiss":           "401 ok  404   403  403  ok    403",
    "followups/GET /advisors/{advisor_id}/students":         "401 403 403   ok   404  ok    403",
    "notifications/GET /preferences":                        "401 ok  403   403  403  ok    403",
    "notifications/PUT /preferences":                        "401 ok  403   403  403  ok    403",
    "notifications/GET /inbox":                              "401 ok  403   403  403  ok    403",
    "notifications/POST /inbox/{notification_id}/read":      "401 ok  404   403  403  ok    403",
    "notifications/GET /notifications":                      "401 ok  403   403  403  ok    403",
    "notifications/GET /notifications/{notification_id}":    "401 ok  404   403  403  ok    403",
    "notifications/POST /webhooks":                          "401 ok  403   403  403  ok    403",
    "notifications/GET /webhooks":                           "401 ok  403   403  403  ok    403",
    "notifications/GET /webhooks/{endpoint_id}":             "401 ok  404   403  403  ok    403",
    "notifications/DELETE /webhooks/{endpoint_id}":          "401 ok  404   403  403  ok    403",
    "notifications/POST /webhooks/{endpoint_id}/enable":     "401 ok  404   403  403  ok    403",
    "notifications/GET /templates":                          "401 403 403   403  403  ok    403",
    "notifications/GET /templates/{kind}":                   "401 403 403   403  403  ok    403",
    "notifications/PUT /templates/{kind}":                   "401 403 403   403  403  ok    403",
    "privacy/POST /erasures":                                "401 403 403   403  403  ok    403",
    "privacy/GET /erasures":                                 "401 403 403   403  403  ok    403",
    "privacy/POST /erasures/{erasure_id}/confirm":           "401 403 403   403  403  ok    403",
    "privacy/GET /erasures/{erasure_id}":                    "401 ok  404   403  403  ok    403",
    "privacy/POST /me/erasure-request":                      "401 ok  403   403  403  403   403",
    # the data-subject export: a student's own part (another student gets theirs), the privacy API zips them
    "contacts/GET /me/export":                               "401 ok  ok    403  403  403   403",
    "scheduling/GET /me/export":                             "401 ok  ok    403  403  403   403",
    "notes/GET /me/export":                                  "401 ok  ok    403  403  403   403",
    "followups/GET /me/export":                              "401 ok  ok    403  403  403   403",
    "notifications/GET /me/export":                          "401 ok  ok    403  403  403   403",
    "privacy/GET /me/export":                                "401 ok  ok    403  403  403   403",
}

Request = tuple[dict[str, str], Any]  # path parameters, JSON body (None: no body)


def _held(world: World, fresh: bool) -> dict[str, str]:
    return {"interview_id": world.held_interview() if fresh else world.seed["interview_id"]}


def _snooze_until(world: World) -> str:
    return (world.clock.now + timedelta(days=3)).isoformat()


# How to call each operation: (world, fresh) -> (path parameters, body). `fresh` is set for a command
# a principal is expected to be allowed: it gets records of its own, so every allowed call succeeds.
REQUESTS: dict[str, Callable[[World, bool], Request]] = {
    "contacts/POST /contacts": lambda w, f: ({}, {"name": SECRETS[0], "student_id": OWNER}),
    "contacts/PATCH /contacts/{contact_id}": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"]}, {"title": "CTO"}),
    "contacts/POST /contacts/{contact_id}/tags": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"]}, {"tags": ["mentor"]}),
    "contacts/DELETE /contacts/{contact_id}/tags/{tag}": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"], "tag": "alumni"}, None),
    "contacts/PUT /contacts/{contact_id}/priority": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"]}, {"advocacy": 2, "motivation": 3}),
    "contacts/PUT /contacts/{contact_id}/check-in-cadence": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"]}, {"every_weeks": 4}),
    "contacts/POST /contacts/{contact_id}/archive": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"]}, {"reason": "moved on"}),
    "contacts/POST /contacts/{contact_id}/restore": lambda w, f: (
        {"contact_id": w.archived_contact() if f else w.seed["contact_id"]}, None),
    "contacts/POST /contacts/{contact_id}/touchpoints": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"]},
        {"kind": "reply", "occurred_at": datetime.now(UTC).isoformat()}),
    "contacts/POST /contacts/{contact_id}/merge": lambda w, f: (
        {"contact_id": w.contact() if f else w.seed["contact_id"]},
        {"duplicate_id": w.contact() if f else w.seed["duplicate_id"]}),
    "scheduling/POST /interviews": lambda w, f: ({}, {
        "contact_id": w.seed["contact_id"], "objectives": [SECRETS[2]], "format": "phone", "time_zone": "UTC",
        "student_id": OWNER}),
    "scheduling/POST /interviews/{interview_id}/proposals": lambda w, f: (
        {"interview_id": w.interview() if f else w.seed["interview_id"]},
        {"slots": [{"start": w.next_start(), "time_zone": "UTC"}]}),
    "scheduling/POST /interviews/{interview_id}/schedule": lambda w, f: (
        {"interview_id": w.interview() if f else w.seed["interview_id"]},
        {"start": w.next_start(), "time_zone": "UTC"}),
    "scheduling/POST /interviews/{interview_id}/reschedule": lambda w, f: (
        {"interview_id": w.scheduled_interview() if f else w.seed["interview_id"]},
        {"start": w.next_start(), "time_zone": "UTC"}),
    "scheduling/POST /interviews/{interview_id}/cancel": lambda w, f: (
        {"interview_id": w.interview() if f else w.seed["interview_id"]}, {"by": "contact", "reason": "travel"}),
    "scheduling/POST /interviews/{interview_id}/complete": lambda w, f: (_held(w, f), None),
    "scheduling/POST /interviews/{interview_id}/missed": lambda w, f: (_held(w, f), {"who": "contact"}),
    "notes/POST /notes": lambda w, f: ({}, {"contact_id": w.seed["contact_id"], "text": SECRETS[1],
                                            "student_id": OWNER}),
    "notes/PUT /notes/{note_id}": lambda w, f: (
        {"note_id": w.note() if f else w.seed["note_id"]}, {"text": f"{SECRETS[1]} revised"}),
    "notes/DELETE /notes/{note_id}": lambda w, f: ({"note_id": w.note() if f else w.seed["note_id"]}, None),
    "notes/POST /notes/{note_id}/visibility": lambda w, f: (
        {"note_id": w.note() if f else w.seed["note_id"]}, {"visibility": "private"}),
    "notes/POST /notes/{note_id}/action-items/{item_id}/complete": lambda w, f: (
        (lambda note: {"note_id": note, "item_id": w.action_item(note)})(w.note()) if f else
        {"note_id": w.seed["note_id"], "item_id": w.seed["item_id"]}, None),
    "notes/POST /notes/{note_id}/action-items/{item_id}/reopen": lambda w, f: (
        dict(zip(("note_id", "item_id"), w.completed_item(), strict=True)) if f else
        {"note_id": w.seed["note_id"], "item_id": w.seed["item_id"]}, None),
    "notes/POST /advisors/{advisor_id}/students/{student_id}": lambda w, f: (
        {"advisor_id": f"advisor-{uuid.uuid4().hex[:8]}" if f else ADVISOR, "student_id": OWNER}, None),
    "notes/DELETE /advisors/{advisor_id}/students/{student_id}": lambda w, f: (
        {"advisor_id": w.assignment() if f else ADVISOR, "student_id": OWNER}, None),
    "followups/POST /followups/{item_id}/snooze": lambda w, f: (
        {"item_id": w.followup_item() if f else w.seed["followup_id"]}, {"until": _snooze_until(w)}),
    "followups/POST /followups/{item_id}/dismiss": lambda w, f: (
        {"item_id": w.followup_item() if f else w.seed["followup_id"]}, {"reason": "not needed"}),
    "notifications/PUT /preferences": lambda w, f: ({}, {"time_zone": "UTC", "student_id": OWNER}),
    "notifications/POST /webhooks": lambda w, f: ({}, {"url": "http://127.0.0.1:9/other", "student_id": OWNER}),
    "notifications/DELETE /webhooks/{endpoint_id}": lambda w, f: (
        {"endpoint_id": w.webhook() if f else w.seed["endpoint_id"]}, None),
    "notifications/POST /webhooks/{endpoint_id}/enable": lambda w, f: (
        {"endpoint_id": w.webhook() if f else w.seed["endpoint_id"]}, None),
    # an admin's erasure of another (fresh) student; the world never carries erasures out
    "privacy/POST /erasures": lambda w, f: ({}, {"student_id": f"student-{uuid.uuid4().hex[:8]}" if f else OWNER}),
    "privacy/POST /erasures/{erasure_id}/confirm": lambda w, f: (
        {"erasure_id": w.erasure_request() if f else w.seed["erasure_id"]}, None),
    "privacy/POST /me/erasure-request": lambda w, f: ({}, {"student_id": OWNER, "reason": "leaving"}),
    "notifications/PUT /templates/{kind}": lambda w, f: (
        {"kind": "thank_you_due"}, {"subject": "Thank them", "text": "Say thanks.", "html": "<p>Say thanks.</p>"}),
}
def _expected(key: str) -> dict[str, str]:
    cells = EXPECTED[key].split()
    assert len(cells) == 1 + len(PRINCIPALS), f"{key}: a row needs {1 + len(PRINCIPALS)} cells"
    return {**{bad: cells[0] for bad in BAD_TOKENS}, **dict(zip(PRINCIPALS, cells[1:], strict=True))}


def test_every_operation_answers_every_principal_as_the_table_says(world: World) -> None:
    operations = []
    for service, platform in world.platforms.items():
        document = platform.client.get("/openapi.json").get_json()
        for template, methods in document["paths"].items():
            for method, operation in methods.items():
                operations.append((service, method.upper(), template, operation))
    keys = {f"{service}/{method} {template}" for service, method, template, _ in operations}
    assert not keys - EXPECTED.keys(), f"operations without an entry in EXPECTED: {sorted(keys - EXPECTED.keys())}"
    assert not EXPECTED.keys() - keys, f"entries for operations that do not exist: {sorted(EXPECTED.keys() - keys)}"

    mismatches: list[str] = []
    leaks: list[str] = []
    tried: Counter[str] = Counter()
    for service, method, template, operation in operations:
        key = f"{service}/{method} {template}"
        expected = _expected(key)
        success = next(code for code in operation["responses"] if code.startswith("2"))
        student_param = any(p.get("name") == "student_id" and p["in"] == "query"
                            for p in operation.get("parameters", []))
        public = "security" not in operation
        for principal in BAD_TOKENS + PRINCIPALS:
            want = success if expected[principal] == "ok" else expected[principal]
            fresh = want.startswith("2") and method != "GET"
            # reads and everything else: the seeded records, and a JSON body only where one is documented
            request = REQUESTS.get(key)
            params, body = request(world, fresh) if request else (world.path_parameters(service, template), None)
            path = template.format(**params)
            before = world.commits()
            kwargs: dict[str, Any] = {"query_string": {"student_id": OWNER}} if student_param else {}
            if key == "contacts/POST /imports":
                kwargs.update(data=b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Grace Hopper\r\nEND:VCARD\r\n",
                              content_type="text/vcard")
            elif body is not None or "requestBody" in operation:
                kwargs["json"] = body if body is not None else {}
            response = world.call(service, method, path, principal, **kwargs)
            tried[principal] += 1
            got = str(response.status_code)
            if got != want:
                mismatches.append(f"{key} as {principal}: {got}, expected {want}: {response.get_data()[:200]!r}")
            if not got.startswith("2") and world.commits() != before:
                leaks.append(f"{key} as {principal}: refused ({got}) but something was recorded")
            if principal not in ENTITLED and not public:
                text = _readable(response)
                if (got.startswith("2") and not template.startswith(OWN)) or any(secret in text for secret in SECRETS):
                    leaks.append(f"{key} as {principal}: {got} {text[:200]}")

    summary = _summary(operations, tried, mismatches, leaks)
    print("\n" + summary["table"])
    out = Path("var/security")
    out.mkdir(parents=True, exist_ok=True)
    (out / "authorization-matrix.json").write_text(json.dumps({k: v for k, v in summary.items() if k != "table"},
                                                              indent=2))
    assert not leaks, "leaks:\n  " + "\n  ".join(leaks)
    assert not mismatches, f"{len(mismatches)} answers differ from EXPECTED:\n  " + "\n  ".join(mismatches)


def _readable(response: Any) -> str:
    """An answer's text; a zip archive's is every member's."""
    if response.mimetype != "application/zip":
        return response.get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())


def _summary(operations: list, tried: Counter[str], mismatches: list[str], leaks: list[str]) -> dict[str, Any]:
    per_service = Counter(service for service, *_ in operations)
    rows = [f"| {service} | {count} | {count * len(tried)} |" for service, count in per_service.items()]
    statuses = Counter(cell for key in EXPECTED for cell in _expected(key).values())
    table = "\n".join([
        "| service | operations | calls |", "| --- | --- | --- |", *rows,
        f"| **all** | {len(operations)} | {sum(tried.values())} |", "",
        f"principals: {len(tried)} ({', '.join(tried)}); expected cells by status: {dict(sorted(statuses.items()))}",
        f"answers differing from the table: {len(mismatches)}; leaks found: {len(leaks)}"])
    return {"operations": len(operations), "principals": list(tried), "calls": sum(tried.values()),
            "per_service": dict(per_service), "expected_cells": dict(statuses), "mismatches": mismatches,
            "leaks": leaks, "table": table}
