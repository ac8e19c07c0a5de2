"""How a professional is recognised: by e-mail address or LinkedIn profile, normalised.

One home for the rule, because two services apply it: contacts (a student's duplicates: one contact per
address or profile in their book) and privacy (a professional's erasure reaches every student's book
that holds them, found by the same identities).
"""
from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_linkedin(url: str) -> str | None:
    """`linkedin.com/in/<slug>` for any spelling of a person's LinkedIn profile URL (any subdomain, scheme
    optional), None for anything else: company and school pages are not the contact.

    The one normaliser: validation, dedupe claims and the importers all recognise profiles with it."""
    candidate = url.strip()
    if "://" not in candidate:
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # raises ValueError for a port that is no number
    except ValueError:  # a malformed URL: an unbalanced "[" read as an IPv6 host, a port that is no number
        return None
    if not (host == "linkedin.com" or host.endswith(".linkedin.com")):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0].lower() not in ("in", "pub"):
        return None
    return f"linkedin.com/{segments[0].lower()}/{segments[1].lower()}"


def identities(emails: Iterable[str] = (), linkedin_url: str | None = None) -> list[str]:
    """A professional's identities, `email:<address>` and `linkedin:<profile>`, normalised and unique."""
    found = [f"email:{normalise_email(e)}" for e in emails if e and normalise_email(e)]
    profile = normalise_linkedin(linkedin_url) if linkedin_url else None
    if profile:
        found.append(f"linkedin:{profile}")
    return sorted(set(found))
