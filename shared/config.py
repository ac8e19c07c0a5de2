"""Configuration from environment variables only, with defaults that make `make run` work.

Every variable the platform reads is declared in `VARIABLES`; the README's configuration table and
the docker-compose check are both derived from it, so it is the one place to add a setting.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable("CAREERLOOP_DATA_DIR", "var", "Folder for the embedded SQLite files (relative paths are resolved against the working directory)."),
    Variable("EVENT_STORE_URL", "sqlite:///{data_dir}/events-{service}.db",
             "Each service's event store. `{service}` is replaced by the service name: `sqlite:///path` or `mongodb://host:27017/careerloop_{service}`."),
    Variable("BUS_URL", "sqlite:///{data_dir}/bus.db", "The event bus: the embedded SQLite log, or `kafka://host:9092[,host:9092][?replication_factor=3]` (the replication factor of the topics the platform creates; default 1)."),
    Variable("READ_STORE_URL", "sqlite:///{data_dir}/read-models.db", "Read models: `sqlite:///path` or `mongodb://host:27017/careerloop_read`."),
    Variable("TOPIC_PARTITIONS", "6", "Partitions of each topic, fixed when the topic is created."),
    Variable("BUS_NAMESPACE", "", "Prefix of every topic and consumer group, so that several deployments (or test runs) can share one Kafka cluster."),
    Variable("CAREERLOOP_JWT_SECRET", "dev-only-secret-change-me-in-production", "HS256 secret for locally minted tokens; set it to an empty string to accept only the identity provider's tokens."),
    Variable("CAREERLOOP_JWKS_URL", "", "JWKS URL of the university identity provider (RS256/ES256 tokens)."),
    Variable("CAREERLOOP_JWT_ISSUER", "", "Required `iss` of tokens, when set."),
    Variable("CAREERLOOP_JWT_AUDIENCE", "", "Required `aud` of tokens, when set."),
    Variable("MAX_BODY_BYTES", "5242880", "Largest accepted request body (imports included); larger bodies get 413."),
    Variable("IDEMPOTENCY_TTL_SECONDS", "86400", "How long a POST's first response is kept for retries with the same Idempotency-Key."),
    Variable("READ_YOUR_WRITES_WAIT_SECONDS", "3", "How long a query with `min_version` waits for its projection before answering 503 with Retry-After."),
    Variable("IMPORT_MAX_BYTES", "4194304", "Largest contact file `POST /imports` reads (at most `MAX_BODY_BYTES`); a larger one gets 413 naming this limit."),
    Variable("IMPORT_MAX_ROWS", "3000", "Most records (rows or vCards, empty ones included) one import may hold; a file with more gets 413 naming this limit and adds nothing. An import runs within one request (about 4 ms a record on SQLite: raise the API's gunicorn `--timeout` with it) and its report is one event (at most 4000, to stay under Kafka's default 1 MB message)."),
    Variable("DORMANT_AFTER_DAYS", "90", "A relationship with no touch for this many days shows as dormant."),
    Variable("LOG_LEVEL", "INFO", "Python log level of every process."),
    Variable("HOST", "127.0.0.1", "Interface the `make run` APIs listen on."),
    Variable("CONTACTS_PORT", "8001", "Port of the contacts API under `make run`."),
    Variable("SCHEDULING_PORT", "8002", "Port of the scheduling API under `make run`."),
    Variable("NOTES_PORT", "8003", "Port of the notes API under `make run`."),
    Variable("FOLLOWUPS_PORT", "8004", "Port of the followups API (timelines and follow-up queues) under `make run`."),
    Variable("FOLLOWUPS_ANNOUNCE_INTERVAL_SECONDS", "5", "How often the follow-ups announcer looks for items that fell due (one indexed query) and records `FollowUpBecameDue` for each."),
    Variable("NOTIFICATIONS_PORT", "8005", "Port of the notifications API (preferences, inbox, webhooks, templates) under `make run`."),
    Variable("CALENDAR_FEED_SECRET", "dev-only-calendar-secret-change-me", "Key of the per-student calendar feed URLs; changing it revokes every feed URL."),
    Variable("SMTP_URL", "", "Mail server of the e-mail notifications: `smtp://[user:password@]host:port[?starttls=true]` (STARTTLS before login) or `smtps://[user:password@]host:465` (TLS from the start); user and password percent-encoded. Empty: e-mail is not configured, e-mail notifications are suppressed and in-app ones still work."),
    Variable("EMAIL_FROM", "careerloop@localhost", "Sender (`From` and envelope) of the e-mail notifications, e.g. `Career Office <careers@university.example>`."),
    Variable("WEBHOOK_SECRET_KEY", "dev-only-webhook-secret-change-me", "Key from which each webhook endpoint's signing secret is derived (never stored); changing it changes every endpoint's secret."),
    Variable("NOTIFICATIONS_LATE_GRACE_SECONDS", "300", "A notification sent more than this after it was due (the dispatcher was down or behind) is marked late and says so."),
    Variable("NOTIFICATIONS_RETRY_BASE_SECONDS", "30", "First wait before retrying a failed e-mail or webhook delivery; each further failure doubles it."),
    Variable("NOTIFICATIONS_RETRY_CAP_SECONDS", "3600", "Longest wait between two delivery attempts."),
    Variable("NOTIFICATIONS_MAX_ATTEMPTS", "8", "Delivery attempts per notification and target before it is given up (final failure)."),
    Variable("WEBHOOK_DISABLE_AFTER_FAILURES", "5", "Consecutive failed deliveries after which a webhook endpoint is disabled (with an event) until its owner enables it."),
    Variable("NOTIFICATIONS_DIGEST_HOUR", "8", "Local hour (0-23, the recipient's zone) of the daily digest that collects follow-up notifications when the digest is on."),
    Variable("NOTIFICATIONS_DISPATCHER_LEASE_SECONDS", "30", "Lease that keeps one dispatcher sending at a time; a standby takes over this long after the active one died. Channel timeouts are at most a third of it."),
    Variable("NOTIFICATIONS_DISPATCHER_POLL_SECONDS", "1", "How often an idle dispatcher looks for notifications that fell due."),
)

_BY_NAME = {v.name: v for v in VARIABLES}


@dataclass(frozen=True)
class Settings:
    """The configuration of one process, read once at start-up (never at import time)."""

    env: Mapping[str, str]

    @classmethod
    def from_env(cls, overrides: Mapping[str, str] | None = None) -> "Settings":
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


def markdown_table() -> str:
    """The README's configuration table (a test keeps the README equal to this)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | `{v.default}` | {v.meaning} |" if v.default else f"| `{v.name}` | (empty) | {v.meaning} |"
             for v in VARIABLES]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
