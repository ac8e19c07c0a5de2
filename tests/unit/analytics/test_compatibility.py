"""The BACKWARD_TRANSITIVE check: the repo's integration schemas pass it, and each kind of breaking
change, made to a copy of a published schema as its next version, fails it with a message naming it."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from services.analytics.compatibility import check
from services.analytics.integration import SCHEMA_DIR

ROOT = Path(__file__).resolve().parents[3]


def test_the_repos_integration_schemas_are_valid_and_backward_compatible_with_every_earlier_version() -> None:
    for path in SCHEMA_DIR.glob("*.json"):
        Draft202012Validator.check_schema(json.loads(path.read_text()))
    assert check() == []
    done = subprocess.run([sys.executable, "-m", "services.analytics.compatibility"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def with_version(tmp_path: Path, name: str, version: int, change: Callable[[dict[str, Any]], None],
                 base: int = 1) -> Path:
    """A copy of the schemas with `name` v`version` = v`base` changed by `change`."""
    directory = tmp_path / "schemas"
    if not directory.exists():
        shutil.copytree(SCHEMA_DIR, directory)
    schema = copy.deepcopy(json.loads((directory / f"{name}.v{base}.json").read_text()))
    change(schema)
    schema["$id"] = f"urn:careerloop:analytics:{name}:v{version}"
    (directory / f"{name}.v{version}.json").write_text(json.dumps(schema))
    return directory


def remove(field: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        schema["properties"].pop(field)
        schema["required"] = [f for f in schema["required"] if f != field]
    return change


def rename(field: str, to: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        schema["properties"][to] = schema["properties"].pop(field)
        schema["required"] = [to if f == field else f for f in schema["required"]]
    return change


def retype(field: str, to: Any) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        schema["properties"][field]["type"] = to
    return change


def require(field: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        schema["properties"].setdefault(field, {"type": "string"})
        schema["required"].append(field)
    return change


def narrow_enum(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        schema["properties"][field]["enum"].remove(value)
    return change


def make_optional_first(field: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        schema["required"].remove(field)
    return change


BREAKING = {
    "removing a field": ("ThankYouSent", remove("hours_after_interview"), "removed field 'hours_after_interview'"),
    "renaming a field": ("ContactAdded", rename("organisation", "employer"), "removed field 'organisation'"),
    "changing a type": ("InterviewScheduled", retype("lead_time_hours", "string"),
                        "changed the type of field 'lead_time_hours' from number to string"),
    "dropping null from a type": ("ThankYouSent", retype("hours_after_interview", "number"),
                                  "changed the type of field 'hours_after_interview' from null/number to number"),
    "adding a required field": ("OutreachSent", require("channel"), "added the required field 'channel'"),
    "narrowing an enum": ("InterviewCancelled", narrow_enum("cancelled_by", "other"),
                          "narrowed the enum of field 'cancelled_by': removed ['other']"),
    "narrowing an array's item enum": ("NoteRecorded", lambda s: s["properties"]["insight_categories"]["items"]["enum"]
                                       .remove("advice"), "narrowed the enum of field 'insight_categories[]'"),
    "tightening a pattern": ("OutreachSent", lambda s: s["properties"]["contact"].update(pattern="^[0-9a-f]{16}$"),
                             "changed the pattern of field 'contact'"),
    "closing the object": ("OutreachSent", lambda s: s.update(additionalProperties=False),
                           "closed the event to additional fields"),
}


@pytest.mark.parametrize("kind", list(BREAKING))
def test_the_check_fails_on_each_kind_of_breaking_change_naming_it(kind: str, tmp_path: Path) -> None:
    name, change, message = BREAKING[kind]
    directory = with_version(tmp_path, name, 2, change)
    problems = check(directory)
    assert problems and all(p.startswith(f"{name} v2 is not backward compatible with v1") for p in problems)
    assert any(message in p for p in problems), problems
    done = subprocess.run([sys.executable, "-m", "services.analytics.compatibility", str(directory)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1 and message in done.stderr


def test_making_an_optional_field_required_breaks_every_version_that_had_it_optional(tmp_path: Path) -> None:
    # v2 makes `organisation` optional (compatible: it accepts more); v3 requires it again: v3 accepts
    # v1's data but not v2's, and the check compares with *every* earlier version, not only the last
    directory = with_version(tmp_path, "ContactAdded", 2, make_optional_first("organisation"))
    assert check(directory) == []
    with_version(tmp_path, "ContactAdded", 3, lambda s: None, base=1)
    assert check(directory) == ["ContactAdded v3 is not backward compatible with v2: "
                                "made the optional field 'organisation' required"]


def test_compatible_changes_pass(tmp_path: Path) -> None:
    def grow(schema: dict[str, Any]) -> None:
        schema["properties"]["channel"] = {"type": ["string", "null"]}  # a new optional field
        schema["properties"]["cancelled_by"]["enum"].append("system")  # a wider enum
        schema["required"].remove("cancelled_by")  # required -> optional accepts more
    assert check(with_version(tmp_path, "InterviewCancelled", 2, grow)) == []
    assert check(with_version(tmp_path, "InterviewScheduled", 2, retype("duration_minutes", "number"))) == []


def test_a_file_whose_id_does_not_match_its_name_fails(tmp_path: Path) -> None:
    directory = with_version(tmp_path, "OutreachSent", 2, lambda s: None)
    schema = json.loads((directory / "OutreachSent.v2.json").read_text())
    schema["$id"] = "urn:careerloop:analytics:OutreachSent:v1"
    (directory / "OutreachSent.v2.json").write_text(json.dumps(schema))
    assert any("$id" in p for p in check(directory))


def test_a_published_type_without_a_schema_fails() -> None:
    assert check(published={"InterviewHeld": 2}) == [
        "InterviewHeld v2 is published but InterviewHeld.v2.json is missing"]
