"""The data-subject export: every service's part of what the platform holds about a student, as one zip.

Services never call each other, and none reads another's store: each serves its own part at
`GET /me/export` (see `shared.subject_export`). This module is the one place that puts the parts
together. It calls every source of `EXPORT_SOURCES` in parallel, with the student's own
`Authorization` header and no credential of its own, so it can only ever get what the student could
get themselves; each call is bounded by `TIMEOUT`. The archive is all or nothing: a source that cannot
be reached, times out, answers anything but 200, or sends a part that is not the caller's, makes the
whole export a 503 naming every such source (never a silently partial archive).

The archive: `manifest.json` (the student, when, each service with its status and every file with
its size and SHA-256), `README.txt` (what each folder holds), and per service `<service>/<service>.json`
(the part's `data`) and `<service>/<path>` for each of its files.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from marshmallow import ValidationError

from shared.config import Settings
from shared.errors import TransientError
from shared.events import isoformat
from shared.subject_export import PartEnvelope

VARIABLE = "EXPORT_SOURCES"
TIMEOUT = (3.0, 20.0)  # connect, read (seconds): within gunicorn's 30 s worker timeout
RETRY_AFTER = 30  # seconds: a service that is down is rarely back within one
FOLDERS = {
    "contacts": "your contacts with their touchpoints (contacts.json), and contacts.vcf: the same contacts as "
                "vCard 4.0, for any address book",
    "scheduling": "your informational interviews (scheduling.json), and interviews.ics: every interview that has a "
                  "time, for any calendar app",
    "notes": "your notes with every revision, who advises you, and the access log: which advisor read which of your "
             "shared notes, and when (notes.json); notes/<note id>.md: each note as a Markdown document",
    "followups": "your timeline and every item of your follow-up queue (followups.json)",
    "notifications": "your notification preferences, every notification addressed to you (the in-app inbox "
                     "included) and the webhook endpoints you registered (notifications.json)",
    "analytics": "your roster records, and what else the analytics service counts about you under a pseudonym "
                 "(analytics.json)",
    "privacy": "your erasure requests and what became of them (privacy.json)",
}


@dataclass(frozen=True)
class Source:
    """A service whose `GET <url>/me/export` serves its part."""

    name: str
    url: str


def parse_sources(settings: Settings) -> tuple[Source, ...]:
    """`EXPORT_SOURCES` as sources; a ValueError naming the variable and the entry at fault otherwise."""
    urls = settings.service_urls(VARIABLE)
    if "privacy" in urls:
        raise ValueError(f"{VARIABLE}: the privacy service makes its own part; list the other services only")
    if not urls:
        raise ValueError(f"{VARIABLE}: no source is listed")
    return tuple(Source(name, url) for name, url in urls.items())


Get = Callable[..., Any]  # requests.get's signature; tests route the calls to in-process apps


class Unavailable(Exception):
    """One source's part could not be had: why."""


def fetch_parts(sources: tuple[Source, ...], student_id: str, headers: Mapping[str, str],
                get: Get = requests.get) -> dict[str, dict[str, Any]]:
    """Every source's part, fetched in parallel; TransientError (503) naming each source that failed."""
    with ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="export") as pool:
        futures = {source.name: pool.submit(_fetch, source, student_id, headers, get) for source in sources}
    parts, failures = {}, {}
    for name, future in futures.items():
        try:
            parts[name] = future.result()
        except Unavailable as exc:
            failures[name] = str(exc)
    if failures:
        raise TransientError(
            "the export is incomplete, so none is given: " + "; ".join(f"{n} {why}" for n, why in failures.items())
            + ". Try again later.", retry_after=RETRY_AFTER, services=sorted(failures))
    return parts


def _fetch(source: Source, student_id: str, headers: Mapping[str, str], get: Get) -> dict[str, Any]:
    try:  # a request of its own per call: nothing is shared between threads or requests
        response = get(f"{source.url}/me/export", headers=dict(headers), timeout=TIMEOUT,
                                allow_redirects=False)
    except requests.Timeout:
        raise Unavailable(f"did not answer within {TIMEOUT[1]:g} s") from None
    except requests.RequestException as exc:
        raise Unavailable(f"could not be reached ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise Unavailable(f"answered {response.status_code}")
    try:
        part = PartEnvelope().load(response.json())
    except (ValueError, ValidationError) as exc:  # requests' JSON errors are ValueErrors
        raise Unavailable(f"sent a part that is not one ({type(exc).__name__})") from None
    if part["service"] != source.name or part["student_id"] != student_id:
        raise Unavailable(f"sent the part of {part['service']!r} for another student or service")
    if any(f["path"] == f"{source.name}.json" for f in part["files"]):
        raise Unavailable(f"sent a file named like its data ({source.name}.json)")
    return part


def build(student_id: str, now: datetime, parts: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The zip archive of the parts (by service name), with its manifest and README."""
    buffer = io.BytesIO()
    stamp = now.timetuple()[:6]
    services = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(path: str, content: bytes) -> None:
            archive.writestr(zipfile.ZipInfo(path, date_time=stamp), content, compress_type=zipfile.ZIP_DEFLATED)

        for name in sorted(parts):
            part = parts[name]
            files = [(f"{name}.json", "application/json",
                      json.dumps(part["data"], indent=2, ensure_ascii=False).encode("utf-8"))]
            files += [(f["path"], f["media_type"], f["content"].encode("utf-8")) for f in part["files"]]
            listed = []
            for path, media_type, content in files:
                add(f"{name}/{path}", content)
                listed.append({"path": f"{name}/{path}", "media_type": media_type, "size": len(content),
                               "sha256": hashlib.sha256(content).hexdigest()})
            services.append({"name": name, "status": "ok", "generated_at": part["generated_at"], "files": listed})
        manifest = {"student_id": student_id, "generated_at": isoformat(now), "services": services}
        add("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        add("README.txt", readme(student_id, now, sorted(parts)).encode("utf-8"))
    return buffer.getvalue()


def readme(student_id: str, now: datetime, names: list[str]) -> str:
    lines = [f"Everything careerloop holds about {student_id}, as of {isoformat(now)}.", "",
             "One folder per service; each holds <service>.json (what the service holds about you, as its API "
             "shows it) and, where there is a common format for it, the same data as files.",
             "manifest.json lists every file with its size and SHA-256 checksum.", ""]
    lines += [f"{name}/: {FOLDERS.get(name, f'what the {name} service holds about you ({name}.json)')}"
              for name in names]
    return "\n".join(lines) + "\n"


def filename(student_id: str, now: datetime) -> str:
    """`careerloop-export-<student>-<date>.zip`, the student id reduced to characters safe in a header."""
    return f"careerloop-export-{re.sub(r'[^A-Za-z0-9._-]', '_', student_id)}-{now.date().isoformat()}.zip"
