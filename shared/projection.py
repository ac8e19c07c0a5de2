"""Projection base: decode CloudEvents from the bus, upcast them, and dispatch by event name.

A projection reads only what it needs: unknown event types and unknown fields are ignored. All of a
polled batch's writes go into one read-store batch, and each write is idempotent (version-guarded or
keyed by event id), so redelivery and replay give the same read model. Every projection is made with
the read store wrapped in a unit of work (`shared.readstore.buffer.WriteBuffer`): during `handle` its
collections keep the batch's writes in memory (reads by id see them, nothing is read back) and write
them at the end of the batch, one bulk write per collection; the stream documents of the batch's
events are read up front, one query per collection (documents keyed by event id are written with
`add_if_absent`, never read). A projection's consumer group carries its version: a new version is a
rebuild from the start of the topics.

The base owns the plumbing, so a projection is its collections and its handlers (`@on`):
- `versioned`: the collections holding one document per stream, by stream type. `write` applies an
  event's change to its stream's document only at the next version (a redelivery changes nothing, a
  gap raises), stamped with `updated_at`; events a projection has no handler for still advance the
  document's version (`skip`), so a new event type is never taken for a gap.
- `unapplied` gives a stream's document before an event, or None for a redelivery: for changes
  computed from the current document.
- `before_batch` / `after_batch` run around each polled batch, inside its read-store batch.
- `begin_rebuild` / `caught_up` run around a rebuild's catch-up (`shared.rebuild`): work derived from
  the stored documents (the followups queues) may be deferred to the end, done once instead of after
  every batch.
- Each event a projection reacts to is applied inside a consumer span (`shared.tracing.consuming`)
  whose parent is the event's `traceparent`: its log lines carry that trace, and the events a
  reaction records (the policy worker's notifications) carry it on.

Every projection also follows the erasure topic (issue 15). On `SubjectErased` it forgets the
erased keys in this process and acknowledges (`shared.erasure`), after dropping what it holds:
- a student's: it deletes their documents from the collections it lists in `erasable` (each with the
  field naming the student), and from then on skips every event the erased student owns, so a
  redelivery, a replay or a rebuild brings nothing back;
- a professional's (each contact that was them, in any student's book): in the collections it lists in
  `contact_erasable` (each with the field naming the contact and the fields that came from the contact's
  sealed data) those fields read as the placeholder from then on, as a rebuild would read them
  (`shared.keys.fields.redacted`); `contact_erased` is the hook for more (a text that quotes a name).
A projection that holds no personal data and must keep its counts (the analytics side) sets
`holds_personal_data = False`: it only acknowledges (and skips an erased student's events only if it
says `skips_erased_owners = True`: the translator, which could no longer pseudonymise them).
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from shared import tracing
from shared.bus import Message
from shared.contracts.privacy import ERASURES
from shared.erasure import acknowledge
from shared.events import EventCatalog, Recorded, UnknownEvent, isoformat, parse_type, utcnow
from shared.keys.fields import redacted
from shared.keys.personal import PersonalData, contact_subject, student_subject
from shared.readstore import Collection, Index, ReadStore, Update, VersionGap, iterate
from shared.readstore.buffer import BufferedCollection, WriteBuffer
from shared.readstore.generations import GenerationView, generation_of

log = logging.getLogger("careerloop.projection")

Reaction = Callable[[Any, dict[str, Any], Recorded], None]


def on(event_name: str) -> Callable[[Reaction], Reaction]:
    """Mark a method as this projection's reaction to one event type: method(self, envelope, event)."""

    def mark(method: Reaction) -> Reaction:
        # a marker on the function object, read back when the class is built; a Callable type declares no attributes
        method.__projects__ = event_name  # type: ignore[attr-defined]
        return method

    return mark


class _MadeWithWriteBuffer(type):
    """Every projection is made with its read store wrapped in a unit of work, whatever makes it (the
    workers, rebuilds, tests), so its collections buffer a batch's writes without asking."""

    def __call__(cls, read_store: Any, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(WriteBuffer(read_store), *args, **kwargs)


class Projection(metaclass=_MadeWithWriteBuffer):
    name: ClassVar[str]
    version: ClassVar[int] = 1
    catalogs: ClassVar[tuple[EventCatalog, ...]]
    # `write` stamps each document with its latest event's time; False for documents that are facts only
    stamps_updated_at: ClassVar[bool] = True
    holds_personal_data: ClassVar[bool] = True
    # skip an erased student's events (a redelivery, a replay, a rebuild); None: as `holds_personal_data`
    skips_erased_owners: ClassVar[bool | None] = None
    _reactions: ClassVar[dict[str, Reaction]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._reactions = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                if hasattr(attr, "__projects__"):
                    cls._reactions[attr.__projects__] = attr

    def __init__(self, read_store: ReadStore, *, namespace: str = "", personal: PersonalData | None = None) -> None:
        self.read_store = read_store
        self.personal = personal  # opens the sealed personal data of what is consumed (None: nothing sealed)
        self.namespace = namespace  # BUS_NAMESPACE: prefixes topics and the consumer group
        # the generation this instance writes: a GenerationView's, else 0 (tests, replays)
        self.generation: int = getattr(read_store, "pinned_generation", 0)
        self._catalog_of = {(c.service, t.name): c for c in (*self.catalogs, ERASURES) for t in c.types()}
        # stream type -> the collection of one version-guarded document per stream (see `write`)
        self.versioned: dict[str, Collection] = {}
        # the collections holding students' personal data, each with the field naming the student
        self.erasable: list[tuple[Collection, str]] = []
        # the collections holding professionals' personal data: (collection, the field naming the contact,
        # the fields that hold what the contact's key sealed)
        self.contact_erasable: list[tuple[Collection, str, tuple[str, ...]]] = []
        # between `begin_rebuild` and `caught_up`: a rebuild is catching up, derived work may wait
        self.rebuilding = False

    @property
    def group_id(self) -> str:
        return group_id(self.namespace, self.name, self.version, self.generation)

    @property
    def topics(self) -> list[str]:
        return sorted({self.namespace + c.topic for c in (*self.catalogs, ERASURES)})

    def decode(self, message: Message) -> tuple[dict[str, Any], Recorded | None]:
        """The envelope and its upcast event; None as the event when this projection has no use for it."""
        envelope = json.loads(message.value)
        if not isinstance(envelope, dict):
            raise ValueError("message is not a CloudEvents JSON object")
        if self.personal is not None:
            envelope = self.personal.open(envelope)
        parsed = parse_type(envelope.get("type", ""))
        if parsed is None or parsed[1] not in self._reactions or parsed[:2] not in self._catalog_of:
            return envelope, None
        try:
            return envelope, self._catalog_of[parsed[:2]].read(envelope)
        except UnknownEvent:  # a newer version than this code knows: skip, a later deploy rebuilds
            log.warning("skipping unknown event type %s", envelope.get("type"))
            return envelope, None

    def handle(self, messages: list[Message]) -> None:
        decoded = [self.decode(m) for m in messages]
        self.before_batch()
        with self.read_store.batch():
            self._prefetch(decoded)
            for envelope, event in decoded:
                if event is None:
                    self.skip(envelope)
                elif event.name != "SubjectErased" and self._erased_owner(envelope.get("ownerid")):
                    continue  # an erased student's: dropped, not applied (nothing of theirs comes back)
                else:
                    with tracing.consuming(envelope, f"apply {event.name}", **{
                            "messaging.operation.type": "process", "messaging.consumer.group.name": self.group_id,
                            "careerloop.projection": self.name}):
                        self._reactions[event.name](self, envelope, event)
            self.after_batch()

    def _prefetch(self, decoded: list[tuple[dict[str, Any], Recorded | None]]) -> None:
        """Read the batch's stream documents in one query per collection, instead of one read per event."""
        wanted: dict[int, tuple[Collection, list[str]]] = {}
        for envelope, _ in decoded:
            collection = self.versioned.get(envelope.get("streamtype"))  # type: ignore[arg-type]
            if collection is not None and isinstance(envelope.get("subject"), str):
                wanted.setdefault(id(collection), (collection, []))[1].append(envelope["subject"])
        for collection, ids in wanted.values():
            if isinstance(collection, BufferedCollection):
                collection.prefetch(ids)

    # -- erasure ----------------------------------------------------------------------------------
    @on("SubjectErased")
    def subject_erased(self, envelope: dict[str, Any], event: Recorded) -> None:
        student_id, contacts = event.data["student_id"], event.data["contacts"]
        if self.personal is not None:
            erased = [student_subject(student_id)] if student_id else []
            erased += [contact_subject(c["student_id"], c["contact_id"]) for c in contacts]
            for subject in erased:
                self.personal.forget(subject)
        if self.holds_personal_data:
            for collection, field in self.erasable if student_id else ():
                while page := collection.find({field: student_id}, limit=500).items:
                    for doc in page:
                        collection.delete(doc["_id"])
            for contact in contacts:
                self.contact_erased(contact["student_id"], contact["contact_id"])
        acknowledge(self.read_store, envelope["subject"], self.name, isoformat(utcnow()))

    def contact_erased(self, student_id: str, contact_id: str) -> None:
        """Redact what this projection holds of one erased contact (see `contact_erasable`)."""
        subject = contact_subject(student_id, contact_id)
        for collection, field, names in self.contact_erasable:
            for doc in list(iterate(collection, {field: contact_id})):
                collection.upsert(doc["_id"], Update(set={n: redacted(doc[n], subject) for n in names if n in doc}))

    def _erased_owner(self, owner: Any) -> bool:
        """Whether the student owning an event was erased (the key store's tombstones, which the process
        keeps as a set and reloads within a second of any shredding)."""
        skips = self.holds_personal_data if self.skips_erased_owners is None else self.skips_erased_owners
        if not owner or self.personal is None or not skips:
            return False
        return self.personal.keys.erased(student_subject(owner))

    def begin_rebuild(self, *, resumed: bool) -> None:
        """Called by a rebuild (`shared.rebuild`) before it consumes. Until `caught_up`, a projection may
        defer work derived from what it stores (the followups queues) instead of doing it after every
        batch: nothing queries a generation that is being built, and the switch-over waits for
        `caught_up`. `resumed`: an earlier run of this rebuild applied and committed events whose
        deferred work this instance never saw (it was interrupted or crashed), so `caught_up` must
        not rely on what this instance saw alone."""
        self.rebuilding = True

    def caught_up(self, stop: threading.Event | None = None) -> bool:
        """Called by a rebuild once its group has applied everything its topics held and left the
        group, before the switch-over: do the work deferred since `begin_rebuild`. False when `stop`
        interrupted it (the generation stays unfinished; a resumed rebuild does all of it again)."""
        self.rebuilding = False
        return True

    def before_batch(self) -> None:
        """Called before a polled batch's events are handled (per-batch state starts here)."""

    def after_batch(self) -> None:
        """Called after a polled batch's events, in the same read-store batch (work per batch, not per event)."""

    def write(self, envelope: dict[str, Any], update: Update) -> None:
        """Apply one event's change to its stream's document, exactly once (see `advance`)."""
        if self.stamps_updated_at:
            update.set["updated_at"] = envelope["time"]
        self.advance(envelope, update)

    def advance(self, envelope: dict[str, Any], update: Update) -> None:
        """The version guard: the document takes the event's version only from the one before it; an
        older or equal version is a redelivery and changes nothing; a jump ahead raises `VersionGap`."""
        self.versioned[envelope["streamtype"]].apply(envelope["subject"], envelope["streamversion"], update)

    def skip(self, envelope: dict[str, Any]) -> None:
        """An event this projection does not react to still advances its stream's document, so that
        stream's next event is not taken for a gap."""
        if envelope.get("streamtype") in self.versioned and "streamversion" in envelope:
            self.advance(envelope, Update())

    def unapplied(self, envelope: dict[str, Any]) -> dict[str, Any] | None:
        """The event's stream document as it is before this event ({} for a new stream), or None when
        the event is a redelivery (already applied): for changes computed from the current document.
        A gap raises `VersionGap` before anything is computed from a document that misses events."""
        collection = self.versioned[envelope["streamtype"]]
        doc = collection.get(envelope["subject"]) or {}
        last, version = doc.get("_version", 0), envelope["streamversion"]
        if version <= last:
            return None
        if version != last + 1:
            raise VersionGap(collection.name, envelope["subject"], last, version)
        return doc


def group_id(namespace: str, name: str, version: int, generation: int) -> str:
    """The consumer group of one projection version in one generation."""
    return f"{namespace}projection.{name}.v{version}" + (f".g{generation}" if generation else "")


class _Recorder:
    """A read store that only records which collections are declared (no I/O at all)."""

    pinned_generation = 0

    def __init__(self) -> None:
        self.names: dict[str, tuple[Index, ...]] = {}

    def collection(self, name: str, indexes: Any = (), **_: Any) -> _Recorder:
        self.names[name] = tuple(indexes)
        return self

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"a projection's __init__ may only declare collections, not call {name}()")


def blueprint(make: Callable[..., Projection], namespace: str = "") -> tuple[Projection, list[str]]:
    """An instance that has touched nothing (for its name, version and topics), and the logical
    collections it declares, in declaration order."""
    recorder = _Recorder()
    projection = make(recorder, namespace=namespace)
    return projection, list(recorder.names)


def collection_names(make: Callable[..., Projection]) -> list[str]:
    """The logical collections a projection writes, in declaration order."""
    return blueprint(make)[1]


def open_projection(make: Callable[..., Projection], read_store: ReadStore, *, namespace: str = "",
                    generation: int | None = None) -> Projection:
    """The projection pinned to `generation`, by default the one its collections are in now."""
    if generation is None:
        generation = generation_of(read_store.load_generations(), collection_names(make))
    return make(GenerationView(read_store, generation), namespace=namespace)
