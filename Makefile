# careerloop: `make help` lists the targets. `make run` and `make test` are the two commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install lock run token rebuild test test-unit lint deploy-check bench faults clean web-screenshots

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## Create the virtual environment with the project and its dev tools

# requirements.lock pins every package (runtime and dev) to the versions CI tested: a fresh clone installs
# exactly those. pyproject.toml keeps the ranges; `make lock` re-pins within them (see README, Upgrading).
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

lock: install ## Re-pin requirements.lock from pyproject.toml's ranges (UPGRADE=1 takes the newest allowed versions)
	$(PY) -m piptools compile --quiet --extra dev --strip-extras --no-emit-find-links --no-emit-index-url \
		$(if $(UPGRADE),--upgrade) --output-file requirements.lock pyproject.toml

run: install ## Start the whole platform on embedded backends (data under var/); Ctrl-C stops it
	@mkdir -p var
	@echo "careerloop is starting on embedded backends (data in $(CURDIR)/var)"
	@echo "  web front end    http://$${HOST:-127.0.0.1}:$${WEB_PORT:-8000}   (sign in: pick a demo user, e.g. student-1 as student)"
	@echo "  contacts API     http://$${HOST:-127.0.0.1}:$${CONTACTS_PORT:-8001}   (OpenAPI: /openapi.json)"
	@echo "  scheduling API   http://$${HOST:-127.0.0.1}:$${SCHEDULING_PORT:-8002}   (OpenAPI: /openapi.json)"
	@echo "  notes API        http://$${HOST:-127.0.0.1}:$${NOTES_PORT:-8003}   (OpenAPI: /openapi.json)"
	@echo "  followups API    http://$${HOST:-127.0.0.1}:$${FOLLOWUPS_PORT:-8004}   (OpenAPI: /openapi.json)"
	@echo "  notifications    http://$${HOST:-127.0.0.1}:$${NOTIFICATIONS_PORT:-8005}   (OpenAPI: /openapi.json; e-mail needs SMTP_URL)"
	@echo "  analytics API    http://$${HOST:-127.0.0.1}:$${ANALYTICS_PORT:-8006}   (OpenAPI: /openapi.json; analysts: make token SUB=analyst-1 ROLE=analyst)"
	@echo "  get a token      make token SUB=student-1 ROLE=student"
	@echo "  then             curl -H \"Authorization: Bearer \$$TOKEN\" http://$${HOST:-127.0.0.1}:$${CONTACTS_PORT:-8001}/contacts"
	$(VENV)/bin/honcho --procfile Procfile start

token: install ## Print a local bearer token: make token SUB=student-1 ROLE=student
	@$(PY) -m shared.auth mint --sub "$${SUB:-student-1}" --role "$${ROLE:-student}"

rebuild: install ## Rebuild a projection beside the live one, then switch over: make rebuild SERVICE=contacts [REBUILD_ARGS=--keep-old]
	$(PY) -m services.$${SERVICE:?name the service whose projection to rebuild, e.g. SERVICE=contacts}.worker --rebuild $(REBUILD_ARGS)

test: install lint ## Run every test, on the embedded backends and on real Kafka and MongoDB-wire servers
	infra/tools.sh
	infra/asyncapi/install.sh >/dev/null
	infra/helm/install.sh >/dev/null
	infra/promtool/install.sh >/dev/null
	infra/chromium/install.sh >/dev/null
	infra/axe/install.sh >/dev/null
	infra/oidc-provider/install.sh >/dev/null
	infra/checkov/install.sh >/dev/null
	infra/with-backends.sh $(PY) -m pytest

deploy-check: install ## The Helm chart (helm lint, Kubernetes schemas, hardening, checkov scan) and the monitoring (promtool, dashboard) (also in make test)
	infra/helm/install.sh >/dev/null
	infra/promtool/install.sh >/dev/null
	infra/checkov/install.sh >/dev/null
	$(PY) -m pytest tests/deploy

lint: install ## Lint (ruff), type-check shared/, services/ and tests/web/ (mypy), check the import contracts (import-linter)
	$(VENV)/bin/ruff check --no-cache .
	$(VENV)/bin/mypy shared services tests/web
	$(VENV)/bin/lint-imports

web-screenshots: install ## The web front end's browser tests, then the README's screenshots (docs/screenshots/, small PNGs)
	infra/chromium/install.sh >/dev/null
	infra/axe/install.sh >/dev/null
	WEB_DOCS_SCREENSHOTS=1 $(PY) -m pytest tests/web -m browser

test-unit: install ## Only the fast unit tests
	$(PY) -m pytest tests/unit

bench: install ## Measure against ceilings (read side, translator, event store, relay, API) -> var/bench/results.json
	infra/tools.sh
	infra/with-backends.sh $(PY) -m bench $(BENCH_ARGS)

faults: install ## Load and fault scenarios on Kafka + FerretDB/PostgreSQL of their own -> var/faults/results.json
	infra/tools.sh
	$(PY) -m tests.faults $(FAULTS_ARGS)

clean: ## Remove the virtual environment and test caches (never the data under var/)
	rm -rf $(VENV) var/test-backends .pytest_cache .hypothesis
