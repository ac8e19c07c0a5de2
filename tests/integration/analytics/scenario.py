"""A seeded history with answers the tests compute from the scenario itself (never from the code
under test): who is in which program when, which pair got how far, and when.

27 students: s00-s11 Economics, s12-s23 History (both Arts), s24-s26 Physics (Science, a group too
small to show). s05 moves from Economics to History on 2026-09-15. Student i has 1 + i % 3 contacts;
pair (i, j) gets `depth` = (i + 2j) % 7 steps into the funnel (0: contacted only ... 6: ongoing),
starting on 2026-09-01 + (i % 10) + 3j days at 14:00 UTC. A pair scheduled but never held (depth 2)
ends with a no-show (even i: the student when j is even, else the contact) or a cancellation by the
contact (odd i).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tests.integration.analytics.conftest import T0, Journey

STEPS = ("contacted", "replied", "interview_scheduled", "interview_held", "thank_you_sent", "followed_up", "ongoing")
STUDENTS = [f"s{i:02d}" for i in range(27)]
MOVER, MOVED_ON = "s05", date(2026, 9, 15)
INDUSTRIES = ("Finance", "Education", "Technology")


def program_of(student: str, on: date) -> str:
    i = int(student[1:])
    if student == MOVER and on >= MOVED_ON:
        return "History"
    return "Economics" if i < 12 else "History" if i < 24 else "Physics"


def roster_csv() -> str:
    lines = ["Student ID,Major,School,Degree Level,Class Year,Advisor Name"]
    for student in STUDENTS:
        program = program_of(student, date(2026, 8, 20))
        lines.append(f"{student},{program},{'Science' if program == 'Physics' else 'Arts'},Undergraduate,2027,Dr X")
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True)
class Pair:
    student: str
    contact: str
    interview: str
    depth: int
    start: datetime
    reply_days: int
    thank_you_hours: int

    @property
    def steps(self) -> dict[str, datetime]:
        held = self.start + timedelta(days=10)
        moments = {"contacted": self.start, "replied": self.start + timedelta(days=self.reply_days),
                   "interview_scheduled": self.start + timedelta(days=5), "interview_held": held,
                   "thank_you_sent": held + timedelta(hours=self.thank_you_hours),
                   "followed_up": held + timedelta(days=14), "ongoing": held + timedelta(days=60)}
        return {step: moments[step] for step in STEPS[:self.depth + 1]}

    @property
    def outcome(self) -> tuple[str, str] | None:
        """How an interview scheduled and never held ended: (missed | cancelled, by whom)."""
        if self.depth != 2:
            return None
        i, j = int(self.student[1:]), int(self.contact.split("-")[1])
        if i % 2 == 0:
            return ("missed", "student" if j % 2 == 0 else "contact")
        return ("cancelled", "contact")


def pairs() -> list[Pair]:
    found = []
    for i, student in enumerate(STUDENTS):
        for j in range(1 + i % 3):
            found.append(Pair(student, f"c{i}-{j}", f"i{i}-{j}", (i + 2 * j) % 7,
                              T0 + timedelta(days=i % 10 + 3 * j), 1 + (i + j) % 3, 12 if (i + j) % 2 == 0 else 30))
    return found


def publish_history(journey: Journey) -> None:
    """Every pair's journey as the translator would publish it, student by student in time order."""
    for student in STUDENTS:
        events = [journey.event("StudentActivated", student, T0 - timedelta(days=1))]
        for pair in (p for p in pairs() if p.student == student):
            steps, c, v = pair.steps, pair.contact, pair.interview
            events.append(journey.event("ContactAdded", student, pair.start - timedelta(hours=1), contact=c,
                                        industry=INDUSTRIES[int(c.split("-")[1]) % 3].lower(),
                                        organisation=f"Org {c.split('-')[1]}", source="manual"))
            events.append(journey.event("OutreachSent", student, steps["contacted"], contact=c))
            if "replied" in steps:
                events.append(journey.event("ReplyReceived", student, steps["replied"], contact=c))
            if "interview_scheduled" in steps:
                scheduled = steps["interview_scheduled"]
                events.append(journey.event("InterviewRequested", student, scheduled - timedelta(hours=1), contact=c,
                                            interview=v, format="video", duration_minutes=30))
                events.append(journey.event("InterviewScheduled", student, scheduled, contact=c, interview=v,
                                            format="video", duration_minutes=30, lead_time_hours=120))
            if pair.outcome is not None:
                kind, side = pair.outcome
                at = steps["interview_scheduled"] + timedelta(days=5)
                if kind == "missed":
                    events.append(journey.event("InterviewMissed", student, at, contact=c, interview=v, missed_by=side))
                else:
                    events.append(journey.event("InterviewCancelled", student, at, contact=c, interview=v,
                                                cancelled_by=side))
            if "interview_held" in steps:
                events.append(journey.event("InterviewHeld", student, steps["interview_held"], contact=c, interview=v))
                events.append(journey.event("NoteRecorded", student, steps["interview_held"] + timedelta(hours=1),
                                            contact=c, interview=v, insight_categories=["advice"], action_item_count=1))
            if "thank_you_sent" in steps:
                events.append(journey.event("ThankYouSent", student, steps["thank_you_sent"], contact=c,
                                            hours_after_interview=pair.thank_you_hours))
            if "followed_up" in steps:
                events.append(journey.event("CheckInMade", student, steps["followed_up"], contact=c))
            if "ongoing" in steps:
                events.append(journey.event("CheckInMade", student, steps["ongoing"], contact=c))
        events.sort(key=lambda e: e["time"])
        journey.publish(events)


def expected_funnel(min_cell: int, thank_you_hours: float = 24) -> dict[str, Any]:
    """The funnel by program, from the scenario: per (program, step) the distinct students, pairs,
    conversion from the previous step and median days from it; which cells must be hidden; the total."""
    cells: dict[tuple[str, str], dict[str, set]] = {}
    base: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    held_on_time: dict[str, list[bool]] = {}
    for pair in pairs():
        steps = pair.steps
        for n, (step, moment) in enumerate(steps.items()):
            for group in (program_of(pair.student, moment.date()), "(total)"):
                cell = cells.setdefault((group, step), {"students": set(), "pairs": set()})
                cell["students"].add(pair.student)
                cell["pairs"].add(pair.contact)
                if n + 1 < len(STEPS):
                    base.setdefault((group, STEPS[n + 1]), []).append((moment, steps.get(STEPS[n + 1])))
                if step == "interview_held":
                    held_on_time.setdefault(group, []).append(
                        "thank_you_sent" in steps and pair.thank_you_hours <= thank_you_hours)
    groups = sorted({g for g, _ in cells} - {"(total)"})
    answer: dict[str, Any] = {"groups": groups, "cells": {}, "hidden": set(), "on_time": {}}
    for (group, step), cell in cells.items():
        pairs_before = base.get((group, step), [])
        converted = [(a, b) for a, b in pairs_before if b is not None]
        answer["cells"][(group, step)] = {
            "students": len(cell["students"]), "pairs": len(cell["pairs"]),
            "conversion": round(len(converted) / len(pairs_before), 4) if pairs_before else None,
            "median_days_from_previous": round(statistics.median(
                (b - a).total_seconds() / 86400 for a, b in converted), 2) if converted else None}
    for step in STEPS:
        counts = {g: answer["cells"].get((g, step), {"students": 0})["students"] for g in groups}
        small = {g for g, n in counts.items() if 0 < n < min_cell}
        if len(small) == 1:  # three groups: one more hides it, the smallest of the others who counts someone
            others = [g for g in groups if g not in small]
            small.add(min([g for g in others if counts[g]] or others, key=lambda g: (counts[g], g)))
        answer["hidden"] |= {(g, step) for g in small}
        if 0 < answer["cells"].get(("(total)", step), {"students": 0})["students"] < min_cell:
            answer["hidden"].add(("(total)", step))
    answer["on_time"] = {g: round(sum(v) / len(v), 4) for g, v in held_on_time.items()}
    return answer


def expected_interviews() -> dict[str, Any]:
    """Interview outcomes of the whole history: held, no-shows and cancellations by side."""
    held = sum(1 for p in pairs() if p.depth >= 3)
    outcomes = [p.outcome for p in pairs() if p.outcome]
    missed = {side: sum(1 for o in outcomes if o == ("missed", side)) for side in ("student", "contact")}
    cancelled = sum(1 for o in outcomes if o[0] == "cancelled")
    return {"held": held, "missed": missed, "cancelled_by_contact": cancelled,
            "no_show_rate": {side: round(n / (held + sum(missed.values())), 4) for side, n in missed.items()}}
