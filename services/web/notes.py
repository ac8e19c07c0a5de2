"""The note pages: the student's notes, writing one for an interview or a contact (text, an insight per
category, action items with due dates, which of the interview's objectives it covers, shared with the
advisors or private), a note's page (completing its action items, sharing it), revising it (the
earlier revisions stay, each readable) and its revisions.

Deleting a note asks first on a page of its own (a form, so it works without JavaScript), and sends
the version that page showed as `If-Match`: a note revised meanwhile is not deleted unseen.

Every read and change is the notes API's with the user's token: another student's note is its 404."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from services.web.clients import FieldErrors, Refused
from services.web.presentation import INSIGHT_CATEGORIES, VISIBILITIES
from services.web.settings import SEEN
from services.web.signin import signed_in
from services.web.views import call, home_zone

blueprint = Blueprint("notes", __name__)
NEW_ITEMS = 3  # empty action-item rows offered on the form
LABELS = {"text": "Your notes", "insights": "Insights", "action_items": "Action items", "visibility": "Sharing",
          "objectives_covered": "Objectives covered", "tags": "Tags", "_schema": "The note",
          **{f"insight-{c}": label for c, label in INSIGHT_CATEGORIES.items()}}


@blueprint.get("/notes")
@signed_in("student")
def notes() -> str:
    # after a deletion the list waits for it (the notes API's read-your-writes), so the note is gone
    seen = request.args.get("seen", "")
    found = call("notes", "GET", "/notes", params={"limit": 100, **({"min_version": seen} if SEEN.match(seen) else {})})
    return render_template("notes.html", active="notes", notes=found["items"], categories=INSIGHT_CATEGORIES,
                           visibilities=VISIBILITIES)


def _about(interview_id: str, contact_id: str) -> dict[str, Any]:
    """What a note is about, read with the user's token (so only their own interview or contact)."""
    interview = call("scheduling", "GET", f"/interviews/{interview_id}") if interview_id else None
    contact_id = contact_id or (interview or {}).get("contact_id") or ""
    contact = call("contacts", "GET", f"/contacts/{contact_id}") if contact_id else None
    return {"interview": interview, "contact": contact}


def _form(chosen: dict[str, Any], errors: dict[str, list[str]], *, note: dict[str, Any] | None = None,
          status: int = 200) -> Any:
    about = _about(chosen.get("interview_id", ""), chosen.get("contact_id", ""))
    contacts = [] if about["contact"] or note else call("contacts", "GET", "/contacts",
                                                          params={"limit": 200, "sort": "name"})["items"]
    return render_template("note_form.html", active="notes", chosen=chosen, errors=errors, labels=LABELS,
                           note=note, contacts=contacts, categories=INSIGHT_CATEGORIES, visibilities=VISIBILITIES,
                           **about), status


@blueprint.get("/notes/new")
@signed_in("student")
def new_note() -> Any:
    chosen = {"interview_id": request.args.get("interview_id", ""), "contact_id": request.args.get("contact_id", ""),
              "visibility": "private", "items": [{} for _ in range(NEW_ITEMS)], "objectives_covered": []}
    return _form(chosen, {})


def _read_form(existing_items: int = 0) -> dict[str, Any]:
    form = request.form
    chosen: dict[str, Any] = {name: form.get(name, "").strip() for name in
                              ("interview_id", "contact_id", "text", "visibility", "version")}
    for category in INSIGHT_CATEGORIES:
        chosen[f"insight-{category}"] = form.get(f"insight-{category}", "").strip()
    chosen["objectives_covered"] = form.getlist("objectives_covered")
    chosen["items"] = [{"item_id": form.get(f"item-{i}-id", ""), "text": form.get(f"item-{i}-text", "").strip(),
                        "due_on": form.get(f"item-{i}-due", "").strip()}
                       for i in range(existing_items + NEW_ITEMS)]
    return chosen


def _content(chosen: dict[str, Any]) -> dict[str, Any]:
    items = []
    for item in chosen["items"]:
        if item["text"]:
            items.append({"text": item["text"], "due_on": item["due_on"] or None,
                          **({"item_id": item["item_id"]} if item["item_id"] else {})})
    return {"text": chosen["text"],
            "insights": [{"category": c, "text": chosen[f"insight-{c}"]} for c in INSIGHT_CATEGORIES
                         if chosen[f"insight-{c}"]],
            "action_items": items, "objectives_covered": chosen["objectives_covered"]}


def _errors(exc: FieldErrors, chosen: dict[str, Any]) -> dict[str, list[str]]:
    """The API's fields as the form's controls: an insight or action item by its row, the rest by name."""
    errors: dict[str, list[str]] = {}
    for name, value in exc.nested.items():
        if name == "insights" and isinstance(value, dict):
            sent = [c for c in INSIGHT_CATEGORIES if chosen[f"insight-{c}"]]
            for index in value:
                errors[f"insight-{sent[int(index)]}"] = exc.fields["insights"]
        elif name == "action_items" and isinstance(value, dict):
            rows = [i for i, item in enumerate(chosen["items"]) if item["text"]]
            for index, fields in value.items():
                row = rows[int(index)] if str(index).isdigit() and int(index) < len(rows) else 0
                for field, messages in (fields.items() if isinstance(fields, dict) else [("text", fields)]):
                    control = f"item-{row}-{'due' if field == 'due_on' else 'text'}"
                    errors.setdefault(control, []).extend(messages if isinstance(messages, list) else [str(messages)])
        else:
            errors["text" if name == "_schema" else name] = exc.fields[name]
    return errors


@blueprint.post("/notes")
@signed_in("student")
def record_note() -> Any:
    chosen = _read_form()
    content = _content(chosen)
    body = {**content, "visibility": chosen["visibility"] or "private",
            **{name: chosen[name] for name in ("interview_id", "contact_id") if chosen[name]}}
    if not chosen["interview_id"]:  # due dates are days in the student's zone (else the interview's)
        body["time_zone"] = home_zone()
    if not (chosen["interview_id"] or chosen["contact_id"]):
        return _form(chosen, {"contact_id": ["Choose the contact the note is about."]}, status=422)
    try:
        accepted = call("notes", "POST", "/notes", json=body)
    except FieldErrors as exc:
        return _form(chosen, _errors(exc, chosen), status=422)
    flash("Note saved." + (" Your advisors can read it." if body["visibility"] == "shared" else ""), "success")
    return redirect(url_for("notes.note", note_id=accepted["id"]), 303)


@blueprint.get("/notes/<note_id>")
@signed_in("student")
def note(note_id: str) -> str:
    found = call("notes", "GET", f"/notes/{note_id}")  # 404 unless it is the student's own
    about = _about(found["interview_id"] or "", found["contact_id"] or "")
    return render_template("note.html", active="notes", note=found, categories=INSIGHT_CATEGORIES,
                           visibilities=VISIBILITIES, **about)


@blueprint.get("/notes/<note_id>/edit")
@signed_in("student")
def edit_note(note_id: str) -> Any:
    found = call("notes", "GET", f"/notes/{note_id}")
    chosen: dict[str, Any] = {
        "interview_id": found["interview_id"] or "", "contact_id": found["contact_id"] or "", "text": found["text"],
        "visibility": found["visibility"], "version": str(found["version"]),
        "objectives_covered": found["objectives_covered"],
        "items": [{"item_id": i["item_id"], "text": i["text"], "due_on": i["due_on"] or ""}
                  for i in found["action_items"]] + [{} for _ in range(NEW_ITEMS)]}
    for category in INSIGHT_CATEGORIES:
        chosen[f"insight-{category}"] = "\n".join(i["text"] for i in found["insights"] if i["category"] == category)
    return _form(chosen, {}, note=found)


@blueprint.post("/notes/<note_id>")
@signed_in("student")
def revise_note(note_id: str) -> Any:
    found = call("notes", "GET", f"/notes/{note_id}")
    chosen = _read_form(len(found["action_items"]))
    version = chosen["version"]
    try:  # If-Match: a revision made meanwhile (another tab) is refused, never overwritten
        call("notes", "PUT", f"/notes/{note_id}", json=_content(chosen),
             headers={"If-Match": f'"{version}"'} if version.isdigit() else None)
    except FieldErrors as exc:
        return _form(chosen, _errors(exc, chosen), note=found, status=422)
    flash(f"Note revised (revision {found['revision'] + 1}); the earlier ones stay readable.", "success")
    return redirect(url_for("notes.note", note_id=note_id), 303)


@blueprint.get("/notes/<note_id>/revisions")
@signed_in("student")
def revisions(note_id: str) -> str:
    found = call("notes", "GET", f"/notes/{note_id}/revisions")
    return render_template("note_revisions.html", active="notes", note_id=note_id, revisions=found["items"],
                           categories=INSIGHT_CATEGORIES, zone=home_zone())


@blueprint.post("/notes/<note_id>/visibility")
@signed_in("student")
def visibility(note_id: str) -> Response:
    chosen = request.form.get("visibility", "")
    if chosen not in VISIBILITIES:
        flash("Choose private or shared.", "error")
    else:
        call("notes", "POST", f"/notes/{note_id}/visibility", json={"visibility": chosen})
        flash("Shared with your advisors: they can read it now, and you can see when they did."
              if chosen == "shared" else "The note is private again.", "success")
    return redirect(url_for("notes.note", note_id=note_id), 303)


@blueprint.post("/notes/<note_id>/action-items/<item_id>/<action>")
@signed_in("student")
def action_item(note_id: str, item_id: str, action: str) -> Response:
    if action not in ("complete", "reopen"):
        return redirect(url_for("notes.note", note_id=note_id), 303)
    try:
        call("notes", "POST", f"/notes/{note_id}/action-items/{item_id}/{action}")
    except Refused as exc:
        if exc.status != 409:
            raise
        flash(f"Not done: {exc.message}.", "error")
        return redirect(url_for("notes.note", note_id=note_id), 303)
    flash("Action item done." if action == "complete" else "Action item open again.", "success")
    return redirect(url_for("notes.note", note_id=note_id), 303)


@blueprint.get("/notes/<note_id>/delete")
@signed_in("student")
def confirm_delete(note_id: str) -> str:
    found = call("notes", "GET", f"/notes/{note_id}")  # 404 unless it is the student's own
    about = _about(found["interview_id"] or "", found["contact_id"] or "")
    return render_template("note_delete.html", active="notes", note=found, categories=INSIGHT_CATEGORIES, **about)


@blueprint.post("/notes/<note_id>/delete")
@signed_in("student")
def delete(note_id: str) -> Response:
    version = request.form.get("version", "")
    accepted = call("notes", "DELETE", f"/notes/{note_id}",
                    headers={"If-Match": f'"{version}"'} if version.isdigit() else None)
    flash("Note deleted: it is gone from your notes and your advisors', and its action items from your follow-ups.",
          "success")
    return redirect(url_for("notes.notes", seen=f"{accepted['id']}:{accepted['version']}"), 303)
