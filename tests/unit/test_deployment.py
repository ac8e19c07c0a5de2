"""The deployment files stay true to the code: compose, Procfile, Dockerfile and the README."""
from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml

from shared.config import VARIABLES, markdown_table

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OURS = {name: svc for name, svc in COMPOSE["services"].items() if svc.get("image", "").startswith("careerloop")}


def check_runs_something_of_ours(argv: list[str]) -> None:
    """`python -m module` and `gunicorn module:factory()` must name code that exists."""
    if argv[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(argv[2]) is not None, f"no module {argv[2]}"
    elif argv[0] == "gunicorn":
        target = argv[-1]
        module, factory = target.split(":")
        assert callable(getattr(importlib.import_module(module), factory.removesuffix("()")))
    else:
        pytest.fail(f"unexpected command {argv}")


def test_the_compose_file_parses_and_has_the_backends_and_an_init_step() -> None:
    assert {"kafka", "mongo", "init"} <= set(COMPOSE["services"])
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert COMPOSE["services"]["mongo"]["image"].startswith("mongo:")
    assert OURS["init"]["depends_on"] == {"kafka": {"condition": "service_healthy"},
                                          "mongo": {"condition": "service_healthy"}}


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_compose_command_exists_in_the_project(name: str) -> None:
    check_runs_something_of_ours(OURS[name]["command"])


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_compose_variable_is_one_the_configuration_reads(name: str) -> None:
    declared = {v.name for v in VARIABLES}
    assert set(OURS[name]["environment"]) <= declared


def test_every_process_waits_for_the_init_step_and_the_api_has_a_healthcheck() -> None:
    for name, service in OURS.items():
        if name != "init":
            assert service["depends_on"] == {"init": {"condition": "service_completed_successfully"}}, name
    assert "healthcheck" in OURS["contacts-api"]


def test_every_procfile_command_exists_in_the_project() -> None:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            argv = shlex.split(line.split(":", 1)[1])
            assert argv[0] == "exec", "without exec, Ctrl-C kills the shell, not the process"
            check_runs_something_of_ours(argv[1:])


def test_every_procfile_process_has_a_compose_service() -> None:
    names = [line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert set(names) <= set(OURS)


def test_the_image_runs_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.M)


def test_the_readme_configuration_table_lists_every_variable() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_ci_runs_the_readmes_test_command() -> None:
    assert "make test" in (ROOT / "README.md").read_text()
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_the_privacy_api_fetches_export_parts_from_every_other_api_container() -> None:
    sources = dict(entry.split("=", 1) for entry in OURS["privacy-api"]["environment"]["EXPORT_SOURCES"].split(","))
    apis = {name.removesuffix("-api") for name in OURS if name.endswith("-api")} - {"privacy"}
    assert set(sources) == apis
    for name, url in sources.items():
        assert url == f"http://{name}-api:{OURS[f'{name}-api']['ports'][0].split(':')[1]}"
    privacy, contacts = OURS["privacy-api"]["environment"], OURS["contacts-api"]["environment"]
    assert privacy["EVENT_STORE_URL"] == contacts["EVENT_STORE_URL"]  # the shared settings are kept
