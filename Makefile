# Find the Labels: `make run` serves the app on embedded defaults, `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Production's database; the second test leg runs on it when it answers.
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run run-aws-local serve setup prepare test lint typecheck pytest pytest-postgres system-deps bench clean lock

run: prepare serve

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

prepare: setup
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/python manage.py prepare_model

# AWS mode with no AWS account: a local moto server with bucket, user pool and client.
run-aws-local: prepare
	$(BIN)/python -m tools.aws_local

serve:
	@echo "Find the Labels on http://$(HOST):$(PORT)/  (emails are printed here; Ctrl-C stops)"
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Debian packages the tests drive: chromium (browser tests), nginx, shellcheck,
# systemd-analyze and PostgreSQL's initdb/pg_ctl (deploy checks; they fail, not
# skip, without them), curl (the README's API example). Installed only when
# missing and we are root.
DEBIAN_TEST_PACKAGES := chromium nginx shellcheck systemd postgresql curl
system-deps:
	@missing=""; \
	for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian packages for the tests:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Missing Debian packages:$$missing (not root, cannot install): those tests will fail"; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy .

pytest: setup
	DJANGO_DEBUG=1 $(BIN)/python manage.py prepare_model
	@echo "== tests on SQLite =="
	$(BIN)/pytest $(PYTEST_ARGS)

pytest-postgres: setup
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($(PG_URL)) =="; \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest $(PYTEST_ARGS); \
	else echo "== PostgreSQL leg SKIPPED: nothing answers at $(PG_URL) (set PG_URL to run it) =="; fi

test: setup system-deps lint typecheck pytest pytest-postgres

bench: setup
	$(BIN)/python bench/detect.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/aws.py

# deploy/requirements.lock: every package the app runs with (pyproject's
# dependencies, not the dev extras), pinned with the sha256 of each file, which
# deploy/bootstrap.sh installs with --require-hashes. Re-run after changing
# the dependencies in pyproject.toml; tests/deploy/test_lock.py checks it.
lock: setup
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		--output-file deploy/requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
