"""The policies (source event + facts -> what to schedule or suppress) and the templates, pure."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notifications import policies
from services.notifications.domain import PLACEHOLDERS, check_template, notification_ids
from services.notifications.rendering import DEFAULT_TEMPLATES, compose, render, values_for

CHANNELS = {"interview_reminder_24h": ["email", "in_app"], "interview_reminder_1h": ["in_app"],
            "thank_you_due": ["webhook"], "follow_up_due": [], "check_in_due": ["in_app"]}
INTERVIEW = {"contact_id": "c1", "contact_name": "Jane Doe", "format": "video", "meeting_url": "https://meet.example",
             "place": None, "objectives": ["Learn"]}
DATA = {"student_id": "student-1", "contact_id": "c1", "start": "2026-03-05T09:00:00.000000Z",
        "end": "2026-03-05T09:30:00.000000Z", "time_zone": "Europe/Berlin", "student_time_zone": "Europe/Berlin",
        "sequence": 0}


def event(event_id: str, time: str, version: int = 2) -> policies.SourceEvent:
    return policies.SourceEvent(event_id, "careerloop.scheduling.InterviewScheduled.v1", time, "interview-1", version)


def test_an_interview_gets_each_reminder_on_each_chosen_channel() -> None:
    decision = policies.on_interview_time(event("e1", "2026-03-02T09:00:00Z"), DATA, INTERVIEW, {"name": "Jane Doe",
                                          "organisation": "Acme"}, CHANNELS, None, [])
    assert sorted((p.kind, p.channel) for p in decision.schedule) == [
        ("interview_reminder_1h", "in_app"), ("interview_reminder_24h", "email"), ("interview_reminder_24h", "in_app")]
    due = {p.kind: p.send_at.isoformat() for p in decision.schedule}
    assert due == {
        "interview_reminder_24h": "2026-03-04T09:00:00+00:00",
        "interview_reminder_1h": "2026-03-05T08:00:00+00:00",
    }
    plan = decision.schedule[0]
    assert plan.context["contact_organisation"] == "Acme" and plan.context["link"] == "/interviews/interview-1"
    assert plan.context["time_zone"] == "Europe/Berlin"  # the interview's zone when none is preferred
    assert plan.source["event_id"] == "e1" and all(p.not_sent_because is None for p in decision.schedule)
    assert decision.suppress == []


def test_planning_the_same_event_twice_gives_the_same_streams() -> None:
    first = policies.on_interview_time(event("e1", "2026-03-02T09:00:00Z"), DATA, INTERVIEW, None, CHANNELS, None, [])
    again = policies.on_interview_time(event("e1", "2026-03-02T09:00:00Z"), DATA, INTERVIEW, None, CHANNELS, None, [])
    assert [p.id for p in first.schedule] == [p.id for p in again.schedule]
    assert len({p.id for p in first.schedule}) == 3


def test_a_reminder_whose_time_passed_when_the_interview_was_booked_is_recorded_as_too_late() -> None:
    booked_half_an_hour_ahead = event("e1", "2026-03-05T08:30:00Z")
    decision = policies.on_interview_time(booked_half_an_hour_ahead, DATA, INTERVIEW, None, CHANNELS, None, [])
    assert {p.not_sent_because for p in decision.schedule} == {
        "too late: the interview was booked after this reminder's time"}


def test_a_reschedule_makes_the_reminders_of_every_earlier_time_moot() -> None:
    moved = {**DATA, "start": "2026-03-06T09:00:00.000000Z", "end": "2026-03-06T09:30:00.000000Z", "sequence": 1}
    decision = policies.on_interview_time(event("e2", "2026-03-03T09:00:00Z", 3), moved, INTERVIEW, None, CHANNELS,
                                          "Asia/Tokyo", ["e1"])
    [moot] = decision.suppress
    assert moot.reason == "the interview was rescheduled"
    assert set(moot.ids) == set(
        notification_ids("e1", ["interview_reminder_24h", "interview_reminder_1h"], "student-1")
    )
    assert not set(moot.ids) & {p.id for p in decision.schedule}
    assert {p.context["time_zone"] for p in decision.schedule} == {"Asia/Tokyo"}  # the preferred zone wins


@pytest.mark.parametrize(("rule", "kind"), [("thank_you", "thank_you_due"), ("outreach_follow_up", "follow_up_due"),
                                            ("action_item", "follow_up_due"), ("stay_in_touch", "check_in_due")])
def test_a_follow_up_that_became_due_is_sent_from_its_announcement(rule: str, kind: str) -> None:
    data = {"student_id": "student-1", "rule": rule, "reason": "Send Jane a thank-you",
            "due_at": "2026-03-03T09:00:00.000000Z", "overdue_at": None, "contact_id": "c1", "link": "/x", "source": {}}
    announced = policies.SourceEvent("e9", "t", "2026-03-03T09:02:00Z", f"{rule}:x", 1)
    decision = policies.on_follow_up_due(announced, data, {"name": "Jane"}, {**CHANNELS, kind: ["in_app"]}, "UTC")
    [plan] = decision.schedule
    assert plan.kind == kind and plan.send_at == datetime(2026, 3, 3, 9, 2, tzinfo=UTC)
    assert plan.context["reason"] == "Send Jane a thank-you" and plan.context["contact_name"] == "Jane"
    dismissed = policies.on_follow_up_decided("student-1", [("e9", kind)], "the follow-up was dismissed")
    assert dismissed.suppress[0].ids == notification_ids("e9", [kind], "student-1")


def test_every_default_template_uses_only_its_own_placeholders() -> None:
    for kind, parts in DEFAULT_TEMPLATES.items():
        for text in parts.values():
            assert check_template(kind, text) == [], (kind, text)


@pytest.mark.parametrize(("template", "problem"), [
    ("Hello {name}", "unknown placeholder {name}"),
    ("Hello {contact_name.upper}", "only plain placeholder names are allowed"),
    ("Hello {contact.__class__}", "{contact.__class__}: only plain placeholder names are allowed (no attribute"),
    ("Hello {contact.__class__.__mro__[1].__subclasses__}", "only plain placeholder names are allowed"),
    ("Hello {items[0]}", "{items[0]}: only plain placeholder names are allowed (no attribute or index access"),
    ("Hello {reason[0]}", "only plain placeholder names are allowed"),
    ("Hello {0}", "no positional fields"),
    ("Hello {}", "no positional fields"),
    ("Hello {reason:{contact.__class__}}", "no format spec or conversion"),
    ("Hello {contact_name!r}", "no format spec or conversion"),
    ("Hello {contact_name:>30}", "no format spec or conversion"),
    ("Hello {contact_name", "malformed template"),
])
def test_templates_may_name_placeholders_only(template: str, problem: str) -> None:
    [found] = check_template("thank_you_due", template)
    assert problem in found


def test_rendering_never_evaluates_a_field_it_would_not_accept() -> None:
    """Even a template stored before the check (or written around it) only ever looks names up."""
    values = {"reason": "Thank Jane", "contact": "Jane"}
    assert render("{contact.__class__}|{reason[0]}|{reason}|{0}", values) == "||Thank Jane|"
    assert render("{contact.__init__.__globals__}", values, as_html=True) == ""


def test_rendering_escapes_values_in_html_and_says_when_a_message_is_late() -> None:
    context = {"contact_name": "<Jane & Co>", "reason": "Thank <Jane>", "due_at": "2026-03-03T09:00:00Z",
               "link": "/interviews/1"}
    values = values_for("thank_you_due", context, None, "Europe/Berlin")
    assert values["due_local"] == "Tue 03 Mar 2026 10:00" and values["contact"] == "<Jane & Co>"
    subject, text, html = compose("thank_you_due", {"subject": "Thank {contact_name}", "text": "{reason} {{ok}}",
                                                    "html": "<b>{reason}</b>"}, values, late_since="Tue 03 Mar 10:00")
    assert subject == "Thank <Jane & Co>" and text.startswith("This message is late: it was due Tue 03 Mar 10:00.")
    assert text.endswith("Thank <Jane> {ok}")
    assert "<b>Thank &lt;Jane&gt;</b>" in html and "<em>This message is late" in html


def test_a_digest_lists_its_items_escaped_in_html() -> None:
    items = [("Time to thank <Jane>", "/interviews/1"), ("Check in with Bob", "")]
    values = values_for("digest", {"date": "2026-03-03"}, None, "UTC", items)
    assert values["count"] == "2" and values["items"] == "- Time to thank <Jane> (/interviews/1)\n- Check in with Bob"
    _, _, html = compose("digest", DEFAULT_TEMPLATES["digest"], values, html_items=items)
    assert "<li>Time to thank &lt;Jane&gt; (/interviews/1)</li><li>Check in with Bob</li>" in html


def test_every_placeholder_of_a_kind_has_a_value() -> None:
    for kind in PLACEHOLDERS:
        values = values_for(kind, {"start": "2026-03-05T09:00:00Z", "end": "2026-03-05T09:30:00Z"}, None, None, [])
        assert set(PLACEHOLDERS[kind]) <= set(values), kind
    assert render("{where}", values_for("interview_reminder_1h", {"format": "phone"}, None, None)) == "by phone"
