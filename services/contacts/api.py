"""HTTP endpoints of the contacts service: thin views over `application` and the directory."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from services.contacts import formats, schemas, subject_export
from services.contacts.application import ContactsService
from services.contacts.domain import Contact, is_dormant
from services.contacts.projections import query_directory
from shared.auth import Principal, acting_for
from shared.config import Settings
from shared.contracts.contacts import IMPORT_OUTCOMES
from shared.events import utcnow
from shared.readstore import Collection, iterate
from shared.repository import Accepted
from shared.subject_export import EXPORT_PATH, EXPORT_SUMMARY
from shared.web import Api, command_metadata, if_match_version, json_response, wait_for_version

api = Api("contacts", __name__)
READERS = ("student", "admin")


@dataclass
class ContactsContext:
    service: ContactsService
    directory: Collection
    settings: Settings


def _ctx() -> ContactsContext:
    return current_app.extensions["contacts"]


def contact_location(contact_id: str) -> str:
    return url_for("contacts.get_contact", contact_id=contact_id)



def contact_view(contact: Contact) -> dict[str, Any]:
    settings = _ctx().settings
    stage = contact.stage
    if is_dormant(stage, contact.last_touch_at, utcnow(), settings.int("DORMANT_AFTER_DAYS")):
        stage = "dormant"
    return {"id": contact.id, "student_id": contact.owner_id, "version": contact.version, **contact.details,
            "tags": contact.tags, "priority": contact.priority,
            "check_in_every_weeks": contact.check_in_every_weeks, "status": contact.status,
            "merged_into": contact.merged_into, "stage": stage, "last_touch_at": contact.last_touch_at}


# -- commands -------------------------------------------------------------------------------
@api.route("/contacts", "POST", summary="Add a contact", body=schemas.AddContact, response=schemas.Accepted,
           status=201, errors=(409,), location=contact_location)
def add_contact(principal: Principal, body: dict[str, Any]) -> Accepted:
    student_id = acting_for(principal, body.pop("student_id", None))
    tags = body.pop("tags", [])
    return _ctx().service.add_contact(student_id, body, command_metadata(principal), tags=tags)


@api.route("/contacts/<contact_id>", "PATCH", summary="Change a contact's details (null clears a field)",
           body=schemas.ChangeDetails, response=schemas.Accepted, errors=(404, 409, 412))
def change_details(principal: Principal, contact_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.change_details(contact_id, body, principal, command_metadata(principal), if_match_version())


@api.route("/contacts/<contact_id>/tags", "POST", summary="Tag a contact", body=schemas.Tags,
           response=schemas.Accepted, errors=(404, 409, 412))
def tag_contact(principal: Principal, contact_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.tag(contact_id, body["tags"], principal, command_metadata(principal), if_match_version())


@api.route("/contacts/<contact_id>/tags/<tag>", "DELETE", summary="Remove a tag", response=schemas.Accepted,
           errors=(404, 409, 412))
def untag_contact(principal: Principal, contact_id: str, tag: str) -> Accepted:
    return _ctx().service.untag(contact_id, [tag], principal, command_metadata(principal), if_match_version())


@api.route("/contacts/<contact_id>/priority", "PUT", summary="Rate advocacy and motivation (1–3 each)",
           body=schemas.Priority, response=schemas.Accepted, errors=(404, 409, 412))
def prioritise_contact(principal: Principal, contact_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.prioritise(contact_id, body["advocacy"], body["motivation"], principal,
                                     command_metadata(principal), if_match_version())


@api.route("/contacts/<contact_id>/check-in-cadence", "PUT",
           summary="Check in every N weeks after the last touch (null: the default rule)",
           body=schemas.CheckInCadence, response=schemas.Accepted, errors=(404, 409, 412))
def set_check_in_cadence(principal: Principal, contact_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.set_check_in_cadence(contact_id, body["every_weeks"], principal,
                                               command_metadata(principal), if_match_version())


@api.route("/contacts/<contact_id>/archive", "POST", summary="Archive a contact (history stays)",
           body=schemas.Archive, response=schemas.Accepted, errors=(404, 409, 412))
def archive_contact(principal: Principal, contact_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.archive(contact_id, body.get("reason"), principal, command_metadata(principal),
                                  if_match_version())


@api.route("/contacts/<contact_id>/restore", "POST", summary="Restore an archived contact",
           response=schemas.Accepted, errors=(404, 409, 412))
def restore_contact(principal: Principal, contact_id: str) -> Accepted:
    return _ctx().service.restore(contact_id, principal, command_metadata(principal), if_match_version())


@api.route("/contacts/<contact_id>/touchpoints", "POST",
           summary="Log a touchpoint: outreach, reply, conversation, thank-you, check-in, update, article, intro",
           body=schemas.Touchpoint, response=schemas.Accepted, status=201, errors=(404, 409, 412))
def log_touchpoint(principal: Principal, contact_id: str, body: dict[str, Any]) -> Response:
    accepted = _ctx().service.log_touchpoint(
        contact_id, body, principal, command_metadata(principal), if_match_version()
    )
    return json_response({"id": accepted.id, "version": accepted.version}, 201, version=accepted.version)


@api.route("/contacts/<contact_id>/merge", "POST", summary="Merge a duplicate into this contact (both histories kept)",
           body=schemas.Merge, response=schemas.Accepted, errors=(404, 409, 412))
def merge_contacts(principal: Principal, contact_id: str, body: dict[str, Any]) -> Accepted:
    return _ctx().service.merge(contact_id, body["duplicate_id"], principal, command_metadata(principal),
                                if_match_version())


@api.route("/imports", "POST", summary="Import LinkedIn Connections.csv, Google Contacts CSV or vCard 3.0/4.0",
           query=schemas.ImportQuery, response=schemas.ImportReport, status=201, errors=(413, 422),
           consumes=("text/csv", "text/vcard", "application/octet-stream", "multipart/form-data"))
def import_contacts(principal: Principal, query: dict[str, Any]) -> Response:
    settings = _ctx().settings
    student_id = acting_for(principal, query.get("student_id"))
    filename = query.get("filename")
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise UnsupportedMediaType("send the file in a form field named 'file'")
        data, filename, content_type = upload.read(), filename or upload.filename, upload.mimetype
    else:
        data, content_type = request.get_data(cache=True), request.mimetype
    max_bytes = settings.int("IMPORT_MAX_BYTES")
    if len(data) > max_bytes:
        raise RequestEntityTooLarge(f"the file has {len(data)} bytes; an import takes at most {max_bytes} "
                                    "(IMPORT_MAX_BYTES): split the file")
    try:
        report = _ctx().service.import_file(student_id, data, command_metadata(principal), fmt=query.get("format"),
                                            filename=filename, content_type=content_type,
                                            max_records=settings.int("IMPORT_MAX_ROWS"))
    except formats.TooLarge as exc:
        raise RequestEntityTooLarge(str(exc)) from exc
    except formats.FormatError as exc:
        raise ValidationError({"file": [str(exc)]}) from exc
    return json_response(_import_view(report.id, report.report), 201, version=report.version)


# -- reads ----------------------------------------------------------------------------------
@api.route("/contacts/<contact_id>", "GET", summary="A contact as of its newest event", roles=READERS,
           response=schemas.ContactView, errors=(404,))
def get_contact(principal: Principal, contact_id: str) -> Response:
    contact = _ctx().service.get(contact_id, principal)
    return json_response(contact_view(contact), version=contact.version)


@api.route("/contacts/<contact_id>/touchpoints", "GET", summary="The contact's touchpoints, newest first",
           roles=READERS, response=schemas.Touchpoints, errors=(404,))
def list_touchpoints(principal: Principal, contact_id: str) -> Response:
    contact = _ctx().service.get(contact_id, principal)
    items = sorted(contact.touchpoints, key=lambda t: t["occurred_at"], reverse=True)
    return json_response({"items": items}, version=contact.version)


@api.route("/contacts", "GET", summary="The student's contact directory: filter, search, page",
           roles=READERS, query=schemas.DirectoryQuery, response=schemas.DirectoryPage, errors=(503,))
def list_contacts(principal: Principal, query: dict[str, Any]) -> Response:
    ctx = _ctx()
    student_id = acting_for(principal, query.get("student_id"))
    if "min_version" in query:
        wait_for_version(ctx.directory, query["min_version"])
    page = query_directory(ctx.directory, student_id, query, utcnow(), ctx.settings.int("DORMANT_AFTER_DAYS"))
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


@api.route("/imports/<import_id>", "GET", summary="An import's per-record report", roles=READERS,
           response=schemas.ImportReport, errors=(404,))
def get_import(principal: Principal, import_id: str) -> Response:
    report = _ctx().service.get_import(import_id, principal)
    return json_response(_import_view(report.id, report.report), version=report.version)


@api.route("/exports/contacts.csv", "GET", summary="Export the directory as CSV (formulas neutralised)",
           roles=READERS, query=schemas.ExportQuery, produces=("text/csv",))
def export_csv(principal: Principal, query: dict[str, Any]) -> Response:
    return _download(formats.EXPORTERS["csv"], _export_rows(principal, query))


@api.route("/exports/contacts.vcf", "GET", summary="Export the directory as vCard 4.0", roles=READERS,
           query=schemas.ExportQuery, produces=("text/vcard",))
def export_vcard(principal: Principal, query: dict[str, Any]) -> Response:
    return _download(formats.EXPORTERS["vcf"], _export_rows(principal, query))


@api.route(EXPORT_PATH, "GET", summary=EXPORT_SUMMARY, roles=("student",), response=schemas.ExportPart)
def export_own_data(principal: Principal) -> Response:
    ctx = _ctx()
    ids = [doc["_id"] for doc in iterate(ctx.directory, {"student_id": principal.subject}, [("name_key", 1)])]
    contacts = [ctx.service.get(contact_id, principal) for contact_id in ids]
    return json_response(subject_export.part(principal.subject, utcnow(),
                                             [(contact_view(c), c.touchpoints) for c in contacts],
                                             _export_rows(principal, {"status": "all"})))


def _download(exporter: formats.Exporter, contacts: list[dict[str, Any]]) -> Response:
    return Response(exporter.export(contacts), mimetype=exporter.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{exporter.filename}"'})


def _export_rows(principal: Principal, query: dict[str, Any]) -> list[dict[str, Any]]:
    student_id = acting_for(principal, query.get("student_id"))
    status = query["status"]
    filter: dict[str, Any] = {"student_id": student_id,
                              "status": {"$in": ["active", "archived"]} if status == "all" else status}
    return [{**{k: v for k, v in doc.items() if v is not None}, "id": doc["_id"]}
            for doc in iterate(_ctx().directory, filter, [("name_key", 1)])]


def _import_view(import_id: str, report: dict[str, Any]) -> dict[str, Any]:
    """The report as the API shows it: an invalid row's reason is its fields' problems in one line."""
    rows = [{**row, "reason": "; ".join(f"{field}: {m}" for field, messages in row["fields"].items() for m in messages)}
            if row.get("fields") and not row.get("reason") else row for row in report.get("rows", [])]
    counts = {outcome: sum(1 for r in rows if r["outcome"] == outcome) for outcome in IMPORT_OUTCOMES}
    return {"id": import_id, "format": report.get("format"), "filename": report.get("filename"),
            "counts": counts, "rows": rows}
