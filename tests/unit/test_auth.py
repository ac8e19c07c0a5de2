"""shared.auth: bearer-token authentication with an HS256 secret and/or a JWKS (RS256/ES256).

The JWKS tests talk to a real HTTP server on 127.0.0.1 (an ephemeral port) serving keys generated
with `cryptography`, so caching, key rotation and refetch rate-limiting are exercised end to end.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.auth import (
    ROLES,
    SECRET_ENV,
    Authenticator,
    AuthError,
    AuthSettings,
    Principal,
    SigningKeysUnavailable,
    main,
    mint_token,
)
from shared.config import Settings

SECRET = "unit-test-secret-that-is-at-least-32-bytes-long"
OTHER_SECRET = "another-secret-that-is-also-at-least-32-bytes"


# --- helpers ---------------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def int_b64url(value: int, length: int | None = None) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": "s-123", "roles": ["student"], "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET, headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers)


def hs256_raw(payload_json: str, secret: str = SECRET) -> str:
    """HS256-sign an arbitrary payload text (also values json.dumps would not produce)."""
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT'})}.{b64url(payload_json.encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


def reason_of(authenticator: Authenticator, header: str | None) -> str:
    with pytest.raises(AuthError) as caught:
        authenticator.authenticate(header)
    return caught.value.reason


def local_authenticator(**overrides: Any) -> Authenticator:
    return Authenticator(AuthSettings(hs256_secret=SECRET, **overrides))


@dataclass
class SigningKey:
    kid: str
    alg: str
    private_key: Any
    jwk: dict[str, Any]

    def sign(self, payload: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(payload, self.private_key, algorithm=self.alg, headers={"kid": kid or self.kid})

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rsa_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
           "n": int_b64url(numbers.n), "e": int_b64url(numbers.e)}
    return SigningKey(kid, "RS256", private, jwk)


def ec_key(kid: str) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",  # no "alg": inferred from the curve
           "x": int_b64url(numbers.x, 32), "y": int_b64url(numbers.y, 32)}
    return SigningKey(kid, "ES256", private, jwk)


@pytest.fixture(scope="module")
def rsa_1() -> SigningKey:
    return rsa_key("rsa-2025-01")


@pytest.fixture(scope="module")
def rsa_2() -> SigningKey:
    return rsa_key("rsa-2025-02")


@pytest.fixture(scope="module")
def ec_1() -> SigningKey:
    return ec_key("ec-2025-01")


@dataclass
class JwksServer:
    """What the fake identity provider serves, and how often it was asked."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    body: bytes | None = None      # when set, served verbatim instead of the key set
    status: int = 200
    delay_seconds: float = 0.0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, *signing_keys: SigningKey) -> None:
        with self.lock:
            self.keys = [key.jwk for key in signing_keys]


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with state.lock:
                state.requests += 1
                body = state.body if state.body is not None else json.dumps({"keys": state.keys}).encode()
                status, delay = state.status, state.delay_seconds
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="jwks-server", daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def reset(server: JwksServer, *signing_keys: SigningKey) -> JwksServer:
    """Serve these keys promptly again, with a fresh request count."""
    with server.lock:
        server.keys = [key.jwk for key in signing_keys]
        server.body, server.status, server.delay_seconds = None, 200, 0.0
        server.requests = 0
    return server


@pytest.fixture
def idp(jwks_server: JwksServer, rsa_1: SigningKey, ec_1: SigningKey) -> JwksServer:
    """The identity provider publishing rsa_1 and ec_1, not yet asked for anything."""
    return reset(jwks_server, rsa_1, ec_1)


def jwks_authenticator(server: JwksServer, **overrides: Any) -> Authenticator:
    return Authenticator(AuthSettings(jwks_url=server.url, **overrides))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- HS256 (local deployments) ---------------------------------------------------------------------

def test_a_valid_hs256_token_authenticates_as_its_subject_with_its_roles() -> None:
    # given a token minted with the configured secret
    token = mint_token(SECRET, "a-7", ["advisor", "admin"])
    # when it is presented as a bearer token
    principal = local_authenticator().authenticate(bearer(token))
    # then the principal carries its subject and roles
    assert principal == Principal(subject="a-7", roles=frozenset({"advisor", "admin"}))
    assert principal.has("advisor") and principal.has("admin")
    assert not principal.has("student")


def test_the_bearer_scheme_is_case_insensitive_and_surrounding_whitespace_is_ignored() -> None:
    token = mint_token(SECRET, "s-1", ["student"])
    assert local_authenticator().authenticate(f"  bearer \t{token}  ").subject == "s-1"


def test_an_expired_token_is_rejected_as_expired() -> None:
    # given a token that expired well beyond the leeway
    token = hs256(claims(exp=int(time.time()) - 120))
    # when / then
    assert reason_of(local_authenticator(leeway_seconds=30), bearer(token)) == "token expired"


def test_a_token_that_expired_within_the_leeway_is_still_accepted() -> None:
    token = hs256(claims(exp=int(time.time()) - 5))
    assert local_authenticator(leeway_seconds=30).authenticate(bearer(token)).subject == "s-123"


def test_a_token_not_yet_valid_is_rejected() -> None:
    token = hs256(claims(nbf=int(time.time()) + 3600))
    assert reason_of(local_authenticator(), bearer(token)) == "token not yet valid"


def test_a_token_signed_with_another_secret_is_rejected_as_a_bad_signature() -> None:
    token = mint_token(OTHER_SECRET, "s-1", ["student"])
    assert reason_of(local_authenticator(), bearer(token)) == "bad signature"


def test_a_token_whose_payload_was_tampered_with_is_rejected_as_a_bad_signature() -> None:
    # given a genuine student token whose payload is swapped for one granting admin
    header, _, signature = mint_token(SECRET, "s-1", ["student"]).split(".")
    forged_payload = b64url_json(claims(sub="s-1", roles=["admin"]))
    # when / then
    assert reason_of(local_authenticator(), bearer(f"{header}.{forged_payload}.{signature}")) == "bad signature"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_an_unsigned_alg_none_token_is_rejected(alg: str) -> None:
    # given an unsigned token, with and without a (meaningless) signature segment
    unsigned = f"{b64url_json({'alg': alg, 'typ': 'JWT'})}.{b64url_json(claims(roles=['admin']))}."
    authenticator = local_authenticator()
    # then neither form is accepted
    assert reason_of(authenticator, bearer(unsigned)) == "malformed token"
    assert reason_of(authenticator, bearer(unsigned + b64url(b"sig"))) == "unsupported token algorithm"


def test_pyjwts_own_alg_none_encoding_is_rejected() -> None:
    token = jwt.encode(claims(roles=["admin"]), None, algorithm="none")
    with pytest.raises(AuthError):
        local_authenticator().authenticate(bearer(token))


def test_other_hmac_algorithms_are_not_accepted_even_with_the_right_secret() -> None:
    token = jwt.encode(claims(), SECRET + SECRET, algorithm="HS512")
    assert reason_of(Authenticator(AuthSettings(hs256_secret=SECRET + SECRET)), bearer(token)) == (
        "unsupported token algorithm"
    )


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer    "])
def test_a_missing_header_or_token_is_rejected_as_missing(header: str | None) -> None:
    assert reason_of(local_authenticator(), header) == "missing bearer token"


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Token abc.def.ghi", "eyJhbGciOi.eyJzdWIi.c2ln", "Bearer:abc"]
)
def test_a_header_with_another_scheme_is_rejected(header: str) -> None:
    assert reason_of(local_authenticator(), header) == "authorization scheme must be Bearer"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "a.b.c",
        "two tokens.here.x",
        "eyJhbGciOiJIUzI1NiJ9.e30.",           # empty signature
        "!!!.???.***",
        "e30.e30.e30",                           # header without alg
        f"{b64url(b'[1,2]')}.e30.c2ln",          # header not an object
        f"{b64url_json({'alg': 'HS256', 'kid': 7})}.e30.c2ln",  # kid not a string
        "x" * 20_000 + ".a.b",                   # oversized
    ],
)
def test_a_garbage_token_is_rejected_as_malformed_or_invalid(token: str) -> None:
    reason = reason_of(local_authenticator(), bearer(token))
    assert reason in {"malformed token", "invalid token", "bad signature", "unsupported token algorithm"}


def test_a_token_without_sub_is_rejected() -> None:
    assert reason_of(local_authenticator(), bearer(hs256(claims(sub=None)))) == "token has no sub claim"


def test_a_token_without_exp_is_rejected() -> None:
    assert reason_of(local_authenticator(), bearer(hs256(claims(exp=None)))) == "token has no exp claim"


@pytest.mark.parametrize("sub", ["", "   "])
def test_a_token_with_a_blank_sub_is_rejected(sub: str) -> None:
    assert reason_of(local_authenticator(), bearer(hs256(claims(sub=sub)))) == "token has no subject"


@pytest.mark.parametrize(
    "payload_json",
    [
        '{"sub":"s-1","roles":["student"],"exp":1e999}',
        '{"sub":"s-1","roles":["student"],"exp":Infinity}',
        '{"sub":"s-1","roles":["student"],"exp":NaN}',
        '{"sub":"s-1","roles":["student"],"exp":"tomorrow"}',
        '{"sub":"s-1","roles":["student"],"exp":[1]}',
        '{"sub":123,"roles":["student"],"exp":9999999999}',
        '{"sub":"s-1","roles":["student"],"exp":9999999999,"iat":"now"}',
        '{"sub":"s-1","roles":["student"],"exp":9999999999,"nbf":{}}',
        '["not","an","object"]',
        '{"sub":"s-1","roles":["student"],"exp":9999999999,' + '"x":' + "[" * 5000 + "]" * 5000 + "}",
    ],
)
def test_a_correctly_signed_token_with_odd_claim_values_is_rejected_with_an_auth_error(payload_json: str) -> None:
    # given a properly signed token whose claims have types or values a JWT should never have
    token = hs256_raw(payload_json)
    # then it fails as an AuthError, never as another exception (which would be a 500)
    with pytest.raises(AuthError):
        local_authenticator().authenticate(bearer(token))


# --- roles -----------------------------------------------------------------------------------------

def test_a_token_with_only_unknown_roles_is_rejected() -> None:
    token = hs256(claims(roles=["superuser", "root"]))
    assert reason_of(local_authenticator(), bearer(token)) == "token has no known role"


@pytest.mark.parametrize("roles", [None, [], "", {"student": True}, 1, [1, None, ["student"]]])
def test_a_token_without_a_usable_roles_claim_is_rejected(roles: Any) -> None:
    payload = claims()
    payload.pop("roles")
    if roles is not None:
        payload["roles"] = roles
    assert reason_of(local_authenticator(), bearer(hs256(payload))) == "token has no known role"


def test_unknown_roles_are_dropped_and_known_ones_kept() -> None:
    token = hs256(claims(roles=["student", "superuser", 42, "ADMIN"]))
    assert local_authenticator().authenticate(bearer(token)).roles == frozenset({"student"})


def test_roles_given_as_a_space_separated_string_are_accepted() -> None:
    token = hs256(claims(roles="student  advisor unknown"))
    assert local_authenticator().authenticate(bearer(token)).roles == frozenset({"student", "advisor"})


def test_a_configured_scope_style_roles_claim_is_read_instead_of_roles() -> None:
    # given an identity provider that puts roles into "scope"
    payload = claims(scope="openid analyst")
    payload.pop("roles")
    # then the authenticator configured for it finds them
    principal = local_authenticator(roles_claim="scope").authenticate(bearer(hs256(payload)))
    assert principal.roles == frozenset({"analyst"})


# --- issuer and audience ---------------------------------------------------------------------------

def test_a_token_from_another_issuer_is_rejected_when_an_issuer_is_configured() -> None:
    token = mint_token(SECRET, "s-1", ["student"], issuer="https://evil.example")
    assert reason_of(local_authenticator(issuer="https://idp.example"), bearer(token)) == "issuer mismatch"


def test_a_token_without_an_issuer_is_rejected_when_an_issuer_is_configured() -> None:
    token = mint_token(SECRET, "s-1", ["student"])
    assert reason_of(local_authenticator(issuer="https://idp.example"), bearer(token)) == "token has no iss claim"


def test_a_token_for_another_audience_is_rejected_when_an_audience_is_configured() -> None:
    token = mint_token(SECRET, "s-1", ["student"], audience="payroll")
    assert reason_of(local_authenticator(audience="careerloop"), bearer(token)) == "audience mismatch"


def test_a_token_with_the_right_issuer_and_audience_is_accepted() -> None:
    token = mint_token(SECRET, "s-1", ["student"], issuer="https://idp.example", audience="careerloop")
    authenticator = local_authenticator(issuer="https://idp.example", audience="careerloop")
    assert authenticator.authenticate(bearer(token)).subject == "s-1"


def test_issuer_and_audience_are_not_checked_when_not_configured() -> None:
    token = mint_token(SECRET, "s-1", ["student"], issuer="https://idp.example", audience="careerloop")
    assert local_authenticator(issuer="", audience=None).authenticate(bearer(token)).subject == "s-1"


# --- JWKS (university identity provider) -----------------------------------------------------------

def test_an_rs256_token_is_verified_with_a_key_from_the_jwks_server(idp: JwksServer, rsa_1: SigningKey) -> None:
    # given an authenticator pointed at the identity provider's JWKS
    authenticator = jwks_authenticator(idp)
    # when an RS256 token signed by the provider is presented
    principal = authenticator.authenticate(bearer(rsa_1.sign(claims(sub="adv-9", roles=["advisor"]))))
    # then it authenticates, after one fetch of the key set
    assert principal == Principal("adv-9", frozenset({"advisor"}))
    assert idp.requests == 1


def test_an_es256_token_is_verified_with_a_key_from_the_jwks_server(idp: JwksServer, ec_1: SigningKey) -> None:
    principal = jwks_authenticator(idp).authenticate(bearer(ec_1.sign(claims(roles=["analyst"]))))
    assert principal.roles == frozenset({"analyst"})


def test_constructing_an_authenticator_does_no_network_io(idp: JwksServer) -> None:
    jwks_authenticator(idp)
    assert idp.requests == 0


def test_the_key_set_is_cached_across_requests(idp: JwksServer, rsa_1: SigningKey, ec_1: SigningKey) -> None:
    authenticator = jwks_authenticator(idp)
    for _ in range(5):
        authenticator.authenticate(bearer(rsa_1.sign(claims())))
        authenticator.authenticate(bearer(ec_1.sign(claims())))
    assert idp.requests == 1


def test_a_token_signed_by_a_rotated_in_key_triggers_a_refetch_and_authenticates(
    idp: JwksServer, rsa_1: SigningKey, rsa_2: SigningKey
) -> None:
    # given an authenticator that has cached the key set with rsa_1
    authenticator = jwks_authenticator(idp, jwks_refetch_cooldown_seconds=0)
    authenticator.authenticate(bearer(rsa_1.sign(claims())))
    assert idp.requests == 1
    # when the provider rotates to rsa_2 and a token signed with it arrives
    idp.publish(rsa_2)
    principal = authenticator.authenticate(bearer(rsa_2.sign(claims(sub="s-rotated"))))
    # then its unknown kid made the authenticator refetch the key set once
    assert principal.subject == "s-rotated"
    assert idp.requests == 2
    # and later tokens with the new key are served from the cache
    authenticator.authenticate(bearer(rsa_2.sign(claims())))
    assert idp.requests == 2


def test_a_key_the_provider_retired_stops_being_trusted_once_the_cached_set_expires(
    idp: JwksServer, rsa_1: SigningKey, rsa_2: SigningKey
) -> None:
    # given a cached key set containing rsa_1
    authenticator = jwks_authenticator(idp, jwks_cache_seconds=0.2, jwks_refetch_cooldown_seconds=0)
    authenticator.authenticate(bearer(rsa_1.sign(claims())))
    # when the provider retires rsa_1 (say it leaked) and the cache lifetime passes
    idp.publish(rsa_2)
    time.sleep(0.3)
    # then tokens signed with rsa_1 are refused, and rsa_2 tokens work
    assert reason_of(authenticator, bearer(rsa_1.sign(claims()))) == "unknown signing key"
    assert authenticator.authenticate(bearer(rsa_2.sign(claims()))).subject == "s-123"


def test_refetches_for_unknown_kids_are_rate_limited(idp: JwksServer, rsa_1: SigningKey) -> None:
    # given an authenticator that has just fetched the key set (the cooldown is running)
    authenticator = jwks_authenticator(idp, jwks_refetch_cooldown_seconds=60)
    authenticator.authenticate(bearer(rsa_1.sign(claims())))
    # when a flood of tokens names kids the provider never published
    for i in range(20):
        token = rsa_1.sign(claims(), kid=f"bogus-{i}")
        assert reason_of(authenticator, bearer(token)) == "unknown signing key"
    # then none of them reached the provider
    assert idp.requests == 1


def test_an_unknown_kid_is_rejected_after_one_refetch(idp: JwksServer, rsa_2: SigningKey) -> None:
    authenticator = jwks_authenticator(idp, jwks_refetch_cooldown_seconds=0)
    assert reason_of(authenticator, bearer(rsa_2.sign(claims()))) == "unknown signing key"
    assert idp.requests == 2  # the first fetch, then one forced refresh for the unknown kid


def test_a_jwks_token_without_a_kid_is_rejected_without_fetching(idp: JwksServer, rsa_1: SigningKey) -> None:
    token = jwt.encode(claims(), rsa_1.private_key, algorithm="RS256")
    assert reason_of(jwks_authenticator(idp), bearer(token)) == "unknown signing key"
    assert idp.requests == 0


def test_a_token_signed_by_another_key_under_a_published_kid_is_a_bad_signature(
    idp: JwksServer, rsa_1: SigningKey, rsa_2: SigningKey
) -> None:
    forged = rsa_2.sign(claims(roles=["admin"]), kid=rsa_1.kid)
    assert reason_of(jwks_authenticator(idp), bearer(forged)) == "bad signature"


def test_a_token_claiming_es256_for_an_rsa_key_is_rejected(
    idp: JwksServer, rsa_1: SigningKey, ec_1: SigningKey
) -> None:
    token = ec_1.sign(claims(), kid=rsa_1.kid)
    assert reason_of(jwks_authenticator(idp), bearer(token)) == "unsupported token algorithm"


def test_jwks_tokens_are_checked_for_expiry_issuer_and_audience(idp: JwksServer, rsa_1: SigningKey) -> None:
    authenticator = jwks_authenticator(idp, issuer="https://idp.example", audience="careerloop")
    good = claims(iss="https://idp.example", aud="careerloop")
    assert authenticator.authenticate(bearer(rsa_1.sign(good))).subject == "s-123"
    assert reason_of(authenticator, bearer(rsa_1.sign({**good, "exp": int(time.time()) - 600}))) == "token expired"
    assert reason_of(authenticator, bearer(rsa_1.sign({**good, "iss": "https://x.example"}))) == "issuer mismatch"
    assert reason_of(authenticator, bearer(rsa_1.sign({**good, "aud": "other"}))) == "audience mismatch"


def test_an_unreachable_jwks_endpoint_fails_as_signing_keys_unavailable(rsa_1: SigningKey) -> None:
    authenticator = Authenticator(AuthSettings(jwks_url=f"http://127.0.0.1:{unused_port()}/jwks"))
    with pytest.raises(SigningKeysUnavailable) as caught:
        authenticator.authenticate(bearer(rsa_1.sign(claims())))
    assert isinstance(caught.value, AuthError)
    assert caught.value.reason == "signing keys unavailable"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>not json</html>"),
        (200, b'{"keys": []}'),
        (200, b"[1, 2]"),
        (500, b"{}"),
        (200, b'{"keys": [{"kty": "RSA"}]}'),
    ],
)
def test_a_broken_jwks_response_fails_as_an_auth_error(
    idp: JwksServer, rsa_1: SigningKey, status: int, body: bytes
) -> None:
    idp.status, idp.body = status, body
    with pytest.raises(AuthError) as caught:
        jwks_authenticator(idp).authenticate(bearer(rsa_1.sign(claims())))
    assert caught.value.reason == "signing keys unavailable"


def test_a_slow_jwks_endpoint_times_out(idp: JwksServer, rsa_1: SigningKey) -> None:
    # given a provider that takes longer to answer than the configured timeout
    idp.delay_seconds = 1.0
    authenticator = jwks_authenticator(idp, jwks_timeout_seconds=0.2)
    # when a token arrives, then the request fails fast instead of hanging
    started = time.monotonic()
    with pytest.raises(SigningKeysUnavailable):
        authenticator.authenticate(bearer(rsa_1.sign(claims())))
    assert time.monotonic() - started < 0.9


def test_a_cached_key_set_survives_a_later_provider_outage(idp: JwksServer, rsa_1: SigningKey) -> None:
    authenticator = jwks_authenticator(idp)
    authenticator.authenticate(bearer(rsa_1.sign(claims())))
    idp.status, idp.body = 500, b"down"
    assert authenticator.authenticate(bearer(rsa_1.sign(claims()))).subject == "s-123"


# --- algorithm confusion ---------------------------------------------------------------------------

def forge_hs256(payload: dict[str, Any], key: bytes, kid: str | None = None) -> str:
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    return f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def test_an_hs256_token_signed_with_the_public_key_is_rejected_when_only_jwks_is_configured(
    idp: JwksServer, rsa_1: SigningKey
) -> None:
    # given an attacker who HMAC-signs an admin token with the provider's *public* key (PEM and JWK JSON)
    authenticator = jwks_authenticator(idp)
    for public_material in (rsa_1.public_pem(), json.dumps(rsa_1.jwk).encode()):
        forged = forge_hs256(claims(roles=["admin"]), public_material, kid=rsa_1.kid)
        # then the token is refused on its algorithm alone, before any key is fetched
        assert reason_of(authenticator, bearer(forged)) == "unsupported token algorithm"
    assert idp.requests == 0


def test_an_hs256_token_is_rejected_when_only_jwks_is_configured_even_with_a_known_secret(idp: JwksServer) -> None:
    token = mint_token(SECRET, "s-1", ["admin"])
    assert reason_of(jwks_authenticator(idp), bearer(token)) == "unsupported token algorithm"


def test_an_rs256_token_is_rejected_when_only_the_secret_is_configured(rsa_1: SigningKey) -> None:
    assert reason_of(local_authenticator(), bearer(rsa_1.sign(claims()))) == "unsupported token algorithm"


def test_with_both_sources_configured_each_token_is_verified_by_the_source_its_alg_names(
    idp: JwksServer, rsa_1: SigningKey
) -> None:
    authenticator = Authenticator(AuthSettings(hs256_secret=SECRET, jwks_url=idp.url))
    assert authenticator.authenticate(bearer(mint_token(SECRET, "local-1", ["admin"]))).subject == "local-1"
    assert idp.requests == 0
    assert authenticator.authenticate(bearer(rsa_1.sign(claims(sub="idp-1")))).subject == "idp-1"
    # and the public key never verifies an HS256 token, even with both configured
    forged = forge_hs256(claims(roles=["admin"]), rsa_1.public_pem(), kid=rsa_1.kid)
    assert reason_of(authenticator, bearer(forged)) == "bad signature"


# --- configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "settings_",
    [
        AuthSettings(),
        AuthSettings(hs256_secret="", jwks_url=""),
        AuthSettings(jwks_url="file:///etc/passwd"),
        AuthSettings(hs256_secret=SECRET, leeway_seconds=-1),
        AuthSettings(hs256_secret=SECRET, roles_claim=""),
        AuthSettings(jwks_url="http://127.0.0.1:1/jwks", jwks_timeout_seconds=0),
    ],
)
def test_a_misconfiguration_fails_at_construction(settings_: AuthSettings) -> None:
    with pytest.raises(ValueError):
        Authenticator(settings_)


# --- mint_token and the CLI ------------------------------------------------------------------------

def test_a_minted_token_carries_sorted_roles_a_lifetime_and_extra_claims() -> None:
    token = mint_token(SECRET, "s-1", ["student", "advisor", "student"], ttl_seconds=60, extra_claims={"name": "Ada"})
    payload = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert payload["roles"] == ["advisor", "student"]
    assert payload["exp"] - payload["iat"] == 60
    assert payload["name"] == "Ada"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((SECRET, "s-1", ["studnet"]), {}),
        ((SECRET, "s-1", []), {}),
        ((SECRET, "", ["student"]), {}),
        (("", "s-1", ["student"]), {}),
        ((SECRET, "s-1", ["student"]), {"ttl_seconds": 0}),
        ((SECRET, "s-1", ["student"]), {"extra_claims": {"roles": ["admin"]}}),
    ],
)
def test_mint_token_refuses_to_mint_a_token_that_would_not_authenticate(args: tuple, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        mint_token(*args, **kwargs)


def test_mint_token_refuses_a_bare_string_of_roles() -> None:
    with pytest.raises(TypeError):
        mint_token(SECRET, "s-1", "student")  # type: ignore[arg-type]


def test_the_cli_prints_a_token_that_authenticates(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the secret in the environment
    monkeypatch.setenv(SECRET_ENV, SECRET)
    # when minting on the command line
    code = main(["mint", "--sub", "s-123", "--role", "student", "--role", "advisor", "--ttl", "3600"])
    out = capsys.readouterr().out
    # then exactly one token is printed, and it authenticates with the requested lifetime
    assert code == 0
    assert len(out.split()) == 1
    token = out.strip()
    assert local_authenticator().authenticate(bearer(token)) == Principal("s-123", frozenset({"student", "advisor"}))
    payload = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert payload["exp"] - payload["iat"] == 3600


def test_python_dash_m_shared_auth_mints_with_the_documented_dev_secret_by_default() -> None:
    # given no secret in the environment
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    # when the module is run as a script
    result = subprocess.run(
        [sys.executable, "-m", "shared.auth", "mint", "--sub", "s-123", "--role", "student"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    # then it prints a token signed with the make-run default secret
    assert result.returncode == 0, result.stderr
    authenticator = Authenticator(AuthSettings(hs256_secret=Settings({}).get(SECRET_ENV)))
    principal = authenticator.authenticate(bearer(result.stdout.strip()))
    assert principal == Principal("s-123", frozenset({"student"}))


@pytest.mark.parametrize(
    "argv",
    [
        ["mint", "--sub", "s-1", "--role", "superuser"],
        ["mint", "--sub", "s-1"],
        ["mint", "--role", "student"],
        ["mint", "--sub", "s-1", "--role", "student", "--ttl", "0"],
        ["mint", "--sub", "s-1", "--role", "student", "--ttl", "soon"],
        [],
    ],
)
def test_the_cli_rejects_bad_arguments_with_exit_code_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert main(argv) == 2
    assert capsys.readouterr().out == ""


def test_the_cli_refuses_to_mint_when_the_secret_is_set_empty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # an empty CAREERLOOP_JWT_SECRET means "identity provider tokens only"
    monkeypatch.setenv(SECRET_ENV, "")
    assert main(["mint", "--sub", "s-1", "--role", "student"]) == 2
    assert capsys.readouterr().out == ""


# --- properties: any input ends in a Principal or an AuthError -------------------------------------

B64URL = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=60)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["HS256", "RS256", "ES256", "none", "HS512", "PS256", ""]) | JSON_VALUES,
        "kid": st.sampled_from(["rsa-2025-01", "ec-2025-01", "nope"]) | JSON_VALUES,
        "typ": JSON_VALUES,
        "crit": JSON_VALUES,
        "b64": JSON_VALUES,
    },
)
CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "sub": st.text(max_size=10) | JSON_VALUES,
        "exp": st.integers() | st.floats() | JSON_VALUES,
        "nbf": st.integers() | JSON_VALUES,
        "iat": st.integers() | JSON_VALUES,
        "iss": JSON_VALUES,
        "aud": JSON_VALUES,
        "roles": st.lists(st.sampled_from([*ROLES, "root", ""]), max_size=3) | st.text(max_size=20) | JSON_VALUES,
    },
)


def structured_garbage(header: dict, payload: dict, signature: str) -> str:
    return f"{b64url_json(header)}.{b64url_json(payload)}.{signature}"


def authenticates_or_raises_auth_error(authenticator: Authenticator, header: str) -> None:
    try:
        principal = authenticator.authenticate(header)
    except AuthError as exc:
        assert isinstance(exc.reason, str) and exc.reason
    else:
        assert principal.subject and principal.roles <= frozenset(ROLES) and principal.roles


@settings(max_examples=300)
@given(header=st.text())
def test_any_text_header_only_ever_raises_auth_error(header: str) -> None:
    authenticates_or_raises_auth_error(local_authenticator(), header)


@settings(max_examples=300)
@given(token=st.text(), scheme=st.sampled_from(["Bearer ", "bearer ", "Bearer\t"]))
def test_any_text_after_bearer_only_ever_raises_auth_error(token: str, scheme: str) -> None:
    authenticates_or_raises_auth_error(local_authenticator(), scheme + token)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payload=CLAIMS)
def test_any_claims_signed_with_the_secret_end_in_a_principal_or_an_auth_error(payload: dict) -> None:
    token = hs256_raw(json.dumps(payload))
    authenticates_or_raises_auth_error(local_authenticator(audience="careerloop", issuer="idp"), bearer(token))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=HEADERS, payload=CLAIMS, signature=B64URL)
def test_structured_garbage_against_both_sources_only_ever_raises_auth_error(
    jwks_server: JwksServer, rsa_1: SigningKey, ec_1: SigningKey, header: dict, payload: dict, signature: str
) -> None:
    reset(jwks_server, rsa_1, ec_1)
    authenticator = Authenticator(AuthSettings(hs256_secret=SECRET, jwks_url=jwks_server.url))
    with pytest.raises(AuthError):
        authenticator.authenticate(bearer(structured_garbage(header, payload, signature)))


def test_the_openid_email_and_name_claims_reach_the_principal_unless_the_email_is_unverified() -> None:
    authenticator = local_authenticator()
    principal = authenticator.authenticate(bearer(hs256(claims(email=" ann@uni.example ", name="Ann Lee"))))
    assert (principal.email, principal.name) == ("ann@uni.example", "Ann Lee")
    unverified = authenticator.authenticate(bearer(hs256(claims(email="ann@uni.example", email_verified=False))))
    assert unverified.email is None
    odd = authenticator.authenticate(bearer(hs256(claims(email=["a@b.example"], name="x" * 1000))))
    assert (odd.email, odd.name) == (None, None)
