"""Any declared variable `X` may be given as `X_FILE`, a file holding its value (how the Helm chart gives
every secret: files of a mounted Secret, never environment variables). Read once when the settings are
made; a problem stops the process at start-up naming the variable."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.bus import kafka as adapter
from shared.config import VARIABLES, ConfigurationError, Settings, secret_problems

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTED = {"EVENT_STORE_URL": "mongodb://db:27017/careerloop_{service}", "READ_STORE_URL": "mongodb://db:27017/read",
               "BUS_URL": "kafka://kafka:9092", "KEY_STORE_URL": "mongodb://db:27017/keys"}
SECRETS = {**{v.name: f"{v.name.lower()}-from-a-file-0123456789abcdef" for v in VARIABLES if v.secret},
           "ERASURE_MASTER_KEY": "m1:" + base64.b64encode(bytes(range(32))).decode()}


def as_files(tmp_path: Path, values: dict[str, str]) -> dict[str, str]:
    """Each value written to a file of its own, as a Kubernetes Secret volume does (with a line break
    after it, as `kubectl create secret --from-file` keeps), and the `_FILE` variables naming them."""
    env = {}
    for name, value in values.items():
        (tmp_path / name).write_text(value + "\n")
        env[f"{name}_FILE"] = str(tmp_path / name)
    return env


def test_every_secret_given_as_a_file_passes_the_start_up_check(tmp_path: Path) -> None:
    settings = Settings({**DISTRIBUTED, **as_files(tmp_path, SECRETS)})
    assert secret_problems(settings) == {}
    for name, value in SECRETS.items():
        assert settings.get(name) == value  # the line break after it is not part of it


def test_a_connection_string_from_a_file_is_templated_like_one_from_the_environment(tmp_path: Path) -> None:
    settings = Settings(as_files(tmp_path, {"EVENT_STORE_URL": "mongodb://u:p@db/careerloop_{service}?tls=true"}))
    assert settings.event_store_url("notes") == "mongodb://u:p@db/careerloop_notes?tls=true"


def test_the_kafka_password_from_a_file_reaches_the_clients(tmp_path: Path) -> None:
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "careerloop-notes-relay",
           **as_files(tmp_path, {"KAFKA_SASL_PASSWORD": "generated-by-strimzi"})}
    assert adapter.kafka_security(Settings(env))["sasl_plain_password"] == "generated-by-strimzi"


def test_only_the_last_line_break_goes_and_inner_text_is_kept(tmp_path: Path) -> None:
    (tmp_path / "smtp").write_bytes(b"smtp://user:p%20w@mail.example.edu:587?starttls=true\r\n")
    assert Settings({"SMTP_URL_FILE": str(tmp_path / "smtp")}).get("SMTP_URL") == \
        "smtp://user:p%20w@mail.example.edu:587?starttls=true"


def test_a_variable_given_both_ways_stops_the_process_naming_both(tmp_path: Path) -> None:
    env = {"CALENDAR_FEED_SECRET": "x" * 40, **as_files(tmp_path, {"CALENDAR_FEED_SECRET": "y" * 40})}
    with pytest.raises(ConfigurationError, match="CALENDAR_FEED_SECRET and CALENDAR_FEED_SECRET_FILE are both set"):
        Settings(env)


def test_a_missing_file_for_a_variable_with_a_default_stops_the_process_naming_it(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent")
    with pytest.raises(ConfigurationError) as stopped:
        Settings({"EVENT_STORE_URL_FILE": absent, "CAREERLOOP_JWT_SECRET_FILE": absent})
    assert str(stopped.value) == (f"configuration: CAREERLOOP_JWT_SECRET_FILE: {absent!r} does not exist; "
                                  f"EVENT_STORE_URL_FILE: {absent!r} does not exist")
    assert isinstance(stopped.value, SystemExit)  # the message and a non-zero status, no traceback


def test_a_missing_file_leaves_an_off_by_default_variable_off(tmp_path: Path) -> None:
    """A Secret volume leaves out an optional key the Secret does not hold: no SMTP_URL, no e-mail."""
    assert Settings({"SMTP_URL_FILE": str(tmp_path / "SMTP_URL")}).get("SMTP_URL") == ""


def test_a_required_variable_whose_file_is_missing_is_refused_by_its_own_check(tmp_path: Path) -> None:
    env = {**DISTRIBUTED, **as_files(tmp_path, SECRETS)}
    os.remove(env["ERASURE_MASTER_KEY_FILE"])
    assert secret_problems(Settings(env)) == {
        "ERASURE_MASTER_KEY": f"is not set (ERASURE_MASTER_KEY_FILE {env['ERASURE_MASTER_KEY_FILE']!r} does not exist)"}
    kafka = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "careerloop-notes-relay",
             "KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "absent")}
    with pytest.raises(ValueError, match="KAFKA_SASL_PASSWORD"):
        adapter.kafka_security(Settings(kafka))


def test_an_unreadable_file_stops_the_process_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=f"WEBHOOK_SECRET_KEY_FILE: {str(tmp_path)!r} cannot be read"):
        Settings({"WEBHOOK_SECRET_KEY_FILE": str(tmp_path)})  # a folder
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigurationError, match="WEBHOOK_SECRET_KEY_FILE: .* cannot be read"):
        Settings({"WEBHOOK_SECRET_KEY_FILE": str(tmp_path / "binary")})


def test_a_file_variable_of_no_declared_variable_is_left_alone(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_FILE": str(tmp_path / "absent")}
    assert Settings(env).env is env


def test_a_process_reads_its_secrets_from_files_and_names_the_one_that_is_wrong(tmp_path: Path) -> None:
    """The relay as the chart starts it: every secret as a file; one too short stops it before any backend."""
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.endswith("_FILE")}
    env.update({**DISTRIBUTED, **as_files(tmp_path, {**SECRETS, "WEBHOOK_SECRET_KEY": "short"})})
    result = subprocess.run([sys.executable, "-m", "shared.relay", "contacts"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert problems == ["WEBHOOK_SECRET_KEY is shorter than 32 bytes"]

