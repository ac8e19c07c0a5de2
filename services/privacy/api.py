"""HTTP endpoints of the privacy service: erasures (thin views over `application`).

Who does what:
- an admin orders a student's or a professional's erasure (`POST /erasures`: asked for and confirmed in
  one act), lists
  erasures (`GET /erasures?status=requested`: students' own requests waiting for them), confirms a
  request (`POST /erasures/{id}/confirm`) and reads any erasure's report (`GET /erasures/{id}`);
- a student asks for their own erasure (`POST /me/erasure-request`) and reads its report;
- a student downloads everything the platform holds about them (`GET /me/export`): every service's
  part, fetched with the student's own token and zipped here (`archive`).
Anyone else: 403 for the role, 404 for an erasure that is not theirs (existence does not leak).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request, url_for

from services.privacy import archive, schemas, subject_export
from services.privacy.application import PrivacyService
from shared import tracing
from shared.auth import Principal, acting_for
from shared.readstore import Collection, iterate
from shared.repository import Accepted
from shared.subject_export import EXPORT_PATH
from shared.web import AcceptedSchema, Api, command_metadata, if_match_version, json_response

api = Api("privacy", __name__)
ADMINS = ("admin",)
SUBJECTS = ("student", "admin")


@dataclass
class PrivacyContext:
    service: PrivacyService
    erasures: Collection
    export_sources: tuple[archive.Source, ...]
    fetch: archive.Get  # how the parts are fetched (requests.get; tests route to in-process apps)


def _ctx() -> PrivacyContext:
    return current_app.extensions["privacy"]


def erasure_location(erasure_id: str) -> str:
    return url_for("privacy.erasure_report", erasure_id=erasure_id)


def _report(erasure_id: str, principal: Principal) -> Response:
    erasure = _ctx().service.get(erasure_id, principal)
    return json_response(_ctx().service.report(erasure), version=erasure.version)


@api.route("/erasures", "POST", summary="Erase a student's or a professional's personal data (asked for and "
           "confirmed at once)", roles=ADMINS, body=schemas.OrderErasure, response=AcceptedSchema, status=202,
           errors=(409,), location=erasure_location)
def order_erasure(principal: Principal, body: dict[str, Any]) -> Accepted:
    meta = command_metadata(principal)
    if body["subject_kind"] == "contact":
        professional = body["professional"]
        accepted = _ctx().service.order_professional(professional["emails"], professional.get("linkedin_url"),
                                                     body.get("reason"), principal, meta)
    else:
        accepted = _ctx().service.order(body["student_id"], body.get("reason"), principal, meta)
    return accepted


@api.route("/erasures", "GET", summary="Erasures, newest request first (filter by status)", roles=ADMINS,
           query=schemas.ErasuresQuery, response=schemas.ErasuresPage)
def list_erasures(principal: Principal, query: dict[str, Any]) -> Response:
    where = {"status": query["status"]} if "status" in query else {}
    page = _ctx().erasures.find(where, sort=[("requested_at", -1)], limit=query["limit"], cursor=query.get("cursor"))
    shown = ("subject_kind", "student_id", "status", "requested_by", "requested_at", "confirmed_at", "erased_at")
    items = [{"id": d["_id"], **{k: d.get(k) for k in shown}} for d in page.items]
    return json_response({"items": items, "next_cursor": page.next_cursor})


@api.route("/erasures/<erasure_id>/confirm", "POST", summary="Confirm a student's own erasure request",
           roles=ADMINS, response=AcceptedSchema, status=202, errors=(404, 409, 412))
def confirm_erasure(principal: Principal, erasure_id: str) -> Accepted:
    return _ctx().service.confirm(erasure_id, principal, command_metadata(principal), if_match_version())


@api.route("/erasures/<erasure_id>", "GET", summary="An erasure's report: each component that must act, and when",
           roles=SUBJECTS, response=schemas.ErasureReport, errors=(404,))
def erasure_report(principal: Principal, erasure_id: str) -> Response:
    return _report(erasure_id, principal)


@api.route("/me/erasure-request", "POST", summary="Ask for your own erasure (an admin confirms it)",
           roles=("student",), body=schemas.RequestOwnErasure, response=AcceptedSchema, status=202, errors=(409,),
           location=erasure_location)
def request_own_erasure(principal: Principal, body: dict[str, Any]) -> Accepted:
    acting_for(principal, body.get("student_id"))  # a student naming another: 403
    return _ctx().service.request_own(principal, body.get("reason"), command_metadata(principal))


@api.route(EXPORT_PATH, "GET", summary="Everything the platform holds about you, as one zip archive (every service's "
           "part, fetched with your token); 503 naming the services that did not answer", roles=("student",),
           produces=("application/zip",))
def export_own_data(principal: Principal) -> Response:
    ctx = _ctx()
    student_id = principal.subject
    headers = {"Authorization": request.headers["Authorization"], "X-Correlation-ID": g.correlation_id}
    tracing.inject(headers)  # each service's part is served in this request's trace
    parts = archive.fetch_parts(ctx.export_sources, student_id, headers, ctx.fetch)
    now = ctx.service.clock()
    reports = [ctx.service.report(ctx.service.get(d["_id"], principal))
               for d in iterate(ctx.erasures, {"student_id": student_id}, [("requested_at", 1)])]
    parts[subject_export.SERVICE] = subject_export.part(student_id, now, reports)
    return Response(archive.build(student_id, now, parts), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{archive.filename(student_id, now)}"',
        "Cache-Control": "no-store"})
