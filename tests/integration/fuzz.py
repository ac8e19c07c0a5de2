"""Strategies that fuzz any service's API with the JSON it might be sent."""
from __future__ import annotations

import re

from hypothesis import strategies as st

from tests.integration.conftest import InProcessPlatform

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)
# Plausible keys make the fuzzer reach the field validators, not only "unknown field".
FIELD_NAMES = ["name", "emails", "phone", "linkedin_url", "organisation", "time_zone", "tags", "kind",
               "occurred_at", "advocacy", "motivation", "duplicate_id", "reason", "url", "text", "student_id",
               "contact_id", "objectives", "questions", "starter_questions", "format", "link", "place",
               "duration_minutes", "slots", "slot_id", "start", "by", "who", "contact_time_zone"]
bodies = json_values | st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6)


def operations(platform: InProcessPlatform) -> list[tuple[str, str]]:
    document = platform.client.get("/openapi.json").json
    return [(method.upper(), re.sub(r"\{[a-z_]+\}", "some-id", path))
            for path, ops in document["paths"].items() for method in ops]
