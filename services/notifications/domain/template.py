"""The templates of one kind of notification, the placeholders each kind offers, and the grammar
every template must keep.

A template is text with `{placeholder}` fields (`{{` and `}}` are literal braces). Only plain names
the kind offers are allowed: no attribute or index access (`{contact.__class__}`, `{items[0]}`),
conversions (`!r`) or format specs (`:>10`), so a template can never reach into the objects it is
rendered with nor fail at send time. `rendering` substitutes the values itself, by name; it never
hands a template to `str.format`.
"""
from __future__ import annotations

from string import Formatter
from typing import Any

from services.notifications.domain.errors import DomainError
from shared.aggregate import Aggregate, applies
from shared.contracts.notifications import FOLLOW_UP_KINDS, REMINDER_KINDS

_CONTACT = {"contact": "the contact's name, with the organisation in brackets when known",
            "contact_name": "the contact's name", "contact_organisation": "the contact's organisation (may be empty)",
            "link": "path of the page in careerloop, e.g. /interviews/<id>"}
PLACEHOLDERS: dict[str, dict[str, str]] = {
    **{kind: {**_CONTACT, "start_local": "start, in the recipient's zone", "end_local": "end, in the recipient's zone",
              "time_zone": "the recipient's zone", "format": "video call, phone call or in person",
              "where": "the place, the call's link, or 'by phone'", "hours_before": "24 or 1"}
       for kind in REMINDER_KINDS},
    **{kind: {**_CONTACT, "reason": "what is due, in one sentence", "due_local": "when it fell due",
              "overdue_local": "when it becomes overdue (may be empty)", "time_zone": "the recipient's zone"}
       for kind in FOLLOW_UP_KINDS},
    "digest": {"count": "how many items", "items": "the list of items", "date_local": "the digest's day",
               "time_zone": "the recipient's zone"},
}


def fields_of(template: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder name or None) pairs; ValueError when the braces do not pair up."""
    return [(literal, name) for literal, name, _, _ in Formatter().parse(template)]


def check_template(kind: str, template: str) -> list[str]:
    """What is wrong with a template of `kind` (empty when it is fine)."""
    known = PLACEHOLDERS[kind]
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        return [f"malformed template: {exc} (write {{{{ and }}}} for literal braces)"]
    problems = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if any(c in name for c in ".[]") or name.isdigit() or not name:
            problems.append(f"{{{name}}}: only plain placeholder names are allowed (no attribute or index access, "
                            "no positional fields)")
        elif name not in known:
            problems.append(f"unknown placeholder {{{name}}}; {kind} offers: "
                            + ", ".join(f"{{{k}}}" for k in known))
        elif spec or conversion:
            problems.append(f"{{{name}}} takes no format spec or conversion")
    return problems


class Template(Aggregate):
    """The subject, text and HTML templates of one kind (stream `template:<kind>`); the defaults
    (in `rendering`) apply until an admin changes them."""

    stream_type = "template"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.kind = aggregate_id.removeprefix("template:")
        self.parts: dict[str, str] | None = None  # None: the defaults

    @staticmethod
    def stream_for(kind: str) -> str:
        return f"template:{kind}"

    def change(self, subject: str, text: str, html: str) -> None:
        errors = {name: check_template(self.kind, value) for name, value in
                  (("subject", subject), ("text", text), ("html", html))}
        for name, problems in errors.items():
            if problems:
                raise DomainError(name, "; ".join(problems))
        if self.parts != {"subject": subject, "text": text, "html": html}:
            self.record("NotificationTemplateChanged", kind=self.kind, subject=subject, text=text, html=html)

    @applies("NotificationTemplateChanged")
    def _changed(self, data: dict[str, Any]) -> None:
        self.parts = {"subject": data["subject"], "text": data["text"], "html": data["html"]}
