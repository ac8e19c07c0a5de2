"""What the contact page offers beyond one-click touchpoints, tags and priority (those are in `views`):
the check-in cadence (set, or back to the follow-up rules' default), a touchpoint with its details
(any kind the contacts API records, when it happened in the student's zone, the channel, a link, a
note), editing the contact's details, archiving and restoring, merging a duplicate into the contact
(pick it, review both side by side, confirm), and the directory's CSV and vCard exports.

Every change is the contacts API's command with the user's token (another student's contact is its
404 here too), sent with `If-Match` where the page showed a version, so a change made meanwhile is a
412 page rather than silently overwritten."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as Redirect

from services.web.clients import FieldErrors
from services.web.presentation import STAGES, TOUCHPOINT_CHANNELS, TOUCHPOINT_KINDS, ZONES, zone_or_utc
from services.web.signin import signed_in
from services.web.views import _contact_command, _contact_page, call, download, home_zone

blueprint = Blueprint("contact", __name__)

DETAILS = {"name": "Name", "emails": "E-mail addresses", "phone": "Phone", "linkedin_url": "LinkedIn profile",
           "organisation": "Organisation", "title": "Role", "industry": "Industry", "location": "Location",
           "time_zone": "Their time zone", "source": "Found through", "note": "Note"}
# the detailed touchpoint form's controls by the API's field names
TOUCHPOINT_FIELDS = {"kind": "tp-kind", "occurred_at": "tp-when", "channel": "tp-channel", "url": "tp-url",
                     "text": "tp-text"}
# adding a contact: its details and, there only, its first tags (the API's `tags`)
NEW_LABELS = {**DETAILS, "tags": "Tags"}
EXPORTS = {"csv": ("/exports/contacts.csv", "text/csv"), "vcf": ("/exports/contacts.vcf", "text/vcard")}


@blueprint.app_context_processor
def _choices() -> dict[str, Any]:
    """What the contact page's detailed touchpoint form offers (the page itself is rendered by `views`)."""
    return {"touchpoint_kinds": TOUCHPOINT_KINDS, "touchpoint_channels": TOUCHPOINT_CHANNELS}


def _if_match(version: str) -> dict[str, str] | None:
    return {"If-Match": f'"{version}"'} if version.isdigit() else None


@blueprint.post("/contacts/<contact_id>/cadence")
@signed_in("student")
def cadence(contact_id: str) -> Any:
    weeks = request.form.get("every_weeks", "").strip()
    if request.form.get("action") == "default":
        return _contact_command(contact_id, "PUT", "/check-in-cadence", {"every_weeks": None},
                                "Check-ins follow the default rule again.")
    if not weeks.isdigit():
        return _contact_page(contact_id, {"every_weeks": ["Give a whole number of weeks, 1 to 52."]},
                             {"every_weeks": weeks}, 422)
    return _contact_command(contact_id, "PUT", "/check-in-cadence", {"every_weeks": int(weeks)},
                            f"You will be reminded to check in {weeks} weeks after your last touch.", "every_weeks",
                            {"every_weeks": weeks})


@blueprint.post("/contacts/<contact_id>/touchpoints/detailed")
@signed_in("student")
def log_touchpoint(contact_id: str) -> Any:
    form = request.form
    chosen = {control: form.get(control, "").strip() for control in TOUCHPOINT_FIELDS.values()}
    errors: dict[str, list[str]] = {}
    if chosen["tp-kind"] not in TOUCHPOINT_KINDS:
        errors["tp-kind"] = ["Choose what happened."]
    try:  # the wall-clock time the student gave, in their own zone (named next to the control)
        when = datetime.fromisoformat(chosen["tp-when"]).replace(tzinfo=zone_or_utc(home_zone()))
    except ValueError:
        errors["tp-when"] = ["Give the date and time it happened."]
    if errors:
        return _contact_page(contact_id, errors, chosen, 422)
    body = {"kind": chosen["tp-kind"], "occurred_at": when.isoformat(), "channel": chosen["tp-channel"] or None,
            "url": chosen["tp-url"] or None, "text": chosen["tp-text"] or None}
    try:
        call("contacts", "POST", f"/contacts/{contact_id}/touchpoints", json=body)
    except FieldErrors as exc:
        return _contact_page(contact_id, {TOUCHPOINT_FIELDS.get(k, "tp-text"): v for k, v in exc.fields.items()},
                             chosen, 422)
    flash(f"Recorded: {TOUCHPOINT_KINDS[chosen['tp-kind']]}. The timeline and follow-ups show it in a moment.",
          "success")
    return redirect(url_for("student.contact", contact_id=contact_id), 303)


@blueprint.post("/contacts/<contact_id>/archive")
@signed_in("student")
def archive(contact_id: str) -> Any:
    reason = request.form.get("reason", "").strip()
    return _contact_command(contact_id, "POST", "/archive", {"reason": reason or None},
                            "Archived: the contact leaves your directory and follow-ups; its history stays.",
                            "reason", {"reason": reason})


@blueprint.post("/contacts/<contact_id>/restore")
@signed_in("student")
def restore(contact_id: str) -> Any:
    return _contact_command(contact_id, "POST", "/restore", None, "Restored to your directory.")


def _new_form(chosen: dict[str, str], errors: dict[str, list[str]], status: int = 200) -> Any:
    return render_template("contact_new.html", active="contacts", chosen=chosen, errors=errors, labels=NEW_LABELS,
                           details=DETAILS, zones=ZONES), status


@blueprint.get("/contacts/new")
@signed_in("student")
def new() -> Any:
    return _new_form(dict.fromkeys(NEW_LABELS, ""), {})


@blueprint.post("/contacts")
@signed_in("student")
def add() -> Any:
    """`POST /contacts` with what the student wrote (empty fields left out); the API's 422 at its field."""
    chosen = {name: request.form.get(name, "").strip() for name in NEW_LABELS}
    if not chosen["name"]:  # the one field the API requires: said here without a round trip
        return _new_form(chosen, {"name": ["Write the contact's name."]}, 422)
    body: dict[str, Any] = {name: chosen[name] for name in DETAILS if chosen[name] and name != "emails"}
    emails = [line.strip() for line in chosen["emails"].splitlines() if line.strip()]
    tags = [tag.strip() for tag in chosen["tags"].split(",") if tag.strip()]
    if emails:
        body["emails"] = emails
    if tags:
        body["tags"] = tags
    try:
        accepted = call("contacts", "POST", "/contacts", json=body)
    except FieldErrors as exc:  # a field the form has not (`_schema`) is said at the name, the first field
        return _new_form(chosen, {k if k in NEW_LABELS else "name": v for k, v in exc.fields.items()}, 422)
    flash(f"Added {chosen['name']}. Your directory lists them in a moment.", "success")
    return redirect(url_for("student.contact", contact_id=accepted["id"]), 303)


def _detail_values(contact: dict[str, Any]) -> dict[str, str]:
    return {name: ("\n".join(contact.get(name) or []) if name == "emails" else contact.get(name) or "")
            for name in DETAILS}


def _edit_form(contact: dict[str, Any], chosen: dict[str, str], errors: dict[str, list[str]],
               status: int = 200) -> Any:
    return render_template("contact_edit.html", active="contacts", contact=contact, chosen=chosen, errors=errors,
                           labels=DETAILS, zones=ZONES), status


@blueprint.get("/contacts/<contact_id>/edit")
@signed_in("student")
def edit(contact_id: str) -> Any:
    contact = call("contacts", "GET", f"/contacts/{contact_id}")
    return _edit_form(contact, {**_detail_values(contact), "version": str(contact["version"])}, {})


@blueprint.post("/contacts/<contact_id>/edit")
@signed_in("student")
def save_details(contact_id: str) -> Any:
    contact = call("contacts", "GET", f"/contacts/{contact_id}")
    chosen = {name: request.form.get(name, "").strip() for name in (*DETAILS, "version")}
    before = _detail_values(contact)
    changed: dict[str, Any] = {}
    for name in DETAILS:  # only what the student changed; an emptied field is cleared (null)
        if chosen[name] != before[name].strip():
            if name == "emails":
                changed[name] = [line.strip() for line in chosen[name].splitlines() if line.strip()]
            else:
                changed[name] = chosen[name] or None
    if not changed:
        flash("Nothing changed.", "info")
        return redirect(url_for("student.contact", contact_id=contact_id), 303)
    try:
        call("contacts", "PATCH", f"/contacts/{contact_id}", json=changed, headers=_if_match(chosen["version"]))
    except FieldErrors as exc:
        return _edit_form(contact, chosen, {k if k in DETAILS else "name": v for k, v in exc.fields.items()}, 422)
    flash("Details saved.", "success")
    return redirect(url_for("student.contact", contact_id=contact_id), 303)


@blueprint.get("/contacts/<contact_id>/merge")
@signed_in("student")
def merge_form(contact_id: str) -> Any:
    """Step one, pick the duplicate (a GET form: nothing changes); step two, `?duplicate_id=`: both
    contacts side by side and the button that merges."""
    survivor = call("contacts", "GET", f"/contacts/{contact_id}")
    duplicate_id = request.args.get("duplicate_id", "").strip()
    errors: dict[str, list[str]] = {}
    duplicate = None
    if duplicate_id == contact_id:
        errors["duplicate_id"] = ["Choose another contact: a contact cannot be merged with itself."]
    elif duplicate_id:
        duplicate = call("contacts", "GET", f"/contacts/{duplicate_id}")  # 404 unless the student's own
    others = [] if duplicate else [c for c in call("contacts", "GET", "/contacts",
                                                    params={"limit": 200, "sort": "name"})["items"]
                                   if c["id"] != contact_id]
    return render_template("contact_merge.html", active="contacts", contact=survivor, duplicate=duplicate,
                           others=others, errors=errors, labels=DETAILS, stages=STAGES,
                           zone=home_zone()), 422 if errors else 200


@blueprint.post("/contacts/<contact_id>/merge")
@signed_in("student")
def merge(contact_id: str) -> Redirect:
    duplicate_id = request.form.get("duplicate_id", "")
    call("contacts", "POST", f"/contacts/{contact_id}/merge", json={"duplicate_id": duplicate_id},
         headers=_if_match(request.form.get("version", "")))
    flash("Merged: the duplicate's e-mails, missing details, tags and history are now this contact's.", "success")
    return redirect(url_for("student.contact", contact_id=contact_id), 303)


@blueprint.get("/contacts.<kind>")
@signed_in("student")
def export(kind: str) -> Response:
    """The directory as the contacts API exports it (formulas neutralised in the CSV), passed through."""
    if kind not in EXPORTS:
        abort(404)
    status = "archived" if request.args.get("status") == "archived" else "active"
    path, accept = EXPORTS[kind]
    answer = download("contacts", f"{path}?status={status}", accept)
    return Response(answer.content, mimetype=accept, headers={
        "Content-Disposition": f'attachment; filename="contacts.{kind}"'})
