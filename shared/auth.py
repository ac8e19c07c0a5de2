"""Bearer-token authentication, framework-neutral (the web layer maps `AuthError` to 401).

Two key sources, each pinned to its own algorithms:

* a shared HS256 secret (local deployments, `make run`; tokens from `mint_token` or the CLI), and
* the university identity provider's JWKS (RS256/ES256 only), fetched with PyJWT's `PyJWKClient`:
  the key set is cached, an unknown `kid` triggers a rate-limited refetch (key rotation), and every
  fetch has a timeout.

The token header's `alg` only chooses *which* configured source verifies it; each source verifies with
a fixed algorithm list and its own key material, so an HS256 token is never checked against a public
key (alg confusion) and `none` is never accepted. Any input, however malformed, ends either in a
`Principal` or in an `AuthError` with a short reason that is safe to show to the client.

CLI for local use: `python -m shared.auth mint --sub s-123 --role student [--role advisor] [--ttl 3600]`
prints a token signed with `CAREERLOOP_JWT_SECRET` (under `make run`, the published development default
from `shared.config`; every other deployment must set its own, see `shared.config.check_secrets`).
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import jwt
from jwt import PyJWKClient
from marshmallow import ValidationError

from shared.config import Settings
from shared.errors import Forbidden

log = logging.getLogger(__name__)

ROLES = ("student", "advisor", "admin", "analyst")
_KNOWN_ROLES = frozenset(ROLES)

SECRET_ENV = "CAREERLOOP_JWT_SECRET"

_HS_ALGORITHMS = ("HS256",)             # only with the shared secret
_JWKS_ALGORITHMS = ("RS256", "ES256")   # only with keys from the JWKS
_REQUIRED_CLAIMS = ["exp", "sub"]
_MAX_TOKEN_CHARS = 16 * 1024
# JWS compact serialisation: three base64url segments; an empty signature (alg "none") does not match.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Claims `mint_token` sets itself; `extra_claims` may not override them.
_MINTED_CLAIMS = frozenset({"sub", "roles", "iat", "exp", "iss", "aud"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's `sub` and the known roles it grants (never empty); the OpenID
    `email` (unless `email_verified` is false) and `name` claims when the token carries them."""

    subject: str
    roles: frozenset[str]
    email: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.roles, frozenset):
            object.__setattr__(self, "roles", frozenset(self.roles))

    def has(self, role: str) -> bool:
        return role in self.roles


class AuthError(Exception):
    """The request is not authenticated (HTTP 401). `reason` is short and safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SigningKeysUnavailable(AuthError):
    """The identity provider's JWKS could not be fetched or used (network error, timeout, bad payload).

    Still an `AuthError` (the request is not authenticated); the web layer may answer 503 instead of 401.
    """


@dataclass(frozen=True)
class AuthSettings:
    """Which tokens to accept. Empty strings count as "not set" (as in the environment variables)."""

    hs256_secret: str | None = None    # local deployments (make run)
    jwks_url: str | None = None        # university identity provider (RS256/ES256 via JWKS)
    issuer: str | None = None          # checked when set
    audience: str | None = None        # checked when set
    leeway_seconds: int = 30
    roles_claim: str = "roles"         # a list of roles, or a space-separated string ("scope" style)
    jwks_timeout_seconds: float = 5.0            # per HTTP fetch of the JWKS
    jwks_cache_seconds: float = 300.0            # how long a fetched key set is trusted before refetching
    jwks_refetch_cooldown_seconds: float = 30.0  # at most one refetch per this interval for unknown `kid`s


class Authenticator:
    """Verifies `Authorization: Bearer <jwt>` headers. Thread-safe; create one per process.

    Construction validates the settings (raising `ValueError` on a misconfiguration) but does no
    network I/O: the JWKS is fetched on the first RS256/ES256 token.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._secret = settings.hs256_secret or None
        self._issuer = settings.issuer or None
        self._audience = settings.audience or None
        jwks_url = settings.jwks_url or None
        if self._secret is None and jwks_url is None:
            raise ValueError("auth: configure an HS256 secret, a JWKS URL, or both")
        if settings.leeway_seconds < 0:
            raise ValueError("auth: leeway_seconds must not be negative")
        if not settings.roles_claim:
            raise ValueError("auth: roles_claim must not be empty")
        self._jwks: PyJWKClient | None = None
        if jwks_url is not None:
            if urlparse(jwks_url).scheme.lower() not in ("http", "https"):
                raise ValueError(f"auth: the JWKS URL must be http(s), not {jwks_url!r}")
            if settings.jwks_timeout_seconds <= 0 or settings.jwks_cache_seconds <= 0:
                raise ValueError("auth: JWKS timeout and cache lifetime must be positive")
            if settings.jwks_refetch_cooldown_seconds < 0:
                raise ValueError("auth: the JWKS refetch cooldown must not be negative")
            # The key *set* is cached for jwks_cache_seconds (so keys the provider retires stop being
            # trusted); an unknown kid forces one refetch per cooldown. PyJWKClient's per-kid LRU
            # (cache_keys=True) is deliberately off: it never expires, so a revoked key would stay valid.
            self._jwks = PyJWKClient(
                jwks_url,
                cache_jwk_set=True,
                lifespan=settings.jwks_cache_seconds,
                cache_keys=False,
                timeout=settings.jwks_timeout_seconds,
                cooldown_duration=settings.jwks_refetch_cooldown_seconds,
                headers={"User-Agent": "careerloop-auth", "Accept": "application/json"},
            )

    def authenticate(self, authorization_header: str | None) -> Principal:
        """Return the caller's `Principal`, or raise `AuthError` (never anything else) for any input."""
        token = _bearer_token(authorization_header)
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
            raise AuthError("malformed token") from None
        alg = header.get("alg")
        if alg in _HS_ALGORITHMS and self._secret is not None:
            key: Any = self._secret
            algorithms: Sequence[str] = _HS_ALGORITHMS
        elif alg in _JWKS_ALGORITHMS and self._jwks is not None:
            key = self._signing_key(header.get("kid"))  # a PyJWK: bound to its own algorithm and key type
            algorithms = _JWKS_ALGORITHMS
        else:
            # "none", HS256 without a secret (e.g. signed with the provider's public key), RS256 without a
            # JWKS, HS512, ...: no configured key source may verify this token.
            raise AuthError("unsupported token algorithm")
        claims = self._verified_claims(token, key, algorithms)
        return self._principal(claims)

    def _signing_key(self, kid: object) -> jwt.PyJWK:
        assert self._jwks is not None
        if not isinstance(kid, str) or not kid:
            raise AuthError("unknown signing key")
        try:
            return self._jwks.get_signing_key(kid)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError) as exc:
            log.warning("auth: cannot fetch the JWKS from %s: %s", self._jwks.uri, exc)
            raise SigningKeysUnavailable("signing keys unavailable") from None
        except jwt.PyJWKClientError as exc:
            cache = self._jwks.jwk_set_cache
            if cache is not None and cache.get() is not None:  # a usable key set, but no key with this kid
                log.info("auth: no JWKS key for kid %r: %s", kid, exc)
                raise AuthError("unknown signing key") from None
            log.warning("auth: unusable JWKS from %s: %s", self._jwks.uri, exc)  # e.g. not a JSON object
            raise SigningKeysUnavailable("signing keys unavailable") from None
        except (jwt.PyJWTError, OSError, ValueError, TypeError) as exc:
            # PyJWKClient lets some failures through: invalid JSON, connection reset while reading, ...
            log.warning("auth: unusable JWKS from %s: %s", self._jwks.uri, exc)
            raise SigningKeysUnavailable("signing keys unavailable") from None

    def _verified_claims(self, token: str, key: Any, algorithms: Sequence[str]) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                issuer=self._issuer,
                audience=self._audience,
                leeway=self.settings.leeway_seconds,
                options={"require": list(_REQUIRED_CLAIMS), "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(_reason(exc)) from None
        except (ValueError, TypeError, OverflowError, RecursionError):
            # Defensive: odd claim values (e.g. numbers too large for an int) must not become a 500.
            raise AuthError("malformed token") from None

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise AuthError("token has no subject")
        roles = _known_roles(claims.get(self.settings.roles_claim))
        if not roles:
            raise AuthError("token has no known role")
        email = claims.get("email") if claims.get("email_verified") is not False else None
        name = claims.get("name")
        return Principal(subject=subject, roles=roles, email=_short_text(email), name=_short_text(name))


def _short_text(value: object) -> str | None:
    """A claim's text, or None when it is missing, empty, not text or absurdly long."""
    return value.strip() if isinstance(value, str) and 0 < len(value.strip()) <= 320 else None


def _bearer_token(authorization_header: object) -> str:
    if not isinstance(authorization_header, str) or not authorization_header.strip():
        raise AuthError("missing bearer token")
    parts = authorization_header.split(None, 1)
    if parts[0].lower() != "bearer":
        raise AuthError("authorization scheme must be Bearer")
    token = parts[1].strip() if len(parts) == 2 else ""
    if not token:
        raise AuthError("missing bearer token")
    if len(token) > _MAX_TOKEN_CHARS or not _COMPACT_JWS.fullmatch(token):
        raise AuthError("malformed token")
    return token


def _known_roles(value: object) -> frozenset[str]:
    """Known roles named by the claim (a list, or a space-separated string); everything else is dropped."""
    if isinstance(value, str):
        names: Iterable[object] = value.split()
    elif isinstance(value, (list, tuple)):
        names = value
    else:
        return frozenset()
    return frozenset(name for name in names if isinstance(name, str) and name in _KNOWN_ROLES)


def _reason(exc: jwt.PyJWTError) -> str:
    """A short, client-safe reason for a PyJWT failure (most specific classes first)."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "token expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "token not yet valid"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "unsupported token algorithm"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "issuer mismatch"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "audience mismatch"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        claim = exc.claim if exc.claim in ("exp", "sub", "iss", "aud") else "required"
        return f"token has no {claim} claim"
    if isinstance(exc, jwt.InvalidKeyError):
        return "unknown signing key"
    if isinstance(exc, jwt.DecodeError):
        return "malformed token"
    return "invalid token"


def mint_token(
    secret: str,
    subject: str,
    roles: Iterable[str],
    *,
    ttl_seconds: int = 8 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """An HS256 token for local use and tests. Roles must be known (a typo fails here, not at login)."""
    if not secret:
        raise ValueError("mint_token: the secret must not be empty")
    if not isinstance(subject, str) or not subject.strip():
        raise ValueError("mint_token: the subject must be a non-empty string")
    if isinstance(roles, str):
        raise TypeError("mint_token: roles must be an iterable of role names, not a string")
    role_list = sorted(set(roles))
    unknown = [role for role in role_list if role not in _KNOWN_ROLES]
    if unknown or not role_list:
        raise ValueError(f"mint_token: roles must be some of {ROLES}, got {role_list}")
    if ttl_seconds <= 0:
        raise ValueError("mint_token: ttl_seconds must be positive")
    extra = dict(extra_claims or {})
    clashing = sorted(_MINTED_CLAIMS & extra.keys())
    if clashing:
        raise ValueError(f"mint_token: extra_claims may not set {clashing}; use the parameters")
    now = int(time.time())
    claims: dict[str, Any] = {**extra, "sub": subject, "roles": role_list, "iat": now, "exp": now + ttl_seconds}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="Local token tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser(
        "mint", help=f"print an HS256 token signed with ${SECRET_ENV} (the make-run default when unset)"
    )
    mint.add_argument("--sub", required=True, help="the subject: a student's, advisor's, admin's or analyst's id")
    mint.add_argument("--role", action="append", required=True, choices=ROLES, help="repeat for several roles")
    mint.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds (default 8 hours)")
    mint.add_argument("--issuer", default=None, help="the iss claim (match CAREERLOOP_JWT_ISSUER when set)")
    mint.add_argument("--audience", default=None, help="the aud claim (match CAREERLOOP_JWT_AUDIENCE when set)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's usage errors and --help
        return exc.code if isinstance(exc.code, int) else 2
    secret = Settings.from_env().get(SECRET_ENV)
    if not secret:
        print(f"{SECRET_ENV} is empty: local tokens are disabled, so there is nothing to sign with", file=sys.stderr)
        return 2
    try:
        token = mint_token(
            secret, args.sub, args.role, ttl_seconds=args.ttl, issuer=args.issuer, audience=args.audience
        )
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(token)
    return 0


def acting_for(principal: Principal, student_id: str | None) -> str:
    """The student a request acts for: a student acts for themselves (naming anyone else is 403);
    an admin must name the student (422 otherwise)."""
    if principal.has("admin"):
        if not student_id:
            raise ValidationError({"student_id": ["admins must name the student"]})
        return student_id
    if student_id and student_id != principal.subject:
        raise Forbidden("students reach only their own records")
    return principal.subject


if __name__ == "__main__":
    raise SystemExit(main())
