"""The student's settings and what the platform tells them: notification preferences (channels per
kind, e-mail address, time zone, quiet hours, the daily digest), webhook endpoints (register: the
signing secret shown once; list with status and why disabled; enable again; remove), the in-app
notifications inbox (mark as read) and the access log of their shared notes (which advisor read
which note, when).

Everything is the notifications and notes APIs' with the user's token. Preferences are replaced as a
whole with `If-Match` (a change made meanwhile in another tab is a 412 page, never overwritten); the
lists come from read models, so after a change the page asks for at least that change's version
(`min_version`, the APIs' read-your-writes) instead of showing the list as it was."""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from services.web.clients import FieldErrors
from services.web.presentation import CHANNELS, NOTIFICATION_KINDS, WEBHOOK_STATES, ZONES
from services.web.signin import signed_in
from services.web.views import call, home_zone

blueprint = Blueprint("settings", __name__)

USER_KINDS = tuple(kind for kind in NOTIFICATION_KINDS if kind != "digest")  # a digest goes where its items go
# `<id>:<version>` from a command's answer, as the APIs take it in min_version
SEEN = re.compile(r"^[A-Za-z0-9_\-]{1,128}:\d{1,9}$")
LABELS = {"email": "E-mail address", "time_zone": "Your time zone", "quiet-start": "Quiet hours from",
          "quiet-end": "Quiet hours until", "digest": "Daily digest", "channels": "Channels",
          "url": "Webhook URL", "description": "Description"}


def _seen() -> dict[str, str]:
    """The `min_version` a redirect after a change carries (`?seen=<id>:<version>`), when well formed."""
    seen = request.args.get("seen", "")
    return {"min_version": seen} if SEEN.match(seen) else {}


def _page(chosen: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
          hook: dict[str, str] | None = None, hook_errors: dict[str, list[str]] | None = None,
          status: int = 200) -> Any:
    preferences = call("notifications", "GET", "/preferences")
    webhooks = call("notifications", "GET", "/webhooks", params=_seen())["items"]
    if chosen is None:
        quiet = preferences["quiet_hours"] or {}
        chosen = {"email": preferences["email"] or "", "time_zone": preferences["time_zone"] or "",
                  "quiet-start": quiet.get("start", ""), "quiet-end": quiet.get("end", ""),
                  "digest": preferences["digest"], "channels": preferences["channels"],
                  "version": str(preferences["version"])}
    return render_template("settings.html", active="settings", chosen=chosen, errors=errors or {},
                           hook=hook or {}, hook_errors=hook_errors or {}, webhooks=webhooks, labels=LABELS,
                           kinds={k: NOTIFICATION_KINDS[k] for k in USER_KINDS}, channels=CHANNELS,
                           states=WEBHOOK_STATES, zones=ZONES, zone=home_zone()), status


@blueprint.get("/settings")
@signed_in("student")
def settings() -> Any:
    return _page()


def _read_preferences() -> dict[str, Any]:
    form = request.form
    return {"email": form.get("email", "").strip(), "time_zone": form.get("time_zone", "").strip(),
            "quiet-start": form.get("quiet-start", "").strip(), "quiet-end": form.get("quiet-end", "").strip(),
            "digest": form.get("digest") == "on", "version": form.get("version", ""),
            "channels": {kind: [c for c in form.getlist(f"channel-{kind}") if c in CHANNELS] for kind in USER_KINDS}}


def _preference_errors(exc: FieldErrors) -> dict[str, list[str]]:
    """The API's fields as the form's controls: quiet_hours.start and .end are two time controls."""
    errors: dict[str, list[str]] = {}
    for name, value in exc.nested.items():
        if name == "quiet_hours" and isinstance(value, dict):
            for part, messages in value.items():
                errors[f"quiet-{part}" if part in ("start", "end") else "quiet-start"] = \
                    messages if isinstance(messages, list) else [str(messages)]
        elif name == "quiet_hours":
            errors["quiet-start"] = exc.fields[name]
        else:
            errors[name if name in LABELS else "channels"] = exc.fields[name]
    return errors


@blueprint.post("/settings/preferences")
@signed_in("student")
def save_preferences() -> Any:
    chosen = _read_preferences()
    start, end = chosen["quiet-start"], chosen["quiet-end"]
    if bool(start) != bool(end):  # one end of a period is no period: say which is missing
        missing = "quiet-end" if start else "quiet-start"
        return _page(chosen, {missing: ["Give both times, or neither for no quiet hours."]}, status=422)
    body = {"email": chosen["email"] or None, "time_zone": chosen["time_zone"] or None,
            "channels": chosen["channels"], "digest": chosen["digest"],
            "quiet_hours": {"start": start, "end": end} if start else None}
    version = chosen["version"]
    try:  # the whole preferences, If-Match the version the form showed
        call("notifications", "PUT", "/preferences", json=body,
             headers={"If-Match": f'"{version}"'} if version.isdigit() else None)
    except FieldErrors as exc:
        return _page(chosen, _preference_errors(exc), status=422)
    flash("Preferences saved." + (f" Times now show in {chosen['time_zone']}." if chosen["time_zone"] else ""),
          "success")
    return redirect(url_for("settings.settings"), 303)


@blueprint.post("/settings/webhooks")
@signed_in("student")
def register_webhook() -> Any:
    hook = {"url": request.form.get("url", "").strip(), "description": request.form.get("description", "").strip()}
    if not hook["url"]:
        return _page(hook=hook, hook_errors={"url": ["Give the address notifications are sent to."]}, status=422)
    try:
        registered = call("notifications", "POST", "/webhooks",
                          json={"url": hook["url"], "description": hook["description"] or None})
    except FieldErrors as exc:
        return _page(hook=hook, hook_errors={k if k in LABELS else "url": v for k, v in exc.fields.items()},
                     status=422)
    # The secret is shown on this answer alone (not through a redirect and the session cookie): the
    # API keeps no copy and will not show it again.
    return render_template("settings_webhook_secret.html", active="settings", hook=hook, secret=registered["secret"],
                           back=url_for("settings.settings", seen=f"{registered['id']}:{registered['version']}",
                                        _anchor="webhooks")), 201


def _endpoint_command(endpoint_id: str, method: str, path: str, done: str) -> Response:
    version = request.form.get("version", "")
    accepted = call("notifications", method, f"/webhooks/{endpoint_id}{path}",
                    headers={"If-Match": f'"{version}"'} if version.isdigit() else None)
    flash(done, "success")
    return redirect(url_for("settings.settings", seen=f"{accepted['id']}:{accepted['version']}",
                            _anchor="webhooks"), 303)


@blueprint.post("/settings/webhooks/<endpoint_id>/enable")
@signed_in("student")
def enable_webhook(endpoint_id: str) -> Response:
    return _endpoint_command(endpoint_id, "POST", "/enable", "The webhook is enabled again; its failures count "
                                                             "from zero.")


@blueprint.post("/settings/webhooks/<endpoint_id>/remove")
@signed_in("student")
def remove_webhook(endpoint_id: str) -> Response:
    return _endpoint_command(endpoint_id, "DELETE", "", "The webhook is removed; nothing more is sent to it.")


@blueprint.get("/inbox")
@signed_in("student")
def inbox() -> str:
    unread = request.args.get("show") == "unread"
    cursor = request.args.get("cursor", "")
    params: dict[str, Any] = {"limit": 50, **_seen(), **({"unread": "true"} if unread else {}),
                              **({"cursor": cursor} if cursor else {})}
    try:
        page = call("notifications", "GET", "/inbox", params=params)
    except FieldErrors:  # a cursor from another listing (or tampered with): start from the newest
        page = call("notifications", "GET", "/inbox", params={"limit": 50, **({"unread": "true"} if unread else {})})
    next_url = (url_for("settings.inbox", cursor=page["next_cursor"], show="unread" if unread else None)
                if page["next_cursor"] else None)
    return render_template("settings_inbox.html", active="inbox", inbox=page, unread_only=unread, next_url=next_url,
                           kinds=NOTIFICATION_KINDS, zone=home_zone())


@blueprint.post("/inbox/<notification_id>/read")
@signed_in("student")
def mark_read(notification_id: str) -> Response:
    accepted = call("notifications", "POST", f"/inbox/{notification_id}/read")
    flash("Marked as read.", "success")
    show = "unread" if request.form.get("show") == "unread" else None  # url_for leaves out a None
    return redirect(url_for("settings.inbox", seen=f"{accepted['id']}:{accepted['version']}", show=show), 303)


@blueprint.get("/notes/access-log")
@signed_in("student")
def access_log() -> str:
    """Who read the student's shared notes. The log names notes by id: the student's own notes list
    gives each its contact, so the page can say which note it was."""
    cursor = request.args.get("cursor", "")
    try:
        page = call("notes", "GET", "/notes/access-log",
                    params={"limit": 100, **({"cursor": cursor} if cursor else {})})
    except FieldErrors:
        page = call("notes", "GET", "/notes/access-log", params={"limit": 100})
    notes = {note["id"]: note for note in call("notes", "GET", "/notes", params={"limit": 200})["items"]}
    next_url = url_for("settings.access_log", cursor=page["next_cursor"]) if page["next_cursor"] else None
    return render_template("settings_access_log.html", active="notes", entries=page["items"], notes=notes,
                           next_url=next_url, zone=home_zone())
