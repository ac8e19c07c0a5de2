"""HTTP endpoints of the scheduling service: thin views over `application` and the read side."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, url_for
from werkzeug.exceptions import NotFound as HTTPNotFound

from services.scheduling import schemas, subject_export
from services.scheduling.application import SchedulingService
from services.scheduling.domain import STARTER_QUESTIONS, Interview, local_time
from shared import ics
from shared.auth import Principal, acting_for
from shared.config import Settings
from shared.events import isoformat, utcnow
from shared.readstore import Collection, iterate
from shared.repository import Accepted
from shared.subject_export import EXPORT_PATH, EXPORT_SUMMARY
from shared.web import (
    AcceptedSchema,
    Api,
    command_metadata,
    if_match_version,
    json_response,
    wait_for_version,
)

api = Api("scheduling", __name__)
READERS = ("student", "admin")


@dataclass
class SchedulingContext:
    service: SchedulingService
    interviews: Collection
    settings: Settings


def _ctx() -> SchedulingContext:
    return current_app.extensions["scheduling"]


def interview_location(interview_id: str) -> str:
    return url_for("scheduling.get_interview", interview_id=interview_id)



def interview_view(interview: Interview) -> dict[str, Any]:
    request = interview.request
    view: dict[str, Any] = {"id": interview.id, "version": interview.version, "state": interview.state,
                            **{k: v for k, v in request.items()}, "slots": list(interview.slots.values()),
                            "start": interview.start, "end": interview.end, "time_zone": interview.time_zone,
                            "previous_times": interview.history, "sequence": interview.sequence, **interview.outcome}
    if interview.start:
        view["local"] = {"student": local_time(interview.start, request["student_time_zone"]),
                         "contact": local_time(interview.start, request["contact_time_zone"])}
    return view


# -- commands -------------------------------------------------------------------------------
@api.route("/interviews", "POST", summary="Request an informational interview with one of your contacts",
           body=schemas.RequestInterview, status=201, response=AcceptedSchema, location=interview_location)
def request_interview(principal: Principal, body: dict[str, Any]) -> Accepted:
    student_id = acting_for(principal, body.pop("student_id", None))
    return _ctx().service.request(student_id, body, principal, command_metadata(principal))


@api.route("/interviews/<interview_id>/proposals", "POST", summary="Propose time slots (local time + IANA zone)",
           body=schemas.ProposeTimes, response=AcceptedSchema, errors=(404, 409, 412))
def propose_times(principal: Principal, interview_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.propose(interview_id, body["slots"], principal, command_metadata(principal),
                                  if_match_version())


@api.route("/interviews/<interview_id>/schedule", "POST", summary="Schedule: a proposed slot, or a start and zone",
           body=schemas.ScheduleInterview, response=AcceptedSchema, errors=(404, 409, 412))
def schedule_interview(principal: Principal, interview_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.schedule(interview_id, body, principal, command_metadata(principal), if_match_version())


@api.route("/interviews/<interview_id>/reschedule", "POST",
           summary="Move the agreed time (the old one stays in history)",
           body=schemas.LocalTime, response=AcceptedSchema, errors=(404, 409, 412))
def reschedule_interview(principal: Principal, interview_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.reschedule(interview_id, body, principal, command_metadata(principal), if_match_version())


@api.route("/interviews/<interview_id>/cancel", "POST", summary="Cancel (the record stays, with who and why)",
           body=schemas.Cancel, response=AcceptedSchema, errors=(404, 409, 412))
def cancel_interview(principal: Principal, interview_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.cancel(interview_id, body["by"], body.get("reason"), principal,
                                 command_metadata(principal), if_match_version())


@api.route("/interviews/<interview_id>/complete", "POST", summary="Mark the conversation as held",
           response=AcceptedSchema, errors=(404, 409, 412))
def complete_interview(principal: Principal, interview_id: str) -> Accepted:
    return _ctx().service.complete(interview_id, principal, command_metadata(principal), if_match_version())


@api.route("/interviews/<interview_id>/missed", "POST", summary="Mark a no-show: the student's or the contact's",
           body=schemas.Missed, response=AcceptedSchema, errors=(404, 409, 412))
def miss_interview(principal: Principal, interview_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.miss(interview_id, body["who"], principal, command_metadata(principal), if_match_version())


# -- reads ----------------------------------------------------------------------------------
@api.route("/starter-questions", "GET", roles=None, response=schemas.StarterQuestions,
           summary="The starter questions a request can add, by category (the same for everyone)")
def starter_questions() -> Response:
    # public: the same fixed text for every caller, so a form (the web front end's) can offer it
    return json_response({"categories": [{"category": category, "questions": list(questions)}
                                         for category, questions in STARTER_QUESTIONS.items()]})


@api.route("/interviews/<interview_id>", "GET", summary="An interview as of its newest event", roles=READERS,
           response=schemas.InterviewView, errors=(404,))
def get_interview(principal: Principal, interview_id: str) -> Response:
    interview = _ctx().service.get(interview_id, principal)
    return json_response(interview_view(interview), version=interview.version)


@api.route("/interviews/<interview_id>/invite.ics", "GET",
           summary="The iCalendar invite (METHOD:CANCEL once cancelled)",
           roles=READERS, produces=("text/calendar",), errors=(404, 409))
def get_invite(principal: Principal, interview_id: str) -> Response:
    interview = _ctx().service.get(interview_id, principal)
    interview.require(interview.start is not None, "the interview has no agreed time yet")
    body = ics.invite(interview_view(interview), utcnow(), organizer=_ctx().settings.get("CALENDAR_ORGANIZER_EMAIL"))
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="interview-{interview_id}.ics"'})


@api.route("/interviews", "GET", summary="The student's interviews: upcoming or past, by state and date range",
           roles=READERS, query=schemas.InterviewsQuery, response=schemas.InterviewPage, errors=(503,))
def list_interviews(principal: Principal, query: dict[str, Any]) -> Response:
    ctx = _ctx()
    student_id = acting_for(principal, query.get("student_id"))
    if "min_version" in query:
        wait_for_version(ctx.interviews, query["min_version"])
    now = isoformat(ctx.service.clock())
    filter: dict[str, Any] = {"student_id": student_id}
    if "state" in query:
        filter["state"] = query["state"]
    start: dict[str, str] = {}
    if query.get("when") == "upcoming":
        start["$gte"] = now
    elif query.get("when") == "past":
        start["$lt"] = now
        start["$gt"] = ""
    if "start_from" in query:
        start["$gte"] = max(start.get("$gte", ""), isoformat(query["start_from"]))
    if "start_to" in query:
        start["$lt"] = min(start.get("$lt", "9999"), isoformat(query["start_to"]))
    if start:
        filter["start_key"] = start
    direction = -1 if query.get("when") == "past" else 1
    page = ctx.interviews.find(filter, [("start_key", direction)], query["limit"], query.get("cursor"))
    return json_response({"items": [_entry(d) for d in page.items], "next_cursor": page.next_cursor})


def _entry(doc: dict[str, Any]) -> dict[str, Any]:
    """An interview as `GET /interviews` lists it, from its read-model document."""
    return {"id": doc["_id"], "version": doc["_version"],
            **{k: v for k, v in doc.items() if k not in ("_id", "_version", "start_key")}}


@api.route(EXPORT_PATH, "GET", summary=EXPORT_SUMMARY, roles=("student",), response=schemas.ExportPart)
def export_own_data(principal: Principal) -> Response:
    ctx = _ctx()
    docs = iterate(ctx.interviews, {"student_id": principal.subject}, [("start_key", 1)])
    return json_response(subject_export.part(
        principal.subject, utcnow(), [_entry(d) for d in docs], ctx.service.feed_generation(principal.subject),
        organizer=ctx.settings.get("CALENDAR_ORGANIZER_EMAIL")))


@api.route("/calendar/feed", "GET", summary="The secret URL of your calendar feed, for calendar apps",
           roles=READERS, query=schemas.FeedQuery, response=schemas.FeedUrls)
def feed_url(principal: Principal, query: dict[str, Any]) -> Response:
    student_id = acting_for(principal, query.get("student_id"))
    return json_response(_feed_urls(student_id, _ctx().service.feed_generation(student_id)))


@api.route("/calendar/feed/rotate", "POST", summary="A new secret feed URL; the previous one stops working",
           roles=READERS, query=schemas.FeedQuery, response=schemas.FeedUrls)
def rotate_feed(principal: Principal, query: dict[str, Any]) -> Response:
    student_id = acting_for(principal, query.get("student_id"))
    generation = _ctx().service.rotate_feed(student_id, command_metadata(principal))
    return json_response(_feed_urls(student_id, generation))


@api.route("/calendar/<student_id>/<token>.ics", "GET", roles=None, produces=("text/calendar",), errors=(404,),
           summary="A student's interviews as a subscribable calendar (the secret token is the credential)")
def calendar_feed(student_id: str, token: str) -> Response:
    ctx = _ctx()
    expected = feed_token(student_id, ctx.service.feed_generation(student_id))
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPNotFound("no such calendar")
    docs = iterate(ctx.interviews, {"student_id": student_id}, [("start_key", 1)])
    items = [{"id": d["_id"], **d} for d in docs]
    return Response(ics.feed(items, utcnow(), organizer=ctx.settings.get("CALENDAR_ORGANIZER_EMAIL")),
                    mimetype="text/calendar")


def _feed_urls(student_id: str, generation: int) -> dict[str, Any]:
    url = url_for("scheduling.calendar_feed", student_id=student_id, token=feed_token(student_id, generation),
                  _external=True)
    return {"url": url, "webcal": url.replace("http://", "webcal://").replace("https://", "webcal://"),
            "generation": generation}


def feed_token(student_id: str, generation: int = 0) -> str:
    """An unguessable token per student and feed generation: an HMAC under the feed secret.
    Rotating a student's feed (a new generation) revokes that student's old URL; changing
    CALENDAR_FEED_SECRET revokes every feed URL at once. Generation 0 keeps the form URLs had
    before rotation existed, so those stay valid until their student rotates."""
    secret = _ctx().settings.get("CALENDAR_FEED_SECRET").encode()
    scope = f"calendar-feed:{student_id}" + (f":{generation}" if generation else "")
    return hmac.new(secret, scope.encode(), hashlib.sha256).hexdigest()[:40]
