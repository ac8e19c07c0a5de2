"""HTTP endpoints of the analytics service: the roster upload (admins) and the analysts' funnel,
engagement and definitions, as JSON, CSV and SVG (thin views over `application` and `charts`).

Analysts and admins read; students and advisors get 403 (they have their own services), but for a
student's own part of the data-subject export (`GET /me/export`: their roster records). Every
answer names the definition version the numbers were computed with and how fresh they are (in the
body, and as `X-Funnel-Definition` and `X-Data-Last-Event-At` headers for CSV and SVG, whose CSV rows
repeat them in columns).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from services.analytics import catalog, charts, schemas, subject_export
from services.analytics.application import AnalyticsService
from services.analytics.domain import STUDENT_DIMENSIONS, StudentCohort
from shared.auth import Principal
from shared.config import Settings
from shared.events import utcnow
from shared.spreadsheet import defuse
from shared.subject_export import EXPORT_PATH, EXPORT_SUMMARY
from shared.web import Api, command_metadata, json_response

api = Api("analytics", __name__)
ANALYSTS = ("analyst", "admin")
ROSTER_TYPES = ("text/csv", "application/octet-stream", "multipart/form-data")


@dataclass
class AnalyticsContext:
    service: AnalyticsService
    settings: Settings


def _ctx() -> AnalyticsContext:
    return current_app.extensions["analytics"]


# -- the roster -----------------------------------------------------------------------------------
@api.route("/analytics/roster", "POST", summary="Upload the roster CSV: each student's program, college, degree "
           "level and class year (or expected graduation term), in effect from a day; a report per row",
           roles=("admin",), query=schemas.RosterQuery, response=schemas.RosterReport, status=201,
           consumes=ROSTER_TYPES, errors=(413, 415, 422))
def upload_roster(principal: Principal, query: dict[str, Any]) -> Response:
    limit = _ctx().settings.int("MAX_BODY_BYTES")
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the roster is larger than MAX_BODY_BYTES ({limit} bytes)")
    filename = schemas.check_filename(query.get("filename"))
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise UnsupportedMediaType("send the roster in a form field named 'file'")
        data, filename = upload.read(), filename or upload.filename
    elif request.mimetype in ROSTER_TYPES:
        data = request.get_data(cache=True)
    else:
        raise UnsupportedMediaType("send the roster as text/csv (or a form field named 'file')")
    report = _ctx().service.upload_roster(data, command_metadata(principal), filename=filename,
                                          effective_from=query.get("effective_from"))
    return json_response(report, 201, version=report["version"])


# -- the funnel ---------------------------------------------------------------------------------------
def _funnel(query: dict[str, Any]) -> dict[str, Any]:
    return _ctx().service.funnel(schemas.dimensions_of(query), query)


def _subtitle(answer: dict[str, Any]) -> str:
    fresh = answer["freshness"]["last_event_at"] or "no events yet"
    filters = ", ".join(f"{k} {v}" for k, v in answer["filters"].items() if v)
    return (f"funnel definition v{answer['definition_version']}; data up to {fresh}"
            + (f"; {filters}" if filters else "") + f"; cells under {answer['min_cell']} students suppressed")


def _about_headers(answer: dict[str, Any]) -> dict[str, str]:
    return {"X-Funnel-Definition": str(answer["definition_version"]),
            "X-Data-Last-Event-At": answer["freshness"]["last_event_at"] or ""}


def _csv(header: list[str], rows: list[list[Any]], answer: dict[str, Any], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*header, "definition_version", "data_last_event_at"])
    for row in rows:
        writer.writerow([defuse(v) for v in row]
                        + [answer["definition_version"], answer["freshness"]["last_event_at"] or ""])
    return Response(buffer.getvalue().encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', **_about_headers(answer)})


def _svg(svg: str, answer: dict[str, Any]) -> Response:
    return Response(svg.encode("utf-8"), mimetype="image/svg+xml", headers=_about_headers(answer))


@api.route("/analytics/funnel", "GET", summary="The funnel by up to two dimensions: students and pairs per step, "
           "conversion, median days, thank-you on time, no-shows and cancellations by side",
           roles=ANALYSTS, query=schemas.FunnelQuery, response=schemas.FunnelAnswer)
def funnel(principal: Principal, query: dict[str, Any]) -> Response:
    answer = _funnel(query)
    return json_response(answer, headers=_about_headers(answer))


@api.route("/analytics/funnel.csv", "GET", summary="The funnel as CSV: one row per group and step",
           roles=ANALYSTS, query=schemas.FunnelQuery, produces=("text/csv",))
def funnel_csv(principal: Principal, query: dict[str, Any]) -> Response:
    answer = _funnel(query)
    rows = []
    total = ({d: "(total)" for d in answer["by"]}, answer["total"])
    for key, row in [(g["key"], g) for g in answer["groups"]] + [total]:
        for cell in row["steps"]:
            rows.append([*(key[d] for d in answer["by"]), cell["step"], cell["students"], cell["pairs"],
                         cell["conversion"], cell["median_days_from_previous"], str(cell["suppressed"]).lower()])
    header = [*answer["by"], "step", "students", "pairs", "conversion", "median_days_from_previous", "suppressed"]
    return _csv(header, rows, answer, "funnel.csv")


@api.route("/analytics/funnel.svg", "GET", summary="The funnel as an SVG chart (grouped bars; title and accessible "
           "text, no JavaScript)", roles=ANALYSTS, query=schemas.FunnelQuery, produces=("image/svg+xml",))
def funnel_svg(principal: Principal, query: dict[str, Any]) -> Response:
    answer = _funnel(query)
    by = " and ".join(d.replace("_", " ") for d in answer["by"])
    title = "Informational-interview funnel" + (f" by {by}" if by else "")
    return _svg(charts.funnel_svg(answer, title, _subtitle(answer)), answer)


# -- engagement ---------------------------------------------------------------------------------------
def _engagement(query: dict[str, Any]) -> dict[str, Any]:
    return _ctx().service.engagement(schemas.dimensions_of(query, STUDENT_DIMENSIONS, 1), query)


@api.route("/analytics/engagement", "GET", summary="Weekly active students and conversations per week",
           roles=ANALYSTS, query=schemas.EngagementQuery, response=schemas.EngagementAnswer)
def engagement(principal: Principal, query: dict[str, Any]) -> Response:
    answer = _engagement(query)
    return json_response(answer, headers=_about_headers(answer))


@api.route("/analytics/engagement.csv", "GET", summary="Weekly engagement as CSV: one row per group and week",
           roles=ANALYSTS, query=schemas.EngagementQuery, produces=("text/csv",))
def engagement_csv(principal: Principal, query: dict[str, Any]) -> Response:
    answer = _engagement(query)
    series = [(s["key"], s["points"]) for s in answer["series"]] + [({d: "(total)" for d in answer["by"]},
                                                                      answer["total"])]
    rows = [[*(key[d] for d in answer["by"]), p["week"], p["active_students"], str(p["active_suppressed"]).lower(),
             p["conversations"], str(p["conversations_suppressed"]).lower()] for key, points in series for p in points]
    header = [*answer["by"], "week", "active_students", "active_suppressed", "conversations",
              "conversations_suppressed"]
    return _csv(header, rows, answer, "engagement.csv")


@api.route("/analytics/engagement.svg", "GET", summary="Weekly engagement as an SVG time series (title and "
           "accessible text, no JavaScript)", roles=ANALYSTS, query=schemas.EngagementQuery,
           produces=("image/svg+xml",))
def engagement_svg(principal: Principal, query: dict[str, Any]) -> Response:
    answer = _engagement(query)
    by = answer["by"][0].replace("_", " ") if answer["by"] else ""
    title = "Weekly engagement" + (f" by {by}" if by else "")
    return _svg(charts.engagement_svg(answer, title, _subtitle(answer)), answer)


# -- what the numbers mean ------------------------------------------------------------------------------
@api.route("/analytics/definitions", "GET", summary="The funnel definition (version, steps, rules), the calendar, "
           "the dimensions, the cohort and suppression rules", roles=ANALYSTS, response=schemas.DefinitionsAnswer)
def definitions(principal: Principal) -> Response:
    answer = _ctx().service.definitions()
    return json_response(answer, headers=_about_headers(answer))


@api.route("/asyncapi.json", "GET", summary="The AsyncAPI 3.0 document of every topic the platform publishes",
           roles=None, response=schemas.AsyncApiDocument, errors=(503,))
def asyncapi(**_: Any) -> Response:
    """This deployment's document: its broker, topic namespace and partition count."""
    return json_response(catalog.asyncapi_document(_ctx().settings))



@api.route(EXPORT_PATH, "GET", summary=EXPORT_SUMMARY, roles=("student",), response=schemas.ExportPart)
def export_own_data(principal: Principal) -> Response:
    cohort = _ctx().service.cohorts.load(StudentCohort.stream_for(principal.subject))
    return json_response(subject_export.part(principal.subject, utcnow(), cohort.records))
