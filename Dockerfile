# One image for every process type (docs/operations.md); the ECS task definitions
# in infra/ choose the command: web (default), a worker per queue, the scheduler.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_ENV=production \
    CONVERTALL_VAR_DIR=/var/lib/convertall \
    WORK_DIR=/tmp/convertall-work \
    PORT=8000

# Python for the venv, libpq for psycopg, then the tools the converters run:
# scripts/system-deps.sh is the one list of Debian packages (as for `make run`).
COPY scripts/system-deps.sh /tmp/system-deps.sh
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-venv libpq5 \
 && /tmp/system-deps.sh run \
 && rm -rf /var/lib/apt/lists/* /tmp/system-deps.sh

# The venv from the lock file, hashes checked (a layer of its own: code changes do not rebuild it).
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install -q --upgrade pip \
 && /opt/venv/bin/pip install -q --require-hashes -r /tmp/requirements.lock \
 && rm /tmp/requirements.lock

WORKDIR /app
COPY . /app
# Static files are built into the image; SECRET_KEY is only needed to load the settings here.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
 && useradd --system --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /var/lib/convertall /tmp/convertall-work \
 && chown app /var/lib/convertall /tmp/convertall-work

USER app
EXPOSE 8000
# Web by default; workers: `manage.py rundramatiq --queues media --processes 1 --threads 2`;
# scheduler: `manage.py scheduler`; migrations: `manage.py migrate --noinput` (a one-off task).
CMD ["gunicorn", "convertall.wsgi", "-c", "convertall/gunicorn.conf.py"]
