"""Secure by default: outside the embedded profile no process starts with a missing, short or published
secret, and docker compose refuses to interpolate the file without them."""
from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import (
    VARIABLES,
    InsecureConfiguration,
    Settings,
    check_secrets,
    is_embedded,
    secret_problems,
)

ROOT = Path(__file__).resolve().parents[2]
SECRETS = sorted(v.name for v in VARIABLES if v.secret)
# A secret only one process reads is checked by that process alone (the web front end's session key).
PROCESS_OF = {v.name: v.process for v in VARIABLES if v.secret and v.process}
MASTER = "ERASURE_MASTER_KEY"  # a key of a set format, not a passphrase: checked by its own tests below
TEXT_SECRETS = [name for name in SECRETS if name != MASTER]
EVERY_PROCESS_SECRETS = [name for name in SECRETS if name not in PROCESS_OF]
GOOD = {**{name: f"{name.lower()}-generated-value-0123456789abcdef" for name in TEXT_SECRETS},
        MASTER: "m1:" + base64.b64encode(bytes(range(32))).decode()}
DISTRIBUTED = {"EVENT_STORE_URL": "mongodb://db:27017/careerloop_{service}", "READ_STORE_URL": "mongodb://db:27017/read",
               "BUS_URL": "kafka://kafka:9092", "KEY_STORE_URL": "mongodb://db:27017/keys"}


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(env)  # exactly this environment: nothing leaks in from the test runner's


def test_the_secrets_are_the_jwt_calendar_feed_webhook_and_analytics_pseudonym_keys() -> None:
    assert SECRETS == ["ANALYTICS_PSEUDONYM_KEY", "CALENDAR_FEED_SECRET", "CAREERLOOP_JWT_SECRET", "ERASURE_MASTER_KEY",
                       "WEBHOOK_SECRET_KEY", "WEB_SESSION_SECRET"]
    assert PROCESS_OF == {"WEB_SESSION_SECRET": "web"}


def test_the_embedded_profile_is_only_when_every_backend_is_an_sqlite_file() -> None:
    assert is_embedded(settings_of({}))
    for name, url in DISTRIBUTED.items():
        assert not is_embedded(settings_of({name: url})), name


def test_the_embedded_profile_keeps_its_published_defaults_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="careerloop.config"):
        check_secrets(settings_of({}), "contacts-api")
    assert "published development secrets" in caplog.text
    for name in TEXT_SECRETS:
        assert (name in caplog.text) == (name not in PROCESS_OF)
    assert MASTER not in caplog.text  # not published: make run generates its own (shared.keys.master_keys)


def test_a_distributed_profile_with_generated_secrets_starts_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="careerloop.config"):
        check_secrets(settings_of({**DISTRIBUTED, **GOOD}), "contacts-api")
    assert caplog.text == ""


@pytest.mark.parametrize("value, why", [
    (None, "is not set"),
    ("", "is not set"),
    ("short-but-not-empty", "is shorter than 32 bytes"),
    ("x" * 31, "is shorter than 32 bytes"),
    ("dev-only-secret-change-me-in-production", "is a published development value"),
    ("dev-only-calendar-secret-change-me-but-now-much-longer", "is a published development value"),
])
@pytest.mark.parametrize("name", TEXT_SECRETS)
def test_each_unsafe_secret_stops_a_distributed_process_naming_it(name: str, value: str | None, why: str) -> None:
    env = {**DISTRIBUTED, **GOOD}
    if value is None:
        del env[name]
    else:
        env[name] = value
    process = PROCESS_OF.get(name, "notes-api")
    with pytest.raises(InsecureConfiguration) as refused:
        check_secrets(settings_of(env), process)
    assert f"{name} {why}" in str(refused.value)
    assert str(refused.value).startswith(f"{process}: refusing to start")
    assert [line for line in str(refused.value).splitlines() if line.startswith("  ")] == [f"  {name} {why}"]


def test_every_offending_variable_is_named_in_one_message() -> None:
    with pytest.raises(InsecureConfiguration) as refused:
        check_secrets(settings_of(DISTRIBUTED), "relay")
    assert secret_problems(settings_of(DISTRIBUTED)) == {
        **{name: "is not set" for name in TEXT_SECRETS}, MASTER: "is not set (nor ERASURE_MASTER_KEY_FILE)"}
    for name in SECRETS:
        assert (f"  {name} is not set" in str(refused.value)) == (name in EVERY_PROCESS_SECRETS)
    assert "python -m shared.keys new-master-key" in str(refused.value)
    assert refused.value.code == str(refused.value)  # SystemExit: the message, and a non-zero exit status


def test_exactly_32_bytes_is_long_enough_and_bytes_not_characters_count() -> None:
    env = {**DISTRIBUTED, **GOOD, "WEBHOOK_SECRET_KEY": "k" * 32, "CALENDAR_FEED_SECRET": "é" * 16}
    assert secret_problems(settings_of(env)) == {}


def test_an_empty_jwt_secret_is_allowed_only_with_an_identity_provider() -> None:
    env = {**DISTRIBUTED, **GOOD, "CAREERLOOP_JWT_SECRET": ""}
    assert secret_problems(settings_of(env)) == {"CAREERLOOP_JWT_SECRET": "is not set"}
    env["CAREERLOOP_JWKS_URL"] = "https://idp.university.example/realms/campus/protocol/openid-connect/certs"
    assert secret_problems(settings_of(env)) == {}


@pytest.mark.parametrize("value, why", [
    ("m1:" + base64.b64encode(bytes(31)).decode(), "is not a master key: master key 'm1': 31 bytes; AES-256 needs 32"),
    ("m1:not base64!", "is not a master key: master key 'm1': not base64"),
    (base64.b64encode(bytes(32)).decode(),
     "is not a master key: a master key is '<key id>:<base64 of 32 random bytes>'"),
    ("dev-only-secret-change-me-in-production", "is not a master key"),
])
def test_the_master_key_must_be_a_named_256_bit_key(value: str, why: str) -> None:
    problems = secret_problems(settings_of({**DISTRIBUTED, **GOOD, MASTER: value}))
    assert list(problems) == [MASTER] and problems[MASTER].startswith(why)
    assert value not in problems[MASTER]  # a near-miss key is never echoed into a log


def test_the_master_key_may_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "master-key"
    key_file.write_text(GOOD[MASTER] + "\n")
    env = {**DISTRIBUTED, **GOOD, "ERASURE_MASTER_KEY_FILE": str(key_file)}
    del env[MASTER]
    assert secret_problems(settings_of(env)) == {}
    env["ERASURE_MASTER_KEY_FILE"] = str(tmp_path / "absent")
    assert secret_problems(settings_of(env))[MASTER] == \
        f"is not set (ERASURE_MASTER_KEY_FILE {str(tmp_path / 'absent')!r} does not exist)"
    # make run generates a key only when none is configured, never over a named file that is missing
    with pytest.raises(InsecureConfiguration, match="ERASURE_MASTER_KEY_FILE"):
        check_secrets(settings_of({"ERASURE_MASTER_KEY_FILE": str(tmp_path / "absent")}), "contacts-api")


def test_make_run_generates_its_master_key_once_readable_only_by_its_user(tmp_path: Path) -> None:
    from shared.keys import master_keys

    settings = settings_of({"CAREERLOOP_DATA_DIR": str(tmp_path)})
    first, previous = master_keys(settings)
    assert previous == [] and master_keys(settings)[0] == first and len(first.key) == 32
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="ERASURE_MASTER_KEY is not set"):
        master_keys(settings_of({**DISTRIBUTED, "CAREERLOOP_DATA_DIR": str(tmp_path)}))


def refused_start(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a process of the platform on the distributed profile with unsafe secrets (the backends it
    names do not exist: the process must stop before it opens any)."""
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(DISTRIBUTED)
    env["WEBHOOK_SECRET_KEY"] = "dev-only-webhook-secret-change-me"
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize("argv, process", [
    (["-c", "from services.contacts.app import create_app; create_app()"], "contacts-api"),
    (["-m", "shared.relay", "contacts"], "relay-contacts"),
    (["-m", "services.scheduling.worker"], "scheduling-views"),
    (["-m", "services.followups.announcer"], "followups-announcer"),
    (["-m", "services.notifications.dispatcher"], "notifications-dispatcher"),
    (["-m", "services.notifications.policy_worker", "--status"], "notifications-policies"),
    (["-m", "services.init"], "init"),
    (["-m", "services.analytics.worker"], "analytics-funnel"),
    (["-c", "from services.analytics.app import create_app; create_app()"], "analytics-api"),
])
def test_every_process_refuses_to_start_and_exits_non_zero_naming_the_variables(argv: list[str], process: str) -> None:
    result = refused_start(argv)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{process}: refusing to start" in result.stderr
    assert "CAREERLOOP_JWT_SECRET is not set" in result.stderr
    assert "CALENDAR_FEED_SECRET is not set" in result.stderr
    assert "WEBHOOK_SECRET_KEY is a published development value" in result.stderr


def docker_compose() -> list[str]:
    """The compose implementation installed by infra/tools.sh (Debian's docker-compose)."""
    found = shutil.which("docker-compose")
    if found is None:
        message = "docker-compose is not installed; infra/tools.sh installs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return [found]


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("CAREERLOOP_")}
    return subprocess.run([*docker_compose(), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
                           "config"], env={**base, **env}, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("missing", SECRETS)
def test_docker_compose_config_fails_without_each_secret_naming_it(missing: str) -> None:
    env = {name: value for name, value in GOOD.items() if name != missing}
    result = compose_config(env)
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


@pytest.mark.parametrize("empty", ["CALENDAR_FEED_SECRET", "WEBHOOK_SECRET_KEY"])
def test_docker_compose_config_refuses_an_empty_key(empty: str) -> None:
    result = compose_config({**GOOD, empty: ""})
    assert result.returncode != 0
    assert f"set {empty}" in result.stderr


def test_docker_compose_config_passes_the_secrets_through_to_every_process() -> None:
    import yaml

    result = compose_config(GOOD)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    ours = {name: svc for name, svc in services.items() if svc.get("image", "").startswith("careerloop")}
    assert ours
    for name, service in ours.items():
        for secret in SECRETS:
            if PROCESS_OF.get(secret, name) == name:
                assert service["environment"][secret] == GOOD[secret], (name, secret)
            else:  # only the process that reads it gets it
                assert secret not in service["environment"], (name, secret)


def test_make_run_refuses_a_master_key_it_cannot_use_instead_of_generating_another(tmp_path: Path) -> None:
    with pytest.raises(InsecureConfiguration, match="ERASURE_MASTER_KEY is not a master key"):
        check_secrets(settings_of({"ERASURE_MASTER_KEY": "m1:too-short"}), "contacts-api")


def test_a_secret_one_process_reads_stops_that_process_only() -> None:
    env = {**DISTRIBUTED, **GOOD, "WEB_SESSION_SECRET": "dev-only-web-session-secret-change-me"}
    check_secrets(settings_of(env), "contacts-api")  # the APIs never read the web front end's session key
    with pytest.raises(InsecureConfiguration, match="WEB_SESSION_SECRET is a published development value"):
        check_secrets(settings_of(env), "web")
