"""The analysts' tables: the read models aggregated into cells (funnel and engagement), with the rules
of `domain` (steps, cohorts at the time of a step, suppression).

The funnel has to answer within tens of milliseconds over 10k students' histories (issue 14's goal:
p99 at most 100 ms), so it is not computed by walking every pair's steps per query. `Facts`, the
documents of one read-model snapshot, are turned once per snapshot and definition into numpy columns
(`FunnelColumns`): one row per step a pair reached and one per interview outcome, each with its
student, day, contact and the roster record in effect that day. A query maps its dimensions to
integer codes per day, record and contact (a few hundred to a few thousand values), combines them
into one group code per row and counts with numpy: distinct students by a bitmap of (cell, student),
pairs and conversions by `bincount`, medians by a stable sort of rows kept in order of their days.
The engagement series is counted the same way (`EngagementColumns`: one row per student-week of
activity and per conversation held). Only the arithmetic is vectorised; what counts where is
`domain`'s.
"""
from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from services.analytics.domain import (
    CANCELLED_BY,
    CONTACT_DIMENSIONS,
    MISSED_BY,
    STEPS,
    STUDENT_DIMENSIONS,
    UNKNOWN,
    Calendar,
    Definition,
    cohort_at,
    lines_of,
    pair_steps,
    suppress,
    thank_you_on_time,
    week_of,
)
from shared.times import parse

TOTAL: tuple[str, ...] = ()
HELD = STEPS.index("interview_held")
# an interview's outcome and side as one code: held, missed by each side, cancelled by each side
OUTCOMES = (("held", None), *(("missed", side) for side in MISSED_BY), *(("cancelled", side) for side in CANCELLED_BY))
OUTCOME_CODE = {outcome: code for code, outcome in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class Window:
    """Which steps a query counts: by their moment (from inclusive, to exclusive) and term label."""

    start: str | None = None  # YYYY-MM-DD
    end: str | None = None
    term: str | None = None

    def admits(self, day: str, terms: Mapping[str, str]) -> bool:
        return not (self.start and day < self.start or self.end and day >= self.end
                    or self.term and self.term not in terms.values())


@dataclass
class Facts:
    """The read models a query aggregates (plain documents, see `projections`), and their columns."""

    pairs: list[dict[str, Any]]
    interviews: list[dict[str, Any]]
    contacts: dict[str, dict[str, Any]]
    cohorts: dict[str, list[dict[str, Any]]]
    activity: list[dict[str, Any]] | None = None
    _columns: dict[Definition, FunnelColumns] = field(default_factory=dict, repr=False, compare=False)
    _engagement: EngagementColumns | None = field(default=None, repr=False, compare=False)

    def columns(self, rules: Definition) -> FunnelColumns:
        """The funnel's columns under `rules`, made on first use and kept with this snapshot."""
        if rules not in self._columns:
            self._columns[rules] = FunnelColumns.of(self, rules)
        return self._columns[rules]

    def engagement_columns(self) -> EngagementColumns:
        """The engagement's columns (the weekly activity must be loaded), kept with this snapshot."""
        if self._engagement is None:
            self._engagement = EngagementColumns.of(self)
        return self._engagement


def _interview_outcome(interview: Mapping[str, Any]) -> tuple[tuple[str, str | None] | None, str]:
    """An interview's outcome with its side, and its moment: held wins over missed over cancelled (a
    held interview that was also marked missed was held). An unknown side counts as the contact's
    (missed) or as other (cancelled)."""
    if interview.get("held_at"):
        return ("held", None), interview["held_at"]
    if interview.get("missed_at"):
        side = interview.get("missed_by")
        return ("missed", side if side in MISSED_BY else "contact"), interview["missed_at"]
    if interview.get("cancelled_at"):
        side = interview.get("cancelled_by")
        return ("cancelled", side if side in CANCELLED_BY else "other"), interview["cancelled_at"]
    return None, ""


class _Index:
    """Values numbered in order of first sight (the columns hold the numbers)."""

    def __init__(self) -> None:
        self.numbers: dict[Any, int] = {}
        self.values: list[Any] = []

    def __call__(self, key: Any, value: Any = None) -> int:
        number = self.numbers.get(key)
        if number is None:
            number = self.numbers[key] = len(self.values)
            self.values.append(key if value is None else value)
        return number


@dataclass
class Rows:
    """One kind of row (steps or interview outcomes) as columns of equal length."""

    student: np.ndarray
    day: np.ndarray
    record: np.ndarray  # the roster record in effect on the row's day (FunnelColumns.records)
    contact: np.ndarray
    kind: np.ndarray  # the step (STEPS) or the outcome (OUTCOMES)
    to_next: np.ndarray | None = None  # steps: days until the pair reached the next step (NaN: never)
    on_time: np.ndarray | None = None  # steps: the pair's thank-you came on time


class _Indexer:
    """Numbers the students, days, roster records in effect and contacts of a snapshot's rows."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.students, self.days, self.records, self.contacts = _Index(), _Index(), _Index(), _Index()
        self.records(None, {})
        self.contacts("", {})
        self._in_effect: dict[tuple[str, str], int] = {}

    def record_of(self, student: str, day: str) -> int:
        number = self._in_effect.get((student, day))
        if number is None:
            record = cohort_at(self.facts.cohorts.get(student) or [], day)
            number = self._in_effect[(student, day)] = 0 if record is None else self.records(
                (student, record["effective_from"]), record)
        return number

    def contact_of(self, contact: str | None) -> int:
        return self.contacts(contact or "", self.facts.contacts.get(contact or "") or {})

    def row(self, columns: dict[str, list[Any]], student: str, moment: str, contact: str | None, kind: int) -> None:
        day = moment[:10]
        columns["student"].append(self.students(student))
        columns["day"].append(self.days(day))
        columns["record"].append(self.record_of(student, day))
        columns["contact"].append(self.contact_of(contact))
        columns["kind"].append(kind)


def _rows(source: dict[str, list[Any]]) -> Rows:
    return Rows(**{name: np.asarray(values, dtype=np.float64 if name == "to_next" else
                                    bool if name == "on_time" else np.int64) for name, values in source.items()})


def _columns(*extra: str) -> dict[str, list[Any]]:
    return {name: [] for name in ("student", "day", "record", "contact", "kind", *extra)}


@dataclass(kw_only=True)
class Columns:
    """What a snapshot's rows refer to, and how a query groups them (see the module docstring)."""

    students: int
    days: list[str]
    records: list[Mapping[str, Any]]  # 0: no roster record
    contacts: list[Mapping[str, Any]]  # 0: an unknown contact
    _dimensions: dict[tuple[str, Calendar], tuple[list[str], np.ndarray, str]] = field(default_factory=dict)

    @staticmethod
    def indexed(indexer: _Indexer) -> dict[str, Any]:
        return {"students": len(indexer.students.values), "days": indexer.days.values,
                "records": indexer.records.values, "contacts": indexer.contacts.values}

    def _codes(self, dimension: str, calendar: Calendar) -> tuple[list[str], np.ndarray, str]:
        """A dimension's values (sorted), the value's number per day, record or contact, and which of
        those the rows' column to index it by is (kept: the same few dimensions are asked again)."""
        known = self._dimensions.get((dimension, calendar))
        if known is None:
            if dimension in STUDENT_DIMENSIONS:
                labels, source = [str(r.get(dimension) or UNKNOWN) for r in self.records], "record"
            elif dimension in CONTACT_DIMENSIONS:
                labels, source = [str(c.get(dimension) or UNKNOWN) for c in self.contacts], "contact"
            else:
                labels, source = [_terms(calendar, day)[dimension] for day in self.days], "day"
            values = sorted(set(labels))
            number = {value: n for n, value in enumerate(values)}
            known = self._dimensions[(dimension, calendar)] = (
                values, np.asarray([number[label] for label in labels] or [0], dtype=np.int64), source)
        return known

    def groups(self, rows: Rows, dimensions: Sequence[str], window: Window,
               calendar: Calendar) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
        """Which rows the window admits, the group code of each row, and each dimension's values
        (sorted): a code numbers the combinations of values, first dimension most significant."""
        admitted = np.asarray([window.admits(day, _terms(calendar, day)) for day in self.days], dtype=bool)
        code = np.zeros(len(rows.kind), dtype=np.int64)
        axes: list[list[str]] = []
        for dimension in dimensions:
            values, numbers, source = self._codes(dimension, calendar)
            code = code * len(values) + numbers[getattr(rows, source)]
            axes.append(values)
        return admitted[rows.day], code, axes

    @staticmethod
    def decode(code: int, axes: list[list[str]]) -> tuple[str, ...]:
        labels = []
        for values in reversed(axes):
            code, position = divmod(code, len(values))
            labels.append(values[position])
        return tuple(reversed(labels))


@dataclass(kw_only=True)
class FunnelColumns(Columns):
    """A snapshot's funnel facts: one row per step a pair reached, one per interview outcome."""

    steps: Rows
    outcomes: Rows
    totals: dict[tuple[Window, Calendar], _Cells] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.steps.to_next is not None
        self.reached_next = ~np.isnan(self.steps.to_next)
        self.by_days_to_next = np.argsort(self.steps.to_next, kind="stable")  # NaN (never reached) last

    @classmethod
    def of(cls, facts: Facts, rules: Definition) -> FunnelColumns:
        index = _Indexer(facts)
        step_of = {step: position for position, step in enumerate(STEPS)}
        steps = _columns("to_next", "on_time")
        for pair in facts.pairs:
            # the projection keeps each pair's steps under the definition it is built with
            reached = pair["steps"] if "steps" in pair else pair_steps(pair, rules)
            on_time = pair["on_time"] if "on_time" in pair else thank_you_on_time(pair, rules)
            seconds = {step: parse(moment).timestamp() for step, moment in reached.items()}
            for step, moment in reached.items():
                position = step_of[step]
                following = STEPS[position + 1] if position + 1 < len(STEPS) else None
                index.row(steps, pair["student"], moment, pair["contact"], position)
                steps["to_next"].append((seconds[following] - seconds[step]) / 86400 if following in seconds
                                        else np.nan)
                steps["on_time"].append(on_time)
        outcomes = _columns()
        for interview in facts.interviews:
            outcome, moment = _interview_outcome(interview)
            if outcome is not None:
                index.row(outcomes, interview["student"], moment, interview.get("contact"), OUTCOME_CODE[outcome])
        return cls(**cls.indexed(index), steps=_rows(steps), outcomes=_rows(outcomes))


@dataclass(kw_only=True)
class EngagementColumns(Columns):
    """A snapshot's engagement facts: one row per student and week they were active (kind: the week,
    numbered in `weeks`), one per conversation held (kind: its week)."""

    weeks: list[str]
    active: Rows
    held: Rows

    @classmethod
    def of(cls, facts: Facts) -> EngagementColumns:
        index, weeks = _Indexer(facts), _Index()
        active, held = _columns(), _columns()
        for doc in facts.activity or []:
            index.row(active, doc["student"], doc["first_at"], None, weeks(doc["week"]))
        for interview in facts.interviews:
            if interview.get("held_at"):
                index.row(held, interview["student"], interview["held_at"], None, weeks(week_of(interview["held_at"])))
        return cls(**cls.indexed(index), weeks=weeks.values, active=_rows(active), held=_rows(held))


@functools.lru_cache(maxsize=4096)
def _terms(calendar: Calendar, day: str) -> dict[str, str]:
    on = date.fromisoformat(day)
    return {"term": calendar.term_of(on), "academic_year": calendar.academic_year_of(on)}


def _median(days: list[float]) -> float | None:
    return round(statistics.median(days), 2) if days else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _counts(keys: np.ndarray, size: int) -> dict[int, int]:
    """How many times each key (0 <= key < size) occurs, for the keys that do."""
    return _present(np.bincount(keys, minlength=size))


def _present(counts: np.ndarray) -> dict[int, int]:
    """{index: count} for the non-zero counts."""
    present = np.flatnonzero(counts)
    return dict(zip(present.tolist(), counts[present].tolist(), strict=True))


def _distinct(cell: np.ndarray, student: np.ndarray, cells: int, students: int) -> dict[int, int]:
    """Distinct students per cell. With up to a few million (cell, student) combinations, marks in a
    table of them and sums each cell's row (linear); beyond that, sorts the combinations (unique)."""
    if cells * students <= 1 << 25:
        seen = np.zeros(cells * students, dtype=bool)
        seen[cell * students + student] = True
        return _present(seen.reshape(cells, students).sum(axis=1))
    return _counts(np.unique(cell * students + student) // students, cells)


def _medians(keys: np.ndarray, values: np.ndarray, size: int) -> dict[int, float]:
    """The median of `values` (sorted ascending) per key (0 <= key < size): the mean of the two middle
    ones for an even count. A stable sort by key keeps each key's values in order (a radix sort when
    the keys fit in 16 bits)."""
    order = np.argsort(keys.astype(np.int16) if size < 1 << 15 else keys, kind="stable")
    values = values[order]
    counts = np.bincount(keys, minlength=size)
    present = np.flatnonzero(counts)
    first, counts = (np.cumsum(counts) - counts)[present], counts[present]
    middle = (values[first + (counts - 1) // 2] + values[first + counts // 2]) / 2
    return dict(zip(present.tolist(), middle.tolist(), strict=True))


@dataclass
class _Cells:
    """Per group code (and step or outcome): the numbers a funnel answer shows."""

    students: dict[int, int]  # key group * len(STEPS) + step
    pairs: dict[int, int]
    converted: dict[int, int]  # of the pairs at the previous step in the group, how many reached this one
    median_days: dict[int, float]
    on_time: dict[int, int]  # key group: pairs with a held interview, and those thanked on time
    held_pairs: dict[int, int]
    interview_students: dict[int, int]  # key group
    outcomes: dict[int, int]  # key group * len(OUTCOMES) + outcome


def _aggregate(columns: FunnelColumns, groups: int, codes: np.ndarray, admitted: np.ndarray,
               iv_codes: np.ndarray, iv_admitted: np.ndarray) -> _Cells:
    """The cells of `groups` groups, from each row's group code and whether the window admits it."""
    steps, outcomes, students = columns.steps, columns.outcomes, max(columns.students, 1)
    cells = groups * len(STEPS)
    group, student = codes[admitted], steps.student[admitted]
    cell = group * len(STEPS) + steps.kind[admitted]
    assert steps.to_next is not None and steps.on_time is not None
    # a conversion counts under the cell of the step after the row's step; the rows that made one,
    # in the order of the days it took (the columns keep that order)
    converted = columns.by_days_to_next[(admitted & columns.reached_next)[columns.by_days_to_next]]
    following = codes[converted] * len(STEPS) + steps.kind[converted] + 1
    held = steps.kind[admitted] == HELD
    iv_group, iv_student = iv_codes[iv_admitted], outcomes.student[iv_admitted]
    return _Cells(
        students=_distinct(cell, student, cells, students), pairs=_counts(cell, cells),
        converted=_counts(following, cells), median_days=_medians(following, steps.to_next[converted], cells),
        on_time=_counts(group[held & steps.on_time[admitted]], groups), held_pairs=_counts(group[held], groups),
        interview_students=_distinct(iv_group, iv_student, groups, students),
        outcomes=_counts(iv_group * len(OUTCOMES) + outcomes.kind[iv_admitted], groups * len(OUTCOMES)))


def funnel_table(facts: Facts, dimensions: Sequence[str], window: Window, calendar: Calendar, rules: Definition,
                 minimum: int) -> dict[str, Any]:
    """The funnel by the groups of `dimensions`: rows of cells, the total, and what is suppressed."""
    columns = facts.columns(rules)
    admitted, codes, axes = columns.groups(columns.steps, dimensions, window, calendar)
    iv_admitted, iv_codes, _ = columns.groups(columns.outcomes, dimensions, window, calendar)
    by_group = _aggregate(columns, math.prod(len(axis) for axis in axes), codes, admitted, iv_codes, iv_admitted)
    total = columns.totals.get((window, calendar))
    if total is None:  # the same for every breakdown of a window: kept with the columns
        total = columns.totals[(window, calendar)] = _aggregate(
            columns, 1, np.zeros_like(codes), admitted, np.zeros_like(iv_codes), iv_admitted)
    present = {key // len(STEPS) for key in by_group.pairs} | {key for key in by_group.interview_students}
    code_of = {columns.decode(code, axes): code for code in present} if dimensions else {}
    groups = sorted(code_of)
    cells_of = {**{group: (by_group, code) for group, code in code_of.items()}, TOTAL: (total, 0)}
    step_columns = [*STEPS, "interviews"]

    def count(group: tuple[str, ...], column: str) -> int:
        cells, code = cells_of[group]
        if column == "interviews":
            return cells.interview_students.get(code, 0)
        return cells.students.get(code * len(STEPS) + STEPS.index(column), 0)

    hidden: set[Any] = set()
    for column in step_columns:
        if 0 < count(TOTAL, column) < minimum:
            hidden.add((TOTAL, column))
        hidden |= {(g, column) for g in suppress({g: count(g, column) for g in groups}, lines_of(groups), minimum)}

    def row(group: tuple[str, ...]) -> dict[str, Any]:
        cells, code = cells_of[group]
        steps = []
        for position, step in enumerate(STEPS):
            key = code * len(STEPS) + position
            suppressed = (group, step) in hidden
            entry: dict[str, Any] = {"step": step, "suppressed": suppressed,
                                     "students": None if suppressed else cells.students.get(key, 0),
                                     "pairs": None if suppressed else cells.pairs.get(key, 0),
                                     "conversion": None, "median_days_from_previous": None}
            if position and not suppressed and (group, STEPS[position - 1]) not in hidden:
                converted = cells.converted.get(key, 0)
                entry["conversion"] = _rate(converted, cells.pairs.get(key - 1, 0))
                median = cells.median_days.get(key)
                entry["median_days_from_previous"] = None if median is None else round(median, 2)
            steps.append(entry)
        held_hidden = (group, "interview_held") in hidden
        outcomes = {outcome: cells.outcomes.get(code * len(OUTCOMES) + n, 0) for outcome, n in OUTCOME_CODE.items()}
        return {"steps": steps,
                "thank_you_on_time_rate": None if held_hidden else _rate(cells.on_time.get(code, 0),
                                                                         cells.held_pairs.get(code, 0)),
                "interviews": _interview_view(outcomes, cells.interview_students.get(code, 0),
                                              (group, "interviews") in hidden)}

    return {"columns": list(STEPS),
            "groups": [{"key": dict(zip(dimensions, group, strict=True)), **row(group)} for group in groups],
            "total": row(TOTAL),
            "suppressed_cells": len(hidden)}


def _interview_view(outcomes: Mapping[tuple[str, str | None], int], students: int,
                    suppressed: bool) -> dict[str, Any]:
    if suppressed or not students:
        return {"suppressed": suppressed, "held": None if suppressed else 0, "missed": None, "cancelled": None,
                "no_show_rate": None}
    missed = {side: outcomes[("missed", side)] for side in MISSED_BY}
    taken_place = outcomes[("held", None)] + sum(missed.values())  # interviews that reached their time
    return {"suppressed": False, "held": outcomes[("held", None)], "missed": missed,
            "cancelled": {side: outcomes[("cancelled", side)] for side in CANCELLED_BY},
            "no_show_rate": {side: _rate(missed[side], taken_place) for side in MISSED_BY}}


# -- engagement -------------------------------------------------------------------------------------
def engagement_table(facts: Facts, dimensions: Sequence[str], window: Window, calendar: Calendar,
                     minimum: int) -> dict[str, Any]:
    """Weekly active students and conversations per week, by the groups of `dimensions` (the
    student's attributes in that week), with every week's total."""
    columns = facts.engagement_columns()
    active_admitted, active_codes, axes = columns.groups(columns.active, dimensions, window, calendar)
    held_admitted, held_codes, _ = columns.groups(columns.held, dimensions, window, calendar)
    groups_n, weeks_n, students = math.prod(len(axis) for axis in axes), len(columns.weeks), max(columns.students, 1)
    active_week, active_student = columns.active.kind[active_admitted], columns.active.student[active_admitted]
    held_week, held_student = columns.held.kind[held_admitted], columns.held.student[held_admitted]
    active_cell = active_week * groups_n + active_codes[active_admitted]
    held_cell = held_week * groups_n + held_codes[held_admitted]
    cells = weeks_n * groups_n
    # per (week, group) and per week: distinct active students, conversations, distinct students in them
    active = {**_keyed(_distinct(active_cell, active_student, cells, students), groups_n, columns, axes),
              **_keyed(_distinct(active_week, active_student, weeks_n, students), 1, columns, [])}
    talks = {**_keyed(_counts(held_cell, cells), groups_n, columns, axes),
             **_keyed(_counts(held_week, weeks_n), 1, columns, [])}
    talkers = {**_keyed(_distinct(held_cell, held_student, cells, students), groups_n, columns, axes),
               **_keyed(_distinct(held_week, held_student, weeks_n, students), 1, columns, [])}
    weeks = sorted({week for week, _ in active} | {week for week, _ in talks})
    groups = sorted({g for _, g in active} | {g for _, g in talks}) if dimensions else []
    groups = [g for g in groups if g != TOTAL]
    hidden: set[Any] = set()
    for measure, distinct in (("active", active), ("conversations", talkers)):
        for week in weeks:
            count = {g: distinct.get((week, g), 0) for g in groups}
            hidden |= {(week, g, measure) for g in suppress(count, [groups], minimum)}
            if 0 < distinct.get((week, TOTAL), 0) < minimum:
                hidden.add((week, TOTAL, measure))

    def point(week: str, group: tuple[str, ...]) -> dict[str, Any]:
        a_hidden, c_hidden = (week, group, "active") in hidden, (week, group, "conversations") in hidden
        return {"week": week, "active_students": None if a_hidden else active.get((week, group), 0),
                "active_suppressed": a_hidden, "conversations": None if c_hidden else talks.get((week, group), 0),
                "conversations_suppressed": c_hidden}

    return {"weeks": weeks,
            "series": [{"key": dict(zip(dimensions, g, strict=True)), "points": [point(w, g) for w in weeks]}
                       for g in groups],
            "total": [point(w, TOTAL) for w in weeks]}


def _keyed(counts: Mapping[int, int], groups_n: int, columns: EngagementColumns,
           axes: list[list[str]]) -> dict[tuple[str, tuple[str, ...]], int]:
    """Counts keyed `week * groups_n + group` as {(week label, group): count}; with no axes, the
    week totals ({(week, TOTAL): count})."""
    return {(columns.weeks[key // groups_n], columns.decode(key % groups_n, axes) if axes else TOTAL): count
            for key, count in counts.items()}
