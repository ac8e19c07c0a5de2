"""The published event contracts of every service, importable by any consumer.

A service writes only its own catalogue; projections and other services read any catalogue here
instead of importing the service. `pii=True` in a field's metadata marks personal data, so that a
later per-subject encryption (crypto-shredding) can find it without a new contract.
"""
from shared.contracts.contacts import CONTACT_IMPORTS, CONTACTS
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.notes import ADVISING, NOTE_ACCESS_LOGS, NOTES
from shared.contracts.notifications import (NOTIFICATION_PREFERENCES, NOTIFICATION_TEMPLATES, NOTIFICATIONS,
                                            WEBHOOK_ENDPOINTS)
from shared.contracts.scheduling import INTERVIEWS, STUDENT_SCHEDULES

CATALOGS = (CONTACTS, CONTACT_IMPORTS, INTERVIEWS, STUDENT_SCHEDULES, NOTES, NOTE_ACCESS_LOGS, ADVISING,
            FOLLOWUPS, NOTIFICATIONS, NOTIFICATION_PREFERENCES, WEBHOOK_ENDPOINTS, NOTIFICATION_TEMPLATES)
