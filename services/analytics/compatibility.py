"""`python -m services.analytics.compatibility`: every integration schema reads every earlier version's data.

The rule is the one Confluent's schema registry calls BACKWARD_TRANSITIVE: version N of a type must
accept any event written under *every* version before it (not only N-1), so a consumer upgraded to
the newest schema still reads the whole topic from offset 0. A change breaks it when it

- removes a field (a rename is a removal plus an addition),
- changes a field's type (widening is fine: adding `null`, or `integer` to `number`),
- makes an optional field required, or adds a required field,
- narrows an enum (drops a value) or restricts a free value to an enum,
- tightens a constraint (pattern, format, minimum/maximum, minLength/maxLength, closes the object).

Adding optional fields, widening types and adding enum values are compatible. The check also holds
each file to its name: `<Name>.v<N>.json` has `$id` `urn:careerloop:analytics:<Name>:v<N>` and is
draft 2020-12, and every type the translator publishes has its schema. It exits non-zero naming each
breaking change; `make test` runs it (tests/unit/analytics/test_compatibility.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from services.analytics.integration import SCHEMA_DIR, VOCABULARY, schema_files

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# constraint -> True when a larger new value is tighter (a minimum), False when a smaller one is (a maximum)
BOUNDS = {"minimum": True, "exclusiveMinimum": True, "minLength": True, "minItems": True,
          "maximum": False, "exclusiveMaximum": False, "maxLength": False, "maxItems": False}
EXACT = ("pattern", "format", "const")


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema allows, None for any; `integer` is part of `number`."""
    declared = schema.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _type_accepts(new: set[str] | None, old: set[str] | None) -> bool:
    if new is None:
        return True
    if old is None:
        return False
    return all(t in new or (t == "integer" and "number" in new) for t in old)


def _show(types: set[str] | None) -> str:
    return "any" if types is None else "/".join(sorted(types))


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """How `new` fails to accept data valid under `old` (empty when it accepts all of it)."""
    where = f"field '{path}'" if path else "the event"
    found = []
    old_types, new_types = _types(old), _types(new)
    if not _type_accepts(new_types, old_types):
        found.append(f"changed the type of {where} from {_show(old_types)} to {_show(new_types)}")
    if "enum" in new:
        if "enum" not in old:
            found.append(f"restricted {where} to the values {new['enum']}")
        else:
            dropped = [v for v in old["enum"] if v not in new["enum"]]
            if dropped:
                found.append(f"narrowed the enum of {where}: removed {dropped}")
    for name in EXACT:
        if name in new and new[name] != old.get(name):
            found.append(f"changed the {name} of {where} from {old.get(name)!r} to {new[name]!r}")
    for name, larger_is_tighter in BOUNDS.items():
        if name in new:
            before = old.get(name)
            tighter = before is None or (new[name] > before if larger_is_tighter else new[name] < before)
            if tighter:
                found.append(f"tightened the {name} of {where} from {before!r} to {new[name]!r}")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        found.append(f"closed {where} to additional fields")
    old_fields, new_fields = old.get("properties") or {}, new.get("properties") or {}
    for name, old_field in old_fields.items():
        field_path = f"{path}.{name}" if path else name
        if name not in new_fields:
            found.append(f"removed field '{field_path}' (a rename is a removal)")
        else:
            found += breaking_changes(old_field, new_fields[name], field_path)
    old_required = set(old.get("required") or ())
    for name in sorted(set(new.get("required") or ()) - old_required):
        field_path = f"{path}.{name}" if path else name
        if name in old_fields:
            found.append(f"made the optional field '{field_path}' required")
        else:
            found.append(f"added the required field '{field_path}'")
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        found += breaking_changes(old["items"], new["items"], f"{path}[]")
    return found


def check(directory: Path = SCHEMA_DIR, published: dict[str, int] | None = None) -> list[str]:
    """Every problem of the schemas in `directory`: breaking changes between versions, files that do
    not match their names, published types without a schema."""
    files = schema_files(directory)
    schemas = {key: json.loads(path.read_text(encoding="utf-8")) for key, path in files.items()}
    problems = []
    for (name, version), schema in sorted(schemas.items()):
        expected_id = f"urn:careerloop:analytics:{name}:v{version}"
        if schema.get("$id") != expected_id:
            problems.append(f"{name}.v{version}.json: $id is {schema.get('$id')!r}, expected {expected_id!r}")
        if schema.get("$schema") != DRAFT:
            problems.append(f"{name}.v{version}.json: $schema is {schema.get('$schema')!r}, expected {DRAFT!r}")
        for earlier in sorted(v for (n, v) in schemas if n == name and v < version):
            problems += [f"{name} v{version} is not backward compatible with v{earlier}: {change}"
                         for change in breaking_changes(schemas[(name, earlier)], schema)]
    wanted = published if published is not None else {t.name: t.version for t in VOCABULARY.values()}
    for name, version in sorted(wanted.items()):
        if (name, version) not in schemas:
            problems.append(f"{name} v{version} is published but {name}.v{version}.json is missing")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.analytics.compatibility",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=SCHEMA_DIR,
                        help="the schemas (default: %(default)s)")
    args = parser.parse_args(argv)
    problems = check(args.directory, published=None if args.directory == SCHEMA_DIR else {})
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(schema_files(args.directory))} integration schemas, every version backward compatible "
              "with every earlier one")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
