"""The contacts use cases: load → act → save, with ownership, dedupe claims and imports.

Validation has one place per kind: shapes in `schemas`, ownership and references here, business
rules in `domain`. Dedupe of e-mail addresses and LinkedIn profiles per student uses *claims* in the
write-side store, taken before the append and released if it fails, so two concurrent adds of the
same address cannot both win (a read model would be eventually consistent and could).
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from services.contacts import formats
from services.contacts.domain import Contact, ContactImport, fingerprint
from services.contacts.schemas import AddContact
from shared.auth import Principal
from shared.contracts.contacts import CONTACT_IMPORTS, CONTACTS
from shared.errors import Conflict, NotFound
from shared.events import Metadata, utcnow
from shared.eventstore import EventStore
from shared.identities import normalise_email, normalise_linkedin
from shared.repository import Accepted, Repository
from shared.web.validators import check_time_zone

# Characters a tag may not hold (see `schemas._TAG`): an imported label loses them.
_NOT_IN_TAGS = re.compile(r"[^\w\- ]")
# What an import's duplicate shares with the contact the student has (the scopes of `_identity_claims`).
_SAME = {"email": "e-mail", "linkedin": "LinkedIn profile", "name_organisation": "name and organisation"}


class ContactsService:
    def __init__(self, store: EventStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.contacts: Repository[Contact] = Repository(store, CONTACTS, Contact)
        self.imports: Repository[ContactImport] = Repository(store, CONTACT_IMPORTS, ContactImport)
        self.clock = clock

    # -- reading ----------------------------------------------------------------------------
    def get(self, contact_id: str, principal: Principal) -> Contact:
        contact = self.contacts.load(contact_id)
        if not contact.exists or not (principal.has("admin") or contact.owner_id == principal.subject):
            raise NotFound(f"contact {contact_id} not found")  # the same answer for "not yours"
        return contact

    def get_import(self, import_id: str, principal: Principal) -> ContactImport:
        report = self.imports.load(import_id)
        if not report.exists or not (principal.has("admin") or report.owner_id == principal.subject):
            raise NotFound(f"import {import_id} not found")
        return report

    # -- adding -----------------------------------------------------------------------------
    def add_contact(self, student_id: str, details: dict[str, Any], meta: Metadata, *, tags: Iterable[str] = (),
                    import_id: str | None = None, contact_id: str | None = None) -> Accepted:
        contact_id = contact_id or str(uuid.uuid4())
        details = dict(details)
        details["emails"] = _unique_emails(details.get("emails") or [])
        claims = self._identity_claims(student_id, details, from_import=import_id is not None)
        taken: list[tuple[str, str]] = []
        try:
            for scope, value, enforced in claims:
                holder = self._claim(scope, value, contact_id)
                if holder is None:
                    taken.append((scope, value))
                elif enforced:
                    field = scope.rsplit(":", 1)[1]
                    raise Conflict(f"you already have this contact ({field} {value})",
                                   existing_contact_id=holder, field=field)
            contact = Contact.add(contact_id, student_id, details, tags, import_id)
            commit = self.contacts.save(contact, meta)
        except BaseException:
            for scope, value in taken:
                self.store.release_claim(scope, value, contact_id)
            raise
        return Accepted(contact_id, commit.last_version if commit else 0)

    def _identity_claims(self, student_id: str, details: dict[str, Any],
                         from_import: bool) -> list[tuple[str, str, bool]]:
        """(scope, value, enforced): e-mails and the LinkedIn profile always. Name+organisation is
        enforced only for an imported record that has neither, so that importing the same file twice
        adds nothing new, while a student may still add two people who share a name by hand."""
        claims = [(f"{student_id}:email", e, True) for e in details["emails"]]
        profile = normalise_linkedin(details["linkedin_url"]) if details.get("linkedin_url") else None
        if profile:
            claims.append((f"{student_id}:linkedin", profile, True))
        claims.append((f"{student_id}:name_organisation", fingerprint(details["name"], details.get("organisation")),
                       from_import and not claims))
        return claims

    def _claim(self, scope: str, value: str, owner: str) -> str | None:
        """Claim `value`, taking over claims left behind by an add that crashed before its append."""
        holder = self.store.claim(scope, value, owner)
        if holder is not None and self.store.stream_version(holder) == 0:
            self.store.release_claim(scope, value, holder)
            holder = self.store.claim(scope, value, owner)
        return holder

    # -- changing ---------------------------------------------------------------------------
    def _execute(self, contact_id: str, principal: Principal, expected_version: int | None, meta: Metadata,
                 act: Callable[[Contact], None]) -> Accepted:
        return self.contacts.update(contact_id, meta, act, expected_version=expected_version,
                                    load=lambda cid: self.get(cid, principal))[1]

    def change_details(self, contact_id: str, changes: dict[str, Any], principal: Principal, meta: Metadata,
                       expected_version: int | None = None) -> Accepted:
        if "emails" in changes:
            changes = {**changes, "emails": _unique_emails(changes["emails"] or [])}
        new_claims: list[tuple[str, str]] = []

        def act(contact: Contact) -> None:
            student = contact.owner_id or ""
            before = set(contact.details.get("emails", []))
            for email in (changes.get("emails") or []):
                if email not in before:
                    self._claim_or_conflict(f"{student}:email", email, contact.id, "emails", new_claims)
            url = changes.get("linkedin_url")
            if url and normalise_linkedin(url) != normalise_linkedin(contact.details.get("linkedin_url") or ""):
                self._claim_or_conflict(f"{student}:linkedin", normalise_linkedin(url) or "", contact.id,
                                        "linkedin_url", new_claims)
            contact.change_details(changes)

        try:
            before = self.get(contact_id, principal)
            accepted = self._execute(contact_id, principal, expected_version, meta, act)
        except BaseException:
            for scope, value in new_claims:
                self.store.release_claim(scope, value, contact_id)
            raise
        self._release_dropped_claims(before, self.contacts.load(contact_id))
        return accepted

    def _claim_or_conflict(self, scope: str, value: str, owner: str, field: str, taken: list) -> None:
        holder = self._claim(scope, value, owner)
        if holder is not None:
            raise Conflict(f"another of your contacts has this {field}", existing_contact_id=holder, field=field)
        taken.append((scope, value))

    def _release_dropped_claims(self, before: Contact, after: Contact) -> None:
        student = before.owner_id or ""
        for email in set(before.details.get("emails", [])) - set(after.details.get("emails", [])):
            self.store.release_claim(f"{student}:email", email, before.id)
        old, new = before.details.get("linkedin_url"), after.details.get("linkedin_url")
        if old and normalise_linkedin(old) != normalise_linkedin(new or ""):
            self.store.release_claim(f"{student}:linkedin", normalise_linkedin(old) or "", before.id)

    def tag(self, contact_id: str, tags: list[str], principal: Principal, meta: Metadata,
            expected_version: int | None = None) -> Accepted:
        return self._execute(contact_id, principal, expected_version, meta, lambda c: c.tag(tags))

    def untag(self, contact_id: str, tags: list[str], principal: Principal, meta: Metadata,
              expected_version: int | None = None) -> Accepted:
        return self._execute(contact_id, principal, expected_version, meta, lambda c: c.untag(tags))

    def prioritise(self, contact_id: str, advocacy: int, motivation: int, principal: Principal, meta: Metadata,
                   expected_version: int | None = None) -> Accepted:
        return self._execute(contact_id, principal, expected_version, meta,
                             lambda c: c.prioritise(advocacy, motivation))

    def set_check_in_cadence(self, contact_id: str, every_weeks: int | None, principal: Principal, meta: Metadata,
                             expected_version: int | None = None) -> Accepted:
        return self._execute(contact_id, principal, expected_version, meta,
                             lambda c: c.set_check_in_cadence(every_weeks))

    def archive(self, contact_id: str, reason: str | None, principal: Principal, meta: Metadata,
                expected_version: int | None = None) -> Accepted:
        return self._execute(contact_id, principal, expected_version, meta, lambda c: c.archive(reason))

    def restore(self, contact_id: str, principal: Principal, meta: Metadata,
                expected_version: int | None = None) -> Accepted:
        return self._execute(contact_id, principal, expected_version, meta, lambda c: c.restore())

    def log_touchpoint(self, contact_id: str, touchpoint: dict[str, Any], principal: Principal, meta: Metadata,
                       expected_version: int | None = None) -> Accepted:
        touchpoint_id = str(uuid.uuid4())
        return self._execute(contact_id, principal, expected_version, meta, lambda c: c.log_touchpoint(
            touchpoint_id, touchpoint["kind"], touchpoint["occurred_at"], self.clock(),
            channel=touchpoint.get("channel"), url=touchpoint.get("url"), text=touchpoint.get("text")))

    def merge(self, survivor_id: str, duplicate_id: str, principal: Principal, meta: Metadata,
              expected_version: int | None = None) -> Accepted:
        """The duplicate's stream records that it was absorbed *after* the survivor's merge commit:
        if that second append fails, retrying the merge is safe (the survivor skips what it has)."""
        duplicate = self.get(duplicate_id, principal)

        def act(survivor: Contact) -> None:
            nonlocal duplicate
            duplicate = self.get(duplicate_id, principal)  # fresh on every attempt
            survivor.merge(duplicate)

        accepted = self._execute(survivor_id, principal, expected_version, meta, act)
        self.contacts.save(duplicate, meta)
        student = duplicate.owner_id or ""
        for email in duplicate.details.get("emails", []):
            self.store.release_claim(f"{student}:email", email, duplicate.id)
            self.store.claim(f"{student}:email", email, survivor_id)
        return accepted

    # -- importing --------------------------------------------------------------------------
    def import_file(self, student_id: str, data: bytes, meta: Metadata, *, fmt: str | None = None,
                    filename: str | None = None, content_type: str | None = None,
                    max_records: int | None = None) -> ContactImport:
        """Add every valid record; report each record of the file as created, duplicate, invalid (the
        fields at fault and why) or skipped (why), so the outcomes add up to the file's records.

        The whole file is read before anything is added: a file over `max_records` adds nothing."""
        fmt = fmt or formats.detect_format(data, filename, content_type)
        parsed_rows = formats.parse(data, fmt, max_records=max_records)
        import_id = str(uuid.uuid4())
        rows = [self._import_record(student_id, parsed, import_id, meta) for parsed in parsed_rows]
        report = ContactImport.record_report(import_id, student_id, fmt, filename, rows)
        self.imports.save(report, meta)
        return report

    def _import_record(self, student_id: str, parsed: formats.ParsedRow, import_id: str,
                       meta: Metadata) -> dict[str, Any]:
        if parsed.skipped is not None:
            return {"line": parsed.line, "outcome": "skipped", "reason": parsed.skipped}
        if parsed.contact is None:
            problems: dict[str, list[str]] = {}
            for problem in parsed.problems:
                problems.setdefault(problem.field, []).append(problem.reason)
            return {"line": parsed.line, "outcome": "invalid", "fields": problems}
        try:
            details = AddContact().load(_forgiving(parsed.contact))
            accepted = self.add_contact(student_id, details, meta, tags=details.pop("tags", []), import_id=import_id)
        except ValidationError as exc:
            path, reason = _first_problem(exc.messages)
            return {"line": parsed.line, "outcome": "invalid", "fields": {path.split(".")[0]: [reason]}}
        except Conflict as exc:
            same = _SAME.get(str(exc.details.get("field")), "details")
            return {"line": parsed.line, "outcome": "duplicate", "contact_id": exc.details.get("existing_contact_id"),
                    "reason": f"you already have this contact (same {same})"}
        return {"line": parsed.line, "outcome": "created", "contact_id": accepted.id}


def _forgiving(contact: dict[str, Any]) -> dict[str, Any]:
    """Imports keep a row rather than refuse it over a detail a file format cannot express well:
    vCard 3.0 often writes TZ as an offset (`+09:00`), not an IANA zone, so it is dropped; an overlong
    note is cut to the API's limit; labels become tags in the API's alphabet (`Class of '09` →
    `Class of 09`), at most 50 of them."""
    row = dict(contact)
    if row.get("time_zone"):
        try:
            check_time_zone(row["time_zone"])
        except ValidationError:
            del row["time_zone"]
    if isinstance(row.get("note"), str):
        row["note"] = row["note"][:2000]
    tags = (" ".join(_NOT_IN_TAGS.sub(" ", tag).split())[:40].strip() for tag in row.pop("tags", []))
    row["tags"] = list(dict.fromkeys(tag for tag in tags if tag))[:50]
    return row


def _unique_emails(emails: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for email in emails:
        normal = normalise_email(email)
        if normal not in seen:
            seen.append(normal)
    return seen


def _first_problem(messages: Any, path: str = "") -> tuple[str, str]:
    """(`emails.0`, `Not a valid email address.`) from marshmallow's nested error dict."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_problem(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        return _first_problem(messages[0], path)
    return path or "record", str(messages)
