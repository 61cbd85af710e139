#!/bin/sh
# The image's entry point: the first argument names the process (docs/deploy.md).
#
#   web | nginx | worker-documents | worker-media | worker-filters | scheduler | migrate
#   healthcheck [PROCESS]  the health check of PROCESS, or of the one this container runs
#   manage ARGS...         any manage.py command (createsuperuser, convert, ...)
#   anything else          run as given
#
# The Makefile's process targets run this script too, so the commands and their
# defaults are written down once. Each process is exec'd, so the process itself
# gets SIGTERM (ECS stop, compose down); run the container with an init
# (ECS initProcessEnabled, compose `init: true`) so killed tools' orphans are reaped.
set -eu

PY="${PYTHON:-python3}"
APP_DIR="$(cd "$(dirname "$0")/.." && pwd)"
cd "$APP_DIR"

# With a read-only root filesystem /tmp is the one writable path: make what lives there.
prepare_dirs() {
  for d in ${CONVERTALL_VAR_DIR:-} ${WORK_DIR:-} ${FILE_UPLOAD_TEMP_DIR:-} ${HOME:-}; do
    mkdir -p "$d"
  done
}

worker() { # worker QUEUE DEFAULT-THREADS
  prepare_dirs
  exec "$PY" manage.py rundramatiq --queues "$1" \
    --processes "${WORKER_PROCESSES:-1}" --threads "${WORKER_THREADS:-$2}" \
    --worker-shutdown-timeout "${WORKER_SHUTDOWN_TIMEOUT_MS:-30000}"
}

nginx_conf() {
  # client_max_body_size follows the app's upload limit, plus 1 MiB for the multipart framing.
  max_bytes="${MAX_UPLOAD_BYTES:-524288000}"
  dir="${NGINX_DIR:-/tmp/nginx}"
  mkdir -p "$dir/body" "$dir/proxy"
  sed -e "s|@MAX_BODY@|$((max_bytes + 1048576))|" \
      -e "s|@NGINX_DIR@|$dir|g" \
      -e "s|@LISTEN@|${NGINX_PORT:-8080}|" \
      -e "s|@UPSTREAM@|${NGINX_UPSTREAM:-127.0.0.1:8000}|" \
      deploy/nginx.conf.template > "$dir/nginx.conf"
  echo "$dir/nginx.conf"
}

process="${1:-web}"
[ $# -gt 0 ] && shift
# In the image, remember which process this container runs (for `healthcheck`).
if [ -n "${CONVERTALL_IMAGE:-}" ] && [ "$process" != healthcheck ]; then
  { mkdir -p /tmp/convertall && echo "$process" > /tmp/convertall/process; } 2>/dev/null \
    || echo "warning: /tmp is not writable; mount a volume or tmpfs there (docs/deploy.md)" >&2
fi

case "$process" in
  web)
    prepare_dirs
    exec gunicorn convertall.wsgi -c convertall/gunicorn.conf.py "$@" ;;
  nginx)
    conf="$(nginx_conf)"
    exec nginx -e stderr -c "$conf" -g "daemon off;" "$@" ;;
  worker-documents) worker documents 2 ;;
  worker-media) worker media 2 ;;
  worker-filters) worker filters 4 ;;
  scheduler)
    prepare_dirs
    exec "$PY" manage.py scheduler "$@" ;;
  migrate)
    prepare_dirs  # Django's checks want FILE_UPLOAD_TEMP_DIR to exist
    exec "$PY" manage.py migrate --noinput "$@" ;;
  manage)
    prepare_dirs
    exec "$PY" manage.py "$@" ;;
  healthcheck)
    # web answers /health on PORT, nginx on NGINX_PORT; other processes are
    # watched by their own liveness (worker heartbeats, the scheduler lock).
    # The process to check: as given (a task definition's health check), else the one
    # this container started (the image's HEALTHCHECK).
    running="${1:-$(cat /tmp/convertall/process 2>/dev/null || echo none)}"
    case "$running" in
      web) port="${PORT:-8000}" ;;
      nginx) port="${NGINX_PORT:-8080}" ;;
      *) exit 0 ;;
    esac
    # -I -S: no site-packages to scan, so a loaded machine still answers within the timeout.
    exec "$PY" -I -S -c "import sys, urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:$port/health', timeout=3).status == 200 else 1)" ;;
  *)
    exec "$process" "$@" ;;
esac
