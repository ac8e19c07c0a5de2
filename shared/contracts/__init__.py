"""The published event contracts of every service, importable by any consumer.

A service writes only its own catalogue; projections and other services read any catalogue here
instead of importing the service. `pii(field, subject=...)` marks personal data and names whose data
key seals it before the event is stored (`shared.keys.personal`): `student`, the stream's owner;
`contact`, the professional the event is about (a student's words about a contact in the contact's
own record go with the contact); None, an identifier kept in clear.

`python -m shared.contracts --golden > tests/contract/golden/events.json` writes the golden copy of
every published schema that `tests/contract/test_golden_contracts.py` holds the code to.
"""
import json

from shared.contracts.analytics import JOURNEY_TOPIC, ROSTER, ROSTER_UPLOADS
from shared.contracts.contacts import CONTACT_IMPORTS, CONTACTS
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.notes import ADVISING, NOTE_ACCESS_LOGS, NOTES
from shared.contracts.notifications import (
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_TEMPLATES,
    NOTIFICATIONS,
    WEBHOOK_ENDPOINTS,
)
from shared.contracts.privacy import ERASURES
from shared.contracts.scheduling import INTERVIEWS, STUDENT_SCHEDULES

CATALOGS = (CONTACTS, CONTACT_IMPORTS, INTERVIEWS, STUDENT_SCHEDULES, NOTES, NOTE_ACCESS_LOGS, ADVISING,
            FOLLOWUPS, NOTIFICATIONS, NOTIFICATION_PREFERENCES, WEBHOOK_ENDPOINTS, NOTIFICATION_TEMPLATES, ROSTER,
            ROSTER_UPLOADS, ERASURES)
# Topics of the published integration language for consumers outside the platform
# (services/analytics/integration.py: CloudEvents with JSON Schemas, not domain events, so the services
# may change their own events freely): created with the domain topics, never by their producer.
INTEGRATION_TOPICS = (JOURNEY_TOPIC,)


def golden() -> str:
    """Every published event schema (type, version, topic, fields: type, required, nullable, pii) as
    stable JSON: the golden contract."""
    described = {name: contract for catalog in CATALOGS for name, contract in catalog.describe().items()}
    # one line per field, so a change shows as the field's own line in a diff
    types = []
    for name, contract in sorted(described.items()):
        lines = [f"      {json.dumps(field)}: {json.dumps(spec, sort_keys=True)}"
                 for field, spec in sorted(contract["fields"].items())]
        fields = "{\n" + ",\n".join(lines) + "\n    }" if lines else "{}"
        types.append(f"  {json.dumps(name)}: {{\n    \"aggregate\": {json.dumps(contract['aggregate'])},\n"
                     f"    \"topic\": {json.dumps(contract['topic'])},\n    \"fields\": {fields}\n  }}")
    return "{\n" + ",\n".join(types) + "\n}\n"
