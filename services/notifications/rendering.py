"""Templates per kind (pure): the placeholders each kind offers, the defaults, checking an admin's
template, and rendering a notification into subject, text, HTML and a webhook payload.

The template grammar and each kind's placeholders live in `domain.template` (an admin's template
is checked there when saved). Rendering substitutes values by plain name itself and never calls
`str.format`, so even a field that slipped past the check (`{contact.__class__}`) is only ever
looked up as a name, and left empty. In the HTML template every value is escaped; the digest's
`{items}` is the one pre-built fragment (a list whose entries are escaped).

Values come from the notification's context (recorded when it was scheduled), the freshest contact
details the dispatcher knows, and the recipient's time zone: times are shown as the recipient's
wall-clock time with the zone's name. A late message says so in its first line.
"""
from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.notifications.domain.template import PLACEHOLDERS, fields_of
from shared.contracts.notifications import FOLLOW_UP_KINDS, KINDS, REMINDER_KINDS
from shared.times import parse, zone

_REMINDER = {
    "subject": "Reminder: informational interview with {contact_name} at {start_local}",
    "text": ("Your informational interview with {contact} starts {start_local} ({time_zone}), "
             "in {hours_before} hour(s).\nFormat: {format}, {where}.\n\n"
             "The calendar invite is attached. Details and your questions: {link}\n"),
    "html": ("<p>Your informational interview with <strong>{contact}</strong> starts <strong>{start_local}</strong> "
             "({time_zone}), in {hours_before} hour(s).</p><p>Format: {format}, {where}.</p>"
             "<p>The calendar invite is attached. Details and your questions: {link}</p>"),
}
_FOLLOW_UP = {
    "subject": "{reason}",
    "text": "{reason}\n\nDue since {due_local} ({time_zone}).\nOpen it in careerloop: {link}\n",
    "html": "<p>{reason}</p><p>Due since {due_local} ({time_zone}).</p><p>Open it in careerloop: {link}</p>",
}
DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "interview_reminder_24h": {**_REMINDER, "subject": "Tomorrow: informational interview with {contact_name}"},
    "interview_reminder_1h": {**_REMINDER, "subject": "In one hour: informational interview with {contact_name}"},
    # the followups service words each item's reason for people ("Send Jane a thank-you for ...")
    "thank_you_due": _FOLLOW_UP, "follow_up_due": _FOLLOW_UP, "check_in_due": _FOLLOW_UP,
    "digest": {"subject": "Your follow-ups for {date_local}: {count}",
               "text": "Here is what is due ({date_local}, {time_zone}):\n\n{items}\n",
               "html": "<p>Here is what is due ({date_local}, {time_zone}):</p>{items}"},
}
FORMATS = {"video": "video call", "phone": "phone call", "in_person": "in person"}
assert set(DEFAULT_TEMPLATES) == set(KINDS) == set(PLACEHOLDERS)


class Safe(str):
    """A value already fit for HTML (the digest's list)."""


def render(template: str, values: Mapping[str, str], *, as_html: bool = False) -> str:
    out = []
    for literal, name in fields_of(template):
        out.append(literal)
        if name is not None:
            value = values.get(name, "")
            out.append(value if not as_html or isinstance(value, Safe) else html.escape(value))
    return "".join(out)


def local(moment: str | None, time_zone: str | None) -> str:
    if not moment:
        return ""
    return f"{parse(moment).astimezone(zone(time_zone)):%a %d %b %Y %H:%M}"


def values_for(kind: str, context: Mapping[str, Any], contact: Mapping[str, Any] | None, time_zone: str | None,
               items: list[tuple[str, str]] | None = None) -> dict[str, str]:
    """Every placeholder of `kind`, from the context, the freshest contact details and the zone.
    `items` (subject, link) are a digest's entries."""
    contact = contact or {}
    name = contact.get("name") or context.get("contact_name") or "your contact"
    organisation = contact.get("organisation") or context.get("contact_organisation") or ""
    zone_name = time_zone or "UTC"
    values = {"contact": f"{name} ({organisation})" if organisation else name, "contact_name": name,
              "contact_organisation": organisation, "link": context.get("link") or "", "time_zone": zone_name}
    if kind in REMINDER_KINDS:
        where = context.get("place") or context.get("meeting_url") or (
            "by phone" if context.get("format") == "phone" else "details to follow")
        values.update(
            start_local=local(context.get("start"), zone_name),
            end_local=local(context.get("end"), zone_name),
            format=FORMATS.get(context.get("format") or "", context.get("format") or "a conversation"),
            where=where,
            hours_before="24" if kind == "interview_reminder_24h" else "1",
        )
    elif kind in FOLLOW_UP_KINDS:
        values.update(reason=context.get("reason") or "", due_local=local(context.get("due_at"), zone_name),
                      overdue_local=local(context.get("overdue_at"), zone_name))
    else:
        entries = items or []
        values = {"count": str(len(entries)), "date_local": context.get("date") or "", "time_zone": zone_name,
                  "items": "\n".join(f"- {subject} ({link})" if link else f"- {subject}" for subject, link in entries)}
    return values


def compose(kind: str, template: Mapping[str, str], values: Mapping[str, str], *, late_since: str | None = None,
            html_items: list[tuple[str, str]] | None = None) -> tuple[str, str, str]:
    """(subject, text, html). `late_since` (a local time) puts the lateness in the first line."""
    html_values = dict(values)
    if html_items is not None:
        html_values["items"] = Safe("<ul>" + "".join(
            f"<li>{html.escape(subject)}" + (f" ({html.escape(link)})" if link else "") + "</li>"
            for subject, link in html_items) + "</ul>")
    subject = " ".join(render(template["subject"], values).split())
    text = render(template["text"], values)
    body = render(template["html"], html_values, as_html=True)
    if late_since:
        note = f"This message is late: it was due {late_since}."
        text = f"{note}\n\n{text}"
        body = f"<p><em>{html.escape(note)}</em></p>{body}"
    return subject, text, body


def payload(notification_id: str, kind: str, recipient_id: str, subject: str, text: str, *, link: str,
            late: bool, due_at: str, now: datetime, context: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook body: a CloudEvents-shaped JSON object (the receiver dedupes on `id`)."""
    shared = {k: context.get(k) for k in ("interview_id", "contact_id", "start", "end", "rule", "date",
                                          "items") if context.get(k) is not None}
    return {"specversion": "1.0", "type": f"careerloop.notification.{kind}", "source": "/careerloop/notifications",
            "id": notification_id, "time": now.isoformat().replace("+00:00", "Z"), "subject": recipient_id,
            "datacontenttype": "application/json",
            "data": {"kind": kind, "subject": subject, "text": text, "link": link, "late": late, "due_at": due_at,
                     **shared}}
