"""The analytics rules, pure: funnel steps of a pair, the academic calendar, the roster file, a
student's cohort on a day, and small-cell suppression."""
from __future__ import annotations

from datetime import date

import pytest

from services.analytics.domain import (
    Calendar,
    Definition,
    RosterError,
    StudentCohort,
    cohort_at,
    lines_of,
    pair_steps,
    parse_roster,
    suppress,
    thank_you_on_time,
)

RULES = Definition(1)
DEFAULT = Calendar.parse("spring:01-01,summer:05-15,fall:08-15", "07-01")


def at(day: str, hour: int = 12) -> str:
    return f"{day}T{hour:02d}:00:00.000000Z"


def test_a_pair_that_only_reached_out_is_contacted_and_nothing_more() -> None:
    assert pair_steps({"signals": {"outreach": [at("2026-09-02"), at("2026-09-01")]}}, RULES) == {
        "contacted": at("2026-09-01")}


def test_a_held_interview_implies_the_earlier_steps_at_its_moment_when_they_have_none() -> None:
    pair = {"signals": {"outreach": [at("2026-09-01")]}, "held": {"i1": at("2026-09-20")}}
    assert pair_steps(pair, RULES) == {"contacted": at("2026-09-01"), "replied": at("2026-09-20"),
                                       "interview_scheduled": at("2026-09-20"), "interview_held": at("2026-09-20")}


def test_thank_you_follow_up_and_ongoing_need_a_conversation_and_follow_the_definition() -> None:
    pair = {"signals": {"outreach": [at("2026-09-01")], "reply": [at("2026-09-03")],
                        "scheduled": [at("2026-09-05")], "thank_you": [{"at": at("2026-09-11", 10), "hours": 30.0}],
                        "check_in": [at("2026-09-25"), at("2026-11-20")]},
            "held": {"i1": at("2026-09-10", 4)}}
    steps = pair_steps(pair, RULES)
    assert steps["thank_you_sent"] == at("2026-09-11", 10)
    assert steps["followed_up"] == at("2026-09-25")
    assert steps["ongoing"] == at("2026-11-20")  # 8 weeks after 2026-09-10 is 2026-11-05
    assert not thank_you_on_time(pair, RULES)  # 30 hours
    assert thank_you_on_time(pair, Definition(2, thank_you_within_hours=48))
    assert "ongoing" not in pair_steps({**pair, "signals": {**pair["signals"], "check_in": [at("2026-09-25")]}}, RULES)


def test_a_second_conversation_makes_a_pair_ongoing() -> None:
    pair = {"signals": {}, "held": {"i1": at("2026-09-10"), "i2": at("2026-09-30")}}
    assert pair_steps(pair, RULES)["ongoing"] == at("2026-09-30")
    assert "followed_up" not in pair_steps(pair, RULES)


@pytest.mark.parametrize("day, term, year", [
    ("2026-08-14", "summer-2026", "2026-27"), ("2026-08-15", "fall-2026", "2026-27"),
    ("2026-12-31", "fall-2026", "2026-27"), ("2027-01-01", "spring-2027", "2026-27"),
    ("2027-06-30", "summer-2027", "2026-27"), ("2027-07-01", "summer-2027", "2027-28"),
])
def test_terms_and_academic_years(day: str, term: str, year: str) -> None:
    assert DEFAULT.term_of(date.fromisoformat(day)) == term
    assert DEFAULT.academic_year_of(date.fromisoformat(day)) == year


def test_a_day_before_the_first_term_start_belongs_to_last_years_last_term() -> None:
    quarters = Calendar.parse("winter:01-05,spring:03-30,summer:06-22,fall:09-21", "07-01")
    assert quarters.term_of(date(2027, 1, 2)) == "fall-2026"


@pytest.mark.parametrize("terms, message", [("fall", "not MM-DD"), ("fall:13-01", "month"),
                                             ("Fall:08-15", "term name"), ("a:01-01,a:02-01", "own name")])
def test_a_wrong_calendar_names_its_problem(terms: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Calendar.parse(terms, "07-01")


def test_the_roster_reads_aliases_ignores_extra_columns_and_reports_each_bad_row() -> None:
    data = ("\ufeffStudent ID,Major,School,Degree,Expected Graduation Term,Favourite colour\r\n"
            "s1,Economics,Arts & Sciences,Undergraduate,Spring 2027,blue\r\n"
            "s2,History,Arts & Sciences,Masters,,green\r\n"
            "\r\n"
            "s1,Physics,Science,Undergraduate,fall-2027,red\r\n"
            ",Physics,Science,Undergraduate,fall-2027,red\r\n"
            "s3,Physics,Science,Doctoral,someday,red\r\n").encode()
    rows, warnings = parse_roster(data, 100)
    assert warnings == ["ignored columns: Favourite colour"]
    assert [(r.line, r.error) for r in rows] == [
        (2, None), (3, "class_year: missing (or give expected_graduation)"), (5, "student_id: also on line 2"),
        (6, "student_id: missing"),
        (7, "expected_graduation: 'someday' is not a term and a year (e.g. spring 2027)")]
    assert rows[0].cohort == {"student_id": "s1", "program": "Economics", "college": "Arts & Sciences",
                              "degree_level": "undergraduate", "class_year": "2027",
                              "expected_graduation": "spring-2027"}


@pytest.mark.parametrize("data, message", [
    (b"", "empty"), (b"student_id,program\n", "lacks the columns: college, degree_level, class_year"),
    (b"\xff\xfe", "not UTF-8"),
    (b"student_id,program,college,degree_level,class_year\n" + b"s,p,c,d,2027\n" * 4, "more than 3 rows"),
])
def test_a_file_that_is_no_roster_is_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(RosterError, match=message):
        parse_roster(data, 3)


def test_a_cohort_change_is_recorded_once_and_the_day_decides_which_record_is_in_effect() -> None:
    student = StudentCohort("cohort-s1")
    economics = {"student_id": "s1", "program": "Economics", "college": "A", "degree_level": "undergraduate",
                 "class_year": "2027", "expected_graduation": None}
    assert student.record_cohort(economics, "2026-08-20", "u1")
    assert not student.record_cohort(economics, "2026-09-01", "u2")  # already in effect
    assert student.record_cohort({**economics, "program": "History"}, "2026-10-01", "u3")
    assert [e.name for e in student.pending] == ["StudentCohortRecorded"] * 2
    assert cohort_at(student.records, at("2026-08-01"))["program"] == "Economics"  # before the first: the first
    assert cohort_at(student.records, at("2026-09-30"))["program"] == "Economics"
    assert cohort_at(student.records, "2026-10-01")["program"] == "History"
    assert cohort_at([], "2026-10-01") is None


def test_a_small_cell_is_hidden_with_the_smallest_other_cell_of_its_line() -> None:
    counts = {("a",): 12, ("b",): 7, ("c",): 3}
    assert suppress(counts, lines_of(list(counts)), 5) == {("b",), ("c",)}
    assert suppress({("a",): 12, ("b",): 0}, lines_of([("a",), ("b",)]), 5) == set()  # empty reveals no one
    assert suppress({("a",): 2, ("b",): 3, ("c",): 9}, lines_of([("a",), ("b",), ("c",)]), 5) == {("a",), ("b",)}
    # an empty cell is a poor complement: the smallest one that counts someone is taken
    assert suppress({("a",): 0, ("b",): 3, ("c",): 9}, lines_of([("a",), ("b",), ("c",)]), 5) == {("b",), ("c",)}


def test_in_a_cross_table_no_row_or_column_has_exactly_one_hidden_cell() -> None:
    counts = {("x", "1"): 9, ("x", "2"): 8, ("x", "3"): 2, ("y", "1"): 7, ("y", "2"): 11, ("y", "3"): 6,
              ("z", "1"): 10, ("z", "2"): 12, ("z", "3"): 13}
    groups = sorted(counts)
    hidden = suppress(counts, lines_of(groups), 5)
    assert ("x", "3") in hidden
    for line in lines_of(groups):
        assert sum(1 for cell in line if cell in hidden) != 1, line
