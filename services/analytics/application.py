"""The analytics use cases: record a roster upload (load → act → save per student), and answer the
analysts' questions from the read models, each answer naming its definition and freshness.

What an analyst sees is counts of groups, never a row per student or a pseudonym: the tables come
from `cells.funnel_table` / `cells.engagement_table`, which return cells only, suppressed where a
cell counts fewer than `min_cell` students (see `domain`).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import ValidationError

from services.analytics.cells import Window, engagement_table, funnel_table
from services.analytics.domain import (
    DEFINITIONS,
    DIMENSIONS,
    Calendar,
    Definition,
    RosterError,
    RosterUpload,
    StudentCohort,
    parse_roster,
)
from services.analytics.projections import ReadModels
from shared.contracts.analytics import ROSTER, ROSTER_UPLOADS, ROW_OUTCOMES
from shared.events import Metadata
from shared.eventstore import EventStore
from shared.repository import Repository

COHORT_RULE = ("Each step counts under the academic attributes the student had on the day of the step: the "
               "roster record in effect then (the newest whose effective_from is on or before that day; before "
               "the first record, the first record). A student who changes major keeps earlier steps under the "
               "old major. Students never on a roster count as 'unknown'.")
SUPPRESSION_RULE = ("A cell counting fewer than min_cell distinct students (and more than none) shows no numbers "
                    "(suppressed: true, null counts), in JSON, CSV and charts. Complementary suppression: in every "
                    "line of cells that adds up to a published total (all groups of a column; with two dimensions "
                    "also every row and column of the cross table) a single hidden cell is joined by the smallest "
                    "other non-empty cell, so no hidden cell is the difference of published numbers. No answer "
                    "holds a row per student or a pseudonym.")


class AnalyticsService:
    def __init__(self, store: EventStore, models: ReadModels, *, calendar: Calendar, rules: Definition,
                 min_cell: int, max_rows: int, new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                 today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self.cohorts: Repository[StudentCohort] = Repository(store, ROSTER, StudentCohort)
        self.uploads: Repository[RosterUpload] = Repository(store, ROSTER_UPLOADS, RosterUpload)
        self.models, self.calendar, self.rules = models, calendar, rules
        self.min_cell, self.max_rows = min_cell, max_rows
        self.new_id, self.today = new_id, today

    # -- the roster -------------------------------------------------------------------------------
    def upload_roster(self, data: bytes, meta: Metadata, *, filename: str | None,
                      effective_from: date | None) -> dict[str, Any]:
        """Record every valid row whose attributes differ from those in effect; report each row as
        recorded, unchanged or invalid (with the reason), so the counts add up to the rows read."""
        try:
            parsed, warnings = parse_roster(data, self.max_rows)
        except RosterError as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        upload_id = self.new_id()
        day = (effective_from or self.today()).isoformat()
        rows: list[dict[str, Any]] = []
        for row in parsed:
            if row.cohort is None:
                rows.append({"line": row.line, "outcome": "invalid", "reason": row.error})
                continue
            changed = self._record_cohort(row.cohort, day, upload_id, meta)
            rows.append({"line": row.line, "outcome": "recorded" if changed else "unchanged", "reason": None})
        upload = RosterUpload.record_report(upload_id, filename, day, rows, warnings)
        commit = self.uploads.save(upload, meta)
        return {"id": upload_id, "version": commit.last_version if commit else upload.version, "filename": filename,
                "effective_from": day, "rows_read": len(rows),
                "counts": {outcome: sum(1 for r in rows if r["outcome"] == outcome) for outcome in ROW_OUTCOMES},
                "rows": rows, "warnings": warnings}

    def _record_cohort(self, cohort: dict[str, Any], day: str, upload_id: str, meta: Metadata) -> bool:
        """Record one student's attributes from `day` on; False when they are in effect already."""
        recorded: list[bool] = []  # the last attempt's decision (a lost race decides again)
        self.cohorts.update(StudentCohort.stream_for(cohort["student_id"]), meta,
                            lambda student: recorded.append(student.record_cohort(cohort, day, upload_id)))
        return recorded[-1]

    # -- the analysts' questions -------------------------------------------------------------------
    def about(self) -> tuple[dict[str, Any], Definition]:
        """What every answer says about itself (the definition version the read models were built with,
        the configured one before anything was applied, and their freshness), and those rules: the
        numbers follow the definition the read models hold, not the configuration."""
        state = self.models.state()
        built = state["definition"]
        rules = self.rules if not built else Definition(
            built["version"], float(built["thank_you_within_hours"]), int(built["ongoing_after_weeks"]))
        return {"definition_version": rules.version,
                "freshness": {"last_event_at": state["last_event_at"], "updated_at": state["updated_at"]},
                "min_cell": self.min_cell}, rules

    @staticmethod
    def _filters(query: dict[str, Any]) -> tuple[Window, dict[str, Any]]:
        start, end = query.get("from_"), query.get("to")
        window = Window(start.isoformat() if start else None, end.isoformat() if end else None, query.get("term"))
        return window, {"term": window.term, "from": window.start, "to": window.end}

    def funnel(self, dimensions: list[str], query: dict[str, Any]) -> dict[str, Any]:
        about, rules = self.about()
        window, filters = self._filters(query)
        table = funnel_table(self.models.facts(), dimensions, window, self.calendar, rules, self.min_cell)
        return {**about, "by": dimensions, "filters": filters, **table}

    def engagement(self, dimensions: list[str], query: dict[str, Any]) -> dict[str, Any]:
        about, _ = self.about()
        window, filters = self._filters(query)
        table = engagement_table(self.models.facts(with_activity=True), dimensions, window, self.calendar,
                                 self.min_cell)
        return {**about, "by": dimensions, "filters": filters, **table}

    def definitions(self) -> dict[str, Any]:
        about, rules = self.about()
        return {**about, "definition": rules.describe(), "configured": self.rules.describe(),
                "dimensions": list(DIMENSIONS),
                "calendar": self.calendar.describe(), "cohorts": COHORT_RULE, "suppression": SUPPRESSION_RULE,
                "known_versions": sorted(DEFINITIONS)}
