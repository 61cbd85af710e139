# syntax=docker/dockerfile:1
# One image for every process type; the first argument picks it (docs/deploy.md):
#   web | nginx | worker-documents | worker-media | worker-filters | scheduler | migrate
# Runs with a read-only root filesystem: /tmp is the only path it writes (mount a
# volume or tmpfs there). User 10001:10001, never root.
#
# BASE_IMAGE is pinned by digest; `make image-check` builds on a Debian base it
# bootstraps itself with mmdebstrap (same release) and passes it here.
ARG BASE_IMAGE=debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251

# --- build: the virtualenv from the lock file, with a compiler for any sdist ---------
FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Debian packages are pinned by the release (bookworm, from the base image's sources):
# stable only takes security fixes, which we want on every rebuild.
# hadolint ignore=DL3008
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-venv python3-dev gcc libc6-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.lock pyproject.toml scripts/prune_test_deps.py /tmp/
# Debian's python3 in both stages, so the venv's interpreter link holds in the runtime one.
# Behind a TLS-inspecting proxy, pass its CA bundle: --secret id=ca-bundle,src=<bundle>.
# The one lock file includes the test extra; what only the tests use is removed again.
RUN --mount=type=secret,id=ca-bundle,required=false \
    python3 -m venv /opt/venv \
 && if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
 && /opt/venv/bin/pip install -q --require-hashes -r /tmp/requirements.lock \
 && /opt/venv/bin/python /tmp/prune_test_deps.py /tmp/pyproject.toml --uninstall > /dev/null

# --- runtime: the converters' tools, nginx, the venv and the code --------------------
FROM ${BASE_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_ENV=production \
    CONVERTALL_IMAGE=1 \
    HOME=/tmp/convertall/home \
    CONVERTALL_VAR_DIR=/tmp/convertall/var \
    WORK_DIR=/tmp/convertall/work \
    FILE_UPLOAD_TEMP_DIR=/tmp/convertall/uploads \
    PORT=8000 \
    NGINX_PORT=8080

COPY scripts/system-deps.sh /tmp/system-deps.sh
# scripts/system-deps.sh is the one list of the converters' Debian packages (as for
# `make run`); nginx-light is the web task's buffering proxy (a second container
# from this same image). Pinned by the release, as above.
# hadolint ignore=DL3008
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 libpq5 nginx-light \
 && /tmp/system-deps.sh run \
 && rm -rf /var/lib/apt/lists/* /tmp/system-deps.sh /var/log/nginx \
 && groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# Static files and bytecode are built in: the root filesystem is read-only at run time.
# SECRET_KEY here only lets the production settings load.
# /tmp/convertall is the app's own from the start (a volume mounted at /tmp starts as a
# copy of the image's /tmp: ECS bind mounts, Docker volumes), and empty: the settings
# loaded by collectstatic made folders there as root.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
 && python -m compileall -q -j 0 /app \
 && chmod 0755 /app/scripts/docker-entrypoint.sh \
 && rm -rf /tmp/convertall \
 && install -d -o 10001 -g 10001 -m 0750 /tmp/convertall

USER 10001:10001
EXPOSE 8000 8080
VOLUME ["/tmp"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/app/scripts/docker-entrypoint.sh", "healthcheck"]
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["web"]
