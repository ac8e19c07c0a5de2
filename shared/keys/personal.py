"""Personal data sealed before an event is stored and opened when it is read: the one mechanism every
service, projection and worker goes through (issue 15, erasure by crypto-shredding).

What is sealed is what the contracts mark: every top-level field of an event's data that holds a
`pii` field (itself, or nested in it) is replaced by a sealed value (`shared.keys.fields`) made with
the data key of the field's subject, with the event id and field name as associated data. So the event
store, the relay's Kafka messages and any consumer of the topics hold only ciphertext and a key id.

Subjects, named in the key store:
- `student:<ownerid>` for a field marked `subject="student"` (the stream's owner);
- `student:<ownerid>/contact:<contact id>` for a field marked `subject="contact"`: the professional the
  event is about (the contact stream itself, else the `contact_id` beside the field; an event that names
  no contact falls back to the student's key). A contact's keys live under their student's name, so a
  student's erasure shreds their address book with them; a professional's erasure shreds that contact's
  key in every student's book.
A top-level field holding fields of both subjects is sealed with the contact's key, whose shredding
either erasure reaches. Identifiers (`subject=None`) stay in clear.

Reading opens every sealed field it finds (no contract needed, so any version and any upcaster sees plain
data); a field whose key is shredded reads as a placeholder of its shape (`ERASED`, `ERASED_CONTACT` for a
professional's text, `[]`, `{}`).
Unsealed data (events stored before `python -m shared.keys seal-existing` ran) reads as it is.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from marshmallow import Schema, fields

from shared.events import EventCatalog, parse_type
from shared.eventstore import Commit, EventStore, RequestLease
from shared.keys.fields import MARK, OpenedValues, is_sealed, open_value, placeholder, seal
from shared.keys.vault import DataKeys, SubjectErased

BLINDED = "hmac-sha256:"
# an opened envelope's attribute (never stored or sent): the fields that read as placeholders, their key shredded
ERASED_FIELDS = "erasedfields"
# the data key of the deployment's index of professionals (never shredded: it names nobody by itself)
PROFESSIONALS_INDEX = "index:professionals"
Plan = tuple[tuple[str, str], ...]  # (wire field name, subject kind) of each field to seal


def _subjects(field: fields.Field) -> set[str]:
    """The subject kinds of the `pii` fields in `field`, itself included (identifiers excluded)."""
    if field.metadata.get("pii"):
        subject = field.metadata.get("subject", "student")
        return {subject} if subject else set()
    if isinstance(field, fields.List):
        return _subjects(field.inner)
    if isinstance(field, fields.Nested):
        nested = field.schema
        return set().union(*(_subjects(f) for f in nested.fields.values())) if nested.fields else set()
    if isinstance(field, fields.Dict) and field.value_field is not None:
        return _subjects(field.value_field)
    return set()


def seal_plan(schema: Schema) -> Plan:
    """The top-level fields of `schema` to seal, each with the subject whose key seals it."""
    plan = []
    for name, field in sorted(schema.fields.items()):
        kinds = _subjects(field)
        if kinds:
            plan.append((field.data_key or name, "contact" if "contact" in kinds else "student"))
    return tuple(plan)


def student_subject(student_id: str) -> str:
    return f"student:{student_id}"


def contact_subject(student_id: str, contact_id: str) -> str:
    return f"{student_subject(student_id)}/contact:{contact_id}"


class PersonalData:
    """Seals and opens the personal data of envelopes with the subjects' data keys (one per process)."""

    def __init__(self, keys: DataKeys, catalogs: Iterable[EventCatalog] | None = None) -> None:
        if catalogs is None:
            from shared.contracts import CATALOGS
            catalogs = CATALOGS
        self.keys = keys
        self.opened = OpenedValues()
        self._plans: dict[tuple[str, str, int], Plan] = {}
        for catalog in catalogs:
            for event_type in catalog.types():
                self._plans[(catalog.service, event_type.name, event_type.version)] = seal_plan(event_type.schema())

    def plan(self, type_string: str) -> Plan:
        parsed = parse_type(type_string)
        return self._plans.get(parsed, ()) if parsed else ()

    def seal(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `envelope` with its personal data sealed (`SubjectErased` for an erased subject)."""
        plan, data = self.plan(str(envelope.get("type", ""))), envelope.get("data")
        if not plan or not isinstance(data, dict):
            return dict(envelope)
        owner, sealed = str(envelope.get("ownerid") or ""), dict(data)
        for name, kind in plan:
            value = sealed.get(name)
            if value is None or is_sealed(value):
                continue  # absent or null says nothing about anyone; sealed already (a migration rerun)
            subject = student_subject(owner)
            if kind == "contact":
                contact_id = self._contact_of(envelope, sealed, value)
                if contact_id:
                    subject = contact_subject(owner, contact_id)
            sealed[name] = seal(value, subject, self.keys, event_id=str(envelope["id"]), field=name)
        return {**envelope, "data": sealed}

    @staticmethod
    def _contact_of(envelope: Mapping[str, Any], data: Mapping[str, Any], value: Any) -> str | None:
        if envelope.get("streamtype") == "contact":
            return str(envelope.get("subject") or "") or None
        contact_id = data.get("contact_id") or (value.get("contact_id") if isinstance(value, dict) else None)
        return str(contact_id) if contact_id else None

    def blind(self, scope: str, value: str) -> str:
        """A unique claim's value (`<student id>:<kind>` scoped, e.g. an e-mail address) as stored: an
        HMAC under the student's data key, so the claims table holds no address in clear and a shredded
        key unlinks it too."""
        if value.startswith(BLINDED):
            return value
        key = self.keys.key_for(student_subject(scope.rpartition(":")[0]))[1]
        return BLINDED + hmac.new(key, f"claim\0{scope}\0{value}".encode(), hashlib.sha256).hexdigest()

    def pseudonym_salt(self, subject: str) -> bytes:
        """32 bytes derived from `subject`'s data key (created on first use) for the analytics pseudonyms
        of what is theirs: once the key is shredded nobody, holder of every other secret included, can
        compute those pseudonyms from the raw ids again (`SubjectErased`)."""
        key = self.keys.key_for(subject)[1]
        return hmac.new(key, b"careerloop-analytics-pseudonym-salt", hashlib.sha256).digest()

    def identity_key(self, identity: str) -> str:
        """A professional's identity (`shared.identities`: `email:<address>`, `linkedin:<profile>`) as the
        privacy service's index and a professional's erasure order hold it: an HMAC under the deployment's
        index key, the same in every student's book, and no address in clear anywhere."""
        key = self.keys.key_for(PROFESSIONALS_INDEX)[1]
        return BLINDED + hmac.new(key, f"identity\0{identity}".encode(), hashlib.sha256).hexdigest()

    def open(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """`envelope` with its sealed fields opened (placeholders where the key is shredded, each such field
        named in `ERASED_FIELDS`, in this process only); the same object when nothing in it is sealed."""
        data = envelope.get("data")
        if not isinstance(data, dict):
            return envelope
        opened: dict[str, Any] | None = None
        erased: list[str] = []
        for name, value in data.items():
            if isinstance(value, dict) and MARK in value:
                if opened is None:
                    opened = dict(data)
                try:
                    opened[name] = open_value(value, self.keys, event_id=str(envelope["id"]), field=name,
                                              opened=self.opened, erased_reads_as_placeholder=False)
                except SubjectErased as gone:
                    opened[name] = placeholder(value.get("shape", "string"), gone.subject)
                    erased.append(name)
        if opened is None:
            return envelope
        return {**envelope, "data": opened, **({ERASED_FIELDS: erased} if erased else {})}

    def forget(self, subject: str) -> None:
        """Drop what this process holds of `subject` (their key, and every value opened lately): what an
        erasure's consumers do at once."""
        self.keys.forget(subject)
        self.opened.clear()


class SealingEventStore:
    """An event store that seals personal data on `append` and opens it on `load`; everything else
    passes through, so the relay publishes what is stored: ciphertext. `personal` may be given as a
    factory, called on first use: an app is composed before its process checks its configuration."""

    def __init__(self, inner: EventStore, personal: PersonalData | Callable[[], PersonalData]) -> None:
        self.inner = inner
        self._personal = personal
        self._making = threading.Lock()

    @property
    def personal(self) -> PersonalData:
        current = self._personal  # read once: another thread may replace the factory meanwhile
        if isinstance(current, PersonalData):
            return current
        with self._making:  # an API worker's first requests arrive in several threads: one key store
            if not isinstance(self._personal, PersonalData):
                self._personal = self._personal()
            return self._personal

    def append(self, stream_id: str, stream_type: str, expected_version: int,
               events: Sequence[dict[str, Any]], request: RequestLease | None = None) -> Commit:
        return self.inner.append(stream_id, stream_type, expected_version, [self.personal.seal(e) for e in events],
                                 request)

    def load(self, stream_id: str) -> list[dict[str, Any]]:
        return [self.personal.open(e) for e in self.inner.load(stream_id)]

    def load_since(self, stream_id: str, after_version: int) -> list[dict[str, Any]]:
        return [self.personal.open(e) for e in self.inner.load_since(stream_id, after_version)]

    def erasure_epoch(self) -> int:
        """Changes whenever this process may have to read some subject's data as erased from now on
        (`DataKeys.erasure_epoch`): what a cache of opened data is valid for."""
        return self.personal.keys.erasure_epoch()

    def claim(self, scope: str, value: str, owner: str) -> str | None:
        return self.inner.claim(scope, self.personal.blind(scope, value), owner)

    def release_claim(self, scope: str, value: str, owner: str) -> None:
        self.inner.release_claim(scope, self.personal.blind(scope, value), owner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
