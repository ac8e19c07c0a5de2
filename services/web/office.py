"""The career office's pages (roles analyst and admin): the funnel and weekly engagement with their
filters (the analytics API's numbers as a table, its SVG chart beside them), the roster upload with the
analytics API's report per row (admins), advisor assignments through the notes API (admins), and the
notification templates of the notifications API (admins).

What each role may see is the APIs' decision, mirrored here only so a page never offers what its API
would refuse: analysts and admins read the analytics; only admins upload rosters, assign advisors and
change templates (the analytics, notes and notifications APIs answer 403 to anyone else, and so do
these pages). The charts are the analytics API's own SVG, passed through from this origin (the page's
Content-Security-Policy allows images from here only) and always shown with the same numbers as a
table with headers and a caption: the text alternative."""
from __future__ import annotations

from string import Formatter
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.web.clients import FieldErrors, Refused
from services.web.signin import signed_in
from services.web.views import call, download

blueprint = Blueprint("office", __name__, url_prefix="/office")

READERS = ("analyst", "admin")  # the analytics API's ANALYSTS
ADMIN = "admin"  # roster (analytics), assignments (notes), templates (notifications): admins only

# The analytics API's dimensions (services.analytics.domain, read from its OpenAPI description: the
# front end never imports another service). Engagement groups by the student dimensions only.
STUDENT_DIMENSIONS = {"program": "Program", "college": "College", "class_year": "Class year",
                      "degree_level": "Degree level"}
DIMENSIONS = {"term": "Term", "academic_year": "Academic year", **STUDENT_DIMENSIONS, "industry": "Industry",
              "organisation": "Organisation"}
STEP_LABELS = {"contacted": "Contacted", "replied": "Replied", "interview_scheduled": "Interview scheduled",
               "interview_held": "Interview held", "thank_you_sent": "Thank-you sent", "followed_up": "Followed up",
               "ongoing": "Ongoing"}
ROSTER_OUTCOMES = {"recorded": "Recorded", "unchanged": "Unchanged (already in effect)",
                   "invalid": "Not recorded: invalid"}
WINDOW = ("term", "from", "to")
CHART_LABELS = {"term": "Term", "from": "From", "to": "Until", "by": "Group by", "by2": "Then by"}
# An SVG answered from here: it may style itself inline (matplotlib writes style attributes) but load
# and run nothing, also when opened on its own.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
CHARTS = {"funnel": "/analytics/funnel.svg", "engagement": "/analytics/engagement.svg"}


@blueprint.get("")
@signed_in(*READERS)
def home() -> Response:
    return redirect(url_for("office.funnel"))


def _filters(*names: str) -> tuple[dict[str, str], dict[str, str]]:
    """The filter form as chosen, and as the analytics API takes it (`by` joins the two groupings)."""
    chosen = {name: request.args.get(name, "").strip() for name in (*WINDOW, *names)}
    params = {name: chosen[name] for name in WINDOW if chosen[name]}
    by = [chosen[name] for name in ("by", "by2") if chosen.get(name)]
    if by:
        params["by"] = ",".join(by)
    return chosen, params


def _by_errors(exc: FieldErrors, two: bool) -> dict[str, list[str]]:
    """The API's fields as the form's controls: `by` is both groupings' (said on the second too)."""
    errors = {("from" if name == "from_" else name): messages for name, messages in exc.fields.items()}
    if two and "by" in errors and request.args.get("by2"):
        errors["by2"] = errors["by"]
    return errors


@blueprint.get("/funnel")
@signed_in(*READERS)
def funnel() -> Any:
    chosen, params = _filters("by", "by2")
    try:
        answer = call("analytics", "GET", "/analytics/funnel", params=params)
    except FieldErrors as exc:
        return render_template("office_funnel.html", active="office-funnel", chosen=chosen,
                               errors=_by_errors(exc, True), answer=None, labels=CHART_LABELS, dimensions=DIMENSIONS,
                               steps=STEP_LABELS), 422
    rows = [(_group(group["key"]), group) for group in answer["groups"]] + [("All students", answer["total"])]
    return render_template("office_funnel.html", active="office-funnel", chosen=chosen, errors={}, answer=answer,
                           rows=rows, labels=CHART_LABELS, dimensions=DIMENSIONS, steps=STEP_LABELS,
                           chart=_chart_url("funnel", params))


@blueprint.get("/engagement")
@signed_in(*READERS)
def engagement() -> Any:
    chosen, params = _filters("by")
    try:
        answer = call("analytics", "GET", "/analytics/engagement", params=params)
    except FieldErrors as exc:
        return render_template("office_engagement.html", active="office-engagement", chosen=chosen,
                               errors=_by_errors(exc, False), answer=None, labels=CHART_LABELS,
                               dimensions=STUDENT_DIMENSIONS), 422
    series = [(_group(s["key"]), s["points"]) for s in answer["series"]] + [("All students", answer["total"])]
    return render_template("office_engagement.html", active="office-engagement", chosen=chosen, errors={},
                           answer=answer, series=series, labels=CHART_LABELS, dimensions=STUDENT_DIMENSIONS,
                           chart=_chart_url("engagement", params))


def _group(key: dict[str, str]) -> str:
    return ", ".join(f"{DIMENSIONS.get(name, name)} {value}" for name, value in key.items()) or "All students"


def _chart_url(name: str, params: dict[str, str]) -> str:
    return f"{url_for('office.chart', name=name)}?{urlencode(params)}" if params else url_for("office.chart", name=name)


@blueprint.get("/charts/<name>.svg")
@signed_in(*READERS)
def chart(name: str) -> Response:
    """The analytics API's chart, served from this origin for the page's `<img>`."""
    if name not in CHARTS:
        abort(404)
    params = {key: value for key, value in request.args.items() if key in (*WINDOW, "by") and value}
    answer = download("analytics", f"{CHARTS[name]}?{urlencode(params)}", "image/svg+xml")
    return Response(answer.content, mimetype="image/svg+xml", headers={"Content-Security-Policy": SVG_POLICY})


# -- the roster -------------------------------------------------------------------------------------
ROSTER_LABELS = {"file": "Roster file", "effective_from": "In effect from", "filename": "Roster file"}


@blueprint.get("/roster")
@signed_in(ADMIN)
def roster_form() -> str:
    return render_template("office_roster.html", active="office-roster", errors={}, chosen={}, report=None,
                           labels=ROSTER_LABELS, outcomes=ROSTER_OUTCOMES)


@blueprint.post("/roster")
@signed_in(ADMIN)
def roster_upload() -> Any:
    chosen = {"effective_from": ""}
    try:  # reading the form reads the body: one over MAX_BODY_BYTES is refused here
        chosen["effective_from"] = request.form.get("effective_from", "").strip()
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _roster_refused(chosen, {"file": ["The file is larger than the platform takes; split it."]}, 413)
    if upload is None or not upload.filename:
        return _roster_refused(chosen, {"file": ["Choose the roster file (CSV) to upload."]})
    params = {"filename": upload.filename[:200], **({"effective_from": chosen["effective_from"]}
                                                      if chosen["effective_from"] else {})}
    try:
        report = call("analytics", "POST", "/analytics/roster", params=params,
                      files={"file": (upload.filename, upload.stream, upload.mimetype or "text/csv")})
    except FieldErrors as exc:  # not a roster at all (its file), or a day that is not one (effective_from)
        return _roster_refused(chosen, {"file" if name == "filename" else name: messages
                                        for name, messages in exc.fields.items()})
    except Refused as exc:
        if exc.status not in (413, 415):
            raise
        return _roster_refused(chosen, {"file": [exc.message]}, exc.status)
    # The analytics API keeps no report to read back, so the report is this answer's page (not a redirect).
    return render_template("office_roster.html", active="office-roster", errors={}, chosen=chosen, report=report,
                           labels=ROSTER_LABELS, outcomes=ROSTER_OUTCOMES), 201


def _roster_refused(chosen: dict[str, str], errors: dict[str, list[str]], status: int = 422) -> Any:
    return render_template("office_roster.html", active="office-roster", errors=errors, chosen=chosen, report=None,
                           labels=ROSTER_LABELS, outcomes=ROSTER_OUTCOMES), status


# -- advisor assignments ---------------------------------------------------------------------------------
ASSIGN_LABELS = {"advisor_id": "Advisor", "student_id": "Student"}


@blueprint.get("/advisors")
@signed_in(ADMIN)
def assignments() -> Any:
    return _assignments({name: request.args.get(name, "").strip() for name in ASSIGN_LABELS}, {})


def _assignments(chosen: dict[str, str], errors: dict[str, list[str]], status: int = 200) -> Any:
    """The assignment form, and the look-ups it was given: an advisor's students (the notes API's read
    model) and a student's advisors (its event store: current at once)."""
    advisees = advisors = None
    lookup_errors: dict[str, list[str]] = {}
    if not errors:
        try:
            if chosen["advisor_id"]:
                advisees = call("notes", "GET", f"/advisors/{_segment(chosen['advisor_id'])}/students",
                                params={"limit": 200})["items"]
            if chosen["student_id"]:
                advisors = call("notes", "GET", f"/students/{_segment(chosen['student_id'])}/advisors")["advisors"]
        except FieldErrors as exc:
            lookup_errors, status = exc.fields, 422
    return render_template("office_advisors.html", active="office-advisors", chosen=chosen,
                           errors=errors or lookup_errors, labels=ASSIGN_LABELS, advisees=advisees,
                           advisors=advisors), status


def _segment(value: str) -> str:
    """An id as one path segment: a `/` in it cannot reach another endpoint."""
    return quote(value, safe="")


@blueprint.post("/advisors")
@signed_in(ADMIN)
def assign() -> Any:
    return _assignment_command("POST", "Assigned {advisor_id} to advise {student_id}.")


@blueprint.post("/advisors/remove")
@signed_in(ADMIN)
def unassign() -> Any:
    return _assignment_command("DELETE", "{advisor_id} no longer advises {student_id}.")


def _assignment_command(method: str, done: str) -> Any:
    chosen = {name: request.form.get(name, "").strip() for name in ASSIGN_LABELS}
    errors = {name: [f"Write the {label.lower()}'s id."] for name, label in ASSIGN_LABELS.items() if not chosen[name]}
    if errors:
        return _assignments(chosen, errors, 422)
    try:
        call("notes", method, f"/advisors/{_segment(chosen['advisor_id'])}/students/{_segment(chosen['student_id'])}")
    except FieldErrors as exc:
        return _assignments(chosen, exc.fields, 422)
    flash(done.format(**chosen), "success")
    # the student's advisors come from the notes API's event store: the change shows at once
    return redirect(url_for("office.assignments", student_id=chosen["student_id"]), 303)


# -- notification templates -----------------------------------------------------------------------------
TEMPLATE_LABELS = {"subject": "Subject", "text": "Plain-text body", "html": "HTML body"}


@blueprint.get("/templates")
@signed_in(ADMIN)
def templates() -> str:
    found = call("notifications", "GET", "/templates")["items"]
    return render_template("office_templates.html", active="office-templates", templates=found)


def preview(parts: dict[str, str], placeholders: dict[str, str]) -> dict[str, str]:
    """Each part with every placeholder replaced by what the API says it stands for, in brackets.

    The notifications API offers no preview nor sample values; this follows the grammar its templates
    keep (`{name}` fields, `{{` and `}}` literal braces: Python's format syntax, parsed here, never
    formatted). A placeholder the kind does not offer stays as written: saving says why it is refused.
    The page shows the result as text, the HTML body as its source: nothing the admin typed is markup."""
    shown = {}
    for part, template in parts.items():
        try:
            fields = list(Formatter().parse(template))
        except ValueError:
            shown[part] = "(not shown: a { or } is not paired; write {{ and }} for literal braces)"
            continue
        out = []
        for literal, name, _, _ in fields:
            out.append(literal)
            if name is not None:
                out.append(f"[{placeholders[name]}]" if name in placeholders else f"{{{name}}}")
        shown[part] = "".join(out)
    return shown


@blueprint.get("/templates/<kind>")
@signed_in(ADMIN)
def template(kind: str) -> Any:
    found = call("notifications", "GET", f"/templates/{_segment(kind)}")  # 404 for a kind there is none of
    return _template_form(found, {name: found[name] for name in TEMPLATE_LABELS} | {"version": str(found["version"])},
                          {})


def _template_form(found: dict[str, Any], chosen: dict[str, str], errors: dict[str, list[str]],
                   status: int = 200, problem: str | None = None) -> Any:
    shown = preview({name: chosen[name] for name in TEMPLATE_LABELS}, found["placeholders"])
    return render_template("office_template.html", active="office-templates", template=found, chosen=chosen,
                           errors=errors, labels=TEMPLATE_LABELS, problem=problem, preview=shown), status


@blueprint.post("/templates/<kind>")
@signed_in(ADMIN)
def change_template(kind: str) -> Any:
    chosen = {name: request.form.get(name, "") for name in (*TEMPLATE_LABELS, "version")}
    if request.form.get("action") == "preview":  # the text as typed, previewed; nothing is saved
        return _template_form(call("notifications", "GET", f"/templates/{_segment(kind)}"), chosen, {})
    body = {name: chosen[name] for name in TEMPLATE_LABELS}
    version = chosen["version"]
    try:  # If-Match: a change made meanwhile (another admin, another tab) is refused, never overwritten
        call("notifications", "PUT", f"/templates/{_segment(kind)}", json=body,
             headers={"If-Match": f'"{version}"'} if version.isdigit() else None)
    except FieldErrors as exc:  # an unknown placeholder, a part left empty or too long: said at the part
        current = call("notifications", "GET", f"/templates/{_segment(kind)}")
        return _template_form(current, chosen, exc.fields, 422)
    except Refused as exc:
        if exc.status not in (409, 412):
            raise
        current = call("notifications", "GET", f"/templates/{_segment(kind)}")
        return _template_form(current, {**chosen, "version": str(current["version"])}, {}, 412,
                              problem="Another change to these templates was saved while you edited them. Your "
                                      "text is still below; compare it with the current templates and save again.")
    flash("Templates saved. Notifications scheduled from now on use them.", "success")
    return redirect(url_for("office.template", kind=kind), 303)
