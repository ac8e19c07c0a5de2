"""The web front end's composition root: `create_app()` wires configuration, sessions, CSRF, the
identity provider and the API client once, per process (gunicorn calls it in each worker after fork).

Security: the session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure and `__Host-` under an
https `WEB_PUBLIC_URL`), every POST needs Flask-WTF's CSRF token, and every answer carries a strict
Content-Security-Policy (nothing inline, nothing from elsewhere) and the usual hardening headers.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from services.web import advisors, contact_actions, interviews, notes, office, signin, views
from services.web import settings as settings_pages  # the module; `settings` is the configuration here
from services.web.clients import ApiError, Services, SignInAgain, Unavailable, parse_urls
from services.web.presentation import FILTERS
from shared.config import InsecureConfiguration, Settings, is_embedded
from shared.metrics import CONTENT_TYPE
from shared.process import start_process
from shared.web.traffic import Traffic

PROCESS = "web"
log = logging.getLogger("careerloop.web.front")

# Nothing inline and nothing from elsewhere: the pages work without any script at all, and the one
# stylesheet is ours. form-action 'self': a form can only post back here (sign-in to the identity
# provider is a link, not a form).
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")


def content_security_policy(issuer: str | None) -> str:
    """The policy of every page. With an identity provider, form-action also names its origin: signing
    out is a form posted here whose answer redirects to the provider's end-session endpoint, and
    browsers hold a form's redirects to form-action too (the endpoint is on the issuer's origin at
    Keycloak, Entra ID and Shibboleth)."""
    if not issuer:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(issuer)
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or Settings.from_env(overrides.pop("env", None))
    start_process(PROCESS, settings)  # logging; refuses a published WEB_SESSION_SECRET outside make run
    embedded = is_embedded(settings)
    if not embedded and not settings.get("OIDC_ISSUER"):
        raise InsecureConfiguration(f"{PROCESS}: refusing to start outside the embedded profile without OIDC_ISSUER: "
                                    "users sign in with the university identity provider there")
    public_url = settings.expanded("WEB_PUBLIC_URL").rstrip("/")
    https = public_url.startswith("https://")
    app = Flask("services.web")
    app.config.update(
        SECRET_KEY=settings.get("WEB_SESSION_SECRET"),
        # __Host-: sent only to this host over https, never to a sibling domain's cookie jar
        SESSION_COOKIE_NAME="__Host-careerloop" if https else "careerloop",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.int("WEB_SESSION_MINUTES")),
        MAX_CONTENT_LENGTH=settings.int("MAX_BODY_BYTES"),
        WTF_CSRF_TIME_LIMIT=None,  # the token is bound to the session, which has its own lifetime
    )
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["form_tokens"] = views.form_tokens
    CSRFProtect(app)
    app.extensions["careerloop-web"] = WebContext(settings, Services(parse_urls(settings), requests.Session()),
                                                   public_url, embedded)
    signin.init_app(app, settings, public_url)
    app.register_blueprint(signin.blueprint)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(interviews.blueprint)
    app.register_blueprint(notes.blueprint)
    app.register_blueprint(advisors.blueprint)
    app.register_blueprint(settings_pages.blueprint)
    app.register_blueprint(contact_actions.blueprint)
    app.register_blueprint(office.blueprint)
    _register_errors(app)

    policy = content_security_policy(settings.get("OIDC_ISSUER"))

    @app.after_request
    def harden(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if https:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"  # pages hold personal data: keep them out of caches
        return response

    traffic = Traffic("web")  # request counts and latency by route, like every API's (shared/web/traffic.py)
    traffic.install(app)

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus: the pages' request metrics (the front end holds no data and reads no backend)."""
        return Response(traffic.exposition(), content_type=CONTENT_TYPE)

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers."""
        return jsonify({"status": "ok", "service": PROCESS})

    @app.get("/readyz")
    def readyz() -> Response:
        """Readiness: the front end holds no data, so it is ready once it runs; each page says which
        service API does not answer (503) when one is down."""
        return jsonify({"status": "ready", "failures": {}})

    return app


class WebContext:
    """Per-app state in `app.extensions["careerloop-web"]`."""

    def __init__(self, settings: Settings, services: Services, public_url: str, embedded: bool) -> None:
        self.settings, self.services, self.public_url = settings, services, public_url
        # the local demo sign-in: only under make run, and only while there is a local key to sign with
        self.demo = embedded and bool(settings.get("CAREERLOOP_JWT_SECRET"))


def _register_errors(app: Flask) -> None:
    """Every error is a page with its status: the APIs' answers (see `clients`), CSRF, HTTP errors."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Any:
        if isinstance(exc, SignInAgain):
            return signin.sign_in_again()
        response = Response(render_template("error.html", status=exc.status, title=_TITLES.get(exc.status, "Error"),
                                            message=exc.message, service=exc.service), status=exc.status)
        if isinstance(exc, Unavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return render_template("error.html", status=400, title="This form has expired",
                               message="The form was refused because its security token is missing or no longer "
                                       "valid. Go back, reload the page and send it again."), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        return render_template("error.html", status=status, title=_TITLES.get(status, exc.name),
                               message=exc.description), status


_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Page not found", 405: "Not allowed",
           409: "Changed meanwhile", 412: "Changed meanwhile", 413: "Too large", 422: "Please check your input",
           502: "A service failed", 503: "Temporarily unavailable"}
