"""The interview pages: the student's interviews, requesting one (objectives, prepared questions and
the scheduling API's starter questions by category), an interview's page (its times in the student's
zone with the contact's beside them), proposing times in any zone, scheduling a proposed time,
rescheduling, cancelling, marking it held or missed, its ICS invite and the calendar feed's URL.

Every change is the scheduling API's command with the user's token, so another student's interview is
that API's 404 here too. A 422 is shown next to the control it names; a rule the API refuses (409: a
time in the past, a clash with another interview, held before it started) is said on the page."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as Redirect

from services.web.clients import FieldErrors, Refused
from services.web.presentation import (
    INTERVIEW_FORMATS,
    INTERVIEW_STATES,
    PARTIES,
    QUESTION_CATEGORIES,
    ZONES,
)
from services.web.signin import signed_in
from services.web.views import call, download, home_zone

blueprint = Blueprint("interviews", __name__)
SLOTS = 3  # rows of the propose form; the API takes up to 10
OPEN = ("requested", "proposed")
# the request form's controls by the API's field names (the same, except the two lists of lines)
REQUEST_LABELS = {"contact_id": "Contact", "objectives": "Objectives", "starter_questions": "Starter questions",
                  "questions": "Your own questions", "format": "Format", "link": "Video or call link",
                  "place": "Place", "duration_minutes": "Length in minutes", "time_zone": "Your time zone",
                  "contact_time_zone": "Their time zone"}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@blueprint.get("/interviews")
@signed_in("student")
def interviews() -> str:
    page = call("scheduling", "GET", "/interviews", params={"limit": 100})
    return render_template("interviews.html", active="interviews", interviews=page["items"],
                           states=INTERVIEW_STATES, formats=INTERVIEW_FORMATS)


def _contacts() -> list[dict[str, Any]]:
    return list(call("contacts", "GET", "/contacts", params={"limit": 200, "sort": "name"})["items"])


def _request_form(chosen: dict[str, Any], errors: dict[str, list[str]], status: int = 200) -> Any:
    starters = call("scheduling", "GET", "/starter-questions")["categories"]
    return render_template("interview_new.html", active="interviews", contacts=_contacts(), chosen=chosen,
                           errors=errors, labels=REQUEST_LABELS, starters=starters, formats=INTERVIEW_FORMATS,
                           categories=QUESTION_CATEGORIES, zones=ZONES), status


@blueprint.get("/interviews/new")
@signed_in("student")
def request_form() -> Any:
    contact_id = request.args.get("contact_id", "")
    contact_zone = ""
    if contact_id:  # their zone, when the contact card has one (404 unless it is the student's own)
        contact_zone = call("contacts", "GET", f"/contacts/{contact_id}").get("time_zone") or ""
    chosen = {"contact_id": contact_id, "time_zone": home_zone(), "contact_time_zone": contact_zone,
              "format": "video", "duration_minutes": "30", "starter_questions": []}
    return _request_form(chosen, {})


@blueprint.post("/interviews")
@signed_in("student")
def request_interview() -> Any:
    form = request.form
    chosen: dict[str, Any] = {name: form.get(name, "").strip() for name in REQUEST_LABELS
                              if name != "starter_questions"}
    chosen["starter_questions"] = form.getlist("starter_questions")
    errors: dict[str, list[str]] = {}
    if not chosen["contact_id"]:
        errors["contact_id"] = ["Choose the contact to interview."]
    if not _lines(chosen["objectives"]):
        errors["objectives"] = ["Write at least one objective: what you want to learn."]
    if not chosen["duration_minutes"].isdigit():
        errors["duration_minutes"] = ["Give the length in whole minutes, for example 30."]
    if errors:
        return _request_form(chosen, errors, 422)
    body = {"contact_id": chosen["contact_id"], "objectives": _lines(chosen["objectives"]),
            "questions": [{"text": q, "category": "other"} for q in _lines(chosen["questions"])],
            "starter_questions": chosen["starter_questions"], "format": chosen["format"],
            "link": chosen["link"] or None, "place": chosen["place"] or None,
            "duration_minutes": int(chosen["duration_minutes"]), "time_zone": chosen["time_zone"],
            "contact_time_zone": chosen["contact_time_zone"] or None}
    try:
        accepted = call("scheduling", "POST", "/interviews", json=body)
    except FieldErrors as exc:
        return _request_form(chosen, exc.fields, 422)
    flash("Interview requested. Propose a few times to your contact.", "success")
    return redirect(url_for("interviews.interview", interview_id=accepted["id"]), 303)


def _page(interview_id: str, errors: dict[str, list[str]] | None = None, chosen: dict[str, str] | None = None,
          status: int = 200) -> Any:
    interview = call("scheduling", "GET", f"/interviews/{interview_id}")  # 404 unless the student's own
    feed = call("scheduling", "GET", "/calendar/feed") if interview["start"] else None
    notes = call("notes", "GET", "/notes", params={"interview_id": interview_id, "limit": 20})["items"]
    defaults = {"zone": interview["contact_time_zone"] or interview["student_time_zone"]}
    return render_template("interview.html", active="interviews", interview=interview, feed=feed, notes=notes,
                           errors=errors or {}, chosen={**defaults, **(chosen or {})}, slots=range(SLOTS),
                           zones=ZONES, states=INTERVIEW_STATES, formats=INTERVIEW_FORMATS,
                           categories=QUESTION_CATEGORIES, parties=PARTIES, open_states=OPEN), status


@blueprint.get("/interviews/<interview_id>")
@signed_in("student")
def interview(interview_id: str) -> Any:
    return _page(interview_id)


def _back(interview_id: str) -> Redirect:
    return redirect(url_for("interviews.interview", interview_id=interview_id), 303)


def _command(interview_id: str, action: str, body: Any, done: str, errors_of: Any = None,
             chosen: dict[str, str] | None = None) -> Any:
    """The API's command; its 422 next to the form's controls (`errors_of` maps the API's fields to
    them), its refusal of a rule (409) said at the top of the interview's page."""
    try:
        call("scheduling", "POST", f"/interviews/{interview_id}/{action}", json=body)
    except FieldErrors as exc:
        return _page(interview_id, errors_of(exc) if errors_of else exc.fields, chosen, 422)
    except Refused as exc:
        if exc.status != 409:
            raise
        flash(f"Not done: {exc.message}.", "error")
        return _back(interview_id)
    flash(done, "success")
    return _back(interview_id)


@blueprint.post("/interviews/<interview_id>/proposals")
@signed_in("student")
def propose(interview_id: str) -> Any:
    chosen = {f"{part}-{i}": request.form.get(f"{part}-{i}", "").strip() for i in range(SLOTS)
              for part in ("start", "zone")}
    rows = [i for i in range(SLOTS) if chosen[f"start-{i}"]]
    if not rows:
        return _page(interview_id, {"start-0": ["Give at least one date and time to propose."]}, chosen, 422)
    slots = [{"start": chosen[f"start-{i}"], "time_zone": chosen[f"zone-{i}"]} for i in rows]

    def errors_of(exc: FieldErrors) -> dict[str, list[str]]:
        nested = exc.nested.get("slots")
        if not isinstance(nested, dict):
            return {"start-0": exc.fields.get("slots", [exc.message])}
        errors: dict[str, list[str]] = {}
        for index, fields in nested.items():  # the API counts the rows it was sent; map back to the form's
            row = rows[int(index)] if str(index).isdigit() and int(index) < len(rows) else 0
            for name, messages in (fields.items() if isinstance(fields, dict) else [("start", fields)]):
                errors.setdefault(f"{'zone' if name == 'time_zone' else 'start'}-{row}", []).extend(
                    messages if isinstance(messages, list) else [str(messages)])
        return errors

    return _command(interview_id, "proposals", {"slots": slots}, "Times proposed.", errors_of, chosen)


@blueprint.post("/interviews/<interview_id>/schedule")
@signed_in("student")
def schedule(interview_id: str) -> Any:
    slot_id = request.form.get("slot_id", "")
    return _command(interview_id, "schedule", {"slot_id": slot_id}, "Scheduled. Add it to your calendar below.")


@blueprint.post("/interviews/<interview_id>/reschedule")
@signed_in("student")
def reschedule(interview_id: str) -> Any:
    chosen = {"new-start": request.form.get("new-start", "").strip(), "new-zone": request.form.get("new-zone", "")}
    if not chosen["new-start"]:
        return _page(interview_id, {"new-start": ["Give the new date and time."]}, chosen, 422)

    def errors_of(exc: FieldErrors) -> dict[str, list[str]]:
        return {("new-zone" if name == "time_zone" else "new-start"): messages for name, messages in exc.fields.items()}

    return _command(interview_id, "reschedule", {"start": chosen["new-start"], "time_zone": chosen["new-zone"]},
                    "Rescheduled. Calendars that have the invite get the new time.", errors_of, chosen)


@blueprint.post("/interviews/<interview_id>/cancel")
@signed_in("student")
def cancel(interview_id: str) -> Any:
    chosen = {"by": request.form.get("by", ""), "reason": request.form.get("reason", "").strip()}

    def errors_of(exc: FieldErrors) -> dict[str, list[str]]:
        return {("cancel-by" if name == "by" else "cancel-reason"): messages for name, messages in exc.fields.items()}

    return _command(interview_id, "cancel", {"by": chosen["by"], "reason": chosen["reason"] or None},
                    "Cancelled. The interview stays in your history.", errors_of,
                    {"cancel-by": chosen["by"], "cancel-reason": chosen["reason"]})


@blueprint.post("/interviews/<interview_id>/complete")
@signed_in("student")
def complete(interview_id: str) -> Any:
    return _command(interview_id, "complete", None,
                    "Marked as held. Write your notes while they are fresh; the thank-you joins your follow-ups.")


@blueprint.post("/interviews/<interview_id>/missed")
@signed_in("student")
def missed(interview_id: str) -> Any:
    who = request.form.get("who", "")
    return _command(interview_id, "missed", {"who": who}, "Recorded as missed.")


@blueprint.get("/interviews/<interview_id>/invite.ics")
@signed_in("student")
def invite(interview_id: str) -> Response:
    """The scheduling API's invite, passed through: a calendar app opens it (the API needs the bearer token)."""
    answer = download("scheduling", f"/interviews/{interview_id}/invite.ics", "text/calendar")
    return Response(answer.content, mimetype="text/calendar", headers={
        "Content-Disposition": answer.headers.get("Content-Disposition",
                                                  f'attachment; filename="interview-{interview_id}.ics"')})
