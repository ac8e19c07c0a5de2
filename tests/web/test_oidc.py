"""Signing in and out with a real OpenID Provider: node-oidc-provider (tests/web/oidc_provider.mjs,
installed by infra/oidc-provider/install.sh), configured as a university IdP is for careerloop.

The platform here accepts no other tokens: CAREERLOOP_JWT_SECRET is empty, so the APIs (and the web
front end, which checks a token as they do) verify only RS256 tokens from the provider's JWKS, with its
issuer and the APIs' audience. In the real Chromium a student follows the authorization code flow with
PKCE through the provider's own login and consent pages, lands on their home page (three APIs
answered with the provider's token), imports a file (the contacts API records it for the token's
subject); the access token is read back from the session cookie with Flask's own serializer and checked
with PyJWT against the provider's JWKS (an RFC 9068 `at+jwt` carrying the `roles` claim). Signing out
ends the provider's session too (RP-initiated logout at its end_session_endpoint): the next sign-in
asks for the password again."""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from flask import Flask

from services.web.app import create_app
from shared.auth import mint_token
from tests.platform import ROOT, Platform, free_port, profile_env
from tests.web.conftest import LINKEDIN, artifacts_dir, csrf_token
from tests.web.test_browser import browser, installed  # noqa: F401  (the module's browser fixture)

pytestmark = pytest.mark.browser

CLIENT_ID, CLIENT_SECRET = "careerloop-web", "oidc-test-client-secret-0123456789"
AUDIENCE = "https://careerloop.university.example/api"  # a resource indicator is an absolute URI (RFC 8707)
PROCESSES = ("web", "contacts-api", "followups-api", "scheduling-api", "notifications-api")


class Idp:
    def __init__(self, issuer: str, platform: Platform) -> None:
        self.issuer, self.platform = issuer, platform


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    """The provider, and a platform (the web front end and the APIs its home page and import use) that
    trusts it alone."""
    data = tmp_path_factory.mktemp("oidc-platform")
    env = profile_env("embedded", data)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    web = f"http://127.0.0.1:{env['WEB_PORT']}"
    env.update({"CAREERLOOP_JWT_SECRET": "", "CAREERLOOP_JWKS_URL": f"{issuer}/jwks",
                "CAREERLOOP_JWT_ISSUER": issuer, "CAREERLOOP_JWT_AUDIENCE": AUDIENCE, "OIDC_ISSUER": issuer,
                "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "OIDC_SCOPES": "openid profile email careerloop",
                "WEB_SESSION_SECRET": "a-web-session-secret-only-the-oidc-test-knows-0123456789"})
    log = (data / "oidc-provider.log").open("w")
    provider = subprocess.Popen(
        ["node", str(ROOT / "tests" / "web" / "oidc_provider.mjs")], stdout=subprocess.PIPE, stderr=log, text=True,
        start_new_session=True,
        env={**os.environ, "OIDC_PORT": str(port), "WEB_PUBLIC_URL": web, "OIDC_CLIENT_ID": CLIENT_ID,
             "OIDC_CLIENT_SECRET": CLIENT_SECRET, "CAREERLOOP_JWT_AUDIENCE": AUDIENCE,
             "OIDC_PROVIDER_MODULES": installed("oidc-provider/install.sh")})
    platform = Platform(data, env)
    try:
        assert provider.stdout is not None
        line = provider.stdout.readline()
        assert line.strip() == f"ready {issuer}", (line, (data / "oidc-provider.log").read_text())
        platform.start(*PROCESSES)
        yield Idp(issuer, platform)
    finally:
        codes = platform.stop()
        os.killpg(provider.pid, signal.SIGTERM)
        provider.wait(timeout=10)
        if provider.stdout is not None:
            provider.stdout.close()
        log.close()
        assert all(code == 0 for code in codes.values()), (codes, platform.dump_logs())


def session_of(cookie: str, secret: str) -> dict[str, object]:
    """The web front end's session cookie, opened with Flask's own serializer (signed, not encrypted)."""
    app = Flask("reader")
    app.secret_key = secret
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(cookie))


def test_a_student_signs_in_and_out_at_a_real_openid_provider(idp: Idp, browser: object,  # noqa: F811
                                                               tmp_path: Path) -> None:
    platform = idp.platform
    base = platform.url("web")
    shots = artifacts_dir()
    context = browser.new_context(locale="en-GB")  # type: ignore[attr-defined]
    # nothing leaves this machine (the provider's pages would fetch a web font)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1")
                  else route.abort())
    page = context.new_page()
    try:
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/sign-in")
        assert page.locator("select#user").count() == 0  # no demo sign-in where the secret is empty
        with page.expect_navigation():
            page.get_by_role("link", name="Sign in with your university account").click()
        # the provider's login page, reached with a PKCE challenge (S256) from Authlib
        assert page.url.startswith(f"{idp.issuer}/interaction/")
        page.screenshot(path=str(shots / "oidc-provider-login.png"))
        page.locator("input[name=login]").fill("oidc-student-1")
        page.locator("input[name=password]").fill("any password")
        with page.expect_navigation():
            page.get_by_role("button", name="Sign-in").click()
        with page.expect_navigation(url=f"{base}/"):
            page.get_by_role("button", name="Continue").click()  # the consent page
        # home: the follow-ups, scheduling and notifications APIs each accepted the provider's token
        assert page.get_by_text("Signed in as Olivia Student").is_visible()
        assert page.get_by_role("heading", level=1).count() == 1
        page.screenshot(path=str(shots / "oidc-home.png"), full_page=True)

        # the access token: an RS256 at+jwt from the provider, for the APIs, carrying the roles claim
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "careerloop")
        stored = session_of(cookie, platform.env["WEB_SESSION_SECRET"])
        token = str(stored["user"]["token"])  # type: ignore[index]
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256" and header["typ"] == "at+jwt"
        metadata = requests.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=10).json()
        key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=AUDIENCE, issuer=idp.issuer)
        assert claims["sub"] == "oidc-student-1" and claims["roles"] == ["student"]
        assert "id_token" in stored  # kept for the end-session endpoint's hint

        # a page built from an API's answer to that token: the import and its report
        upload = tmp_path / "Connections.csv"
        upload.write_bytes(LINKEDIN)
        page.goto(f"{base}/imports/new")
        page.locator("input#file").set_input_files(str(upload))
        with page.expect_navigation():
            page.get_by_role("button", name="Import").click()
        report = page.get_by_role("table", name="What became of each record")
        assert report.get_by_role("row").count() == 4 and report.get_by_text("Added").count() == 2
        import_id = page.url.rsplit("/", 1)[1]
        contacts = platform.url("contacts")
        direct = requests.get(f"{contacts}/imports/{import_id}", headers={"Authorization": f"Bearer {token}"},
                              timeout=10)
        assert direct.status_code == 200 and direct.json()["counts"]["created"] == 2  # the token's subject's
        forged = mint_token("a-secret-these-apis-do-not-have-0123456789", "oidc-student-1", ["student"],
                            issuer=idp.issuer, audience=AUDIENCE)
        assert requests.get(f"{contacts}/imports/{import_id}", headers={"Authorization": f"Bearer {forged}"},
                            timeout=10).status_code == 401  # only the provider's keys count here

        # sign-out: here, then at the provider's end_session_endpoint (RP-initiated logout)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign out").click()
        assert page.url.startswith(metadata["end_session_endpoint"])
        page.screenshot(path=str(shots / "oidc-provider-logout.png"))
        with page.expect_navigation(url=f"{base}/sign-in"):
            page.get_by_role("button", name="Yes, sign me out").click()
        assert page.get_by_text("You are signed out.").is_visible()
        left = [session_of(c["value"], platform.env["WEB_SESSION_SECRET"]) for c in context.cookies()
                if c["name"] == "careerloop"]
        assert all("user" not in kept and "id_token" not in kept for kept in left)
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/sign-in")  # no session here any more
        with page.expect_navigation():
            page.get_by_role("link", name="Sign in with your university account").click()
        # nor at the provider: it asks for the password again instead of signing straight back in
        assert page.url.startswith(f"{idp.issuer}/interaction/") and page.locator("input[name=password]").is_visible()
    finally:
        context.close()


def test_with_an_identity_provider_forms_may_lead_to_it_and_sign_out_works_when_it_is_unreachable(
        tmp_path: Path) -> None:
    """The CSP's form-action names the provider's origin (the sign-out form's redirect goes there); a
    provider that does not answer still leaves the user signed out here."""
    app = create_app(env={"CAREERLOOP_DATA_DIR": str(tmp_path), "OIDC_ISSUER": "https://idp.invalid/realms/uni",
                          "OIDC_CLIENT_ID": CLIENT_ID})
    client = app.test_client()
    policy = client.get("/sign-in").headers["Content-Security-Policy"]
    assert "form-action 'self' https://idp.invalid;" in policy and "default-src 'none'" in policy
    token = csrf_token(client.get("/sign-in").get_data(as_text=True))
    with client.session_transaction() as stored:  # as a sign-in with the provider leaves it
        stored["user"] = {"sub": "s", "roles": ["student"], "name": None, "token": "t", "expires": 2**40}
        stored["id_token"] = "x.y.z"
    answer = client.post("/sign-out", data={"csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/sign-in"
    with client.session_transaction() as stored:
        assert "user" not in stored and "id_token" not in stored
