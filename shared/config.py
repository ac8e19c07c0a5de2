"""Configuration from environment variables only, with defaults that make `make run` work.

Every variable the platform reads is declared in `VARIABLES`; the README's configuration table and
the docker-compose check are both derived from it, so it is the one place to add a setting.

Any declared variable `X` may be given instead as `X_FILE`, the path of a file holding its value (the
common convention of container images): secrets then come from a mounted Kubernetes Secret or Docker
secret rather than from the environment, which `/proc/<pid>/environ`, crash reports and `kubectl
describe` show. `Settings` reads those files once, at start-up (see `_read_files`).
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str
    secret: bool = False  # checked at start-up outside the embedded profile (see `check_secrets`)
    process: str = ""  # a secret only this process reads (and checks); empty: every process checks it


VARIABLES: tuple[Variable, ...] = (
    Variable("CAREERLOOP_DATA_DIR", "var", "Folder for the embedded SQLite files (relative paths are resolved against the working directory)."),
    Variable("EVENT_STORE_URL", "sqlite:///{data_dir}/events-{service}.db",
             "Each service's event store. `{service}` is replaced by the service name: `sqlite:///path` or `mongodb://host:27017/careerloop_{service}`."),
    Variable("BUS_URL", "sqlite:///{data_dir}/bus.db", "The event bus: the embedded SQLite log, or `kafka://host:9092[,host:9092][?replication_factor=3]` (the replication factor of the topics the platform creates; default 1)."),
    Variable("READ_STORE_URL", "sqlite:///{data_dir}/read-models.db", "Read models: `sqlite:///path` or `mongodb://host:27017/careerloop_read`."),
    Variable("KEY_STORE_URL", "sqlite:///{data_dir}/keys.db", "The subjects' data keys (erasure by crypto-shredding), each wrapped by the master key: `sqlite:///path` or `mongodb://host:27017/careerloop_keys`. A store of its own: never the event store's database."),
    Variable("ERASURE_MASTER_KEY", "", "The master key that wraps every data key, as `<key id>:<base64 of 32 random bytes>` (generate: `python -m shared.keys new-master-key m1`). Required outside `make run`, here or in `ERASURE_MASTER_KEY_FILE`; under `make run` one is generated once into `{data_dir}/master.key`. Losing it loses every sealed personal field.", secret=True),
    Variable("ERASURE_PREVIOUS_MASTER_KEYS", "", "Comma-separated master keys being rotated away from: they still unwrap the data keys `python -m shared.keys rotate` has not yet rewrapped under the current one."),
    Variable("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "How a Kafka bus reaches the brokers: `PLAINTEXT`, `SSL` (TLS; with `KAFKA_SSL_CERTFILE` and `KAFKA_SSL_KEYFILE` a client certificate authenticates, as a Strimzi `tls` KafkaUser), `SASL_PLAINTEXT` or `SASL_SSL` (a user name and password over TLS, as a Strimzi `scram-sha-512` KafkaUser). Every combination is checked at start-up; a wrong one stops the process naming the variable."),
    Variable("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "With `SASL_*`: `SCRAM-SHA-512` (Strimzi's), `SCRAM-SHA-256` or `PLAIN` (the password travels as is: only over `SASL_SSL`)."),
    Variable("KAFKA_SASL_USERNAME", "", "With `SASL_*`: the Kafka user (required then, refused otherwise)."),
    Variable("KAFKA_SASL_PASSWORD", "", "With `SASL_*`: the Kafka user's password (required then, refused otherwise). A credential: give it from a Secret, as a file (the Helm chart mounts the KafkaUser's Secret that Strimzi writes and sets `KAFKA_SASL_PASSWORD_FILE`)."),
    Variable("KAFKA_SSL_CAFILE", "", "With `SSL`/`SASL_SSL`: PEM file of the CA that signed the brokers' certificates (Strimzi's `<cluster>-cluster-ca-cert` Secret, `ca.crt`); empty: the system's trust store. Broker host names are always verified."),
    Variable("KAFKA_SSL_CERTFILE", "", "With `SSL`/`SASL_SSL`: PEM file of this client's certificate (a Strimzi `tls` KafkaUser's `user.crt`), with `KAFKA_SSL_KEYFILE`."),
    Variable("KAFKA_SSL_KEYFILE", "", "With `SSL`/`SASL_SSL`: PEM file of that certificate's private key (`user.key`)."),
    Variable("TOPIC_PARTITIONS", "6", "Partitions of each topic, fixed when the topic is created."),
    Variable("BUS_NAMESPACE", "", "Prefix of every topic and consumer group, so that several deployments (or test runs) can share one Kafka cluster."),
    Variable("CAREERLOOP_JWT_SECRET", "dev-only-secret-change-me-in-production", "HS256 secret for locally minted tokens (at least 32 bytes outside `make run`); set it to an empty string to accept only the identity provider's tokens (`CAREERLOOP_JWKS_URL`).", secret=True),
    Variable("CAREERLOOP_JWKS_URL", "", "JWKS URL of the university identity provider (RS256/ES256 tokens)."),
    Variable("CAREERLOOP_JWT_ISSUER", "", "Required `iss` of tokens, when set."),
    Variable("CAREERLOOP_JWT_AUDIENCE", "", "Required `aud` of tokens, when set."),
    Variable("MAX_BODY_BYTES", "5242880", "Largest accepted request body (imports included); larger bodies get 413."),
    Variable("IDEMPOTENCY_TTL_SECONDS", "86400", "How long a POST's first response is kept for retries with the same Idempotency-Key."),
    Variable("IDEMPOTENCY_LEASE_SECONDS", "60", "How long a POST with an Idempotency-Key holds the key while it runs; a retry after that, finding no answer stored (the first attempt was cut off), takes the key over: it answers from what the first attempt appended, or carries out the request if it appended nothing. Keep it above the longest a POST may run (an import: see `IMPORT_MAX_ROWS`); an attempt that runs longer appends nothing more once taken over."),
    Variable("READ_YOUR_WRITES_WAIT_SECONDS", "3", "How long a query with `min_version` waits for its projection before answering 503 with Retry-After."),
    Variable("IMPORT_MAX_BYTES", "4194304", "Largest contact file `POST /imports` reads (at most `MAX_BODY_BYTES`); a larger one gets 413 naming this limit."),
    Variable("IMPORT_MAX_ROWS", "3000", "Most records (rows or vCards, empty ones included) one import may hold; a file with more gets 413 naming this limit and adds nothing. An import runs within one request (about 4 ms a record on SQLite: raise the API's gunicorn `--timeout` with it) and its report is one event (at most 4000, to stay under Kafka's default 1 MB message)."),
    Variable("DORMANT_AFTER_DAYS", "90", "A relationship with no touch for this many days shows as dormant."),
    Variable("LOG_LEVEL", "INFO", "Python log level of every process."),
    Variable("HOST", "127.0.0.1", "Interface the `make run` APIs listen on."),
    Variable("METRICS_PORT", "0", "Port on which a relay, worker, announcer or dispatcher serves its own Prometheus `/metrics` (liveness, lease, processed items, backoff); 0 serves none. Give each process its own port when several share a host (`make run` leaves it 0); the APIs serve `/metrics` on their own port whatever this says."),
    Variable("METRICS_HOST", "127.0.0.1", "Interface of the `METRICS_PORT` endpoint (`0.0.0.0` in a container)."),
    Variable("OTEL_EXPORTER_OTLP_ENDPOINT", "", "OpenTelemetry: base URL of an OTLP/HTTP collector (e.g. `http://otel-collector:4318`); every process then exports its spans in protobuf to `<URL>/v1/traces` (batched, in the background). Empty: nothing is exported, and trace context (W3C `traceparent`) still travels from each request through its events to the projections, notifications and webhooks, and into the log lines. The exporter's other standard variables (`OTEL_EXPORTER_OTLP_HEADERS`, `_CERTIFICATE`, `_TIMEOUT`, `_COMPRESSION`) are read by the OpenTelemetry SDK as its specification says."),
    Variable("OTEL_SERVICE_NAME", "", "OpenTelemetry `service.name` of the process's spans. Empty: the process's own name, as its logs and metrics name it (`contacts-api`, `contact-directory`, `relay-contacts`, `notifications-dispatcher`, ...), which is what a deployment wants: leave it unset unless one process must be renamed."),
    Variable("OTEL_TRACES_SAMPLER", "parentbased_always_on", "OpenTelemetry sampler, as the OpenTelemetry specification names them (`always_on`, `always_off`, `traceidratio` and each with `parentbased_`); another value stops the process at start-up. `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG` keeps that share of new traces, and every span of a kept trace (a trace decided at the API is kept or dropped whole, through the events, projections and notifications)."),
    Variable("OTEL_TRACES_SAMPLER_ARG", "", "The sampler's argument: the ratio (0 to 1) of `parentbased_traceidratio` and `traceidratio`."),
    Variable("CONTACTS_PORT", "8001", "Port of the contacts API under `make run`."),
    Variable("SCHEDULING_PORT", "8002", "Port of the scheduling API under `make run`."),
    Variable("CALENDAR_ORGANIZER_EMAIL", "Career Office <career-office@localhost>", "ORGANIZER of interview invites whose student's e-mail is unknown (no `email` claim in their token): `Name <address>` or a bare address."),
    Variable("NOTES_PORT", "8003", "Port of the notes API under `make run`."),
    Variable("FOLLOWUPS_PORT", "8004", "Port of the followups API (timelines and follow-up queues) under `make run`."),
    Variable("FOLLOWUPS_ANNOUNCE_INTERVAL_SECONDS", "5", "How often the follow-ups announcer looks for items that fell due and announced items that are done (one indexed query each) and records `FollowUpBecameDue` or `FollowUpCompleted` for each."),
    Variable("NOTIFICATIONS_PORT", "8005", "Port of the notifications API (preferences, inbox, webhooks, templates) under `make run`."),
    Variable("CALENDAR_FEED_SECRET", "dev-only-calendar-secret-change-me", "Key of the per-student calendar feed URLs (at least 32 bytes outside `make run`); changing it revokes every feed URL.", secret=True),
    Variable("SMTP_URL", "", "Mail server of the e-mail notifications: `smtp://[user:password@]host:port[?starttls=true]` (STARTTLS before login) or `smtps://[user:password@]host:465` (TLS from the start); user and password percent-encoded. Empty: e-mail is not configured, e-mail notifications are suppressed and in-app ones still work."),
    Variable("EMAIL_FROM", "careerloop@localhost", "Sender (`From` and envelope) of the e-mail notifications, e.g. `Career Office <careers@university.example>`."),
    Variable("WEBHOOK_SECRET_KEY", "dev-only-webhook-secret-change-me", "Key from which each webhook endpoint's signing secret is derived (never stored; at least 32 bytes outside `make run`); changing it changes every endpoint's secret.", secret=True),
    Variable("NOTIFICATIONS_LATE_GRACE_SECONDS", "300", "A notification sent more than this after it was due (the dispatcher was down or behind) is marked late and says so."),
    Variable("NOTIFICATIONS_RETRY_BASE_SECONDS", "30", "First wait before retrying a failed e-mail or webhook delivery; each further failure doubles it."),
    Variable("NOTIFICATIONS_RETRY_CAP_SECONDS", "3600", "Longest wait between two delivery attempts."),
    Variable("NOTIFICATIONS_MAX_ATTEMPTS", "8", "Delivery attempts per notification and target before it is given up (final failure)."),
    Variable("WEBHOOK_DISABLE_AFTER_FAILURES", "5", "Consecutive failed deliveries after which a webhook endpoint is disabled (with an event) until its owner enables it."),
    Variable("WEBHOOK_ALLOWED_NETWORKS", "", "Comma-separated CIDR networks webhooks may reach although they are not public (e.g. `10.20.0.0/16` for a campus-internal receiver). Empty: webhooks reach only public addresses; loopback, private, link-local, CGNAT, multicast, reserved, unique-local and cloud metadata addresses are refused at registration and at every delivery (metadata addresses even when listed here)."),
    Variable("NOTIFICATIONS_DIGEST_HOUR", "8", "Local hour (0-23, the recipient's zone) of the daily digest that collects follow-up notifications when the digest is on."),
    Variable("NOTIFICATIONS_DISPATCHER_LEASE_SECONDS", "30", "Lease that keeps one dispatcher sending at a time; a standby takes over this long after the active one died. Channel timeouts are at most a third of it."),
    Variable("NOTIFICATIONS_DISPATCHER_POLL_SECONDS", "1", "How often an idle dispatcher looks for notifications that fell due."),
    Variable("ANALYTICS_PORT", "8006", "Port of the analytics API (roster upload, funnel and engagement for analysts) under `make run`."),
    Variable("ANALYTICS_PSEUDONYM_KEY", "dev-only-analytics-pseudonym-key-change-me", "Key of the pseudonyms on the analytics integration stream (at least 32 bytes outside `make run`): one HMAC-SHA256 key per identifier kind (student, contact, interview) is derived from it with HKDF. Rotate it together with `ANALYTICS_PSEUDONYM_KEY_ID`.", secret=True),
    Variable("ANALYTICS_PSEUDONYM_KEY_ID", "k1", "Names `ANALYTICS_PSEUDONYM_KEY` in every analytics event (`pseudonym_key_id`), so consumers join pseudonyms only within one key; give each new key a new id."),
    Variable("ANALYTICS_MIN_CELL", "5", "Smallest number of distinct students an analytics cell may count; smaller cells (and the complementary cells that would reveal them) are shown as suppressed."),
    Variable("FUNNEL_DEFINITION", "1", "Version of the funnel definition the analytics read models are built with (`GET /analytics/definitions`); a new version is applied by `make rebuild SERVICE=analytics`."),
    Variable("ACADEMIC_TERMS", "spring:01-01,summer:05-15,fall:08-15", "The academic terms as `name:MM-DD` start days (UTC), each running until the next one starts; a step on 2026-09-01 is in `fall-2026`."),
    Variable("ACADEMIC_YEAR_START", "07-01", "First day (MM-DD) of the academic year used in first-destination reporting (July 1 - June 30: `2026-27`)."),
    Variable("PRIVACY_PORT", "8007", "Port of the privacy API (erasures, the data-subject export) under `make run`."),
    Variable("EXPORT_SOURCES", "contacts=http://127.0.0.1:{CONTACTS_PORT},scheduling=http://127.0.0.1:{SCHEDULING_PORT},notes=http://127.0.0.1:{NOTES_PORT},followups=http://127.0.0.1:{FOLLOWUPS_PORT},notifications=http://127.0.0.1:{NOTIFICATIONS_PORT},analytics=http://127.0.0.1:{ANALYTICS_PORT}",
             "Where the privacy API fetches each service's part of a student's data-subject export (`GET /me/export`): comma-separated `name=URL` pairs, the URL of each service's API (`{NAME_PORT}` stands for that variable's value). It calls `<URL>/me/export` with the student's own token; a source that does not answer makes the export a 503 naming it. Every service holding data about students must be listed (the privacy service's own part is made in-process)."),
    Variable("WEB_PORT", "8000", "Port of the web front end (`services/web`) under `make run`."),
    Variable("WEB_PUBLIC_URL", "http://127.0.0.1:{WEB_PORT}", "The address students open for the web front end (`{NAME}` stands for that variable's value). An `https://` address makes the session cookie `Secure` (named `__Host-careerloop`) and adds Strict-Transport-Security; the identity provider redirects back to `<WEB_PUBLIC_URL>/sign-in/callback`."),
    Variable("WEB_SESSION_SECRET", "dev-only-web-session-secret-change-me", "Key that signs the web front end's session cookies (at least 32 bytes outside `make run`); changing it signs everyone out. Only the web front end reads it.", secret=True, process="web"),
    Variable("WEB_SESSION_MINUTES", "480", "How long a web session lasts (never longer than the signed-in user's access token)."),
    Variable("WEB_API_URLS", "contacts=http://127.0.0.1:{CONTACTS_PORT},scheduling=http://127.0.0.1:{SCHEDULING_PORT},notes=http://127.0.0.1:{NOTES_PORT},followups=http://127.0.0.1:{FOLLOWUPS_PORT},notifications=http://127.0.0.1:{NOTIFICATIONS_PORT},analytics=http://127.0.0.1:{ANALYTICS_PORT}",
             "The service APIs the web front end calls with the signed-in user's token: comma-separated `name=URL` pairs (`{NAME}` stands for that variable's value); contacts, scheduling, notes, followups, notifications and analytics (the career office's pages) are needed."),
    Variable("OIDC_ISSUER", "", "The university identity provider (OpenID Connect issuer URL; its `/.well-known/openid-configuration` is read) the web front end signs users in with: authorization code flow with PKCE. Required outside `make run`; under `make run` a local sign-in page picks a demo user instead (it is 404 anywhere else)."),
    Variable("OIDC_CLIENT_ID", "", "The web front end's client id at the identity provider."),
    Variable("OIDC_CLIENT_SECRET", "", "The web front end's client secret at the identity provider (a credential: give it from a secret store); empty for a public client, which PKCE still protects."),
    Variable("OIDC_SCOPES", "openid profile email", "Scopes the web front end asks the identity provider for; the access token it gets is what the service APIs are called with (their `CAREERLOOP_JWT_ISSUER`, `CAREERLOOP_JWKS_URL` and `CAREERLOOP_JWT_AUDIENCE` must accept it)."),
    Variable("ANALYTICS_ROSTER_MAX_ROWS", "50000", "Most data rows a roster upload may have (more: 422 naming this limit)."),
)

_BY_NAME = {v.name: v for v in VARIABLES}
_PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
FILE_SUFFIX = "_FILE"
log = logging.getLogger("careerloop.config")


class ConfigurationError(SystemExit):
    """A variable cannot be read (its `_FILE` is unreadable, or it is given twice). A `SystemExit`, as
    `InsecureConfiguration` below: the process ends at start-up with the message, not a traceback."""


def _read_files(env: Mapping[str, str]) -> Mapping[str, str]:
    """`env` with each declared variable given as `<NAME>_FILE` read from its file.

    The file's content is the value, less its trailing line break (`echo secret > file` and `kubectl
    create secret --from-file` keep one). A file that does not exist leaves the variable unset only when
    unset means off (its default is empty): that is how a Kubernetes Secret volume shows an optional key
    the Secret does not hold (the Helm chart's SMTP_URL), and such a required variable is then refused
    by its own check, by name (`secret_problems`, the Kafka adapter). A missing file for a variable with
    a default, an unreadable file, or both `X` and `X_FILE` set is a `ConfigurationError` naming them."""
    named = [name for name in env if name.endswith(FILE_SUFFIX) and name.removesuffix(FILE_SUFFIX) in _BY_NAME]
    if not named:
        return env  # the same mapping: tests may still change a running app's settings through it
    resolved, problems = dict(env), []
    for file_variable in sorted(named):
        name, path = file_variable.removesuffix(FILE_SUFFIX), env[file_variable]
        if name in env:
            problems.append(f"{name} and {file_variable} are both set: give one")
            continue
        try:
            with open(path, encoding="utf-8") as file:
                resolved[name] = file.read().rstrip("\r\n")
        except FileNotFoundError:
            if _BY_NAME[name].default:
                problems.append(f"{file_variable}: {path!r} does not exist")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file_variable}: {path!r} cannot be read ({getattr(exc, 'strerror', None) or exc})")
    if problems:
        raise ConfigurationError("configuration: " + "; ".join(problems))
    return resolved


@dataclass(frozen=True)
class Settings:
    """The configuration of one process, read once at start-up (never at import time)."""

    env: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "env", _read_files(self.env))  # frozen: the files are read once, here

    @classmethod
    def from_env(cls, overrides: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ)
        env.update(overrides or {})
        return cls(env)

    def get(self, name: str) -> str:
        variable = _BY_NAME[name]  # KeyError here means an undeclared variable: declare it above
        raw = self.env.get(name, variable.default)
        return raw.replace("{data_dir}", self.env.get("CAREERLOOP_DATA_DIR", "var"))

    def int(self, name: str) -> int:
        return int(self.get(name))

    def event_store_url(self, service: str) -> str:
        return self.get("EVENT_STORE_URL").replace("{service}", service)

    def expanded(self, name: str) -> str:
        """`name`'s value with each `{OTHER_VARIABLE}` replaced by that variable's value (a ValueError
        names an unknown one), for addresses built from ports (`WEB_PUBLIC_URL`, `WEB_API_URLS`)."""

        def expand(match: re.Match[str]) -> str:
            if match.group(1) not in _BY_NAME:
                raise ValueError(f"{name}: {{{match.group(1)}}} is not a configuration variable")
            return self.get(match.group(1))

        return _PLACEHOLDER.sub(expand, self.get(name))

    def service_urls(self, name: str) -> dict[str, str]:
        """`name`'s comma-separated `service=URL` pairs (placeholders expanded) as {service: base URL};
        a ValueError naming the variable and the entry at fault (`EXPORT_SOURCES`, `WEB_API_URLS`)."""
        urls: dict[str, str] = {}
        for entry in (e.strip() for e in self.expanded(name).split(",")):
            if not entry:
                continue
            service, equals, url = (part.strip() for part in entry.partition("="))
            if not equals or not _SERVICE_NAME.match(service):
                raise ValueError(f"{name}: {entry!r} is not name=URL with a lower-case name")
            if service in urls:
                raise ValueError(f"{name}: {service!r} is listed twice")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ValueError(f"{name}: {url!r} ({service}) is not an http(s) URL of a service's API")
            try:
                parts.port  # noqa: B018 (a port that is not a number raises here)
            except ValueError:
                raise ValueError(f"{name}: {url!r} ({service}) has an invalid port") from None
            urls[service] = url.rstrip("/")
        return urls


# Where the backends are all embedded (SQLite files on one machine), the deployment is `make run`: the
# published development secrets are tolerated there, and only there.
BACKEND_URLS = ("EVENT_STORE_URL", "BUS_URL", "READ_STORE_URL", "KEY_STORE_URL")
MIN_SECRET_BYTES = 32
MASTER_KEY_NOT_SET = "is not set (nor ERASURE_MASTER_KEY_FILE)"
PUBLISHED_SECRET_PREFIX = "dev-only-"


class InsecureConfiguration(SystemExit):
    """A process outside the embedded profile was started with a missing, short or published secret.

    A `SystemExit` so that a process entry point ends with the message and a non-zero status, not a
    traceback; the message names every offending variable at once so one restart fixes them all."""


def is_embedded(settings: Settings) -> bool:
    """True when every backend is an embedded SQLite file (the single-machine `make run` profile)."""
    return all(settings.get(name).startswith("sqlite:") for name in BACKEND_URLS)


def secret_problems(settings: Settings, process: str | None = None) -> dict[str, str]:
    """Each secret variable that must not be used outside the embedded profile, with why: the ones
    `process` reads (every secret when None)."""
    problems = {}
    for variable in VARIABLES:
        if not variable.secret or (process is not None and variable.process not in ("", process)):
            continue
        value = settings.env.get(variable.name)
        if variable.name == "CAREERLOOP_JWT_SECRET" and value == "" and settings.get("CAREERLOOP_JWKS_URL"):
            continue  # identity-provider tokens only: no shared secret at all is the safest setting
        if variable.name == "ERASURE_MASTER_KEY":
            problem = master_key_problem(settings)
            if problem:
                problems[variable.name] = problem
            continue
        if value is None or value == "":
            problems[variable.name] = "is not set" + _absent_file(settings, variable.name)
        elif value.startswith(PUBLISHED_SECRET_PREFIX):
            problems[variable.name] = "is a published development value"
        elif len(value.encode()) < MIN_SECRET_BYTES:
            problems[variable.name] = f"is shorter than {MIN_SECRET_BYTES} bytes"
    return problems


def _absent_file(settings: Settings, name: str) -> str:
    """Why a variable given as a file is unset: its file does not exist (see `_read_files`)."""
    path = settings.env.get(name + FILE_SUFFIX)
    return f" ({name}{FILE_SUFFIX} {path!r} does not exist)" if path and not os.path.exists(path) else ""


def master_key_text(settings: Settings) -> str:
    """`ERASURE_MASTER_KEY` (given directly or as ERASURE_MASTER_KEY_FILE), or "" when unset."""
    return settings.get("ERASURE_MASTER_KEY").strip()


def master_key_problem(settings: Settings) -> str | None:
    """Why the configured master key cannot be used, or None when it can."""
    from shared.keys.vault import MasterKey  # cryptography, only for the processes that check it

    text = master_key_text(settings)
    if not text:
        # a file named but absent is not "unset": the embedded profile must not generate a key over it
        absent = _absent_file(settings, "ERASURE_MASTER_KEY")
        return f"is not set{absent}" if absent else MASTER_KEY_NOT_SET
    try:
        MasterKey.parse(text)
    except ValueError as exc:
        return f"is not a master key: {exc}"
    return None


def check_secrets(settings: Settings, process: str) -> None:
    """Refuse to start outside the embedded profile while any secret is unsafe; say so inside it.

    Every process entry point calls this once, before it opens a backend."""
    problems = secret_problems(settings, process)
    if not problems:
        return
    if is_embedded(settings) and problems.get("ERASURE_MASTER_KEY", MASTER_KEY_NOT_SET) == MASTER_KEY_NOT_SET:
        problems.pop("ERASURE_MASTER_KEY", None)  # generated into the data folder (shared.keys.master_keys)
        if not problems:
            return
        log.warning("%s: embedded profile (make run) with the published development secrets for %s; "
                    "never expose this deployment beyond this machine", process, ", ".join(sorted(problems)))
        return
    # outside the embedded profile, or a master key given but unusable (embedded too: it would lose data)
    lines = "\n".join(f"  {name} {why}" for name, why in sorted(problems.items()))
    raise InsecureConfiguration(
        f"{process}: refusing to start outside the embedded profile with unsafe secrets:\n{lines}\n"
        f"Generate each with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        + ("\nand the master key with: python -m shared.keys new-master-key m1" if "ERASURE_MASTER_KEY" in problems else ""))


def markdown_table() -> str:
    """The README's configuration table (a test keeps the README equal to this)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | `{v.default}` | {v.meaning} |" if v.default else f"| `{v.name}` | (empty) | {v.meaning} |"
             for v in VARIABLES]
    return "\n".join(rows)


def rewrite_readme_table(readme: str) -> str:
    """`readme` with its configuration table replaced by `markdown_table()` (the table ends at a blank line)."""
    start = readme.index("| variable | default | meaning |")
    end = readme.find("\n\n", start)
    return readme[:start] + markdown_table() + (readme[end:] if end != -1 else "\n")


if __name__ == "__main__":
    # `python -m shared.config` prints the table; `python -m shared.config --readme README.md` rewrites it there.
    import sys

    if sys.argv[1:2] == ["--readme"]:
        path = sys.argv[2]
        with open(path, encoding="utf-8") as file:
            text = rewrite_readme_table(file.read())
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        print(markdown_table())
