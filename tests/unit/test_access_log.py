"""gunicorn's access log never shows a calendar feed token, a credential parameter or an auth header."""
from __future__ import annotations

import datetime
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from gunicorn.config import Config

from shared.web.logs import RedactingAccessLogger, redact

ROOT = Path(__file__).resolve().parents[2]
FEED_TOKEN = "0f3c9a7be1d24c6a8f0e5b7d9c1a3e5f7b9d1c3a"


def access_line(tmp_path: Path, path: str, query: str = "", headers: tuple[tuple[str, str], ...] = (),
                log_format: str | None = None) -> str:
    """One request through gunicorn's own `Logger.access`, as its workers call it, into a file."""
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    if log_format:
        cfg.set("access_log_format", log_format)
    logger = RedactingAccessLogger(cfg)
    raw_uri = path + (f"?{query}" if query else "")
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": raw_uri, "PATH_INFO": path, "QUERY_STRING": query,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": f"https://x.example{raw_uri}",
               "HTTP_USER_AGENT": "Calendar/1.0", **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers}}
    response = SimpleNamespace(status="200 OK", headers=[("Content-Type", "text/calendar")], sent=42)
    request = SimpleNamespace(headers=[(k.upper(), v) for k, v in headers])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=3))
    for handler in list(logger.access_log.handlers):  # gunicorn's loggers are process-global
        handler.close()
        logger.access_log.removeHandler(handler)
    return (tmp_path / "access.log").read_text()


def test_the_feed_token_in_the_path_is_redacted_from_the_request_line_and_referer(tmp_path: Path) -> None:
    line = access_line(tmp_path, f"/calendar/student-1/{FEED_TOKEN}.ics")
    assert FEED_TOKEN not in line
    assert '"GET /calendar/student-1/[redacted].ics HTTP/1.1" 200' in line
    assert '"https://x.example/calendar/student-1/[redacted].ics"' in line


def test_credential_query_parameters_and_auth_headers_are_redacted_in_any_log_format(tmp_path: Path) -> None:
    fmt = '%(r)s %(U)s %(q)s %(f)s %({authorization}i)s %({cookie}i)s %({http_authorization}e)s %({raw_uri}e)s'
    line = access_line(tmp_path, "/interviews", "token=t0k&access_token=a11&api_key=k3y&client_secret=s3c&page=2",
                       headers=(("Authorization", "Bearer e.y.J"), ("Cookie", "session=c00k")), log_format=fmt)
    for secret in ("t0k", "a11", "k3y", "s3c", "e.y.J", "c00k"):
        assert secret not in line
    assert "token=[redacted]&access_token=[redacted]&api_key=[redacted]&client_secret=[redacted]&page=2" in line
    assert "page=2" in line and "/interviews" in line


@pytest.mark.parametrize(("url", "kept"), [
    ("/calendar/feed", "/calendar/feed"),
    ("/calendar/feed/rotate?student_id=s-1", "/calendar/feed/rotate?student_id=s-1"),
    ("/interviews?monkey=1&keyboard=2", "/interviews?monkey=1&keyboard=2"),
])
def test_urls_without_secrets_are_logged_as_they_are(url: str, kept: str) -> None:
    assert redact(url) == kept


def gunicorn_commands() -> list[list[str]]:
    procfile = [shlex.split(line.split(":", 1)[1])[1:] for line in (ROOT / "Procfile").read_text().splitlines()
                if "gunicorn" in line and not line.startswith("#")]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"].values()
    return procfile + [s["command"] for s in compose if s.get("command", [""])[0] == "gunicorn"]


def test_every_api_process_loads_the_redacting_logger_from_gunicorn_conf() -> None:
    commands = gunicorn_commands()
    assert len(commands) >= 10 and all(c[0] == "gunicorn" for c in commands)
    for command in commands:  # a flag of its own would bypass ./gunicorn.conf.py
        assert not {"-c", "--config", "--logger-class"} & set(command), command
    assert re.search(r"^COPY gunicorn\.conf\.py \./$", (ROOT / "Dockerfile").read_text(), re.M)
    printed = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "services.scheduling.app:create_app()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert re.search(r"^logger_class\s+= shared\.web\.logs\.RedactingAccessLogger$", printed, re.M)


def test_worker_settings_are_set_in_gunicorn_conf_only_and_the_front_end_alone_keeps_sync_workers() -> None:
    """One place for every deployment (the Chart's commands equal the Procfile's: tests/deploy), which
    bench/api.py's ceiling runs under too."""
    conf = (ROOT / "gunicorn.conf.py").read_text()
    assert re.search(r'^workers = 2$', conf, re.M) and re.search(r'^worker_class = "gthread"$', conf, re.M)
    assert re.search(r"^threads = 4$", conf, re.M)
    for command in gunicorn_commands():
        flags = [a for a in command if a in ("-w", "--workers", "-k", "--worker-class", "--threads")]
        if command[-1] == "services.web.app:create_app()":
            assert command[1:5] == ["--worker-class", "sync", "--threads", "1"], command
        else:
            assert flags == [], command
    assert "--workers" not in (ROOT / "Dockerfile").read_text()
