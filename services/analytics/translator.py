"""`python -m services.analytics.translator`: domain events in, pseudonymised integration events out.

The translator is a projection (`shared.projection`): its own consumer group on the contacts,
scheduling, notes and followups topics, checkpointed, version guarded per source stream, run by the
projection worker's command line (`--status`, `--rebuild`, `--replay-dead-letters` work as for every
worker). What it writes to the read store is only what translation needs, and no personal data:

- `analytics_translator_streams`: per source stream its version and the raw ids and categories later
  events of the stream need (an interview's contact and format, a note's contact, a follow-up item's
  contact);
- `analytics_translator_pairs`: per (student, contact) pseudonym pair, when their latest held interview
  ended (for `ThankYouSent.hours_after_interview`);
- `analytics_translator_students`: per student pseudonym, the token of the source event that activated
  them (`Pseudonymiser.event_token`: no way back to the event once the student is erased);
- `analytics_translator_published`: per thank-you touchpoint (by its event token), the exact messages
  it was translated into (the only translation that reads another stream's facts, which may change
  before a redelivery).

Publishing follows the relay: a batch's integration events are sent after its read-store writes, keyed
by the student's pseudonym, and `handle` returns only once the bus acknowledged every one (`flush`),
so the runner commits the batch's offsets only after that. A redelivered event (version already
applied) is translated again from the same facts, or republished from what was stored for it, so a
restart or a crash between the writes and the acknowledgement republishes the same bytes under the same
id; consumers deduplicate by `id`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from services.analytics.integration import (
    CONTENT_TYPE,
    TOPIC,
    Emitted,
    Source,
    activation,
    envelope,
    serialise,
    translate,
)
from services.analytics.pseudonyms import Pseudonymiser, salts_of
from shared.bus import EventBus, Message, Producer, close_quietly
from shared.contracts.contacts import CONTACTS
from shared.contracts.followups import FOLLOWUPS
from shared.contracts.notes import NOTES
from shared.contracts.scheduling import INTERVIEWS
from shared.events import Recorded
from shared.process import Running
from shared.projection import Projection, on
from shared.readstore import ReadStore, Update
from shared.runtime import projection_main
from shared.times import normal

log = logging.getLogger("careerloop.analytics.translator")

Outgoing = tuple[str, str]  # (message key, message value as text)


class Translator(Projection):
    name = "analytics-translator"
    version = 1
    stamps_updated_at = False
    # pseudonymised facts: the stream keeps counting an erased student's past (nothing is deleted); their
    # events are skipped from then on (their pseudonyms can no longer be computed) and the remembered
    # pseudonyms forgotten
    holds_personal_data = False
    skips_erased_owners = True
    catalogs = (CONTACTS, INTERVIEWS, NOTES, FOLLOWUPS)

    def __init__(self, read_store: ReadStore, *, bus: EventBus | None = None,
                 pseudonyms: Pseudonymiser | None = None, **options: Any) -> None:
        super().__init__(read_store, **options)
        self.streams = read_store.collection("analytics_translator_streams")
        self.pairs = read_store.collection("analytics_translator_pairs")
        self.students = read_store.collection("analytics_translator_students")
        self.published = read_store.collection("analytics_translator_published")
        self.versioned = {c.aggregate: self.streams for c in self.catalogs}
        self.bus, self.pseudonyms = bus, pseudonyms
        self.topic = self.namespace + TOPIC
        self._producer: Producer | None = None  # created on first publish: per process, after fork
        self._outgoing: list[Outgoing] = []
        self._activations: dict[str, str] = {}  # student pseudonym -> the source event that activated them

    # -- plumbing -----------------------------------------------------------------------------
    def handle(self, messages: list[Message]) -> None:
        """Translate the batch into the read store, then publish it and wait for the acknowledgement."""
        self._outgoing = []
        try:
            super().handle(messages)
        except Exception:  # the batch's activations may be rolled back: remember only what is stored
            self._activations = {}
            raise
        if self._outgoing:
            self.publish(self._outgoing)

    def publish(self, outgoing: list[Outgoing]) -> None:
        if self.bus is None:
            raise RuntimeError("the translator has no bus to publish on")
        if self._producer is None:
            self._producer = self.bus.producer()
        try:
            for key, value in outgoing:
                self._producer.send(self.topic, key, value.encode(), {"content-type": CONTENT_TYPE})
            self._producer.flush()  # raises unless the bus acknowledged every message
        except Exception:  # start over with a fresh producer; the batch is redelivered and republished
            self.close()
            raise

    def close(self) -> None:
        if self._producer is not None:
            close_quietly(self._producer)
            self._producer = None

    def translate(self, envelope: dict[str, Any], event: Recorded, *, keep: dict[str, Any] | None = None,
                  facts: bool = False, pair: dict[str, Any] | None = None) -> None:
        """Translate one event into the batch's messages, the same bytes at every redelivery.

        A translation depends on the event; with `facts`, on its stream's kept facts (`keep`, written
        only by a stream's first event, so the same at every later event and at a redelivery); on
        whether it activated its student (recorded once with the student); and on `pair`, facts of
        another stream, which may have changed by the time the event is redelivered. So a redelivery
        is simply translated again, except when the translation used `pair`: those messages are stored
        before the event's version is, and a redelivery publishes the stored ones."""
        if pair is None:
            self.write(envelope, Update(set=dict(keep or {})))  # version guarded: a redelivery changes nothing
        elif self.unapplied(envelope) is None and (stored := self._stored(self._token(envelope, event))):
            self._outgoing.extend(stored)
            return
        stream = (self.streams.get(envelope["subject"]) or {}) if facts else {}
        source = Source(envelope, event.data, stream=stream, pair=pair or {})
        messages, activated = self._messages(source, translate(source))
        if pair is not None:
            token = self._token(envelope, event)
            if messages and not self.published.insert_if_absent(
                    token, {"messages": [{"key": k, "value": v} for k, v in messages]}):
                messages = self._stored(token)  # translated before a crash: publish that again
            self.write(envelope, Update())
        if activated:
            self.students.insert_if_absent(activated[0], {"activated_by": activated[1]})
        self._outgoing.extend(messages)

    def _token(self, envelope: dict[str, Any], event: Recorded) -> str:
        """A source event's id as the translator keeps it: its event token (see `Pseudonymiser`), which
        does not lead back to the source event once the student is erased."""
        assert self.pseudonyms is not None, "the translator needs a Pseudonymiser"
        student_id = event.data.get("student_id") or envelope.get("ownerid") or ""
        return self.pseudonyms.event_token(envelope["id"], student_id)

    def _stored(self, token: str) -> list[Outgoing]:
        stored = self.published.get(token) or {}
        return [(m["key"], m["value"]) for m in stored.get("messages", [])]

    def _activated_by(self, student: str) -> str | None:
        """The token of the source event that activated the student (it never changes), or None."""
        known = self._activations.get(student)
        if known is None:
            known = (self.students.get(student) or {}).get("activated_by")
            if known is not None:
                self._activations[student] = known
        return known

    def _messages(self, source: Source, emitted: list[Emitted]) -> tuple[list[Outgoing], tuple[str, str] | None]:
        """The messages of a translation, StudentActivated first for the event that activates its
        student (a redelivery of that event included); and (the student's pseudonym, the event's token)
        when it newly activates them."""
        student_id = source.student_id
        if not emitted or not student_id:
            return [], None
        assert self.pseudonyms is not None, "the translator needs a Pseudonymiser"
        student = self.pseudonyms.student(student_id)
        token = self.pseudonyms.event_token(source.envelope["id"], student_id)
        activated_by, activated = self._activated_by(student), None
        if activated_by is None:
            activated = (student, token)
            self._activations[student] = token
        if self._activations[student] == token:
            emitted = [activation(student), *emitted]
        wrap = partial(envelope, source_event_id=source.envelope["id"], time=source.time, student_id=student_id,
                       pseudonyms=self.pseudonyms, source_token=token)
        return [(student, serialise(wrap(e)).decode()) for e in emitted], activated

    def _pair_id(self, student_id: str, contact_id: str) -> str:
        assert self.pseudonyms is not None
        return f"{self.pseudonyms.student(student_id)}:{self.pseudonyms.contact(contact_id, student_id)}"

    @on("SubjectErased")
    def subject_erased(self, envelope: dict[str, Any], event: Recorded) -> None:
        if self.pseudonyms is not None:
            self.pseudonyms.forget()
        super().subject_erased(envelope, event)

    # -- contacts -------------------------------------------------------------------------------
    @on("ContactAdded")
    def contact_added(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event)

    @on("TouchpointLogged")
    def touchpoint(self, envelope: dict[str, Any], event: Recorded) -> None:
        pair = None  # only a thank-you depends on another stream (the pair's latest interview)
        if event.data["kind"] == "thank_you" and envelope.get("ownerid"):
            pair = self.pairs.get(self._pair_id(envelope["ownerid"], envelope["subject"])) or {}
        self.translate(envelope, event, pair=pair)

    # -- interviews -------------------------------------------------------------------------------
    @on("InterviewRequested")
    def requested(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event, keep={"contact_id": event.data["contact_id"], "format": event.data["format"]})

    @on("InterviewScheduled")
    def scheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event, facts=True)  # the format, from the request

    @on("InterviewRescheduled")
    def rescheduled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event)

    @on("InterviewCancelled")
    def cancelled(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event)

    @on("InterviewMissed")
    def missed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event)

    @on("InterviewCompleted")
    def completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        # the pair's latest end first, idempotently (a max), so a crash after it loses nothing
        data = event.data
        pair_id, end = self._pair_id(data["student_id"], data["contact_id"]), normal(data["end"])
        known = (self.pairs.get(pair_id) or {}).get("interview_end")
        if known is None or known < end:
            self.pairs.upsert(pair_id, Update(set={"interview_end": end}))
        self.translate(envelope, event)

    # -- notes ------------------------------------------------------------------------------------
    @on("NoteRecorded")
    def note_recorded(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event, keep={"contact_id": event.data.get("contact_id")})

    @on("ActionItemCompleted")
    def action_item_completed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event, facts=True)  # the note's contact

    # -- follow-ups -------------------------------------------------------------------------------
    @on("FollowUpBecameDue")
    def became_due(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event, keep={"contact_id": event.data.get("contact_id")})

    @on("FollowUpDismissed")
    def dismissed(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event, facts=True)  # the item's contact, from its announcement

    @on("FollowUpCompleted")
    def completed_follow_up(self, envelope: dict[str, Any], event: Recorded) -> None:
        self.translate(envelope, event)


def bind(process: Running) -> Callable[..., Translator]:
    """The translator's factory with this process's bus and pseudonym keys; each translator's producer
    is closed when the process ends."""
    bus, pseudonyms = process.bus(), Pseudonymiser.from_settings(process.settings, salts_of(process))

    def make(read_store: ReadStore, **options: Any) -> Translator:
        translator = Translator(read_store, bus=bus, pseudonyms=pseudonyms, **options)
        process.resources.callback(translator.close)
        return translator

    return make


def main(argv: list[str] | None = None) -> int:
    return projection_main(Translator, argv, bind=bind)


if __name__ == "__main__":
    raise SystemExit(main())
