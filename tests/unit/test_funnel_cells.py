"""The vectorised funnel (`services.analytics.cells`) counts exactly what a plain walk over the same
documents counts: distinct students and pairs per cell, conversions and their medians, thank-yous
on time and interview outcomes by side, for random histories, dimensions and windows. The walk
below is the reference: slow and obvious, written from the rules in `services.analytics.domain`."""
from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.analytics.cells import Facts, Window, engagement_table, funnel_table
from services.analytics.domain import CANCELLED_BY, MISSED_BY, STEPS, Calendar, Definition, cohort_at, week_of

CALENDAR = Calendar.parse("spring:01-01,summer:05-15,fall:08-15", "07-01")
RULES = Definition(1)
START = datetime(2025, 12, 20, tzinfo=UTC)
STUDENTS = [f"s{n}" for n in range(6)]
CONTACTS = [f"c{n}" for n in range(5)]


def moment(hours: int) -> str:
    return (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@st.composite
def histories(draw: Any) -> Facts:
    pairs = []
    for student in STUDENTS:
        for contact in draw(st.lists(st.sampled_from(CONTACTS), unique=True, max_size=4)):
            reached = draw(st.integers(0, len(STEPS)))
            hours = sorted(draw(st.lists(st.integers(0, 24 * 120), min_size=reached, max_size=reached)))
            pairs.append({"student": student, "contact": contact, "on_time": draw(st.booleans()),
                          "steps": {step: moment(h) for step, h in zip(STEPS, hours, strict=False)}})
    interviews = []
    for n in range(draw(st.integers(0, 12))):
        outcome = draw(st.sampled_from(["held", "missed", "cancelled", None]))
        doc: dict[str, Any] = {"_id": f"i{n}", "student": draw(st.sampled_from(STUDENTS)),
                               "contact": draw(st.sampled_from([*CONTACTS, None]))}
        if outcome:
            doc[f"{outcome}_at"] = moment(draw(st.integers(0, 24 * 120)))
            side = draw(st.sampled_from([*MISSED_BY, *CANCELLED_BY, None]))
            doc["missed_by" if outcome == "missed" else "cancelled_by"] = side
        interviews.append(doc)
    contacts = {c: {"industry": draw(st.sampled_from(["software", "finance", None])),
                    "organisation": draw(st.sampled_from(["Acme", "Globex"]))} for c in CONTACTS[:4]}
    cohorts = {}
    for student in STUDENTS[:5]:
        days = sorted(draw(st.sets(st.integers(0, 120), max_size=2)))
        cohorts[student] = [{"effective_from": (START + timedelta(days=d)).date().isoformat(),
                             "program": draw(st.sampled_from(["History", "Biology"])), "college": "Arts",
                             "degree_level": "undergraduate", "class_year": "2027"} for d in days]
    activity = []
    for student in STUDENTS:
        for hours in draw(st.sets(st.integers(0, 24 * 120), max_size=6)):
            at = moment(hours)
            week = week_of(at)
            if all(a["week"] != week or a["student"] != student for a in activity):
                activity.append({"student": student, "week": week, "first_at": at})
    return Facts(pairs=pairs, interviews=interviews, contacts=contacts, cohorts=cohorts, activity=activity)


def reference(facts: Facts, dimensions: list[str], window: Window) -> dict[tuple, dict[str, Any]]:
    """Per group (and () for the total): the numbers of each step and of the interviews."""
    def day_terms(day: str) -> dict[str, str]:
        on = datetime.fromisoformat(day).date()
        return {"term": CALENDAR.term_of(on), "academic_year": CALENDAR.academic_year_of(on)}

    def group(at: str, student: str, contact: str | None) -> tuple:
        cohort = cohort_at(facts.cohorts.get(student) or [], at[:10]) or {}
        about = facts.contacts.get(contact or "") or {}
        terms = day_terms(at[:10])
        return tuple(terms[d] if d in terms else str((cohort if d in ("program", "college", "class_year",
                                                                     "degree_level") else about).get(d) or "unknown")
                     for d in dimensions)

    out: dict[tuple, dict[str, Any]] = {}

    def cell(g: tuple) -> dict[str, Any]:
        return out.setdefault(g, {"students": {s: set() for s in STEPS}, "pairs": {s: 0 for s in STEPS},
                                  "next": {s: [] for s in STEPS}, "on_time": [], "iv_students": set(),
                                  "outcomes": []})

    for pair in facts.pairs:
        steps = pair["steps"]
        for position, step in enumerate(STEPS):
            if step not in steps or not window.admits(steps[step][:10], day_terms(steps[step][:10])):
                continue
            for g in {group(steps[step], pair["student"], pair["contact"]), ()}:
                c = cell(g)
                c["students"][step].add(pair["student"])
                c["pairs"][step] += 1
                if position + 1 < len(STEPS):
                    following = STEPS[position + 1]
                    c["next"][following].append(
                        (datetime.fromisoformat(steps[following]) - datetime.fromisoformat(steps[step])).total_seconds()
                        / 86400 if following in steps else None)
                if step == "interview_held":
                    c["on_time"].append(pair["on_time"])
    for interview in facts.interviews:
        outcome = next((o for o in ("held", "missed", "cancelled") if interview.get(f"{o}_at")), None)
        if outcome is None or not window.admits(interview[f"{outcome}_at"][:10],
                                                day_terms(interview[f"{outcome}_at"][:10])):
            continue
        side = interview.get("missed_by") if outcome == "missed" else interview.get("cancelled_by")
        side = None if outcome == "held" else side if side in (MISSED_BY if outcome == "missed" else CANCELLED_BY) \
            else "contact" if outcome == "missed" else "other"
        for g in {group(interview[f"{outcome}_at"], interview["student"], interview.get("contact")), ()}:
            cell(g)["iv_students"].add(interview["student"])
            cell(g)["outcomes"].append((outcome, side))
    return out


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from([[], ["program"], ["industry"], ["term", "program"], ["organisation", "college"],
                                     ["academic_year"]]),
       st.sampled_from([Window(), Window("2026-01-01", "2026-02-15"), Window(term="spring-2026")]))
def test_the_vectorised_funnel_counts_what_a_plain_walk_counts(facts: Facts, dimensions: list[str],
                                                                window: Window) -> None:
    table = funnel_table(facts, dimensions, window, CALENDAR, RULES, minimum=1)  # nothing suppressed
    expected = reference(facts, dimensions, window)
    answered = {tuple(g["key"][d] for d in dimensions): g for g in table["groups"]}
    answered[()] = table["total"]
    assert set(answered) == ((set(expected) | {()}) if dimensions else {()})
    for group, row in answered.items():
        want = expected.get(group) or {"students": {s: set() for s in STEPS}, "pairs": {s: 0 for s in STEPS},
                                       "next": {s: [] for s in STEPS}, "on_time": [], "iv_students": set(),
                                       "outcomes": []}
        for position, cell in enumerate(row["steps"]):
            step = cell["step"]
            assert (cell["students"], cell["pairs"]) == (len(want["students"][step]), want["pairs"][step])
            if position:
                base = want["next"][step]
                converted = [d for d in base if d is not None]
                assert cell["conversion"] == (round(len(converted) / len(base), 4) if base else None)
                assert cell["median_days_from_previous"] == (
                    round(statistics.median(converted), 2) if converted else None)
        timely = want["on_time"]
        assert row["thank_you_on_time_rate"] == (round(sum(timely) / len(timely), 4) if timely else None)
        interviews = row["interviews"]
        if not want["iv_students"]:
            assert interviews["held"] == 0 and interviews["missed"] is None
            continue
        assert interviews["held"] == sum(1 for o, _ in want["outcomes"] if o == "held")
        assert interviews["missed"] == {s: want["outcomes"].count(("missed", s)) for s in MISSED_BY}
        assert interviews["cancelled"] == {s: want["outcomes"].count(("cancelled", s)) for s in CANCELLED_BY}


@settings(max_examples=100, deadline=None)
@given(histories(), st.sampled_from([[], ["program"], ["term"], ["college", "academic_year"]]),
       st.sampled_from([Window(), Window("2026-01-01", "2026-02-15"), Window(term="spring-2026")]))
def test_the_vectorised_engagement_counts_what_a_plain_walk_counts(facts: Facts, dimensions: list[str],
                                                                    window: Window) -> None:
    table = engagement_table(facts, dimensions, window, CALENDAR, minimum=1)
    active: dict[tuple, set] = {}
    talks: dict[tuple, int] = {}

    def group(at: str, student: str) -> tuple:
        cohort = cohort_at(facts.cohorts.get(student) or [], at[:10]) or {}
        on = datetime.fromisoformat(at[:10]).date()
        terms = {"term": CALENDAR.term_of(on), "academic_year": CALENDAR.academic_year_of(on)}
        return tuple(terms[d] if d in terms else str(cohort.get(d) or "unknown") for d in dimensions)

    def admitted(at: str) -> bool:
        on = datetime.fromisoformat(at[:10]).date()
        return window.admits(at[:10], {"term": CALENDAR.term_of(on), "academic_year": CALENDAR.academic_year_of(on)})

    for doc in facts.activity or []:
        if admitted(doc["first_at"]):
            for g in {group(doc["first_at"], doc["student"]), ()}:
                active.setdefault((doc["week"], g), set()).add(doc["student"])
    for interview in facts.interviews:
        if interview.get("held_at") and admitted(interview["held_at"]):
            for g in {group(interview["held_at"], interview["student"]), ()}:
                key = (week_of(interview["held_at"]), g)
                talks[key] = talks.get(key, 0) + 1
    assert table["weeks"] == sorted({w for w, _ in active} | {w for w, _ in talks})
    series = {tuple(s["key"][d] for d in dimensions): s["points"] for s in table["series"]}
    assert set(series) == (({g for _, g in active} | {g for _, g in talks}) - {()} if dimensions else set())
    for g, points in [*series.items(), ((), table["total"])]:
        for point in points:
            assert point["active_students"] == len(active.get((point["week"], g), ()))
            assert point["conversations"] == talks.get((point["week"], g), 0)
