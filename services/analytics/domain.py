"""The analytics rules, pure Python: the roster, the academic calendar, the funnel definition, the
aggregation of the read models into cells, and small-cell suppression.

*Cohorts.* A student's academic attributes come from the roster and change over time (a new major,
a new expected graduation). Every record says from which day it is in effect; a step of the journey
counts under the attributes in effect on the day it was taken (`cohort_at`), so a student who
changes major keeps their earlier steps under the old major. A step before the student's first
record counts under that first record (a roster is usually uploaded after the term began); a
student never on a roster counts as `unknown`.

*The funnel* (`Definition`, versioned: a new version is a rebuild of the read models). Per
student–contact pair, each step and the first moment it was reached (`pair_steps`):

1. contacted: the first outreach;  2. replied: the first reply;  3. interview_scheduled;
4. interview_held: the first conversation. An earlier of these four is implied by a later one (an
   interview the contact arranged was still a contact made), at the later one's time if it has no
   moment of its own before;
5. thank_you_sent: the first thank-you at or after the first conversation (within
   `thank_you_within_hours` of it, or not);
6. followed_up: the first outreach, check-in or follow-up done after the first conversation;
7. ongoing: a second conversation, or any touch at least `ongoing_after_weeks` after the first one.
Steps 5-7 need a held interview, not each other.

*Cells.* A step is counted in the group of its own moment: the term and academic year it fell in,
the student's attributes then, the contact's industry and organisation. A cell counts distinct
students and pairs; a step's conversion is the share of the pairs whose previous step is in the
cell that reached this step (at any time), with the median days between the two.

*Suppression.* A cell of fewer than `min_cell` distinct students shows no numbers. Cells that add
up to a published total (every group of a column, and with two dimensions every row and column of
the cross table, whose totals a one-dimension query publishes) get complementary suppression: when
one cell of such a line is hidden, the smallest other non-empty one is hidden too, until no line has exactly
one hidden cell, so no hidden cell is the difference of published numbers.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared.aggregate import Aggregate, applies
from shared.times import parse

STEPS = ("contacted", "replied", "interview_scheduled", "interview_held", "thank_you_sent", "followed_up", "ongoing")
CHAIN = STEPS[:4]  # each implied by the next
STUDENT_DIMENSIONS = ("program", "college", "class_year", "degree_level")
CONTACT_DIMENSIONS = ("industry", "organisation")
TIME_DIMENSIONS = ("term", "academic_year")
DIMENSIONS = TIME_DIMENSIONS + STUDENT_DIMENSIONS + CONTACT_DIMENSIONS
UNKNOWN = "unknown"
CANCELLED_BY = ("student", "contact", "career_office", "other")
MISSED_BY = ("student", "contact")


# -- the definition ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Definition:
    """One version of the funnel's rules (see the module docstring)."""

    version: int
    thank_you_within_hours: float = 24.0
    ongoing_after_weeks: int = 8

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "steps": list(STEPS), "rules": {
            "contacted": "the first outreach (or the moment of a later step of the first four, if earlier)",
            "replied": "the first reply (or the moment of a later step of the first four, if earlier)",
            "interview_scheduled": "the first time an interview was scheduled (or held, if earlier)",
            "interview_held": "the first conversation held",
            "thank_you_sent": f"the first thank-you at or after the first conversation; on time if within "
                              f"{self.thank_you_within_hours:g} hours of it",
            "followed_up": "the first outreach, check-in or follow-up done after the first conversation",
            "ongoing": f"a second conversation, or any touch at least {self.ongoing_after_weeks} weeks after the "
                       "first conversation",
        }}


DEFINITIONS: dict[int, Definition] = {1: Definition(1)}


def definition(version: int) -> Definition:
    if version not in DEFINITIONS:
        raise ValueError(f"FUNNEL_DEFINITION {version} is unknown (known: {sorted(DEFINITIONS)})")
    return DEFINITIONS[version]


def _first(times: Iterable[str], after: str | None = None, strictly: bool = False) -> str | None:
    found = [t for t in times if after is None or (t > after if strictly else t >= after)]
    return min(found) if found else None


def pair_steps(pair: Mapping[str, Any], rules: Definition) -> dict[str, str]:
    """Each step the pair reached and when (RFC 3339 UTC), from its signals (see `projections`)."""
    signals = pair.get("signals") or {}
    held = sorted((pair.get("held") or {}).values())
    own = {"contacted": _first(signals.get("outreach", [])), "replied": _first(signals.get("reply", [])),
           "interview_scheduled": _first(signals.get("scheduled", [])), "interview_held": held[0] if held else None}
    reached: dict[str, str] = {}
    later: str | None = None
    for step in reversed(CHAIN):
        candidates = [t for t in (own[step], later) if t is not None]
        if candidates:
            reached[step] = later = min(candidates)
    if not held:
        return {step: reached[step] for step in STEPS if step in reached}
    first_held = held[0]
    thank_you = _first([t["at"] for t in signals.get("thank_you", [])], first_held)
    if thank_you:
        reached["thank_you_sent"] = thank_you
    follow = _first([*signals.get("outreach", []), *signals.get("check_in", []), *signals.get("follow_up_done", [])],
                    first_held, strictly=True)
    if follow:
        reached["followed_up"] = follow
    touches = [*signals.get("outreach", []), *signals.get("reply", []), *signals.get("check_in", []),
               *signals.get("follow_up_done", []), *(t["at"] for t in signals.get("thank_you", []))]
    horizon = _iso(parse(first_held) + timedelta(weeks=rules.ongoing_after_weeks))
    ongoing = [t for t in (_first(touches, horizon), held[1] if len(held) > 1 else None) if t]
    if ongoing:
        reached["ongoing"] = min(ongoing)
    return {step: reached[step] for step in STEPS if step in reached}


def thank_you_on_time(pair: Mapping[str, Any], rules: Definition) -> bool:
    """Whether the first thank-you after the first conversation came within the definition's hours."""
    held = sorted((pair.get("held") or {}).values())
    if not held:
        return False
    after = [t for t in (pair.get("signals") or {}).get("thank_you", []) if t["at"] >= held[0]]
    if not after:
        return False
    first = min(after, key=lambda t: t["at"])
    hours = first.get("hours")
    if hours is None:
        hours = (parse(first["at"]) - parse(held[0])).total_seconds() / 3600
    return hours <= rules.thank_you_within_hours


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the academic calendar --------------------------------------------------------------------
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


def _month_day(text: str, variable: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(text.strip())
    if not match:
        raise ValueError(f"{variable}: {text!r} is not MM-DD")
    month, day = int(match[1]), int(match[2])
    date(2024, month, day)  # a leap year: 02-29 is a day, 02-30 is not
    return month, day


@dataclass(frozen=True)
class Calendar:
    """Academic terms (each from its start day until the next term's) and the academic year."""

    terms: tuple[tuple[int, int, str], ...]  # (month, day, name), in calendar order
    year_start: tuple[int, int]

    @classmethod
    def parse(cls, terms: str, year_start: str) -> Calendar:
        parsed = []
        for part in terms.split(","):
            name, _, start = part.partition(":")
            if not re.match(r"^[a-z][a-z0-9_]{0,30}$", name.strip()):
                raise ValueError(f"ACADEMIC_TERMS: {name!r} is not a term name (lower-case letters, digits, _)")
            parsed.append((*_month_day(start, "ACADEMIC_TERMS"), name.strip()))
        if len({name for _, _, name in parsed}) != len(parsed) or len({p[:2] for p in parsed}) != len(parsed):
            raise ValueError("ACADEMIC_TERMS: every term needs its own name and start day")
        return cls(tuple(sorted(parsed)), _month_day(year_start, "ACADEMIC_YEAR_START"))

    def term_of(self, day: date) -> str:
        """`fall-2026`: the term the day falls in, named with the year the term started."""
        started = [(m, d, name) for m, d, name in self.terms if (m, d) <= (day.month, day.day)]
        if started:
            return f"{started[-1][2]}-{day.year}"
        return f"{self.terms[-1][2]}-{day.year - 1}"

    def academic_year_of(self, day: date) -> str:
        """`2026-27`: the academic year (by default July 1 - June 30) the day falls in."""
        year = day.year if (day.month, day.day) >= self.year_start else day.year - 1
        return f"{year}-{(year + 1) % 100:02d}"

    def describe(self) -> dict[str, Any]:
        return {"terms": [{"name": name, "starts": f"{m:02d}-{d:02d}"} for m, d, name in self.terms],
                "academic_year_starts": f"{self.year_start[0]:02d}-{self.year_start[1]:02d}"}


# -- the roster -------------------------------------------------------------------------------
COLUMNS = {  # the roster's columns and the header names they are known by
    "student_id": ("student_id", "student", "id", "emplid", "student_number"),
    "program": ("program", "major", "programme"),
    "college": ("college", "school", "faculty"),
    "degree_level": ("degree_level", "degree", "level", "career"),
    "class_year": ("class_year", "class", "graduation_year", "cohort_year"),
    "expected_graduation": ("expected_graduation", "expected_graduation_term", "graduation_term"),
}
COHORT_FIELDS = ("program", "college", "degree_level", "class_year", "expected_graduation")
_TERM_LABEL = re.compile(r"^([a-z][a-z0-9_]*)[\s\-_]+(\d{4})$")
_YEAR = re.compile(r"^(\d{4})$")


class RosterError(ValueError):
    """The roster as a whole cannot be read (answered 422 naming `file`)."""


@dataclass(frozen=True)
class RosterRow:
    line: int
    cohort: dict[str, Any] | None  # student_id plus COHORT_FIELDS, or None when invalid
    error: str | None = None


def _header_key(name: str) -> str:
    return re.sub(r"[\s\-/]+", "_", name.strip().lower().lstrip("\ufeff"))


def parse_roster(data: bytes, max_rows: int) -> tuple[list[RosterRow], list[str]]:
    """The rows of a roster CSV (one `RosterRow` per data row, valid or not) and warnings (ignored
    columns). Raises `RosterError` for a file that is not a roster at all, or longer than `max_rows`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(f"not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError("the file is empty: a header row is needed") from None
    except csv.Error as exc:
        raise RosterError(f"line 1: {exc}") from exc
    positions: dict[str, int] = {}
    ignored = []
    for index, name in enumerate(header):
        key = _header_key(name)
        column = next((c for c, aliases in COLUMNS.items() if key in aliases), None)
        if column is None or column in positions:
            ignored.append(name.strip() or f"column {index + 1}")
        else:
            positions[column] = index
    missing = [c for c in ("student_id", "program", "college", "degree_level") if c not in positions]
    if "class_year" not in positions and "expected_graduation" not in positions:
        missing.append("class_year or expected_graduation")
    if missing:
        raise RosterError(f"the header lacks the columns: {', '.join(missing)}")
    warnings = [f"ignored columns: {', '.join(ignored)}"] if ignored else []
    rows: list[RosterRow] = []
    seen: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # a blank line is no row
            if len(rows) >= max_rows:
                raise RosterError(f"more than {max_rows} rows (ANALYTICS_ROSTER_MAX_ROWS)")
            rows.append(_row(line, record, positions, seen))
    except csv.Error as exc:
        raise RosterError(f"line {reader.line_num}: {exc}") from exc
    return rows, warnings


def _row(line: int, record: list[str], positions: dict[str, int], seen: dict[str, int]) -> RosterRow:
    values = {c: (record[i].strip() if i < len(record) else "") for c, i in positions.items()}
    for column in ("student_id", "program", "college", "degree_level"):
        if not values.get(column):
            return RosterRow(line, None, f"{column}: missing")
        if len(values[column]) > (128 if column == "student_id" else 100):
            return RosterRow(line, None, f"{column}: longer than {128 if column == 'student_id' else 100} characters")
    if re.search(r"[\x00-\x1f]", values["student_id"]):
        return RosterRow(line, None, "student_id: control characters")
    graduation = values.get("expected_graduation") or None
    if graduation:
        match = _TERM_LABEL.match(graduation.lower())
        if not match:
            return RosterRow(line, None, f"expected_graduation: {graduation[:40]!r} is not a term and a year "
                                         "(e.g. spring 2027)")
        graduation = f"{match[1]}-{match[2]}"
    class_year = values.get("class_year") or (graduation[-4:] if graduation else "")
    if not _YEAR.match(class_year):
        return RosterRow(line, None, f"class_year: {class_year[:40]!r} is not a year" if class_year
                         else "class_year: missing (or give expected_graduation)")
    student = values["student_id"]
    if student in seen:
        return RosterRow(line, None, f"student_id: also on line {seen[student]}")
    seen[student] = line
    return RosterRow(line, {"student_id": student, "program": values["program"], "college": values["college"],
                            "degree_level": values["degree_level"].lower(), "class_year": class_year,
                            "expected_graduation": graduation})


class StudentCohort(Aggregate):
    """One student's roster history: which attributes are in effect from which day."""

    stream_type = "roster"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.records: list[dict[str, Any]] = []

    @staticmethod
    def stream_for(student_id: str) -> str:
        return f"cohort-{student_id}"

    def record_cohort(self, cohort: dict[str, Any], effective_from: str, upload_id: str) -> bool:
        """Record the attributes from `effective_from` on; False (nothing recorded) when they are
        what is in effect on that day already."""
        attributes = {name: cohort.get(name) for name in COHORT_FIELDS}
        current = cohort_at(self.records, effective_from)
        if current is not None and current["effective_from"] <= effective_from and all(
                current.get(name) == value for name, value in attributes.items()):
            return False
        self.record("StudentCohortRecorded", student_id=cohort["student_id"], effective_from=effective_from,
                    upload_id=upload_id, **attributes)
        return True

    @applies("StudentCohortRecorded")
    def _recorded(self, data: dict[str, Any]) -> None:
        self.owner_id = data["student_id"]
        self.records = [r for r in self.records if r["effective_from"] != data["effective_from"]]
        self.records.append({"effective_from": data["effective_from"], **{n: data.get(n) for n in COHORT_FIELDS}})
        self.records.sort(key=lambda r: r["effective_from"])


class RosterUpload(Aggregate):
    """One upload of the roster and its report."""

    stream_type = "roster_upload"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.report: dict[str, Any] = {}

    @classmethod
    def record_report(cls, upload_id: str, filename: str | None, effective_from: str, rows: list[dict[str, Any]],
                      warnings: list[str]) -> RosterUpload:
        upload = cls(upload_id)
        upload.record("RosterUploaded", filename=filename, effective_from=effective_from, rows=rows,
                      warnings=warnings)
        return upload

    @applies("RosterUploaded")
    def _uploaded(self, data: dict[str, Any]) -> None:
        self.report = dict(data)


def cohort_at(records: Sequence[Mapping[str, Any]], moment: str) -> Mapping[str, Any] | None:
    """The record in effect at `moment` (a day or a time): the newest that started on or before its
    day, else the first one; None for a student never on a roster. `records` sorted by day."""
    if not records:
        return None
    day = moment[:10]
    effective = [r for r in records if r["effective_from"] <= day]
    return effective[-1] if effective else records[0]


# -- suppression --------------------------------------------------------------------------------
def suppress(counts: Mapping[Any, int], lines: Iterable[Sequence[Any]], minimum: int) -> set[Any]:
    """The cells to hide: those counting fewer than `minimum` (but more than 0: an empty cell reveals
    no one), and complementary ones, so that no line of cells adding up to a published total has
    exactly one hidden cell. The smallest other non-empty cell of such a line is hidden (ties by key)."""
    hidden = {cell for cell, count in counts.items() if 0 < count < minimum}
    lines = [list(line) for line in lines if len(line) > 1]
    changed = True
    while changed:
        changed = False
        for line in lines:
            shown = [cell for cell in line if cell not in hidden]
            if len(line) - len(shown) == 1 and shown:
                # an empty cell is a poor complement (that nobody is in it is often plain from other
                # cells), so the complement counts someone when a cell of the line does
                counted = [cell for cell in shown if counts.get(cell, 0) > 0] or shown
                smallest = min(counted, key=lambda cell: (counts.get(cell, 0), repr(cell)))
                hidden.add(smallest)
                changed = True
    return hidden


def lines_of(groups: Sequence[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
    """The lines of groups that add up to a total someone can publish: all of them (the query's
    total), and with two or more dimensions the groups sharing a value of any one dimension (a
    one-dimension query publishes those totals)."""
    lines = [list(groups)]
    width = len(groups[0]) if groups else 0
    if width > 1:
        for axis in range(width):
            shared: dict[str, list[tuple[str, ...]]] = {}
            for group in groups:
                shared.setdefault(group[axis], []).append(group)
            lines += list(shared.values())
    return lines


# -- weeks ------------------------------------------------------------------------------------------
def week_of(moment: str) -> str:
    """The Monday (YYYY-MM-DD, UTC) of the ISO week the moment falls in."""
    day = date.fromisoformat(moment[:10])
    return (day - timedelta(days=day.weekday())).isoformat()
