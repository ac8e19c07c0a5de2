"""Sign-in and sign-out, and who is signed in.

With `OIDC_ISSUER` set, users sign in at the university identity provider: OpenID Connect's
authorization code flow with PKCE (S256), by Authlib, which reads the provider's discovery document,
keeps the state, nonce and code verifier in the session and checks the ID token. The access token it
returns is what the front end then sends to the service APIs. Under `make run` only (the embedded
profile), a local page picks a demo user and role instead and mints a token with the platform's local
signing key (`CAREERLOOP_JWT_SECRET`, as `make token` does); anywhere else that page is 404.

Either way the token is checked exactly as the APIs check it (`shared.auth.Authenticator`, same
settings) before anyone counts as signed in, so the roles the pages go by are the ones the APIs see.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse  # what redirect() gives

from shared.auth import ROLES, Authenticator, AuthError, mint_token
from shared.config import Settings
from shared.web.app import auth_settings

blueprint = Blueprint("signin", __name__)

# The demo users of the local sign-in page (make run only): ids as `make token` takes them.
DEMO_USERS = {"student-1": "Student One", "student-2": "Student Two", "student-3": "Student Three",
              "student-4": "Student Four", "student-5": "Student Five", "advisor-1": "Advisor One",
              "admin-1": "Admin One", "analyst-1": "Analyst One"}
IDP = "university"


@dataclass(frozen=True)
class User:
    """Who is signed in: the token's subject, roles and name, and the token itself for the APIs."""

    subject: str
    roles: tuple[str, ...]
    name: str | None
    token: str

    def has(self, role: str) -> bool:
        return role in self.roles


def init_app(app: Flask, settings: Settings, public_url: str) -> None:
    app.extensions["careerloop-auth"] = Authenticator(auth_settings(settings))
    app.extensions["careerloop-callback"] = f"{public_url}/sign-in/callback"
    if settings.get("OIDC_ISSUER"):
        oauth = OAuth(app)
        oauth.register(
            IDP, client_id=settings.get("OIDC_CLIENT_ID"), client_secret=settings.get("OIDC_CLIENT_SECRET") or None,
            server_metadata_url=f"{settings.get('OIDC_ISSUER').rstrip('/')}/.well-known/openid-configuration",
            client_kwargs={"scope": settings.get("OIDC_SCOPES"), "code_challenge_method": "S256"})
        app.extensions["careerloop-oidc"] = oauth
    app.before_request(_load_user)
    app.context_processor(lambda: {"user": g.get("user")})


def _load_user() -> None:
    g.user = None
    data = session.get("user")
    if not data:
        return
    if data["expires"] <= time.time():
        session.clear()
        return
    g.user = User(data["sub"], tuple(data["roles"]), data.get("name"), data["token"])


def current_user() -> User:
    user = g.get("user")
    assert user is not None, "only under @signed_in"
    return user


def signed_in(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page for signed-in users with one of `roles`: others are sent to sign in (and come back), or get 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = g.get("user")
            if user is None:
                return redirect(url_for("signin.sign_in", next=request.full_path.rstrip("?")))
            if not any(user.has(role) for role in roles):
                abort(403, f"This page is for the {' or '.join(roles)} role; you are signed in as "
                           f"{', '.join(user.roles)}.")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def sign_in_again() -> BaseResponse:
    """The APIs no longer accept the token (expired, revoked): sign in again, then come back."""
    session.clear()
    flash("Your session has ended. Please sign in again.", "info")
    return redirect(url_for("signin.sign_in", next=request.full_path.rstrip("?") if request.method == "GET" else "/"))


def _local_path(target: str | None) -> str:
    """Only a path of this site (never `//elsewhere` or a URL): no open redirect after sign-in."""
    return target if target and target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _begin_session(token: str, next_path: str, id_token: str | None = None) -> BaseResponse:
    """Check the token as the APIs would, then start a fresh session holding it (and the identity
    provider's ID token, the hint its end-session endpoint takes at sign-out)."""
    try:
        principal = current_app.extensions["careerloop-auth"].authenticate(f"Bearer {token}")
    except AuthError as exc:
        return _sign_in_page(401, problem=f"The platform does not accept this sign-in: {exc.reason}.")
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])  # verified just above
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    session.clear()  # a new session at each sign-in: nothing from before survives (session fixation)
    session.permanent = True
    session["user"] = {"sub": principal.subject, "roles": sorted(principal.roles), "name": principal.name,
                       "token": token, "expires": min(expires, int(time.time() + lifetime))}
    if id_token:
        session["id_token"] = id_token
    return redirect(_local_path(next_path))


def _sign_in_page(status: int = 200, *, problem: str | None = None, errors: dict[str, list[str]] | None = None,
                  chosen: dict[str, str] | None = None) -> BaseResponse:
    ctx = current_app.extensions["careerloop-web"]
    html = render_template("sign_in.html", oidc="careerloop-oidc" in current_app.extensions, demo=ctx.demo,
                           demo_users=DEMO_USERS, roles=ROLES, problem=problem, errors=errors or {},
                           chosen=chosen or {"user": "student-1", "role": "student"},
                           next_path=_local_path(request.values.get("next")))
    return Response(html, status=status)


@blueprint.get("/sign-in")
def sign_in() -> BaseResponse:
    if g.get("user") is not None:
        return redirect(_local_path(request.args.get("next")))
    return _sign_in_page()


@blueprint.get("/sign-in/oidc")
def sign_in_oidc() -> BaseResponse:
    oauth = current_app.extensions.get("careerloop-oidc")
    if oauth is None:
        abort(404)
    session["next"] = _local_path(request.args.get("next"))
    client = oauth.create_client(IDP)
    return client.authorize_redirect(current_app.extensions["careerloop-callback"])


@blueprint.get("/sign-in/callback")
def sign_in_callback() -> BaseResponse:
    oauth = current_app.extensions.get("careerloop-oidc")
    if oauth is None:
        abort(404)
    if "error" in request.args:  # the user declined, or the provider refused
        return _sign_in_page(401, problem=f"The identity provider did not sign you in: {request.args['error']}.")
    try:
        answer = oauth.create_client(IDP).authorize_access_token()
    except OAuthError as exc:  # a wrong state, a refused code or verifier, an ID token that fails its checks
        return _sign_in_page(401, problem=f"The sign-in could not be completed ({exc.error}). Please try again.")
    return _begin_session(answer["access_token"], session.pop("next", "/"), answer.get("id_token"))


@blueprint.post("/sign-in/demo")
def sign_in_demo() -> BaseResponse:
    ctx = current_app.extensions["careerloop-web"]
    if not ctx.demo:
        abort(404)  # the demo sign-in exists only under make run (every backend an embedded SQLite file)
    chosen = {"user": request.form.get("user", ""), "role": request.form.get("role", "")}
    errors = {}
    if chosen["user"] not in DEMO_USERS:
        errors["user"] = ["Choose one of the demo users."]
    if chosen["role"] not in ROLES:
        errors["role"] = ["Choose one of the roles."]
    if errors:
        return _sign_in_page(422, errors=errors, chosen=chosen)
    settings = ctx.settings
    token = mint_token(settings.get("CAREERLOOP_JWT_SECRET"), chosen["user"], [chosen["role"]],
                       ttl_seconds=settings.int("WEB_SESSION_MINUTES") * 60,
                       issuer=settings.get("CAREERLOOP_JWT_ISSUER") or None,
                       audience=settings.get("CAREERLOOP_JWT_AUDIENCE") or None,
                       extra_claims={"name": DEMO_USERS[chosen["user"]],
                                     "email": f"{chosen['user']}@demo.careerloop.invalid"})
    return _begin_session(token, request.form.get("next", "/"))


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    """Sign out here and, when the identity provider has an end-session endpoint (RP-initiated logout),
    there too: otherwise its own session would sign the user straight back in at the next visit."""
    id_token = session.get("id_token")
    session.clear()
    flash("You are signed out.", "info")
    return redirect(_end_session_url(id_token) or url_for("signin.sign_in"))


def _end_session_url(id_token: str | None) -> str | None:
    """The provider's end_session_endpoint (from its discovery document, which Authlib caches) with the
    ID token as hint and this site's sign-in page as where to come back (registered at the provider as
    a post-logout redirect URI); None without OIDC, without such an endpoint, or when the provider
    does not answer (then the user is signed out here only, which the flash message still says)."""
    oauth = current_app.extensions.get("careerloop-oidc")
    if oauth is None:
        return None
    client = oauth.create_client(IDP)
    try:
        endpoint = client.load_server_metadata().get("end_session_endpoint")
    except (requests.RequestException, ValueError):
        return None
    if not endpoint:
        return None
    params = {"client_id": client.client_id, "post_logout_redirect_uri": f"{_public_url()}/sign-in",
              **({"id_token_hint": id_token} if id_token else {})}
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


def _public_url() -> str:
    return str(current_app.extensions["careerloop-web"].public_url)
