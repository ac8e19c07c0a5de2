"""The student pages: home (follow-up queue, upcoming interviews, unread notifications), the contact
directory, a contact's page with its actions (one-click touchpoints, tags, priority), and importing a
contacts file. Thin: read the form, call the APIs with the user's token (`clients.Services`), render;
a 422 from an API is shown next to the fields it names. `call`, `download` and `home_zone` are how
every page module reaches the APIs."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.web.clients import FieldErrors, Refused, Unavailable
from services.web.presentation import DONE_ACTIONS, FORMATS, OUTCOMES, SORTS, STAGES, TOUCHPOINTS
from services.web.signin import current_user, signed_in

blueprint = Blueprint("student", __name__)

SUBMISSION = re.compile(r"^[0-9a-f]{32}$")  # a form's submission id (`form_tokens`)
DIRECTORY_FILTERS = ("q", "tag", "industry", "organisation", "stage", "min_priority", "status", "sort")
SNOOZE_DAYS = {"1": "1 day", "3": "3 days", "7": "1 week"}


def call(service: str, method: str, path: str, **kwargs: Any) -> Any:
    if method == "POST" and "files" not in kwargs:
        kwargs["headers"] = {**(kwargs.get("headers") or {}), **_submission_key(service, path, kwargs)}
    return current_app.extensions["careerloop-web"].services.call(current_user().token, service, method, path,
                                                                   **kwargs)


def form_tokens() -> Markup:
    """The hidden fields of every form (`{{ form_tokens() }}`): the CSRF token, and a submission id made
    anew each time a form is rendered, which makes what the form asks of the APIs idempotent (`call`)."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">'
                  '<input type="hidden" name="submission" value="{}">').format(generate_csrf(), uuid.uuid4().hex)


def _submission_key(service: str, path: str, kwargs: dict[str, Any]) -> dict[str, str]:
    """The `Idempotency-Key` of a command a submitted form asks for: its submission id with a digest of
    the command, so a form sent twice as it was (a double click, a browser sending it again) records
    the command once (the API answers the second with the first's answer), while the same form sent
    back with other content (the browser's back button, then an edit) is another command. Uploads are
    left out: their bodies are streamed, not hashed (the contacts service's own dedupe covers imports)."""
    submission = request.form.get("submission", "") if request.method == "POST" else ""
    if not SUBMISSION.match(submission):
        return {}
    command = json.dumps([service, path, kwargs.get("params"), kwargs.get("json")], sort_keys=True, default=str)
    return {"Idempotency-Key": f"web.{submission}.{hashlib.sha256(command.encode()).hexdigest()[:32]}"}


def download(service: str, path: str, accept: str) -> requests.Response:
    return current_app.extensions["careerloop-web"].services.download(current_user().token, service, path, accept)


def home_zone() -> str:
    """The student's own time zone (their notification preferences), UTC until they set one; a
    notifications service that does not answer leaves the times in UTC, still labelled as such, and so
    do roles without preferences of their own there (advisors: 403)."""
    if "zone" not in g:
        try:
            g.zone = call("notifications", "GET", "/preferences").get("time_zone") or "UTC"
        except (Unavailable, Refused):
            g.zone = "UTC"
    return str(g.zone)


DIRECTORY_PAGE = 200  # the contacts API's largest page: one call names the contacts of most students


def contact_names() -> dict[str, str]:
    """The student's contacts by id -> name, from one page of their directory, fetched at most once per
    request whatever the page shows (a row is never a call). Other services' lists carry the name as
    their read model last heard it, or none; the directory has the current one. Names are a courtesy:
    a directory that is refused or does not answer leaves the page to its fallbacks."""
    if "contact_names" not in g:
        names: dict[str, str] = {}
        if current_user().has("student"):  # only a student has a directory (advisors: the contacts API's 403)
            try:
                page = call("contacts", "GET", "/contacts", params={"limit": DIRECTORY_PAGE, "sort": "-added"})
                names = {contact["id"]: contact["name"] for contact in page["items"]}
            except (Refused, Unavailable, FieldErrors):
                pass
        g.contact_names = names
    return dict(g.contact_names)


def contact_name(contact_id: str | None, known: str | None = None) -> str:
    """A contact's name for a page: the directory's, else what the row itself knew, else the id (still
    something the student can tell apart and look for)."""
    if not contact_id:
        return known or "your contact"
    return contact_names().get(contact_id) or known or contact_id


@blueprint.app_context_processor
def _names() -> dict[str, Any]:
    return {"contact_name": contact_name}


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@blueprint.get("/")
@signed_in("student", "advisor", "analyst", "admin")
def home() -> Any:
    if not current_user().has("student"):  # an advisor's home is the list of their students
        return redirect(url_for("advisor.students" if current_user().has("advisor") else "office.home"))
    followups = call("followups", "GET", "/followups", params={"state": "open", "limit": 50})
    interviews = call("scheduling", "GET", "/interviews", params={"when": "upcoming", "state": "scheduled",
                                                                  "limit": 20})
    inbox = call("notifications", "GET", "/inbox", params={"unread": "true", "limit": 10})
    return render_template("home.html", active="home", followups=followups["items"], interviews=interviews["items"],
                           inbox=inbox, zone=home_zone(), done_actions=DONE_ACTIONS, snooze_days=SNOOZE_DAYS)


def _item(item_id: str) -> dict[str, Any]:
    """An open item of the student's own queue (the followups API decides whose items they see)."""
    for state in ("open", "snoozed"):
        page = call("followups", "GET", "/followups", params={"state": state, "limit": 200})
        for item in page["items"]:
            if item["id"] == item_id:
                return dict(item)
    flash("That follow-up is no longer open.", "info")
    raise _Gone()


class _Gone(Exception):
    pass


@blueprint.errorhandler(_Gone)
def _gone(_: _Gone) -> Response:
    return redirect(url_for("student.home"))


@blueprint.post("/followups/<item_id>/done")
@signed_in("student")
def followup_done(item_id: str) -> Response:
    item = _item(item_id)
    if item["rule"] not in DONE_ACTIONS:
        flash("This follow-up closes by itself once you reach out to someone else or they reply.", "info")
        return redirect(url_for("student.home"))
    kind, _ = DONE_ACTIONS[item["rule"]]
    if kind is None:  # an action item of a note
        source = item["source"]
        call("notes", "POST", f"/notes/{source['id']}/action-items/{source['item_id']}/complete")
    else:
        call("contacts", "POST", f"/contacts/{item['contact_id']}/touchpoints",
             json={"kind": kind, "occurred_at": now_utc()})
    flash("Recorded. The follow-up leaves your queue in a moment.", "success")
    return redirect(url_for("student.home"))


@blueprint.post("/followups/<item_id>/snooze")
@signed_in("student")
def followup_snooze(item_id: str) -> Response:
    days = request.form.get("days", "")
    if days not in SNOOZE_DAYS:
        flash("Choose how long to snooze the follow-up.", "error")
        return redirect(url_for("student.home"))
    until = (datetime.now(UTC) + timedelta(days=int(days))).strftime("%Y-%m-%dT%H:%M:%SZ")
    call("followups", "POST", f"/followups/{item_id}/snooze", json={"until": until})
    flash(f"Snoozed for {SNOOZE_DAYS[days]}.", "success")
    return redirect(url_for("student.home"))


@blueprint.post("/followups/<item_id>/dismiss")
@signed_in("student")
def followup_dismiss(item_id: str) -> Response:
    reason = request.form.get("reason", "").strip() or None
    call("followups", "POST", f"/followups/{item_id}/dismiss", json={"reason": reason})
    flash("Dismissed.", "success")
    return redirect(url_for("student.home"))


@blueprint.get("/contacts")
@signed_in("student")
def directory() -> Any:
    chosen = {name: request.args.get(name, "").strip() for name in (*DIRECTORY_FILTERS, "cursor")}
    params = {name: value for name, value in chosen.items() if value}
    errors: dict[str, list[str]] = {}
    try:
        page = call("contacts", "GET", "/contacts", params={**params, "limit": 50})
    except FieldErrors as exc:  # e.g. a search longer than the API takes: said next to the field
        errors, page = exc.fields, {"items": [], "next_cursor": None}
    next_url = (url_for("student.directory", **{**params, "cursor": page["next_cursor"]})
                if page["next_cursor"] else None)
    html = render_template("contacts.html", active="contacts", contacts=page["items"], chosen=chosen, errors=errors,
                           stages=STAGES, sorts=SORTS, next_url=next_url, filtered=bool(params), zone=home_zone())
    return html, 422 if errors else 200


@blueprint.get("/contacts/<contact_id>")
@signed_in("student")
def contact(contact_id: str) -> Any:
    return _contact_page(contact_id)


def _contact_page(contact_id: str, errors: dict[str, list[str]] | None = None, chosen: dict[str, str] | None = None,
                  status: int = 200) -> Any:
    found = call("contacts", "GET", f"/contacts/{contact_id}")  # 404 unless it is the student's own
    try:
        timeline = call("followups", "GET", f"/contacts/{contact_id}/timeline", params={"limit": 50})["items"]
    except Refused as exc:  # a contact just added: the followups read side has not heard of it yet
        if exc.status != 404:
            raise
        timeline = []
    return render_template("contact.html", active="contacts", contact=found, timeline=timeline,
                           stages=STAGES, zone=home_zone(), touchpoints=TOUCHPOINTS, errors=errors or {},
                           chosen=chosen or {}), status


def _contact_command(contact_id: str, method: str, path: str, body: Any, done: str,
                     field: str | None = None, chosen: dict[str, str] | None = None) -> Any:
    """A contacts API command from the contact's page; its 422 shown next to `field`."""
    try:
        call("contacts", method, f"/contacts/{contact_id}{path}", json=body)
    except FieldErrors as exc:
        if field is None:
            raise
        messages = [text for texts in exc.fields.values() for text in texts]
        return _contact_page(contact_id, {field: messages}, chosen, 422)
    flash(done, "success")
    return redirect(url_for("student.contact", contact_id=contact_id), 303)


@blueprint.post("/contacts/<contact_id>/touchpoints")
@signed_in("student")
def touchpoint(contact_id: str) -> Any:
    kind = request.form.get("kind", "")
    if kind not in TOUCHPOINTS:
        flash("Choose what happened.", "error")
        return redirect(url_for("student.contact", contact_id=contact_id), 303)
    return _contact_command(contact_id, "POST", "/touchpoints", {"kind": kind, "occurred_at": now_utc()},
                            f"Recorded: {TOUCHPOINTS[kind]}. The timeline and follow-ups show it in a moment.")


@blueprint.post("/contacts/<contact_id>/tags")
@signed_in("student")
def tag(contact_id: str) -> Any:
    tag = request.form.get("tag", "").strip()
    if not tag:
        return _contact_page(contact_id, {"tag": ["Write the tag to add."]}, {"tag": tag}, 422)
    return _contact_command(contact_id, "POST", "/tags", {"tags": [tag]}, f"Tagged {tag}.", "tag", {"tag": tag})


@blueprint.post("/contacts/<contact_id>/tags/remove")
@signed_in("student")
def untag(contact_id: str) -> Any:
    tag = request.form.get("tag", "")
    return _contact_command(contact_id, "DELETE", f"/tags/{quote(tag, safe='')}", None, f"Removed the tag {tag}.")


@blueprint.post("/contacts/<contact_id>/priority")
@signed_in("student")
def prioritise(contact_id: str) -> Any:
    chosen = {name: request.form.get(name, "") for name in ("advocacy", "motivation")}
    errors = {name: ["Choose 1, 2 or 3."] for name, value in chosen.items() if value not in ("1", "2", "3")}
    if errors:
        return _contact_page(contact_id, errors, chosen, 422)
    return _contact_command(contact_id, "PUT", "/priority", {name: int(value) for name, value in chosen.items()},
                            "Priority saved.", "advocacy", chosen)


@blueprint.get("/imports/new")
@signed_in("student")
def import_form() -> str:
    return render_template("import.html", active="import", formats=FORMATS, errors={}, chosen={})


@blueprint.post("/imports")
@signed_in("student")
def import_file() -> Any:
    chosen = {"format": request.form.get("format", "")}
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _import_refused(chosen, {"file": ["The file is too large to import; split it into smaller files."]},
                               413)
    if upload is None or not upload.filename:
        return _import_refused(chosen, {"file": ["Choose a file to import."]})
    if chosen["format"] and chosen["format"] not in FORMATS:
        return _import_refused(chosen, {"format": ["Choose one of the formats, or let it be recognised."]})
    params = {"filename": upload.filename[:255], **({"format": chosen["format"]} if chosen["format"] else {})}
    try:
        report = call("contacts", "POST", "/imports", params=params,
                      files={"file": (upload.filename, upload.stream, upload.mimetype or "application/octet-stream")})
    except FieldErrors as exc:
        return _import_refused(chosen, exc.fields)
    except Refused as exc:
        if exc.status != 413:
            raise
        return _import_refused(chosen, {"file": [exc.message]}, 413)  # IMPORT_MAX_BYTES or IMPORT_MAX_ROWS, named
    return redirect(url_for("student.import_report", import_id=report["id"]), 303)


def _import_refused(chosen: dict[str, str], errors: dict[str, list[str]], status: int = 422) -> Any:
    return render_template("import.html", active="import", formats=FORMATS, errors=errors, chosen=chosen), status


@blueprint.get("/imports/<import_id>")
@signed_in("student")
def import_report(import_id: str) -> str:
    report = call("contacts", "GET", f"/imports/{import_id}")
    return render_template("import_report.html", active="import", report=report, outcomes=OUTCOMES, formats=FORMATS)
