# Convert-All: `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test bench services deps system-deps system-test-deps python-deps infra-test-deps migrate worker-documents worker-media worker-filters scheduler web check-deploy image-check clean

run: deps migrate ## start on the embedded default: SQLite, local files, in-process workers
	$(PY) manage.py collectstatic --noinput -v0
	@echo "Convert-All on http://$(HOST):$(PORT)"
	exec $(VENV)/bin/gunicorn convertall.wsgi -c convertall/gunicorn.conf.py -b $(HOST):$(PORT) --workers 1 --threads 8

test: system-test-deps python-deps infra-test-deps ## set up and run the whole suite
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) -m pytest

services: system-deps system-test-deps python-deps ## production-shaped set on loopback: PostgreSQL, Redis, S3 (moto), gunicorn, a worker per queue
	$(PY) manage.py collectstatic --noinput -v0
	exec $(PY) scripts/stack.py --port $(PORT)

# --- One process type per container (docs/deploy.md); settings come from the environment.
# Each target runs the image's entry point (scripts/docker-entrypoint.sh) with the venv first
# on PATH, so the commands and their defaults are written down once.
ENTRY := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec scripts/docker-entrypoint.sh

web: python-deps ## the web process: gunicorn with convertall/gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT)
	$(ENTRY) web

# Concurrency per queue: LibreOffice and ffmpeg are heavy, filters are light (WORKER_PROCESSES/WORKER_THREADS override).
worker-documents: python-deps ## Dramatiq worker for the documents queue (2 threads)
	$(ENTRY) worker-documents

worker-media: python-deps ## Dramatiq worker for the media queue (2 threads)
	$(ENTRY) worker-media

worker-filters: python-deps ## Dramatiq worker for the filters queue (4 threads)
	$(ENTRY) worker-filters

scheduler: python-deps ## the periodic runner (one at a time through a Redis lock; extra instances wait as standbys)
	$(ENTRY) scheduler

image-check: ## build the image on a Debian base bootstrapped here (podman, mmdebstrap), run it, smoke-test it; not part of `make test`
	scripts/image-check.sh

check-deploy: python-deps ## Django's deployment checks with the production settings (a throwaway SECRET_KEY unless one is set)
	DJANGO_ENV=production SECRET_KEY="$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}" \
	  EMAIL_BACKEND="$${EMAIL_BACKEND:-django.core.mail.backends.smtp.EmailBackend}" \
	  $(PY) manage.py check --deploy

bench: deps system-bench-deps ## benchmarks; prints figures and writes bench/RESULTS.md
	$(PY) bench/run.py

deps: system-deps python-deps

system-deps:
	@scripts/system-deps.sh run

system-bench-deps:
	@scripts/system-deps.sh bench

system-test-deps:
	@scripts/system-deps.sh test

python-deps: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	touch $@

# checkov (tests/infra) in a venv of its own: it pins boto3 and packaging to old releases.
# terraform itself is not a Debian package: tests/infra names it when missing (a failure under CI).
infra-test-deps: .venv-checkov/.installed

.venv-checkov/.installed: tests/infra/checkov.lock
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --require-hashes -r tests/infra/checkov.lock
	touch $@

migrate: python-deps
	$(PY) manage.py migrate --noinput -v0

clean:
	rm -rf var staticfiles .pytest_cache
